/**
 * The missing packets of one stream and when to ask for them again (part of
 * the {@linkcode JitterBuffer}): a gap is NACKed once it is older than the
 * reorder grace, again every retry interval (spaced by the RTT) while an
 * answer can still arrive before its deadline (`latencyMs` after it was
 * seen), at most `maxNacks` times. Pure: every call takes `now`.
 *
 * @module
 */

/** One missing sequence number. */
interface Miss {
  detectedAt: number;
  nacks: number;
  lastNackAt: number;
  unavailable: boolean;
  /** A guess (before the first packet of a fresh stream): not counted as
   * lost or unrecoverable when the sender never had it. */
  probe: boolean;
  /** No first NACK before this time: FEC parity may still rebuild it. */
  holdUntil: number;
}

/** Timing of a {@linkcode MissingPackets} table. */
export interface MissingPacketsOptions {
  /** Deadline after detection (ms). */
  latencyMs: number;
  /** Age before the first NACK (ms). */
  graceMs: number;
  /** Least time between two NACKs of one packet (ms). */
  minRetryMs: number;
  /** Most NACKs per packet. */
  maxNacks: number;
}

/** What {@linkcode MissingPackets.due} counted. */
export interface NackCounts {
  /** Distinct sequence numbers NACKed for the first time (probes aside). */
  lost: number;
  /** NACKs issued. */
  nacked: number;
}

/**
 * Missing sequence numbers by number.
 *
 * @example Usage
 * ```ts ignore
 * const missing = new MissingPackets({ latencyMs: 200, graceMs: 20, minRetryMs: 20, maxNacks: 8 });
 * missing.add(7, 0);
 * missing.due(25, 30, counts); // [7]
 * ```
 */
export class MissingPackets {
  #map = new Map<number, Miss>();
  #o: MissingPacketsOptions;
  /** Latest `now` of {@linkcode due}. */
  #nackedAt = -Infinity;

  /** An empty table. */
  constructor(options: MissingPacketsOptions) {
    this.#o = options;
  }

  /** The deadline after detection in force (ms). */
  get latencyMs(): number {
    return this.#o.latencyMs;
  }

  /** Changes the deadline; packets already missing get the new one too. */
  set latencyMs(ms: number) {
    this.#o = { ...this.#o, latencyMs: ms };
  }

  /** Sequence numbers missing now. */
  get size(): number {
    return this.#map.size;
  }

  /** Whether `seq` is missing. */
  has(seq: number): boolean {
    return this.#map.has(seq);
  }

  /** Marks `seq` missing since `now`; a `probe` is asked at once and is not
   * counted when the sender never had it. A `holdUntil` later than the
   * grace delays the first NACK (the block's FEC parity may rebuild it). */
  add(seq: number, now: number, probe = false, holdUntil = 0): void {
    this.#map.set(seq, {
      detectedAt: now,
      nacks: 0,
      lastNackAt: 0,
      unavailable: false,
      probe,
      holdUntil,
    });
  }

  /** Ends the FEC hold of `seq` (its parity came and could not rebuild it):
   * it is NACKed once the reorder grace is over. */
  release(seq: number): void {
    const m = this.#map.get(seq);
    if (m) m.holdUntil = 0;
  }

  #firstNackAt(m: Miss): number {
    return Math.max(m.detectedAt + this.#o.graceMs, m.holdUntil);
  }

  /** `seq` arrived or was given up; returns its entry's kind if it was
   * missing: `"probe"` or `"miss"`. */
  delete(seq: number): "probe" | "miss" | undefined {
    const m = this.#map.get(seq);
    if (!m) return undefined;
    this.#map.delete(seq);
    return m.probe ? "probe" : "miss";
  }

  /** Moves every deadline and FEC hold `ms` later (the process did not run
   * for that long: time the network did not take). */
  postpone(ms: number): void {
    for (const m of this.#map.values()) {
      m.detectedAt += ms;
      if (m.holdUntil > 0) m.holdUntil += ms;
    }
  }

  /** Forgets everything. */
  clear(): void {
    this.#map.clear();
  }

  /** The server no longer has `seq`: stop waiting for it. */
  markUnavailable(seq: number): void {
    const m = this.#map.get(seq);
    if (m) m.unavailable = true;
  }

  /** Whether waiting for `seq` is over at `now` (not missing, unavailable,
   * or past its deadline). */
  expired(seq: number, now: number): boolean {
    const m = this.#map.get(seq);
    return m === undefined || m.unavailable ||
      now >= m.detectedAt + this.#o.latencyMs;
  }

  /** The sequence numbers to NACK at `now` given the RTT estimate; each
   * counts as one NACK in `counts`. */
  due(now: number, rttMs: number, counts: NackCounts): number[] {
    if (now > this.#nackedAt) this.#nackedAt = now;
    const out: number[] = [];
    const retry = Math.max(this.#o.minRetryMs, rttMs * 1.5);
    for (const [seq, m] of this.#map) {
      if (m.unavailable) continue;
      const deadline = m.detectedAt + this.#o.latencyMs;
      if (now >= deadline) continue;
      if (m.nacks === 0) {
        // A probe is asked at once: the whole start waits for the answer.
        if (!m.probe) {
          if (now < this.#firstNackAt(m)) continue;
          counts.lost++;
        }
      } else if (
        m.nacks >= this.#o.maxNacks || now - m.lastNackAt < retry ||
        now + rttMs / 2 > deadline
      ) {
        continue;
      }
      m.nacks++;
      m.lastNackAt = now;
      counts.nacked++;
      out.push(seq);
    }
    return out;
  }

  /**
   * The earliest NACK or deadline still to come, or Infinity. Deadlines up
   * to `drainedAt` were applied already (what is left waits behind another
   * event) and NACKs that can no longer arrive in time are not events, so a
   * caller that acts at the returned time never spins.
   */
  nextEventAt(drainedAt: number, rttMs: number): number {
    let next = Infinity;
    const nacked = this.#nackedAt;
    const retry = Math.max(this.#o.minRetryMs, rttMs * 1.5);
    for (const m of this.#map.values()) {
      // Given up: released when the head reaches it, at another event.
      if (m.unavailable) continue;
      const deadline = m.detectedAt + this.#o.latencyMs;
      if (deadline > drainedAt && deadline < next) next = deadline;
      if (deadline <= nacked) continue;
      let t: number;
      if (m.nacks === 0) {
        t = m.probe ? m.detectedAt : this.#firstNackAt(m);
      } else if (m.nacks < this.#o.maxNacks) {
        t = Math.max(m.lastNackAt + retry, nacked);
        if (t + rttMs / 2 > deadline) continue;
      } else {
        continue;
      }
      if (t < deadline && t < next) next = t;
    }
    return next;
  }
}
