/**
 * Forward error correction in the style of RFC 8627 (FlexFEC) with one XOR
 * parity row: after every `block` media packets of a stream the cloud sends
 * one parity packet, so an edge repairs a single loss in a block with no
 * round trip at all (two or more losses in a block fall back to NACKs).
 * Pure bytes, no I/O.
 *
 * A parity packet is an RTP packet of the stream's SSRC with payload type
 * {@linkcode FEC_PAYLOAD_TYPE}, its own sequence counter, marker 0 and the
 * timestamp of the block's last packet. Payload: base sequence number (u16),
 * count (u8), reserved (u8), then the XOR over the block's packets of
 * `[M bit << 7 | payload type] (u8), timestamp (u32), payload length (u16),
 * payload (zero-padded to the longest)`.
 *
 * @module
 */
import { encodeRtp, type RtpPacket, seqAdd, seqDiff } from "./packet.ts";

/** Payload type of parity packets. */
export const FEC_PAYLOAD_TYPE = 101;

/** Bytes of the parity payload before the XOR of the recovery fields. */
const PARITY_HEADER = 4;
/** Recovery fields before the payload: byte1, timestamp, length. */
const FIELDS = 7;

/** Most media packets one parity packet may protect. */
export const MAX_FEC_BLOCK = 64;

function xorInto(acc: Uint8Array, p: RtpPacket): void {
  acc[0] ^= (p.marker ? 0x80 : 0) | (p.payloadType & 0x7f);
  acc[1] ^= p.timestamp >>> 24;
  acc[2] ^= (p.timestamp >>> 16) & 0xff;
  acc[3] ^= (p.timestamp >>> 8) & 0xff;
  acc[4] ^= p.timestamp & 0xff;
  acc[5] ^= p.payload.length >>> 8;
  acc[6] ^= p.payload.length & 0xff;
  const pl = p.payload;
  for (let i = 0; i < pl.length; i++) acc[FIELDS + i] ^= pl[i];
}

/**
 * Builds the parity packet of `packets` (consecutive sequence numbers, the
 * first one is the block's base).
 *
 * @throws {RangeError} for an empty block or more than {@linkcode MAX_FEC_BLOCK}.
 */
export function buildParity(
  packets: RtpPacket[],
  fecSequence: number,
): Uint8Array {
  if (packets.length < 1 || packets.length > MAX_FEC_BLOCK) {
    throw new RangeError(
      `FEC block: expected 1..${MAX_FEC_BLOCK} packets, received ${packets.length}`,
    );
  }
  const longest = packets.reduce((n, p) => Math.max(n, p.payload.length), 0);
  const payload = new Uint8Array(PARITY_HEADER + FIELDS + longest);
  payload[0] = packets[0].sequence >>> 8;
  payload[1] = packets[0].sequence & 0xff;
  payload[2] = packets.length;
  const acc = payload.subarray(PARITY_HEADER);
  for (const p of packets) xorInto(acc, p);
  const last = packets[packets.length - 1];
  return encodeRtp({
    marker: false,
    payloadType: FEC_PAYLOAD_TYPE,
    sequence: fecSequence & 0xffff,
    timestamp: last.timestamp,
    ssrc: last.ssrc,
    payload,
  });
}

/** A parsed parity packet. */
export interface Parity {
  /** First media sequence number it protects. */
  base: number;
  /** How many media packets from `base`. */
  count: number;
  /** The XOR of the recovery fields. */
  xor: Uint8Array;
  /** The stream. */
  ssrc: number;
}

/**
 * Reads a parity packet (already parsed as RTP, payload type
 * {@linkcode FEC_PAYLOAD_TYPE}).
 *
 * @throws {RangeError} when the payload is too short or the count is 0.
 */
export function parseParity(p: RtpPacket): Parity {
  const d = p.payload;
  if (d.length < PARITY_HEADER + FIELDS) {
    throw new RangeError(
      `FEC parity: expected at least ${
        PARITY_HEADER + FIELDS
      } payload bytes, received ${d.length}`,
    );
  }
  const count = d[2];
  if (count < 1 || count > MAX_FEC_BLOCK) {
    throw new RangeError(
      `FEC parity: expected a count of 1..${MAX_FEC_BLOCK}, received ${count}`,
    );
  }
  return {
    base: (d[0] << 8) | d[1],
    count,
    xor: d.subarray(PARITY_HEADER),
    ssrc: p.ssrc,
  };
}

/**
 * The one missing packet of a block: XOR of the parity and every other
 * packet of the block (all present).
 *
 * @throws {RangeError} when the result is not a consistent packet (a wrong
 *   or foreign parity).
 */
