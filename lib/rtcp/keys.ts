/**
 * The `KEYS` exchange of the repair link: an edge asks the cloud, over the
 * authenticated QUIC stream, for what it needs to receive one SSRC — the
 * stream key (naming), the SRTP master key and salt with the sender's
 * rollover counter, and the stream state (onMetaData and sequence headers)
 * a decoder needs before the next keyframe.
 *
 * Request (edge → cloud): RTCP APP, subtype 0, PT 204, SSRC = the media
 * SSRC asked about, name `KEYS`, no application data.
 *
 * Answer (cloud → edge): RTCP APP, PT 204, SSRC = the media SSRC, name
 * `KEYS`; subtype 1 with no data when the SSRC is not a live stream;
 * subtype 0 with this application data (big-endian, zero-padded to a
 * multiple of 4 bytes):
 *
 * | offset | size | field                                                        |
 * | ------ | ---- | ------------------------------------------------------------ |
 * | 0      | 1    | profile: 0 = plain RTP/RTCP, 1 = AES_CM_128_HMAC_SHA1_80     |
 * | 1      | 1    | master key length K (16 for profile 1, else 0)               |
 * | 2      | 1    | master salt length S (14 for profile 1, else 0)              |
 * | 3      | 1    | flags: bit 0 = "highest sequence number" below is valid; bit 1 = FEC repair stream follows the state tags |
 * | 4      | 4    | ROC of the highest sequence number sent                      |
 * | 8      | 2    | highest sequence number sent                                 |
 * | 10     | 2    | stream key length L                                          |
 * | 12     | 2    | first sequence number of the publish (ROC 0)                 |
 * | 14     | 2    | reserved, 0                                                  |
 * | 16     | K    | master key                                                   |
 * | 16+K   | S    | master salt                                                  |
 * | 16+K+S | L    | stream key, UTF-8 (`app/name`)                               |
 * | …      | 2    | number N of state tags                                       |
 * | …      | …    | N × (u32 length T, then T bytes: an FLV tag, 11-byte header + body) |
 * | …      | 4    | (flags bit 1) SSRC of the FEC repair stream (SRTP, same master key) |
 * | …      | 4    | (flags bit 1) its ROC of the highest parity sequence number sent |
 * | …      | 2    | (flags bit 1) that sequence number                           |
 * | …      | 2    | (flags bit 1) bit 0 = that sequence number is valid          |
 *
 * @module
 */
import { encodeApp } from "./build.ts";
import type { RtcpPacket } from "./types.ts";

/** APP name of the key/state request and answer. */
export const APP_KEYS = "KEYS";

/** Profile numbers in a `KEYS` answer. */
export const KEYS_PROFILE = {
  /** Plain RTP/RTCP (the cloud runs with `srtp: false`). */
  plain: 0,
  /** SRTP/SRTCP AES_CM_128_HMAC_SHA1_80. */
  aesCm128HmacSha1_80: 1,
} as const;

/** A decoded `KEYS` answer for a live stream. */
export interface KeysAnswer {
  /** The media SSRC. */
  ssrc: number;
  /** 0 plain, 1 AES_CM_128_HMAC_SHA1_80. */
  profile: number;
  /** SRTP master key (empty for plain). */
  masterKey: Uint8Array;
  /** SRTP master salt (empty for plain). */
  masterSalt: Uint8Array;
  /** ROC of `highestSeq`. */
  roc: number;
  /** Highest sequence number sent, when any was. */
  highestSeq?: number;
  /** The publish's first sequence number (sent with ROC 0). */
  firstSeq: number;
  /** Stream key `app/name`. */
  streamKey: string;
  /** State tags (onMetaData, sequence headers), each 11-byte header + body. */
  stateTags: Uint8Array[];
  /** The stream's FEC repair stream, when FEC parity is sent under SRTP:
   * its own SSRC and SRTP context (same master key and salt), where its
   * sender stands. */
  fec?: FecStreamPosition;
}

