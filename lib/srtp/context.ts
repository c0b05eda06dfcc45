/**
 * SRTP and SRTCP (RFC 3711) with the default profile AES_CM_128_HMAC_SHA1_80
 * for one SSRC: the sender protects, the receiver authenticates, checks for
 * replays, estimates the rollover counter and decrypts. Pure: no I/O, no
 * timers; a failed check never changes the receiver's state.
 *
 * @module
 */
import { AesCm } from "./aes_cm.ts";
import { HmacSha1 } from "./hmac_sha1.ts";
import { AUTH_TAG_LENGTH, deriveSessionKeys, type SessionKeys } from "./kdf.ts";
import { SsrcKeystream, writeIv } from "./keystream.ts";
import { ReplayWindow } from "./replay_window.ts";

/** Bytes an SRTP packet adds to an RTP packet (the authentication tag). */
export const SRTP_OVERHEAD = AUTH_TAG_LENGTH;
/** Bytes an SRTCP packet adds to an RTCP packet (E flag + index, tag). */
export const SRTCP_OVERHEAD = 4 + AUTH_TAG_LENGTH;
/** Largest SRTCP index (31 bits). */
export const MAX_SRTCP_INDEX = 0x7fffffff;

/** Master key and salt of one SRTP crypto context. */
export interface SrtpKeyMaterial {
  /** 16-byte master key. */
  masterKey: Uint8Array;
  /** 14-byte master salt. */
  masterSalt: Uint8Array;
}

/** Why a packet was refused. */
export type SrtpFailure =
  /** Too short, or not RTP/RTCP version 2. */
  | "malformed"
  /** Another SSRC than the context's. */
  | "ssrc"
  /** Already received, or older than the replay window. */
  | "replay"
  /** The authentication tag does not match. */
  | "auth";

/** What unprotecting gives: the plain packet, or why it was refused. */
export type UnprotectResult =
  | { ok: true; packet: Uint8Array; index: number }
  | { ok: false; failure: SrtpFailure };

/**
 * The RFC 3711 Appendix A index estimate: the index of `seq` closest to the
 * highest sequence number seen (`sl`) under rollover counter `roc`.
 *
 * @param roc Current rollover counter.
 * @param sl Highest sequence number authenticated (or the initial one).
 * @param seq The packet's sequence number.
 * @returns The 48-bit packet index (never negative).
 */
export function estimateIndex(roc: number, sl: number, seq: number): number {
  let v = roc;
  if (sl < 32768) {
    if (seq - sl > 32768) v = roc - 1;
  } else if (sl - 32768 > seq) {
    v = roc + 1;
  }
  if (v < 0) v = 0;
  return v * 65536 + seq;
}

/**
 * Length of an RTP header (fixed part, CSRCs, extension), or -1 when
 * `bytes[0…end)` cannot hold it or it is not version 2.
 *
 * @param bytes The packet.
 * @param end Where the part that may hold the header ends.
 */
