/**
 * RTCP packet builders (pure bytes, no I/O).
 *
 * @module
 */
import { concatBytes } from "../bytes/mod.ts";
import { packNack } from "./nack.ts";
import {
  APP_AUTH,
  APP_NAVL,
  MAX_NACK_FCI,
  MAX_NAVL_SEQS,
  NACK_FMT,
  RTCP_APP,
  RTCP_BYE,
  RTCP_RTPFB,
  RTCP_SDES,
  RTCP_SR,
  SDES_CNAME,
  SDES_KEY_PREFIX,
  SDES_PRIV,
  type SenderReport,
} from "./types.ts";

const encoder = new TextEncoder();

function checkU32(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError(`Expected ${name} to be a u32, received ${v}`);
  }
}

/** Allocates a packet of `size` bytes (multiple of 4) with its header set. */
function packet(
  count: number,
  pt: number,
  size: number,
): { bytes: Uint8Array; view: DataView } {
  if (size % 4 !== 0 || size < 4) {
    throw new RangeError(
      `Expected an RTCP size multiple of 4, received ${size}`,
    );
  }
  if (size / 4 - 1 > 0xffff) {
    throw new RangeError(
      `Expected an RTCP packet of at most 262144 bytes, received ${size}`,
    );
  }
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x80 | (count & 0x1f);
  bytes[1] = pt;
  view.setUint16(2, size / 4 - 1);
  return { bytes, view };
}

const pad4 = (n: number): number => (n + 3) & ~3;

/**
 * Builds a Sender Report (PT 200) without reception report blocks.
 *
 * @example Usage
 * ```ts
 * import { encodeSenderReport } from "./build.ts";
 * const sr = encodeSenderReport({
 *   ssrc: 1, ntpSec: 2, ntpFrac: 3, rtpTimestamp: 4, packetCount: 5, octetCount: 6,
 * });
 * // sr.length === 28
 * ```
 *
 * @param sr Sender information.
 * @returns The 28-byte packet.
 * @throws {RangeError} When a field is not a u32.
 */
export function encodeSenderReport(sr: SenderReport): Uint8Array {
  const fields = [
    sr.ssrc,
    sr.ntpSec,
    sr.ntpFrac,
    sr.rtpTimestamp,
    sr.packetCount,
    sr.octetCount,
  ];
  const names = [
    "ssrc",
    "ntpSec",
    "ntpFrac",
    "rtpTimestamp",
    "packetCount",
    "octetCount",
  ];
  const { bytes, view } = packet(0, RTCP_SR, 28);
  fields.forEach((v, i) => {
    checkU32(names[i], v);
    view.setUint32(4 + 4 * i, v);
  });
  return bytes;
}

/**
 * Builds an SDES packet (PT 202) with one chunk: a CNAME item and, when `key`
 * is given, a PRIV item (RFC 3550 §6.5.8) with prefix `key` and the stream
 * key as value.
 *
 * @example Usage
 * ```ts
 * import { encodeSdes } from "./build.ts";
 * const sdes = encodeSdes(0x1234, { cname: "cloud", key: "live/movie" });
 * ```
 *
 * @param ssrc The SSRC described.
 * @param items The CNAME and optional stream key.
 * @returns The packet, padded to a 32-bit boundary.
 * @throws {RangeError} When an item exceeds 255 bytes or the SSRC is not a u32.
 */
