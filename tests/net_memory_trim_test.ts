/**
 * The allocator trim of lib/net: scheduled every `intervalMs`, stopped by the
 * function it returns; and the real trim is harmless to call.
 *
 * @module
 */
import assert from "node:assert/strict";
import { releaseFreedMemory, startMemoryTrim } from "../lib/net/mod.ts";

Deno.test("memory trim: runs the trim on its interval until stopped", () => {
  let trims = 0;
  let tick: (() => void) | undefined;
  let everyMs = 0;
  let cancelled = false;
  const stop = startMemoryTrim({
    intervalMs: 1500,
    trim: () => trims++,
    every: (fn, ms) => {
      tick = fn;
      everyMs = ms;
      return () => (cancelled = true);
    },
  });
  assert.equal(everyMs, 1500);
  assert.equal(trims, 0, "nothing at start");
  tick!();
  tick!();
  assert.equal(trims, 2);
  stop();
  assert.ok(cancelled, "stop cancels the schedule");
});

Deno.test("memory trim: default every 2 s; a bad interval is refused", () => {
  let everyMs = 0;
  startMemoryTrim({
    every: (_fn, ms) => {
      everyMs = ms;
      return () => {};
    },
  })();
  assert.equal(everyMs, 2000);
  assert.throws(
    () => startMemoryTrim({ intervalMs: 0 }),
    /intervalMs: expected a positive number, got 0/,
  );
});

Deno.test("memory trim: the real timer starts and stops without leaking", () => {
  const stop = startMemoryTrim({ intervalMs: 60_000 });
  stop();
  releaseFreedMemory(); // glibc malloc_trim(0), or a no-op elsewhere
});
