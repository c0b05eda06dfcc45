/**
 * The edge's repair budget (SPEC §5): every stream's NACKs pass one token
 * bucket (`maxRepairPerSecond`, all streams); what it cannot grant is given
 * up at once (counted, logged once per interval), the rest goes to the
 * shell as a {@linkcode RepairRequest}. Pure: every call takes `now`.
 *
 * @module
 */
import { type Logger, RateLimitedLog } from "../log/mod.ts";
import { TokenBucket } from "../rate/mod.ts";
import type { ReceiverStream } from "./receiver_stream.ts";
import type { RepairRequest } from "./receiver_types.ts";

/**
 * Repair requests through one budget.
 *
 * @example Usage
 * ```ts ignore
 * const repairs = new RepairRequests({ rate: 500, log, onRepair: askCloud });
 * const shed = repairs.request(stream, jb.nacks(now), now); // give these up
 * ```
 */
export class RepairRequests {
  #bucket: TokenBucket;
  #log: RateLimitedLog;
  #onRepair: (request: RepairRequest) => void;
  /** Sequence numbers given up for want of budget. */
  shed = 0;

  /** `rate`: requests per second at most (a full bucket to start). */
  constructor(
    o: {
      rate: number;
      log: Logger;
      onRepair: (request: RepairRequest) => void;
    },
  ) {
    this.#bucket = new TokenBucket({ rate: o.rate, full: true });
    this.#log = new RateLimitedLog(o.log, { intervalMs: 10_000 });
    this.#onRepair = o.onRepair;
  }

  /** Asks for `seqs` of `s` as far as the budget goes; returns the ones it
   * could not ask for (to give up now). */
  request(s: ReceiverStream, seqs: number[], now: number): number[] {
    const granted = this.#bucket.take(seqs.length, now);
    const shed = seqs.slice(granted);
    if (shed.length > 0) {
      this.shed += shed.length;
      this.#log.log(now, "repair budget exhausted; giving up missing packets", {
        key: s.key,
        shed: shed.length,
        maxRepairPerSecond: this.#bucket.rate,
      });
    }
    if (granted > 0) {
      this.#onRepair({
        key: s.key,
        ssrc: s.ssrc,
        source: s.source,
        seqs: seqs.slice(0, granted),
        sentAt: now,
        budgetMs: s.jb.latencyMs,
      });
    }
    return shed;
  }
}
