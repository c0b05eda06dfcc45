/**
 * A log line that goes out at most once per interval: the one way flvcast
 * reports refusals and losses that a peer can cause at packet rate (SPEC §10:
 * "logged once per interval, never per packet"). Lines held back are counted
 * and the next line that goes out carries `suppressed=N`.
 *
 * @module
 */
import type { Logger, LogLevel } from "./logger.ts";

/** Options for {@linkcode RateLimitedLog}. */
export interface RateLimitedLogOptions {
  /** Least time between two lines (ms). Default 10 000. */
  intervalMs?: number;
  /** Level of the lines. Default `warn`. */
  level?: LogLevel;
}

/**
 * One rate-limited kind of log line.
 *
 * @example Usage
 * ```ts
 * import { RateLimitedLog } from "./rate_limited.ts";
 * import { nullLogger } from "./logger.ts";
 * const refused = new RateLimitedLog(nullLogger, { intervalMs: 1000 });
 * refused.log(0, "stream refused", { key: "live/a" }); // true: written
 * refused.log(500, "stream refused", { key: "live/b" }); // false: counted
 * refused.log(1500, "stream refused", { key: "live/c" }); // true, suppressed=1
 * ```
 */
export class RateLimitedLog {
  #log: Logger;
  #interval: number;
  #level: LogLevel;
  #lastAt = -Infinity;
  #suppressed = 0;

  /** Lines go to `logger` at `options.level`. */
  constructor(logger: Logger, options: RateLimitedLogOptions = {}) {
    this.#log = logger;
    this.#interval = options.intervalMs ?? 10_000;
    this.#level = options.level ?? "warn";
  }

  /** Writes the line if the interval since the last one has passed at
   * `now` (ms, any monotonic clock); otherwise counts it. Returns whether
   * it was written. */
  log(now: number, msg: string, fields: Record<string, unknown> = {}): boolean {
    if (now - this.#lastAt < this.#interval) {
      this.#suppressed++;
      return false;
    }
    this.#lastAt = now;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    this.#log[this.#level](
      msg,
      suppressed > 0 ? { ...fields, suppressed } : fields,
    );
    return true;
  }
}