export function rtpHeaderLength(bytes: Uint8Array, end: number): number {
  if (end < 12 || bytes[0] >>> 6 !== 2) return -1;
  let n = 12 + 4 * (bytes[0] & 0x0f);
  if (bytes[0] & 0x10) {
    if (n + 4 > end) return -1;
    n += 4 + 4 * ((bytes[n + 2] << 8) | bytes[n + 3]);
  }
  return n <= end ? n : -1;
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Constant-time comparison of the first `n` bytes of `a` and `b[bOff…]`. */
function tagEquals(a: Uint8Array, b: Uint8Array, bOff: number, n: number) {
  let diff = 0;
  for (let i = 0; i < n; i++) diff |= a[i] ^ b[bOff + i];
  return diff === 0;
}

/** Whether `p`'s buffer has room for the authentication tag right after it. */
function hasTailroom(p: Uint8Array): boolean {
  return p.byteOffset + p.length + AUTH_TAG_LENGTH <= p.buffer.byteLength;
}

/** Keys of one direction (RTP or RTCP), ready to use. */
class Keys {
  readonly aes: AesCm;
  readonly mac: HmacSha1;
  readonly salt: Uint8Array;
  constructor(k: SessionKeys) {
    this.aes = new AesCm(k.encKey);
    this.mac = new HmacSha1(k.authKey);
    this.salt = k.salt;
  }
}

function keysOf(m: SrtpKeyMaterial): { rtp: Keys; rtcp: Keys } {
  const d = deriveSessionKeys(m.masterKey, m.masterSalt);
  return { rtp: new Keys(d.rtp), rtcp: new Keys(d.rtcp) };
}

/** Encrypts or decrypts `data[off…off+len)` of an SRTCP packet in place. */
function rtcpXor(
  k: Keys,
  ssrc: number,
  index: number,
  data: Uint8Array,
  off: number,
  len: number,
): void {
  const iv = new Uint8Array(16);
  writeIv(iv, k.salt, ssrc, index);
  k.aes.xorKeystream(iv, data, off, len);
}

/** Options for {@linkcode SrtpSender}. */
export interface SrtpSenderOptions extends SrtpKeyMaterial {
  /** The SSRC this context protects. */
  ssrc: number;
  /** Packets whose keystream one AES call makes ahead; default 32. */
  keystreamBatch?: number;
}

/**
 * Protects the RTP and RTCP packets of one SSRC.
 *
 * @example Usage
 * ```ts
 * import { SrtpSender } from "./context.ts";
 * const tx = new SrtpSender({ masterKey: new Uint8Array(16), masterSalt: new Uint8Array(14), ssrc: 1 });
 * const rtp = new Uint8Array([0x80, 100, 0, 7, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa]);
 * tx.protectRtp(rtp).length; // 13 + 10
 * ```
 */
export class SrtpSender {
  readonly #ssrc: number;
  readonly #rtp: Keys;
  readonly #rtcp: Keys;
  readonly #ks: SsrcKeystream;
  #roc = 0;
  #sl = -1;
  #rtcpIndex = 0;
  #tag = new Uint8Array(20);

  /**
   * @param opts Master key, salt and SSRC.
   * @throws {RangeError} On a wrong key or salt length.
   */
  constructor(opts: SrtpSenderOptions) {
    this.#ssrc = opts.ssrc >>> 0;
    const k = keysOf(opts);
    this.#rtp = k.rtp;
    this.#rtcp = k.rtcp;
    this.#ks = new SsrcKeystream(
      k.rtp.aes,
      k.rtp.salt,
      this.#ssrc,
      opts.keystreamBatch ?? 32,
    );
  }

  /** The rollover counter of the highest sequence number protected. */
  get roc(): number {
    return this.#roc;
  }

  /** The highest sequence number protected, or -1 before the first. */
  get highestSeq(): number {
    return this.#sl;
  }

  /** The SRTCP index the next RTCP packet gets. */
  get nextRtcpIndex(): number {
    return this.#rtcpIndex;
  }

  /**
   * SRTP packet of an RTP packet: payload encrypted, tag appended.
   *
   * @param packet RTP v2 of this context's SSRC.
   * @returns A new buffer, 10 bytes longer.
   * @throws {TypeError} When it is not RTP v2 of this SSRC.
   */
  protectRtp(packet: Uint8Array): Uint8Array {
    const out = new Uint8Array(packet.length + AUTH_TAG_LENGTH);
    this.#protectInto(packet, out);
    return out;
  }

  /**
   * SRTP packets of several RTP packets (e.g. one FLV tag's), in order, as
   * views into ONE new buffer: one allocation for all of them. With
   * `inPlace`, every packet whose buffer has 10 spare bytes right after it
   * (a packetizer's `tailroom`) is protected where it is, with no
   * allocation or copy; the plain bytes are gone then.
   *
   * @param packets RTP v2 packets of this context's SSRC.
   * @param inPlace Protect in the packets' own buffers when they have room.
   * @returns One SRTP packet per input, each 10 bytes longer.
   * @throws {TypeError} When one is not RTP v2 of this SSRC (the packets
   *   before it are protected and counted).
   */
  protectRtps(packets: readonly Uint8Array[], inPlace = false): Uint8Array[] {
    if (inPlace && packets.every(hasTailroom)) {
      return packets.map((p) => {
        const out = new Uint8Array(
          p.buffer,
          p.byteOffset,
          p.length + AUTH_TAG_LENGTH,
        );
        this.#protectInto(p, out);
        return out;
      });
    }
    let total = 0;
    for (const p of packets) total += p.length + AUTH_TAG_LENGTH;
    const backing = new Uint8Array(total);
    const out = new Array<Uint8Array>(packets.length);
    let at = 0;
    for (let i = 0; i < packets.length; i++) {
      const n = packets[i].length + AUTH_TAG_LENGTH;
      out[i] = backing.subarray(at, at + n);
      this.#protectInto(packets[i], out[i]);
      at += n;
    }
    return out;
  }

  #protectInto(packet: Uint8Array, out: Uint8Array): void {
    const len = packet.length;
    const hlen = rtpHeaderLength(packet, len);
    if (hlen < 0) {
      throw new TypeError(
        `Expected an RTP v2 packet to protect, received ${len} bytes`,
      );
    }
    if (readU32(packet, 8) !== this.#ssrc) {
      throw new TypeError(
        `Expected SSRC ${this.#ssrc} to protect, received ${
          readU32(packet, 8)
        }`,
      );
    }
    const seq = (packet[2] << 8) | packet[3];
    const index = this.#sl < 0 ? seq : estimateIndex(this.#roc, this.#sl, seq);
    const roc = Math.floor(index / 65536);
    if (this.#sl < 0 || index > this.#roc * 65536 + this.#sl) {
      this.#roc = roc;
      this.#sl = seq;
    }
    if (out.buffer !== packet.buffer || out.byteOffset !== packet.byteOffset) {
      out.set(packet);
    }
    this.#ks.xor(index, out, hlen, len - hlen);
    writeU32(out, len, roc); // authenticated: packet || ROC
    const tag = this.#tag;
    this.#rtp.mac.digestInto(out.subarray(0, len + 4), tag);
    for (let i = 0; i < AUTH_TAG_LENGTH; i++) out[len + i] = tag[i];
  }

  /**
   * SRTCP packet of an RTCP (compound) packet: everything after the first
   * 8 bytes encrypted, then E=1 with the SRTCP index, then the tag.
   *
   * @param packet RTCP whose first packet's sender SSRC is this context's.
   * @returns A new buffer, 14 bytes longer.
   * @throws {TypeError} When it is too short or of another SSRC.
   */
  protectRtcp(packet: Uint8Array): Uint8Array {
    const len = packet.length;
    if (len < 8 || packet[0] >>> 6 !== 2) {
      throw new TypeError(
        `Expected an RTCP v2 packet to protect, received ${len} bytes`,
      );
    }
    if (readU32(packet, 4) !== this.#ssrc) {
      throw new TypeError(
        `Expected SSRC ${this.#ssrc} to protect, received ${
          readU32(packet, 4)
        }`,
      );
    }
    const index = this.#rtcpIndex;
    this.#rtcpIndex = (this.#rtcpIndex + 1) & MAX_SRTCP_INDEX;
    const out = new Uint8Array(len + SRTCP_OVERHEAD);
    out.set(packet);
    rtcpXor(this.#rtcp, this.#ssrc, index, out, 8, len - 8);
    writeU32(out, len, (0x80000000 | index) >>> 0);
    const tag = this.#rtcp.mac.digest(out.subarray(0, len + 4));
    out.set(tag.subarray(0, AUTH_TAG_LENGTH), len + 4);
    return out;
  }
}

