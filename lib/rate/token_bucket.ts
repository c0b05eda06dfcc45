/**
 * A token bucket, the one rate limiter of flvcast: `rate` tokens a second,
 * at most `burst` saved up. Pure: every call takes the current time `now`
 * (milliseconds, any monotonic clock).
 *
 * @module
 */

/** Options for {@linkcode TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second (> 0). */
  rate: number;
  /** Most tokens held; default `rate` (one second of burst). */
  burst?: number;
  /** Whether the bucket starts full. Default false (empty). */
  full?: boolean;
}

/**
 * Refills continuously; {@linkcode take} grants what is there.
 *
 * @example Usage
 * ```ts
 * import { TokenBucket } from "./token_bucket.ts";
 * const bucket = new TokenBucket({ rate: 10, full: true });
 * bucket.take(25, 0); // 10: the burst
 * bucket.take(5, 200); // 2: 200 ms at 10/s
 * ```
 */
export class TokenBucket {
  #rate: number;
  #burst: number;
  #tokens: number;
  #at: number | undefined;

  /** Creates the bucket; throws a RangeError on a rate or burst ≤ 0. */
  constructor(options: TokenBucketOptions) {
    if (!(options.rate > 0)) {
      throw new RangeError(
        `TokenBucket rate: expected a number > 0, got ${options.rate}`,
      );
    }
    const burst = options.burst ?? options.rate;
    if (!(burst > 0)) {
      throw new RangeError(
        `TokenBucket burst: expected a number > 0, got ${options.burst}`,
      );
    }
    this.#rate = options.rate;
    this.#burst = burst;
    this.#tokens = options.full ? burst : 0;
  }

  /** Tokens per second. */
  get rate(): number {
    return this.#rate;
  }

  /** Whole tokens available at `now`. */
  available(now: number): number {
    this.#refill(now);
    return Math.floor(this.#tokens);
  }

  /** Takes up to `wanted` whole tokens at `now`; returns how many it got. */
  take(wanted: number, now: number): number {
    this.#refill(now);
    const granted = Math.max(0, Math.min(wanted, Math.floor(this.#tokens)));
    this.#tokens -= granted;
    return granted;
  }

  /** Takes one token if there is one. */
  tryTake(now: number): boolean {
    return this.take(1, now) === 1;
  }

  #refill(now: number): void {
    if (this.#at !== undefined && now > this.#at) {
      this.#tokens = Math.min(
        this.#burst,
        this.#tokens + (now - this.#at) * this.#rate / 1000,
      );
    }
    if (this.#at === undefined || now > this.#at) this.#at = now;
  }
}