export function encodeSdes(
  ssrc: number,
  items: { cname: string; key?: string },
): Uint8Array {
  checkU32("ssrc", ssrc);
  const cname = encoder.encode(items.cname);
  if (cname.length > 255) {
    throw new RangeError(
      `Expected a CNAME of at most 255 bytes, received ${cname.length}`,
    );
  }
  const prefix = encoder.encode(SDES_KEY_PREFIX);
  const key = items.key === undefined ? undefined : encoder.encode(items.key);
  const privLen = key ? 1 + prefix.length + key.length : 0;
  if (privLen > 255) {
    throw new RangeError(
      `Expected a stream key of at most ${
        255 - 1 - prefix.length
      } bytes, received ${key!.length}`,
    );
  }
  let itemsLen = 2 + cname.length;
  if (key) itemsLen += 2 + privLen;
  // Items, then at least one null octet, padded to 32 bits.
  const chunkLen = 4 + pad4(itemsLen + 1);
  const { bytes, view } = packet(1, RTCP_SDES, 4 + chunkLen);
  view.setUint32(4, ssrc);
  let o = 8;
  bytes[o++] = SDES_CNAME;
  bytes[o++] = cname.length;
  bytes.set(cname, o);
  o += cname.length;
  if (key) {
    bytes[o++] = SDES_PRIV;
    bytes[o++] = privLen;
    bytes[o++] = prefix.length;
    bytes.set(prefix, o);
    o += prefix.length;
    bytes.set(key, o);
  }
  return bytes;
}

/**
 * Builds a BYE packet (PT 203) for one source with an optional reason.
 *
 * @example Usage
 * ```ts
 * import { encodeBye } from "./build.ts";
 * const bye = encodeBye(0x1234, "unpublished");
 * ```
 *
 * @param ssrc The source leaving.
 * @param reason Optional reason (at most 255 bytes of UTF-8).
 * @returns The packet, padded to a 32-bit boundary.
 * @throws {RangeError} When the reason is too long or the SSRC is not a u32.
 */
export function encodeBye(ssrc: number, reason?: string): Uint8Array {
  checkU32("ssrc", ssrc);
  const text = reason === undefined ? undefined : encoder.encode(reason);
  if (text && text.length > 255) {
    throw new RangeError(
      `Expected a BYE reason of at most 255 bytes, received ${text.length}`,
    );
  }
  const size = 8 + (text ? pad4(1 + text.length) : 0);
  const { bytes, view } = packet(1, RTCP_BYE, size);
  view.setUint32(4, ssrc);
  if (text) {
    bytes[8] = text.length;
    bytes.set(text, 9);
  }
  return bytes;
}

/**
 * Builds an APP packet (PT 204, RFC 3550 §6.7). `data` is zero-padded to a
 * multiple of 4 bytes.
 *
 * @example Usage
 * ```ts
 * import { encodeApp } from "./build.ts";
 * const app = encodeApp({ subtype: 0, ssrc: 0, name: "TEST", data: new Uint8Array([1]) });
 * // app.length === 16
 * ```
 *
 * @param opts Subtype (0..31), SSRC, four-ASCII-character name and data.
 * @returns The packet.
 * @throws {RangeError} On a bad subtype, name or SSRC.
 */
export function encodeApp(
  opts: { subtype: number; ssrc: number; name: string; data: Uint8Array },
): Uint8Array {
  const { subtype, ssrc, name, data } = opts;
  if (!Number.isInteger(subtype) || subtype < 0 || subtype > 31) {
    throw new RangeError(
      `Expected an APP subtype in 0..31, received ${subtype}`,
    );
  }
  checkU32("ssrc", ssrc);
  if (!/^[\x20-\x7e]{4}$/.test(name)) {
    throw new RangeError(
      `Expected an APP name of 4 ASCII characters, received ${
        JSON.stringify(name)
      }`,
    );
  }
  const { bytes, view } = packet(subtype, RTCP_APP, 12 + pad4(data.length));
  view.setUint32(4, ssrc);
  for (let i = 0; i < 4; i++) bytes[8 + i] = name.charCodeAt(i);
  bytes.set(data, 12);
  return bytes;
}

/**
 * Builds the `AUTH` APP packet (subtype 0) whose data is the UTF-8 secret,
 * zero-padded to a multiple of 4 bytes.
 *
 * @example Usage
 * ```ts
 * import { encodeAuth } from "./build.ts";
 * const auth = encodeAuth("s3cret");
 * // auth.length === 20
 * ```
 *
 * @param secret The shared secret.
 * @param ssrc SSRC field (any value the sender picks); default 0.
 * @returns The packet.
 */