/** Where the FEC repair stream's SRTP sender stands (see {@linkcode KeysAnswer}). */
export interface FecStreamPosition {
  /** SSRC of the parity packets on the wire. */
  ssrc: number;
  /** ROC of `highestSeq`. */
  roc: number;
  /** Highest parity sequence number sent, when any was. */
  highestSeq?: number;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The `KEYS` request for `ssrc`.
 *
 * @example Usage
 * ```ts
 * import { encodeKeysRequest } from "./keys.ts";
 * encodeKeysRequest(0x1234).length; // 12
 * ```
 */
export function encodeKeysRequest(ssrc: number): Uint8Array {
  return encodeApp({
    subtype: 0,
    ssrc,
    name: APP_KEYS,
    data: new Uint8Array(),
  });
}

/**
 * The SSRC a `KEYS` request asks about, or `undefined` when `p` is not one.
 *
 * @param p A parsed RTCP packet.
 */
export function parseKeysRequest(p: RtcpPacket): number | undefined {
  if (p.type !== "app" || p.name !== APP_KEYS || p.subtype !== 0) {
    return undefined;
  }
  return p.ssrc;
}

/**
 * The "not a live stream" answer for `ssrc` (subtype 1).
 *
 * @param ssrc The SSRC asked about.
 */
export function encodeKeysUnknown(ssrc: number): Uint8Array {
  return encodeApp({
    subtype: 1,
    ssrc,
    name: APP_KEYS,
    data: new Uint8Array(),
  });
}

/** Most bytes of state tags put in one answer (the frame limit is 65,535). */
export const MAX_KEYS_STATE_BYTES = 60_000;

/**
 * The answer for a live stream. State tags that would push the message
 * past {@linkcode MAX_KEYS_STATE_BYTES} are left out (from the last).
 *
 * @example Usage
 * ```ts
 * import { encodeKeysAnswer } from "./keys.ts";
 * const msg = encodeKeysAnswer({ ssrc: 1, profile: 0, masterKey: new Uint8Array(), masterSalt: new Uint8Array(), roc: 0, streamKey: "live/a", stateTags: [] });
 * ```
 *
 * @throws {RangeError} On a key/salt length that does not fit a byte, or a
 *   stream key longer than 65,535 bytes.
 */
export function encodeKeysAnswer(a: KeysAnswer): Uint8Array {
  const name = utf8.encode(a.streamKey);
  if (
    name.length > 0xffff || a.masterKey.length > 255 ||
    a.masterSalt.length > 255
  ) {
    throw new RangeError(
      `Expected a KEYS answer with key/salt ≤ 255 bytes and a stream key ≤ 65535 bytes, received ${a.masterKey.length}/${a.masterSalt.length}/${name.length}`,
    );
  }
  const tags: Uint8Array[] = [];
  let tagBytes = 0;
  for (const t of a.stateTags) {
    if (tagBytes + 4 + t.length > MAX_KEYS_STATE_BYTES) break;
    tags.push(t);
    tagBytes += 4 + t.length;
  }
  const K = a.masterKey.length, S = a.masterSalt.length;
  const fecBytes = a.fec ? 12 : 0;
  const data = new Uint8Array(
    16 + K + S + name.length + 2 + tagBytes + fecBytes,
  );
  const v = new DataView(data.buffer);
  data[0] = a.profile;
  data[1] = K;
  data[2] = S;
  data[3] = (a.highestSeq === undefined ? 0 : 1) | (a.fec ? 2 : 0);
  v.setUint32(4, a.roc >>> 0);
  v.setUint16(8, (a.highestSeq ?? 0) & 0xffff);
  v.setUint16(10, name.length);
  v.setUint16(12, a.firstSeq & 0xffff);
  data.set(a.masterKey, 16);
  data.set(a.masterSalt, 16 + K);
  data.set(name, 16 + K + S);
  let o = 16 + K + S + name.length;
  v.setUint16(o, tags.length);
  o += 2;
  for (const t of tags) {
    v.setUint32(o, t.length);
    data.set(t, o + 4);
    o += 4 + t.length;
  }
  if (a.fec) {
    v.setUint32(o, a.fec.ssrc >>> 0);
    v.setUint32(o + 4, a.fec.roc >>> 0);
    v.setUint16(o + 8, (a.fec.highestSeq ?? 0) & 0xffff);
    v.setUint16(o + 10, a.fec.highestSeq === undefined ? 0 : 1);
  }
  return encodeApp({ subtype: 0, ssrc: a.ssrc, name: APP_KEYS, data });
}

/**
 * Decodes a `KEYS` answer: the stream's keys and state, `null` for "not a
 * live stream", `undefined` when `p` is not a `KEYS` answer.
 *
 * @param p A parsed RTCP packet.
 * @throws {RangeError} On a subtype-0 answer whose fields overrun its data.
 */
export function parseKeysAnswer(
  p: RtcpPacket,
): KeysAnswer | null | undefined {
  if (p.type !== "app" || p.name !== APP_KEYS) return undefined;
  if (p.subtype === 1) return null;
  if (p.subtype !== 0) return undefined;
  const d = p.data;
  const bad = (what: string): never => {
    throw new RangeError(`Malformed KEYS answer: ${what}`);
  };
  if (d.length < 18) {
    bad(`expected at least 18 data bytes, received ${d.length}`);
  }
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const K = d[1], S = d[2];
  const L = v.getUint16(10);
  let o = 16 + K + S + L;
  if (o + 2 > d.length) {
    bad(`key/salt/name lengths ${K}/${S}/${L} overrun ${d.length} bytes`);
  }
  let streamKey: string;
  try {
    streamKey = fromUtf8.decode(d.subarray(16 + K + S, o));
  } catch {
    return bad("stream key is not UTF-8");
  }
  const n = v.getUint16(o);
  o += 2;
  const stateTags: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    if (o + 4 > d.length) bad(`state tag ${i} header overruns the data`);
    const t = v.getUint32(o);
    if (o + 4 + t > d.length || t < 11) {
      bad(`state tag ${i} of ${t} bytes overruns the data`);
    }
    stateTags.push(d.slice(o + 4, o + 4 + t));
    o += 4 + t;
  }
  let fec: FecStreamPosition | undefined;
  if (d[3] & 2) {
    if (o + 12 > d.length) bad("FEC repair stream overruns the data");
    fec = {
      ssrc: v.getUint32(o),
      roc: v.getUint32(o + 4),
      highestSeq: v.getUint16(o + 10) & 1 ? v.getUint16(o + 8) : undefined,
    };
  }
  return {
    ssrc: p.ssrc,
    profile: d[0],
    masterKey: d.slice(16, 16 + K),
    masterSalt: d.slice(16 + K, 16 + K + S),
    roc: v.getUint32(4),
    highestSeq: d[3] & 1 ? v.getUint16(8) : undefined,
    firstSeq: v.getUint16(12),
    streamKey,
    stateTags,
    ...(fec ? { fec } : {}),
  };
}
