/**
 * The retransmission client's outstanding packet requests: who waits for
 * which (SSRC, sequence number), each request's deadline, the bound on how
 * many wait, and the round-trip estimate from the answers (Karn's rule,
 * RFC 6298 smoothing).
 *
 * @module
 */
import type { RtxClientStats, RtxResult } from "./client_types.ts";

/** The outcome counters of {@linkcode RtxClientStats} this class keeps. */
type OutcomeStats = Pick<
  RtxClientStats,
  "packetsOk" | "packetsUnavailable" | "packetsTimeout"
>;

interface Waiter {
  key: number;
  resolve: (r: RtxResult) => void;
  batch: Batch;
  done: boolean;
}

interface Batch {
  pending: number;
  timer?: ReturnType<typeof setTimeout>;
}

/** A timeout (deadline, eviction or close). */
export const TIMEOUT: RtxResult = Object.freeze({ status: "timeout" });
/** The cloud does not have the packet. */
export const UNAVAILABLE: RtxResult = Object.freeze({ status: "unavailable" });

/**
 * The key of one (SSRC, sequence number).
 *
 * @param ssrc The stream.
 * @param seq The sequence number.
 */
export const keyOf = (ssrc: number, seq: number): number =>
  ssrc * 0x10000 + seq;

/**
 * Outstanding requests by (SSRC, sequence number).
 *
 * @example Usage
 * ```ts
 * import { PendingPackets } from "./pending_packets.ts";
 * const stats = { packetsOk: 0, packetsUnavailable: 0, packetsTimeout: 0 };
 * const pending = new PendingPackets(100, stats);
 * const [p] = pending.add(1, [7], 200);
 * pending.answer(1 * 0x10000 + 7, { status: "unavailable" });
 * await p; // { status: "unavailable" }
 * ```
 */
export class PendingPackets {
  #pending = new Map<number, Waiter[]>();
  #outstanding = 0;
  #max: number;
  #stats: OutcomeStats;
  /** First NACK time and NACK count per key still pending (Karn's rule). */
  #asked = new Map<number, { at: number; n: number }>();
  #srtt = 0;

  /**
   * @param maxOutstanding Most sequence numbers waiting; beyond, the oldest
   *   time out.
   * @param stats Where outcomes are counted.
   */
  constructor(maxOutstanding: number, stats: OutcomeStats) {
    this.#max = maxOutstanding;
    this.#stats = stats;
  }

  /** Whether someone waits for `key`. */
  has(key: number): boolean {
    return this.#pending.has(key);
  }

  /** Sequence numbers waiting for an answer. */
  get outstanding(): number {
    return this.#outstanding;
  }

  /** The keys someone waits for, oldest first. */
  keys(): IterableIterator<number> {
    return this.#pending.keys();
  }

  /** Smoothed request → answer round trip (ms); 0 before any sample. */
  get rttMs(): number {
    return this.#srtt;
  }

  /**
   * Waits for `seqs` of `ssrc` until `timeoutMs`; one promise each, in
   * order; never rejects. The oldest waiting give way beyond the bound.
   */
  add(ssrc: number, seqs: number[], timeoutMs: number): Promise<RtxResult>[] {
    const batch: Batch = { pending: 0 };
    const waiters: Waiter[] = [];
    const promises = seqs.map((seq) =>
      new Promise<RtxResult>((resolve) => {
        const key = keyOf(ssrc, seq);
        const w: Waiter = { key, resolve, batch, done: false };
        waiters.push(w);
        const list = this.#pending.get(key);
        if (list) list.push(w);
        else this.#pending.set(key, [w]);
        batch.pending++;
        this.#outstanding++;
      })
    );
    if (batch.pending > 0) {
      batch.timer = setTimeout(() => {
        batch.timer = undefined;
        for (const w of waiters) this.#finish(w, TIMEOUT);
      }, timeoutMs);
    }
    while (this.#outstanding > this.#max) {
      const [key, list] = this.#pending.entries().next().value!;
      this.#pending.delete(key);
      this.#asked.delete(key);
      for (const w of list) this.#finish(w, TIMEOUT, true);
    }
    return promises;
  }

  /** `seqs` of `ssrc` were just asked for at `now` (for Karn's rule). */
  asked(ssrc: number, seqs: readonly number[], now: number): void {
    for (const s of seqs) {
      const key = keyOf(ssrc, s);
      const a = this.#asked.get(key);
      if (a) a.n++;
      else this.#asked.set(key, { at: now, n: 1 });
    }
  }

  /**
   * The answer for `key`: every waiter gets it.
   *
   * @returns false when nobody waited (late or duplicate).
   */
  answer(key: number, r: RtxResult): boolean {
    const list = this.#pending.get(key);
    if (!list) return false;
    this.#pending.delete(key);
    const asked = this.#asked.get(key);
    this.#asked.delete(key);
    // Karn's rule; but with no estimate yet an early retry (a guess below the
    // real round trip) would discard every sample: the first answer seeds
    // it, measured from the first request (an overestimate, never under).
    if (r.status === "ok" && asked && (asked.n === 1 || this.#srtt === 0)) {
      const sample = performance.now() - asked.at;
      this.#srtt = this.#srtt === 0
        ? sample
        : this.#srtt + (sample - this.#srtt) / 8;
      r = { ...r, rttMs: sample };
    }
    for (const w of list) this.#finish(w, r, true);
    return true;
  }

  /** Every waiter times out (the client closes). */
  timeoutAll(): void {
    for (const list of [...this.#pending.values()]) {
      for (const w of list) this.#finish(w, TIMEOUT);
    }
    this.#pending.clear();
    this.#asked.clear();
  }

  #finish(w: Waiter, r: RtxResult, detached = false): void {
    if (w.done) return;
    w.done = true;
    if (!detached) {
      const list = this.#pending.get(w.key);
      if (list) {
        const i = list.indexOf(w);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) {
          this.#pending.delete(w.key);
          this.#asked.delete(w.key);
        }
      }
    }
    this.#outstanding--;
    if (--w.batch.pending === 0 && w.batch.timer !== undefined) {
      clearTimeout(w.batch.timer);
      w.batch.timer = undefined;
    }
    if (r.status === "ok") this.#stats.packetsOk++;
    else if (r.status === "unavailable") this.#stats.packetsUnavailable++;
    else this.#stats.packetsTimeout++;
    w.resolve(r);
  }
}