/** Options for {@linkcode SrtpReceiver}. */
export interface SrtpReceiverOptions extends SrtpKeyMaterial {
  /** The SSRC this context accepts. */
  ssrc: number;
  /** Replay window in packets (a multiple of 32, ≥ 64); default 128. */
  replayWindow?: number;
  /** The sender's rollover counter when the keys were handed over; default 0. */
  roc?: number;
  /** The sender's highest sequence number then; default: the first packet's. */
  seq?: number;
  /** Packets whose keystream one AES call makes ahead; default 32. */
  keystreamBatch?: number;
}

/**
 * Authenticates, replay-checks and decrypts the SRTP and SRTCP packets of
 * one SSRC. A refused packet leaves every piece of state as it was.
 *
 * @example Usage
 * ```ts
 * import { SrtpReceiver, SrtpSender } from "./context.ts";
 * const keys = { masterKey: new Uint8Array(16), masterSalt: new Uint8Array(14), ssrc: 1 };
 * const tx = new SrtpSender(keys);
 * const rx = new SrtpReceiver(keys);
 * const r = rx.unprotectRtp(tx.protectRtp(new Uint8Array([0x80, 100, 0, 7, 0, 0, 0, 0, 0, 0, 0, 1, 0xaa])));
 * r.ok; // true
 * ```
 */
export class SrtpReceiver {
  readonly #ssrc: number;
  readonly #rtp: Keys;
  readonly #rtcp: Keys;
  readonly #ks: SsrcKeystream;
  readonly #rtpWindow: ReplayWindow;
  readonly #rtcpWindow: ReplayWindow;
  #roc: number;
  #sl: number;
  #tag = new Uint8Array(20);

