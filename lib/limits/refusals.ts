/**
 * Counting refusals (a connection over a cap, a bad signature, a stalled
 * peer…) and logging them without letting a flood become a log flood: the
 * first refusal of a kind in each interval is logged with its fields, later
 * ones of the same kind in that interval are only counted, and the next
 * line says how many were not logged.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { MetricFamily } from "../metrics/mod.ts";

/** Options for {@linkcode Refusals}. */
export interface RefusalsOptions {
  /** Where the lines go. */
  logger: Logger;
  /** Metric name, e.g. `flvcast_cloud_refusals_total` (label `reason`). */
  metric: string;
  /** At most one line per kind per this many ms; default 10000. */
  intervalMs?: number;
  /** Clock (tests); default `Date.now`. */
  now?: () => number;
}

interface Kind {
  count: number;
  loggedAt: number;
  unlogged: number;
}

/**
 * Counters of refusals by reason, logged at most once per interval each.
 *
 * @example Usage
 * ```ts
 * import { Refusals } from "./refusals.ts";
 * import { nullLogger } from "../log/mod.ts";
 * const r = new Refusals({ logger: nullLogger, metric: "x_refusals_total" });
 * r.refuse("max_connections", "connection refused", { remote: "1.2.3.4:5" });
 * r.count("max_connections"); // 1
 * ```
 */
export class Refusals {
  #log: Logger;
  #metric: string;
  #interval: number;
  #now: () => number;
  #kinds = new Map<string, Kind>();

  /** Creates an empty set of counters. */
  constructor(options: RefusalsOptions) {
    this.#log = options.logger;
    this.#metric = options.metric;
    this.#interval = options.intervalMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Counts one refusal of `reason` and logs `message` (warn) unless this
   * reason was already logged in the current interval.
   */
  refuse(
    reason: string,
    message: string,
    fields: Record<string, unknown> = {},
  ): void {
    let k = this.#kinds.get(reason);
    if (!k) {
      k = { count: 0, loggedAt: -Infinity, unlogged: 0 };
      this.#kinds.set(reason, k);
    }
    k.count++;
    const now = this.#now();
    if (now - k.loggedAt < this.#interval) {
      k.unlogged++;
      return;
    }
    const extra = k.unlogged > 0 ? { not_logged_since_last: k.unlogged } : {};
    k.loggedAt = now;
    k.unlogged = 0;
    this.#log.warn(message, { reason, ...fields, ...extra });
  }

  /** How many refusals of `reason` so far. */
  count(reason: string): number {
    return this.#kinds.get(reason)?.count ?? 0;
  }

  /** Every reason seen with its count. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [r, k] of this.#kinds) out[r] = k.count;
    return out;
  }

  /** The counters as one Prometheus family labelled by `reason`. */
  metrics(): MetricFamily[] {
    return [{
      name: this.#metric,
      help: "Connections, requests and publishes refused, by reason.",
      type: "counter",
      samples: [...this.#kinds].map(([reason, k]) => ({
        labels: { reason },
        value: k.count,
      })),
    }];
  }
}
