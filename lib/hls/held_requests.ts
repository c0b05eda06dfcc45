/**
 * Requests held open until what they ask for exists (an LL-HLS blocking
 * playlist reload, a preload-hinted part, the segment being built), under
 * two caps: all held requests together, and those of one client address
 * (an IPv6 client's /64),
 * so one address cannot take every other viewer's share. A refusal is
 * counted and logged at most once per 10 s.
 *
 * @module
 */
import { ipCapKey } from "../limits/mod.ts";
import type { Logger } from "../log/mod.ts";

/** Counters of {@linkcode HeldRequests} (part of the HLS service's stats). */
export interface HeldStats {
  /** Requests that were held (blocking reload or a part not yet written). */
  held: number;
  /** Held requests that timed out (503 / 404). */
  heldTimeouts: number;
  /** Held requests refused because `maxHeld` were already held (or
   * `maxHeldPerClient` for that address). */
  heldRefused: number;
  /** Requests held now. */
  heldNow: number;
}

/** Options for {@linkcode HeldRequests}. */
export interface HeldRequestsOptions {
  /** Requests held at once across all streams. */
  maxHeld: number;
  /** Requests held at once for one client address. */
  maxHeldPerClient: number;
  /** The counters to update (a live object). */
  stats: HeldStats;
  /** Where a refusal is logged (once per 10 s). */
  logger: Logger;
  /** Wall clock in ms. */
  now: () => number;
}

/** What a held request waits on: its stream's wake-ups and end. */
export interface HoldTarget {
  /** Called on every change of the stream (a part, a segment, the end). */
  waiters: Set<() => void>;
  /** True once the stream will produce nothing more. */
  ended(): boolean;
}

/**
 * The bounded set of held requests.
 *
 * @example Usage
 * ```ts
 * import { HeldRequests } from "./held_requests.ts";
 * import { nullLogger } from "../log/mod.ts";
 * const stats = { held: 0, heldTimeouts: 0, heldRefused: 0, heldNow: 0 };
 * const held = new HeldRequests({
 *   maxHeld: 10, maxHeldPerClient: 2, stats, logger: nullLogger, now: Date.now,
 * });
 * held.wait({ waiters: new Set(), ended: () => false }, () => true, 1000, "10.0.0.1"); // true
 * ```
 */
export class HeldRequests {
  #o: HeldRequestsOptions;
  #by = new Map<string, number>();
  #lastRefusalLogAt = -Infinity;

  /** Creates an empty set. */
  constructor(options: HeldRequestsOptions) {
    this.#o = options;
  }

  /**
   * Resolves true once `ready()` holds, false after `timeoutMs`; answers
   * at once (no Promise) when it is ready already, when the stream has
   * ended, or when a cap refuses (false).
   */
  wait(
    target: HoldTarget,
    ready: () => boolean,
    timeoutMs: number,
    client: string | undefined,
  ): Promise<boolean> | boolean {
    if (ready()) return true;
    if (target.ended()) return false; // nothing more will come
    const o = this.#o;
    const stats = o.stats;
    const who = client === undefined ? undefined : ipCapKey(client);
    const mine = who === undefined ? 0 : this.#by.get(who) ?? 0;
    if (stats.heldNow >= o.maxHeld || mine >= o.maxHeldPerClient) {
      stats.heldRefused++;
      const now = o.now();
      if (now - this.#lastRefusalLogAt > 10_000) {
        this.#lastRefusalLogAt = now;
        o.logger.warn("hls: request refused, too many held requests", {
          reason: stats.heldNow >= o.maxHeld ? "maxHeld" : "maxHeldPerClient",
          maxHeld: o.maxHeld,
          maxHeldPerClient: o.maxHeldPerClient,
          client,
          refused: stats.heldRefused,
        });
      }
      return false;
    }
    stats.held++;
    stats.heldNow++;
    if (who !== undefined) this.#by.set(who, mine + 1);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        target.waiters.delete(check);
        stats.heldNow--;
        if (who !== undefined) {
          const n = (this.#by.get(who) ?? 1) - 1;
          if (n > 0) this.#by.set(who, n);
          else this.#by.delete(who);
        }
        if (!ok) stats.heldTimeouts++;
        resolve(ok);
      };
      const check = () => {
        if (ready()) done(true);
        else if (target.ended()) done(ready());
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      target.waiters.add(check);
    });
  }
}