  /**
   * @param opts Master key, salt, SSRC, replay window and initial ROC/seq.
   * @throws {RangeError} On a wrong key, salt or window size.
   */
  constructor(opts: SrtpReceiverOptions) {
    this.#ssrc = opts.ssrc >>> 0;
    const k = keysOf(opts);
    this.#rtp = k.rtp;
    this.#rtcp = k.rtcp;
    this.#ks = new SsrcKeystream(
      k.rtp.aes,
      k.rtp.salt,
      this.#ssrc,
      opts.keystreamBatch ?? 32,
    );
    this.#rtpWindow = new ReplayWindow(opts.replayWindow ?? 128);
    this.#rtcpWindow = new ReplayWindow(opts.replayWindow ?? 128);
    this.#roc = opts.roc ?? 0;
    this.#sl = opts.seq ?? -1;
  }

  /** The SSRC. */
  get ssrc(): number {
    return this.#ssrc;
  }

  /** The rollover counter of the highest index authenticated. */
  get roc(): number {
    return this.#roc;
  }

  /**
   * The packet index a sequence number maps to now (RFC 3711 Appendix A).
   *
   * @param seq A 16-bit sequence number.
   */
  indexOf(seq: number): number {
    return this.#sl < 0
      ? this.#roc * 65536 + seq
      : estimateIndex(this.#roc, this.#sl, seq);
  }

  /**
   * The RTP packet inside an SRTP packet, or why it is refused.
   *
   * @param packet An SRTP packet (not modified).
   * @param scratch Where to write the plain packet (at least as long as
   *   `packet`); the result is then a view of it, valid until `scratch` is
   *   used again. Absent: a new buffer.
   * @returns The plain RTP packet and its index, or the failure.
   */
  unprotectRtp(packet: Uint8Array, scratch?: Uint8Array): UnprotectResult {
    const len = packet.length - AUTH_TAG_LENGTH;
    const hlen = rtpHeaderLength(packet, len);
    if (hlen < 0) return { ok: false, failure: "malformed" };
    if (readU32(packet, 8) !== this.#ssrc) {
      return { ok: false, failure: "ssrc" };
    }
    const seq = (packet[2] << 8) | packet[3];
    const index = this.indexOf(seq);
    if (this.#rtpWindow.check(index) !== "new") {
      return { ok: false, failure: "replay" };
    }
    // Authenticated: packet || ROC. The copy is needed to decrypt anyway:
    // the ROC goes right after it, so one hash call covers both.
    let out: Uint8Array;
    if (scratch && scratch.length >= len + 4) {
      out = scratch.subarray(0, len + 4);
      out.set(packet.subarray(0, len));
    } else {
      out = new Uint8Array(len + 4);
      out.set(packet.subarray(0, len));
    }
    writeU32(out, len, Math.floor(index / 65536));
    const tag = this.#tag;
    this.#rtp.mac.digestInto(out, tag);
    if (!tagEquals(tag, packet, len, AUTH_TAG_LENGTH)) {
      return { ok: false, failure: "auth" };
    }
    out = out.subarray(0, len);
    this.#ks.xor(index, out, hlen, len - hlen);
    this.#rtpWindow.accept(index);
    const roc = Math.floor(index / 65536);
    if (this.#sl < 0 || index > this.#roc * 65536 + this.#sl) {
      this.#roc = roc;
      this.#sl = seq;
    }
    return { ok: true, packet: out, index };
  }

  /**
   * The RTCP packet inside an SRTCP packet, or why it is refused.
   *
   * @param packet An SRTCP packet (not modified).
   * @returns The plain RTCP packet (a new buffer) and its SRTCP index, or
   *   the failure.
   */
  unprotectRtcp(packet: Uint8Array): UnprotectResult {
    const len = packet.length - SRTCP_OVERHEAD;
    if (len < 8 || packet[0] >>> 6 !== 2) {
      return { ok: false, failure: "malformed" };
    }
    if (readU32(packet, 4) !== this.#ssrc) {
      return { ok: false, failure: "ssrc" };
    }
    const e = readU32(packet, len);
    const index = e & MAX_SRTCP_INDEX;
    if (this.#rtcpWindow.check(index) !== "new") {
      return { ok: false, failure: "replay" };
    }
    const tag = this.#rtcp.mac.digest(packet.subarray(0, len + 4));
    if (!tagEquals(tag, packet, len + 4, AUTH_TAG_LENGTH)) {
      return { ok: false, failure: "auth" };
    }
    const out = packet.slice(0, len);
    if (e >>> 31) rtcpXor(this.#rtcp, this.#ssrc, index, out, 8, len - 8);
    this.#rtcpWindow.accept(index);
    return { ok: true, packet: out, index };
  }
}
