/**
 * RTP (RFC 3550) packet parsing and building, sequence arithmetic and
 * random identifiers (pure bytes, no I/O).
 *
 * @module
 */

/** The dynamic payload type flvcast uses for FLV-tag payloads. */
export const RTP_PAYLOAD_TYPE = 100;
/** RTP version carried in the top two bits. */
export const RTP_VERSION = 2;
/** Size of the fixed RTP header (no CSRC, no extension). */
export const RTP_HEADER_SIZE = 12;
/** Default maximum payload bytes per packet (`rtp_payload_size`). */
export const DEFAULT_RTP_PAYLOAD_SIZE = 1180;
/** The RTP clock rate flvcast uses: 90 kHz, so RTP ts = ms × 90. */
export const RTP_CLOCK_RATE = 90_000;

/** One RTP packet. */
export interface RtpPacket {
  /** The M bit: set on the last packet of an FLV tag. */
  marker: boolean;
  /** 7-bit payload type (100 for flvcast). */
  payloadType: number;
  /** 16-bit sequence number. */
  sequence: number;
  /** 32-bit timestamp (90 kHz). */
  timestamp: number;
  /** 32-bit synchronization source. */
  ssrc: number;
  /** The payload (for parsed packets, a subarray of the input: no copy). */
  payload: Uint8Array;
}

function checkUint(name: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new RangeError(
      `RTP ${name}: expected an integer in 0..${max}, got ${v}`,
    );
  }
}

/**
 * Writes the 12-byte RTP header (V=2, P=0, X=0, CC=0) into `target` at
 * `offset`. Throws RangeError on out-of-range fields or too little room.
 */
export function writeRtpHeader(
  target: Uint8Array,
  offset: number,
  h: Omit<RtpPacket, "payload">,
): void {
  checkUint("payloadType", h.payloadType, 127);
  checkUint("sequence", h.sequence, 0xffff);
  checkUint("timestamp", h.timestamp, 0xffffffff);
  checkUint("ssrc", h.ssrc, 0xffffffff);
  if (offset < 0 || offset + RTP_HEADER_SIZE > target.length) {
    throw new RangeError(
      `RTP header: expected 12 bytes of room at offset ${offset}, buffer has ${target.length}`,
    );
  }
  const t = target;
  const o = offset;
  const ts = h.timestamp;
  const ssrc = h.ssrc;
  t[o] = 0x80;
  t[o + 1] = (h.marker ? 0x80 : 0) | h.payloadType;
  t[o + 2] = h.sequence >>> 8;
  t[o + 3] = h.sequence & 0xff;
  t[o + 4] = ts >>> 24;
  t[o + 5] = (ts >>> 16) & 0xff;
  t[o + 6] = (ts >>> 8) & 0xff;
  t[o + 7] = ts & 0xff;
  t[o + 8] = ssrc >>> 24;
  t[o + 9] = (ssrc >>> 16) & 0xff;
  t[o + 10] = (ssrc >>> 8) & 0xff;
  t[o + 11] = ssrc & 0xff;
}

/**
 * Encodes `p` as a 12-byte header (no CSRC/extension/padding) plus payload,
 * in one allocation. Throws RangeError on out-of-range fields.
 */
export function encodeRtp(p: RtpPacket): Uint8Array {
  const out = new Uint8Array(RTP_HEADER_SIZE + p.payload.length);
  writeRtpHeader(out, 0, p);
  out.set(p.payload, RTP_HEADER_SIZE);
  return out;
}

/**
 * Parses an RTP packet. CSRCs and a header extension, if present, are
 * skipped (RFC 3550 §5.1, §5.3.1); padding (P bit) is removed from the
 * payload. `payload` is a subarray of `bytes` (no copy).
 *
 * Throws RangeError when the packet is shorter than its header, the version
 * is not 2, or the CSRC list, extension or padding length runs past the end.
 */