export function encodeAuth(secret: string, ssrc = 0): Uint8Array {
  return encodeApp({
    subtype: 0,
    ssrc,
    name: APP_AUTH,
    data: encoder.encode(secret),
  });
}

/**
 * Builds the `NAVL` APP packet (subtype 0, SSRC 0): media SSRC (u32), count
 * (u16), the sequence numbers (u16 each), zero-padded to 4 bytes.
 *
 * @example Usage
 * ```ts
 * import { encodeNavl } from "./build.ts";
 * const navl = encodeNavl(0xdeadbeef, [7, 8]);
 * // navl.length === 24
 * ```
 *
 * @param mediaSsrc The stream the numbers belong to.
 * @param seqs Sequence numbers no longer available, in the order given.
 * @returns The packet.
 * @throws {RangeError} With more than {@linkcode MAX_NAVL_SEQS} numbers or a bad value.
 */
export function encodeNavl(mediaSsrc: number, seqs: number[]): Uint8Array {
  checkU32("mediaSsrc", mediaSsrc);
  if (seqs.length > MAX_NAVL_SEQS) {
    throw new RangeError(
      `Expected at most ${MAX_NAVL_SEQS} sequence numbers in one NAVL, received ${seqs.length}`,
    );
  }
  const data = new Uint8Array(pad4(6 + 2 * seqs.length));
  const view = new DataView(data.buffer);
  view.setUint32(0, mediaSsrc);
  view.setUint16(4, seqs.length);
  for (let i = 0; i < seqs.length; i++) {
    const s = seqs[i];
    if (!Number.isInteger(s) || s < 0 || s > 0xffff) {
      throw new RangeError(
        `Expected RTP sequence numbers in 0..65535, received ${s}`,
      );
    }
    view.setUint16(6 + 2 * i, s);
  }
  return encodeApp({ subtype: 0, ssrc: 0, name: APP_NAVL, data });
}

/**
 * Builds a Generic NACK (PT 205, FMT 1) asking for `seqs`, packed into PID+BLP
 * entries across the 16-bit wrap (see {@linkcode packNack}).
 *
 * @example Usage
 * ```ts
 * import { encodeNack } from "./build.ts";
 * const nack = encodeNack(1, 2, [65535, 0, 1]);
 * // nack.length === 16 (one FCI)
 * ```
 *
 * @param senderSsrc SSRC of the asking side.
 * @param mediaSsrc SSRC of the stream.
 * @param seqs One or more sequence numbers, any order.
 * @returns The packet.
 * @throws {RangeError} With no numbers, a bad value, or more than {@linkcode MAX_NACK_FCI} entries.
 */
export function encodeNack(
  senderSsrc: number,
  mediaSsrc: number,
  seqs: number[],
): Uint8Array {
  checkU32("senderSsrc", senderSsrc);
  checkU32("mediaSsrc", mediaSsrc);
  const fcis = packNack(seqs);
  if (fcis.length === 0) {
    throw new RangeError(
      "Expected at least one sequence number, received none",
    );
  }
  if (fcis.length > MAX_NACK_FCI) {
    throw new RangeError(
      `Expected at most ${MAX_NACK_FCI} FCI entries in one NACK, received ${fcis.length}`,
    );
  }
  const { bytes, view } = packet(NACK_FMT, RTCP_RTPFB, 12 + 4 * fcis.length);
  view.setUint32(4, senderSsrc);
  view.setUint32(8, mediaSsrc);
  let o = 12;
  for (const { pid, blp } of fcis) {
    view.setUint16(o, pid);
    view.setUint16(o + 2, blp);
    o += 4;
  }
  return bytes;
}

/**
 * Concatenates RTCP packets into one compound packet.
 *
 * @example Usage
 * ```ts
 * import { encodeBye, encodeCompound, encodeSdes } from "./build.ts";
 * const c = encodeCompound([encodeSdes(1, { cname: "x" }), encodeBye(1)]);
 * ```
 *
 * @param packets Encoded packets.
 * @returns One buffer holding them in order.
 */
export function encodeCompound(packets: Uint8Array[]): Uint8Array {
  return concatBytes(packets);
}
