/**
 * When a gap's first NACK may go when the cloud sends FEC parity (part of
 * the edge's {@linkcode JitterBuffer}): a gap waits until its block's parity
 * has arrived or could have — the block's remaining packets at the measured
 * spacing plus the reorder grace, at most a quarter of the budget — since
 * parity may rebuild it with no round trip. Pure: every call takes `now`.
 *
 * @module
 */
import { seqDiff } from "../rtp/mod.ts";

/**
 * The last parity block seen and the media packets' arrival spacing.
 *
 * @example Usage
 * ```ts ignore
 * const timing = new ParityTiming();
 * timing.arrived(seq, now); // every media packet from the network
 * timing.parity(base, count); // every parity packet
 * missing.add(gap, now, false, timing.holdUntil(gap, seq, now, 20, 400));
 * ```
 */
export class ParityTiming {
  #parity: { base: number; count: number } | undefined;
  /** Mean time between media packets (ms). */
  #spacing = 0;
  #last: { seq: number; at: number } | undefined;

  /** A parity packet for the block `base` .. `base + count - 1` came. */
  parity(base: number, count: number): void {
    this.#parity = { base: base & 0xffff, count };
  }

  /** A media packet `seq` arrived from the network at `now` (EWMA 1/16 of
   * the spacing of in-order packets). */
  arrived(seq: number, now: number): void {
    const last = this.#last;
    const n = last ? seqDiff(seq, last.seq) : 0;
    if (last && n > 0 && n < 64) {
      const gap = Math.min((now - last.at) / n, 100);
      this.#spacing = this.#spacing === 0
        ? gap
        : this.#spacing + (gap - this.#spacing) / 16;
    }
    if (!last || n > 0) this.#last = { seq, at: now };
  }

  /** Until when the first NACK of `seq` (found missing at `now`, when `high`
   * arrived) waits for its block's parity; 0 when no parity came yet. */
  holdUntil(
    seq: number,
    high: number,
    now: number,
    graceMs: number,
    budgetMs: number,
  ): number {
    const p = this.#parity;
    if (!p) return 0;
    const d = seqDiff(seq, p.base);
    if (d < p.count) return 0; // that block's parity came already
    const end = (p.base + (Math.floor(d / p.count) + 1) * p.count - 1) &
      0xffff;
    // Media packets still to come in the block, then its parity.
    const remaining = Math.max(0, seqDiff(end, high)) + 1;
    return now + Math.min(remaining * this.#spacing + graceMs, budgetMs / 4);
  }

  /** Forgets the parity block and the spacing (a new sequence space). */
  reset(): void {
    this.#parity = undefined;
    this.#last = undefined;
  }
}
