/**
 * Rate limits used by the retransmission service: a token bucket and a log
 * line at most once per interval.
 *
 * @module
 */

/** Calls `fn` at most once per `intervalMs`, reporting how many calls were dropped. */
export class RateLimitedLog {
  #intervalMs: number;
  #last = -Infinity;
  #suppressed = 0;

  /** @param intervalMs Minimum time between two emitted lines. */
  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /**
   * Emits via `fn(suppressed)` when the interval has passed, else counts.
   *
   * @param fn Receives how many calls were swallowed since the last line.
   */
  emit(fn: (suppressed: number) => void): void {
    const now = performance.now();
    if (now - this.#last >= this.#intervalMs) {
      this.#last = now;
      const s = this.#suppressed;
      this.#suppressed = 0;
      fn(s);
    } else {
      this.#suppressed++;
    }
  }
}

/** Token bucket: `rate` tokens a second, at most `burst` stored. */
export class TokenBucket {
  #rate: number;
  #burst: number;
  #tokens: number;
  #last: number;

  /**
   * @param rate Tokens added per second.
   * @param burst Capacity; default `rate` (one second's worth).
   */
  constructor(rate: number, burst = rate) {
    this.#rate = rate;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = performance.now();
  }

  /**
   * Takes up to `n` tokens.
   *
   * @param n Tokens wanted.
   * @returns How many were granted (0..n).
   */
  take(n: number): number {
    const now = performance.now();
    this.#tokens = Math.min(
      this.#burst,
      this.#tokens + ((now - this.#last) / 1000) * this.#rate,
    );
    this.#last = now;
    const granted = Math.min(n, Math.floor(this.#tokens));
    this.#tokens -= granted;
    return granted;
  }
}
