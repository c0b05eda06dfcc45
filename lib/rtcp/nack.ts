/**
 * Generic NACK FCI packing (RFC 4585 §6.2.1): a PID and a 16-bit bitmask of
 * the following lost packets, wrap-around safe.
 *
 * @module
 */

/** One FCI entry of a Generic NACK. */
export interface NackFci {
  /** Packet ID: a lost sequence number. */
  pid: number;
  /** Bitmask of following lost packets: bit i set ⇒ `pid + i + 1` lost. */
  blp: number;
}

function checkSeq(seq: number): void {
  if (!Number.isInteger(seq) || seq < 0 || seq > 0xffff) {
    throw new RangeError(
      `Expected RTP sequence numbers in 0..65535, received ${seq}`,
    );
  }
}

/**
 * Orders sequence numbers circularly: duplicates removed, ascending, starting
 * after the widest gap so that a run across the wrap (…65534, 65535, 0, 1…)
 * stays contiguous.
 *
 * @example Usage
 * ```ts
 * import { orderSeqs } from "./nack.ts";
 * orderSeqs([1, 65535, 0, 65534]); // [65534, 65535, 0, 1]
 * ```
 *
 * @param seqs Sequence numbers in any order.
 * @returns A new array in circular ascending order.
 * @throws {RangeError} When a value is not an integer in 0..65535.
 */
export function orderSeqs(seqs: Iterable<number>): number[] {
  const unique = new Set<number>();
  for (const s of seqs) {
    checkSeq(s);
    unique.add(s);
  }
  const sorted = [...unique].sort((a, b) => a - b);
  if (sorted.length < 2) return sorted;
  // Start after the widest circular gap.
  let start = 0;
  let widest = sorted[0] + 0x10000 - sorted[sorted.length - 1];
  for (let i = 1; i < sorted.length; i++) {
    const gap = sorted[i] - sorted[i - 1];
    if (gap > widest) {
      widest = gap;
      start = i;
    }
  }
  return start === 0
    ? sorted
    : sorted.slice(start).concat(sorted.slice(0, start));
}

/**
 * Packs sequence numbers into as few PID+BLP entries as a greedy pass over
 * {@linkcode orderSeqs} gives (optimal for a circular sorted list).
 *
 * @example Usage
 * ```ts
 * import { packNack } from "./nack.ts";
 * packNack([65535, 0, 2]); // [{ pid: 65535, blp: 0b101 }]
 * ```
 *
 * @param seqs Sequence numbers in any order (duplicates ignored).
 * @returns FCI entries in circular order.
 * @throws {RangeError} When a value is not an integer in 0..65535.
 */
export function packNack(seqs: Iterable<number>): NackFci[] {
  const ordered = orderSeqs(seqs);
  const out: NackFci[] = [];
  let cur: NackFci | undefined;
  for (const s of ordered) {
    if (cur) {
      const d = (s - cur.pid + 0x10000) & 0xffff;
      if (d >= 1 && d <= 16) {
        cur.blp |= 1 << (d - 1);
        continue;
      }
    }
    cur = { pid: s, blp: 0 };
    out.push(cur);
  }
  return out;
}

/**
 * Expands FCI entries back to sequence numbers: each PID followed by the
 * numbers its BLP bits name, ascending, wrapping at 2^16.
 *
 * @example Usage
 * ```ts
 * import { unpackNack } from "./nack.ts";
 * unpackNack([{ pid: 65535, blp: 0b101 }]); // [65535, 0, 2]
 * ```
 *
 * @param fcis FCI entries.
 * @returns Sequence numbers (duplicates across entries are kept).
 */
export function unpackNack(fcis: Iterable<NackFci>): number[] {
  const out: number[] = [];
  for (const { pid, blp } of fcis) {
    out.push(pid);
    for (let i = 0; i < 16; i++) {
      if (blp & (1 << i)) out.push((pid + i + 1) & 0xffff);
    }
  }
  return out;
}
