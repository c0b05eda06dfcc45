/**
 * The repair link's connection schedule on fake time (lib/quic
 * connectWithRetry): attempts overlap on a doubling delay while earlier
 * handshakes wait, the oldest is given up past the cap, the first connection
 * wins and a late one is closed, immediate failures follow the same delays,
 * a stop rejects and aborts everything.
 */
import { deepEqual, equal, rejects } from "node:assert/strict";
import { connectWithRetry, type RetryTimers } from "../lib/quic/mod.ts";

/** Timers that run only when the test advances the clock. */
class FakeTimers implements RetryTimers {
  now = 0;
  #next = 1;
  #due = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
    const id = this.#next++;
    this.#due.set(id, { at: this.now + ms, fn });
    return id as unknown as ReturnType<typeof setTimeout>;
  }
  clearTimeout(id: ReturnType<typeof setTimeout>): void {
    this.#due.delete(id as unknown as number);
  }
  get pending(): number {
    return this.#due.size;
  }
  /** Moves the clock to `t`, running what falls due (promise jobs between). */
  async advanceTo(t: number): Promise<void> {
    for (;;) {
      await flush();
      let first: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.#due) if (!first || e[1].at < first[1].at) first = e;
      if (!first || first[1].at > t) break;
      this.#due.delete(first[0]);
      this.now = first[1].at;
      first[1].fn();
    }
    this.now = t;
    await flush();
  }
}

/** Lets settled promises run their callbacks. */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

interface Attempt {
  at: number;
  signal: AbortSignal;
  succeed: (conn: string) => void;
  fail: (e: Error) => void;
}

/** A harness: every attempt waits until the test settles it. */
function harness(
  opts: { maxInFlight?: number; waitFirst?: boolean } = {},
  honourAbort = true,
) {
  const timers = new FakeTimers();
  const attempts: Attempt[] = [];
  const discarded: string[] = [];
  const failures: string[] = [];
  const stop = new AbortController();
  let delay = 50;
  const result = connectWithRetry<string>({
    attempt: (signal) =>
      new Promise((resolve, reject) => {
        if (honourAbort) {
          signal.addEventListener("abort", () => reject(signal.reason));
        }
        attempts.push({
          at: timers.now,
          signal,
          succeed: resolve,
          fail: reject,
        });
      }),
    discard: (c) => discarded.push(c),
    nextDelay: () => {
      const d = delay;
      delay = Math.min(delay * 2, 2000);
      return d;
    },
    onFailure: (e) => failures.push((e as Error).message),
    signal: stop.signal,
    timers,
    ...opts,
  });
  return { timers, attempts, discarded, failures, stop, result };
}

Deno.test("retry: while handshakes hang, attempts overlap at 0, 50, 150, 350, 750 ms…; past 4 the oldest is given up", async () => {
  const h = harness({}, false); // handshakes that finish even when aborted
  await h.timers.advanceTo(5000);
  deepEqual(h.attempts.map((a) => a.at), [0, 50, 150, 350, 750, 1550, 3150]);
  // Four wait at once: each older one was given up when a fifth started.
  deepEqual(h.attempts.map((a) => a.signal.aborted), [
    true,
    true,
    true,
    false,
    false,
    false,
    false,
  ]);
  deepEqual(h.failures, []); // given up by us: not failures
  h.attempts[4].succeed("conn-4");
  equal(await h.result, "conn-4");
  // The others are aborted; one completing anyway is closed.
  deepEqual(h.attempts.map((a) => a.signal.aborted), [
    true,
    true,
    true,
    true,
    false,
    true,
    true,
  ]);
  h.attempts[5].succeed("late");
  await flush();
  deepEqual(h.discarded, ["late"]);
  equal(h.timers.pending, 0);
});

Deno.test("retry: a cloud up at 120 ms is reached by the attempt at 150 ms", async () => {
  const h = harness();
  await h.timers.advanceTo(120);
  equal(h.attempts.length, 2); // 0 and 50: their Initial found nobody
  await h.timers.advanceTo(150);
  equal(h.attempts.length, 3);
  h.attempts[2].succeed("conn");
  equal(await h.result, "conn");
  equal(h.timers.now, 150);
});

Deno.test("retry: attempts that fail at once follow the doubling delays, each failure reported", async () => {
  const h = harness();
  for (const t of [0, 50, 150, 350, 750, 1550, 3150, 5150, 7150]) {
    await h.timers.advanceTo(t);
    equal(h.attempts.at(-1)!.at, t);
    h.attempts.at(-1)!.fail(new Error(`refused at ${t}`));
  }
  await flush();
  equal(h.failures.length, 9);
  equal(h.failures[8], "refused at 7150");
  h.stop.abort(new Error("closed"));
  await rejects(h.result, /closed/);
  equal(h.timers.pending, 0);
});

Deno.test("retry: a stop rejects and aborts every attempt waiting; waitFirst delays the first", async () => {
  const h = harness({ waitFirst: true, maxInFlight: 2 });
  await h.timers.advanceTo(49);
  equal(h.attempts.length, 0);
  await h.timers.advanceTo(400);
  deepEqual(h.attempts.map((a) => a.at), [50, 150, 350]);
  h.stop.abort(new Error("closed"));
  await rejects(h.result, /closed/);
  deepEqual(h.attempts.map((a) => a.signal.aborted), [true, true, true]);
  equal(h.timers.pending, 0);
  deepEqual(h.failures, []);
});
