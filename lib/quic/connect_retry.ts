/**
 * Connecting with fast, overlapping retries. A QUIC client whose first
 * Initial packet finds no server (the cloud starts a moment after the edge)
 * learns nothing: no error comes back, and the handshake retransmits only
 * after its probe timeout (~1 s) or gives up after the handshake deadline
 * (seconds). So the next attempt does not wait for the previous one to fail:
 * it starts after a short, doubling delay (50, 100, 200 ms, …) while the
 * earlier handshakes go on; past `maxInFlight` at once, the oldest is given
 * up (its handshake has had the last few delays to complete). The first
 * connection made wins; the others are aborted, or closed when they complete
 * anyway. Attempts that fail at once (a refused certificate) simply follow
 * the same delays. Timers are injectable: the schedule is tested on fake
 * time.
 *
 * @module
 */

/** Timer functions (the global ones by default; fake ones in tests). */
export interface RetryTimers {
  /** Like `setTimeout`. */
  setTimeout(fn: () => void, ms: number): ReturnType<typeof setTimeout>;
  /** Like `clearTimeout`. */
  clearTimeout(id: ReturnType<typeof setTimeout>): void;
}

/** Options of {@linkcode connectWithRetry}. */
export interface ConnectRetryOptions<T> {
  /** One attempt; rejects on failure; stops (rejects) when `signal` aborts. */
  attempt: (signal: AbortSignal) => Promise<T>;
  /** A connection completed after another one won (or after a stop): close it. */
  discard: (conn: T) => void;
  /** The delay before the next attempt (ms); called once per attempt scheduled. */
  nextDelay: () => number;
  /** Called when an attempt starts. */
  onAttempt?: () => void;
  /** Called when an attempt fails while no connection has been made yet. */
  onFailure?: (error: unknown) => void;
  /** Attempts waiting at once (the oldest is given up past it). Default 4. */
  maxInFlight?: number;
  /** Wait `nextDelay()` before the first attempt (a reconnect). Default false. */
  waitFirst?: boolean;
  /** Stops everything: the promise rejects with the signal's reason. */
  signal: AbortSignal;
  /** Timers; default the global ones. */
  timers?: RetryTimers;
}

const GLOBAL_TIMERS: RetryTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
};

/**
 * Runs attempts on the schedule described in the module doc until one
 * connects.
 *
 * @example Usage
 * ```ts
 * import { connectWithRetry } from "./connect_retry.ts";
 * let d = 50;
 * const conn = await connectWithRetry({
 *   attempt: () => Promise.resolve("connected"),
 *   discard: () => {},
 *   nextDelay: () => (d *= 2) / 2,
 *   signal: new AbortController().signal,
 * });
 * ```
 *
 * @returns The first connection made.
 * @throws The signal's reason once it aborts.
 */
export function connectWithRetry<T>(o: ConnectRetryOptions<T>): Promise<T> {
  const timers = o.timers ?? GLOBAL_TIMERS;
  const max = Math.max(1, o.maxInFlight ?? 4);
  const inFlight = new Set<AbortController>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let done = false;
  return new Promise<T>((resolve, reject) => {
    const stopAll = (why: unknown) => {
      done = true;
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
      for (const a of inFlight) a.abort(why);
      inFlight.clear();
      o.signal.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      stopAll(o.signal.reason);
      reject(o.signal.reason);
    };
    const schedule = () => {
      if (done || timer !== undefined) return;
      timer = timers.setTimeout(() => {
        timer = undefined;
        start();
      }, o.nextDelay());
    };
    const start = () => {
      if (done) return;
      if (inFlight.size >= max) {
        const oldest = inFlight.values().next().value!;
        inFlight.delete(oldest);
        oldest.abort(new Error("superseded by a newer connection attempt"));
      }
      const ac = new AbortController();
      inFlight.add(ac);
      o.onAttempt?.();
      let p: Promise<T>;
      try {
        p = o.attempt(ac.signal);
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then((conn) => {
        inFlight.delete(ac);
        if (done) return o.discard(conn);
        stopAll(new Error("another attempt connected"));
        resolve(conn);
      }, (e) => {
        // Given up by us (superseded or stopped): no failure of its own.
        if (done || !inFlight.delete(ac)) return;
        o.onFailure?.(e);
        schedule();
      });
      schedule();
    };
    if (o.signal.aborted) return reject(o.signal.reason);
    o.signal.addEventListener("abort", onAbort, { once: true });
    if (o.waitFirst) schedule();
    else start();
  });
}