export function recoverPacket(
  parity: Parity,
  others: RtpPacket[],
  missing: number,
): RtpPacket {
  const acc = parity.xor.slice();
  for (const p of others) {
    if (FIELDS + p.payload.length > acc.length) {
      throw new RangeError(
        `FEC: a packet of ${p.payload.length} payload bytes does not fit a parity of ${
          acc.length - FIELDS
        }`,
      );
    }
    xorInto(acc, p);
  }
  const length = (acc[5] << 8) | acc[6];
  if (FIELDS + length > acc.length) {
    throw new RangeError(
      `FEC: recovered length ${length} exceeds the parity's ${
        acc.length - FIELDS
      }`,
    );
  }
  return {
    marker: (acc[0] & 0x80) !== 0,
    payloadType: acc[0] & 0x7f,
    sequence: missing & 0xffff,
    timestamp: ((acc[1] << 24) | (acc[2] << 16) | (acc[3] << 8) | acc[4]) >>>
      0,
    ssrc: parity.ssrc,
    payload: acc.slice(FIELDS, FIELDS + length),
  };
}

/** Cloud side: one parity packet after every `block` media packets. */
export class FecEncoder {
  #block: number;
  #pending: RtpPacket[] = [];
  #seq: number;

  /**
   * @param block Media packets per parity packet (2..64).
   * @param firstSequence First parity sequence number (random is fine).
   * @throws {RangeError} for a block outside 2..64.
   */
  constructor(block: number, firstSequence = 0) {
    if (!Number.isInteger(block) || block < 2 || block > MAX_FEC_BLOCK) {
      throw new RangeError(
        `FEC block: expected an integer in 2..${MAX_FEC_BLOCK}, received ${block}`,
      );
    }
    this.#block = block;
    this.#seq = firstSequence & 0xffff;
  }

  /**
   * Adds one media packet; returns the parity packet when a block is full.
   * Keeps its own copy of the payload: the caller may reuse or encrypt its
   * buffer in place afterwards (the cloud SRTP-protects a tag's packets in
   * the packetizer's buffer, and a block spans tags).
   */
  push(p: RtpPacket): Uint8Array | undefined {
    const prev = this.#pending[this.#pending.length - 1];
    if (
      prev && (prev.ssrc !== p.ssrc || seqDiff(p.sequence, prev.sequence) !== 1)
    ) {
      this.#pending = []; // not consecutive: start a new block
    }
    this.#pending.push({ ...p, payload: p.payload.slice() });
    if (this.#pending.length < this.#block) return undefined;
    const parity = buildParity(this.#pending, this.#seq);
    this.#seq = (this.#seq + 1) & 0xffff;
    this.#pending = [];
    return parity;
  }
}

/** Counters of a {@linkcode FecDecoder}. */
export interface FecDecoderStats {
  /** Parity packets accepted. */
  parity: number;
  /** Media packets rebuilt from parity. */
  recovered: number;
  /** Parity packets that could not be used (two or more losses, or bad). */
  unusable: number;
}

/**
 * Edge side, one per stream: keeps the last media packets and the parity of
 * recent blocks; a block with exactly one packet missing yields that packet.
 * Bounded: a ring of `window` media packets and at most `window / 16` blocks.
 */
export class FecDecoder {
  #ring: (RtpPacket | undefined)[];
  #mask: number;
  #blocks = new Map<number, Parity>();
  #maxBlocks: number;
  #stats: FecDecoderStats = { parity: 0, recovered: 0, unusable: 0 };

  /** @param window Media packets remembered (a power of two, default 1024). */
  constructor(window = 1024) {
    this.#ring = new Array(window).fill(undefined);
    this.#mask = window - 1;
    this.#maxBlocks = Math.max(4, window / 16);
  }

  /** Live counters. */
  get stats(): Readonly<FecDecoderStats> {
    return this.#stats;
  }

  /** A media packet arrived (or was repaired); returns packets it lets FEC rebuild. */
  media(p: RtpPacket): RtpPacket[] {
    this.#ring[p.sequence & this.#mask] = p;
    for (const [base, par] of this.#blocks) {
      const d = seqDiff(p.sequence, base);
      if (d >= 0 && d < par.count) return this.#try(base, par);
    }
    return [];
  }

  /** A parity packet arrived; returns the packet it rebuilds, if any. */
  parity(p: RtpPacket): RtpPacket[] {
    let par: Parity;
    try {
      par = parseParity(p);
    } catch {
      this.#stats.unusable++;
      return [];
    }
    this.#stats.parity++;
    this.#blocks.set(par.base, par);
    if (this.#blocks.size > this.#maxBlocks) {
      this.#blocks.delete(this.#blocks.keys().next().value!);
      this.#stats.unusable++;
    }
    return this.#try(par.base, par);
  }

  #have(seq: number): RtpPacket | undefined {
    const p = this.#ring[seq & this.#mask];
    return p && p.sequence === seq ? p : undefined;
  }

  #try(base: number, par: Parity): RtpPacket[] {
    const others: RtpPacket[] = [];
    let missing = -1;
    for (let i = 0; i < par.count; i++) {
      const seq = seqAdd(base, i);
      const p = this.#have(seq);
      if (p) others.push(p);
      else if (missing >= 0) return []; // two or more missing: wait
      else missing = seq;
    }
    this.#blocks.delete(base);
    if (missing < 0) return [];
    try {
      const p = recoverPacket(par, others, missing);
      this.#ring[missing & this.#mask] = p;
      this.#stats.recovered++;
      return [p];
    } catch {
      this.#stats.unusable++;
      return [];
    }
  }
}