export function parseRtp(bytes: Uint8Array): RtpPacket {
  const n = bytes.length;
  if (n < RTP_HEADER_SIZE) {
    throw new RangeError(
      `RTP packet: expected at least 12 bytes, got ${n}`,
    );
  }
  const b0 = bytes[0];
  const version = b0 >> 6;
  if (version !== RTP_VERSION) {
    throw new RangeError(`RTP packet: expected version 2, got ${version}`);
  }
  let start = RTP_HEADER_SIZE + (b0 & 0x0f) * 4;
  if (start > n) {
    throw new RangeError(
      `RTP packet: CSRC count ${b0 & 0x0f} needs ${start} bytes, got ${n}`,
    );
  }
  if (b0 & 0x10) {
    if (start + 4 > n) {
      throw new RangeError(
        `RTP packet: extension header needs ${start + 4} bytes, got ${n}`,
      );
    }
    const words = (bytes[start + 2] << 8) | bytes[start + 3];
    start += 4 + words * 4;
    if (start > n) {
      throw new RangeError(
        `RTP packet: extension of ${words} words needs ${start} bytes, got ${n}`,
      );
    }
  }
  let end = n;
  if (b0 & 0x20) {
    const pad = bytes[n - 1];
    if (pad === 0 || start + pad > n) {
      throw new RangeError(
        `RTP packet: padding count expected in 1..${n - start}, got ${pad}`,
      );
    }
    end = n - pad;
  }
  const b1 = bytes[1];
  return {
    marker: (b1 & 0x80) !== 0,
    payloadType: b1 & 0x7f,
    sequence: (bytes[2] << 8) | bytes[3],
    timestamp: ((bytes[4] << 24) | (bytes[5] << 16) | (bytes[6] << 8) |
      bytes[7]) >>> 0,
    ssrc: ((bytes[8] << 24) | (bytes[9] << 16) | (bytes[10] << 8) |
      bytes[11]) >>> 0,
    payload: bytes.subarray(start, end),
  };
}

/**
 * RFC 5761 demultiplexing: true when the second byte (RTCP packet type, or
 * RTP M+PT) is in 192..223, i.e. the datagram is RTCP (SR 200, RR 201,
 * SDES 202, BYE 203, APP 204, RTPFB 205, PSFB 206 …).
 */
export function isRtcp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[1] >= 192 && bytes[1] <= 223;
}

/** Reads the SSRC of an RTP packet without parsing it (bytes 8..11). */
export function rtpSsrc(bytes: Uint8Array): number {
  if (bytes.length < RTP_HEADER_SIZE) {
    throw new RangeError(
      `RTP packet: expected at least 12 bytes, got ${bytes.length}`,
    );
  }
  return ((bytes[8] << 24) | (bytes[9] << 16) | (bytes[10] << 8) |
    bytes[11]) >>> 0;
}

/** Reads the sequence number of an RTP packet without parsing it. */
export function rtpSequence(bytes: Uint8Array): number {
  if (bytes.length < RTP_HEADER_SIZE) {
    throw new RangeError(
      `RTP packet: expected at least 12 bytes, got ${bytes.length}`,
    );
  }
  return (bytes[2] << 8) | bytes[3];
}

/**
 * Signed distance `a - b` between 16-bit sequence numbers, in
 * [-32768, 32767]: positive when `a` is after `b` (wrap-around safe).
 */
export function seqDiff(a: number, b: number): number {
  return (((a - b) & 0xffff) << 16) >> 16;
}

/** `seq + n` modulo 2^16 (n may be negative). */
export function seqAdd(seq: number, n: number): number {
  return (seq + n) & 0xffff;
}

/**
 * RTP timestamp of an FLV timestamp: `ms × 90 mod 2^32` (exact for any
 * ms up to 2^32-1, no float rounding).
 */
export function rtpTimestampFromMs(ms: number): number {
  return (ms * 90) % 4294967296;
}

/** A random SSRC, never 0 (from `crypto.getRandomValues`). */
export function randomSsrc(): number {
  const a = new Uint32Array(1);
  do crypto.getRandomValues(a); while (a[0] === 0);
  return a[0];
}

/** A random 16-bit initial sequence number. */
export function randomSequence(): number {
  const a = new Uint16Array(1);
  crypto.getRandomValues(a);
  return a[0];
}
