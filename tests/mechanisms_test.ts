/** The one-of-each mechanisms: TokenBucket, RateLimitedLog, ChunkQueue, concatBytes. */
import { deepEqual, equal, throws } from "node:assert/strict";
import { ChunkQueue, concatBytes } from "../lib/bytes/mod.ts";
import { createLogger, RateLimitedLog } from "../lib/log/mod.ts";
import { TokenBucket } from "../lib/rate/mod.ts";

Deno.test("TokenBucket: burst, refill by elapsed time, never above the burst", () => {
  const b = new TokenBucket({ rate: 10, full: true });
  equal(b.take(25, 0), 10);
  equal(b.take(1, 0), 0);
  equal(b.take(5, 200), 2, "200 ms at 10/s");
  equal(b.available(10_000), 10, "capped at the burst");
  const empty = new TokenBucket({ rate: 4, burst: 2 });
  equal(empty.tryTake(0), false, "starts empty unless full");
  equal(empty.tryTake(250), true);
  equal(
    b.take(3, 5),
    3,
    "a clock going back refills nothing and breaks nothing",
  );
  throws(
    () => new TokenBucket({ rate: 0 }),
    /rate: expected a number > 0, got 0/,
  );
});

Deno.test("RateLimitedLog: one line per interval, the next carries how many were held back", () => {
  const lines: string[] = [];
  const log = new RateLimitedLog(
    createLogger({ write: (l) => lines.push(l), level: "info" }),
    { intervalMs: 1000 },
  );
  equal(log.log(0, "refused", { key: "a" }), true);
  equal(log.log(500, "refused", { key: "b" }), false);
  equal(log.log(999, "refused", { key: "c" }), false);
  equal(log.log(1000, "refused", { key: "d" }), true);
  equal(lines.length, 2);
  deepEqual(lines.map((l) => / suppressed=(\d+)/.exec(l)?.[1] ?? null), [
    null,
    "2",
  ]);
});

Deno.test("ChunkQueue: FIFO by reference, joins up to a size, counts bytes", () => {
  const q = new ChunkQueue();
  const a = new Uint8Array([1, 2]);
  const big = new Uint8Array(10);
  q.push(a);
  q.push(new Uint8Array([3]));
  q.push(big);
  equal(q.bytes, 13);
  equal(q.length, 3);
  deepEqual(q.take(3), new Uint8Array([1, 2, 3]), "joined");
  equal(q.take(3), big, "a chunk larger than the limit comes alone, uncopied");
  equal(q.take(3), undefined);
  for (let i = 0; i < 5000; i++) q.push(new Uint8Array([i & 255]));
  equal(q.takeMany(4000).length, 4000);
  equal(q.length, 1000);
  equal(q.bytes, 1000);
  q.clear();
  equal(q.bytes, 0);
  equal(q.take(1), undefined);
  deepEqual(concatBytes([a, new Uint8Array([9])]), new Uint8Array([1, 2, 9]));
});
