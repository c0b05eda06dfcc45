/**
 * The SRTP/SRTCP replay list (RFC 3711 §3.3.2): a sliding window of the
 * most recent packet indices received and authenticated. A ring bitmap: a
 * step forward clears only the bits it passes, so a window of thousands
 * (the edge keeps one as wide as its repair budget) costs the same per
 * packet as one of 64.
 *
 * @module
 */

/** Why an index is refused. */
export type ReplayVerdict = "new" | "duplicate" | "too_old";

/**
 * Replay window over packet indices (up to 2^48).
 *
 * @example Usage
 * ```ts
 * import { ReplayWindow } from "./replay_window.ts";
 * const w = new ReplayWindow(128);
 * w.check(5); // "new"
 * w.accept(5);
 * w.check(5); // "duplicate"
 * ```
 */
export class ReplayWindow {
  readonly #size: number;
  readonly #bits: Uint32Array;
  #top = -1;

  /**
   * @param size Window size in packets: a multiple of 32, at least 64.
   * @throws {RangeError} On another size.
   */
  constructor(size = 128) {
    if (!Number.isInteger(size) || size < 64 || size % 32 !== 0) {
      throw new RangeError(
        `Expected a replay window of at least 64 packets and a multiple of 32, received ${size}`,
      );
    }
    this.#size = size;
    this.#bits = new Uint32Array(size / 32);
  }

  /** The window size. */
  get size(): number {
    return this.#size;
  }

  /** The highest index accepted so far, or -1. */
  get top(): number {
    return this.#top;
  }

  /**
   * Whether `index` may be accepted (does not change the window).
   *
   * @param index Packet index (48-bit SRTP index or 31-bit SRTCP index).
   */
  check(index: number): ReplayVerdict {
    if (this.#top < 0 || index > this.#top) return "new";
    if (this.#top - index >= this.#size) return "too_old";
    const slot = index % this.#size;
    return (this.#bits[slot >>> 5] >>> (slot & 31)) & 1 ? "duplicate" : "new";
  }

  /**
   * Records `index` as received (call after it authenticated).
   *
   * @param index Packet index.
   */
  accept(index: number): void {
    if (this.#top < 0) {
      this.#top = index;
    } else if (index > this.#top) {
      const step = index - this.#top;
      if (step >= this.#size) {
        this.#bits.fill(0);
      } else {
        for (let i = this.#top + 1; i < index; i++) this.#clear(i);
      }
      this.#top = index;
    } else if (this.#top - index >= this.#size) {
      return;
    }
    const slot = index % this.#size;
    this.#bits[slot >>> 5] |= 1 << (slot & 31);
  }

  #clear(index: number): void {
    const slot = index % this.#size;
    this.#bits[slot >>> 5] &= ~(1 << (slot & 31));
  }
}
