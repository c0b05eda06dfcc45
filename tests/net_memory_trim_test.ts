/**
 * The allocator trim of lib/net: scheduled every `intervalMs`, stopped by the
 * function it returns; and the real trim is harmless to call. The releaser
 * of a big release trims until the late frees are done.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  FreedMemoryReleaser,
  heapBytesInUse,
  releaseFreedMemory,
  startMemoryTrim,
} from "../lib/net/mod.ts";
import { until } from "../testkit/poll.ts";

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

const MB = 1024 * 1024;
const rss = () => Deno.memoryUsage().rss;

/**
 * 160 MiB of 40 kB malloc chunks (a cut player's frame size), each followed
 * by a long-lived 4 kB one, freed a slice per timer turn after `start` —
 * like the failed writes of a shut down WebSocket, whose buffers the
 * runtime frees over later turns. The long-lived chunks keep the holes from
 * merging into the top of the heap, so glibc cannot give the pages back by
 * itself. `check` runs after the last free, before the 4 kB chunks go.
 */
async function lateFrees(
  start: () => void,
  check: () => Promise<void>,
): Promise<void> {
  const libc = Deno.dlopen("libc.so.6", {
    malloc: { parameters: ["usize"], result: "pointer" },
    free: { parameters: ["pointer"], result: "void" },
    memset: { parameters: ["pointer", "i32", "usize"], result: "pointer" },
  });
  const chunks: Deno.PointerValue[] = [];
  const spacers: Deno.PointerValue[] = [];
  try {
    for (let i = 0; i < 4000; i++) {
      const p = libc.symbols.malloc(40_000n);
      libc.symbols.memset(p, 0x55, 40_000n); // resident
      chunks.push(p);
      spacers.push(libc.symbols.malloc(4000n));
    }
    start();
    while (chunks.length > 0) {
      for (const p of chunks.splice(0, 400)) libc.symbols.free(p);
      await new Promise((r) => setTimeout(r, 50));
    }
    await check();
  } finally {
    for (const p of [...chunks, ...spacers]) libc.symbols.free(p);
    libc.close();
  }
}

Deno.test("freed memory: one trim at the release, before the frees, leaves them in RSS; the releaser trims until in-use stops falling and RSS comes back", async () => {
  assert.equal(typeof heapBytesInUse(), "number", "glibc mallinfo2 readable");
  releaseFreedMemory();
  const base = rss();
  // One trim when the release starts: the frees come after it.
  await lateFrees(() => releaseFreedMemory(), () => {
    const held = rss() - base;
    console.log(`one early trim: RSS ${Math.round(held / MB)} MB above start`);
    assert.ok(held > 100 * MB, `the frees stayed resident: ${held} bytes`);
    return Promise.resolve();
  });

  releaseFreedMemory();
  const start = rss();
  const releaser = new FreedMemoryReleaser({ intervalMs: 100 });
  try {
    await lateFrees(() => releaser.released(), async () => {
      await until(() => !releaser.active, "releaser idle", 10_000, 20);
      const left = rss();
      releaseFreedMemory();
      const more = left - rss(); // what the releaser left for a trim
      console.log(
        `releaser: ${releaser.trims} trims, RSS ${
          Math.round((left - start) / MB)
        } MB above start (the 4 kB chunks), ${
          Math.round(more / MB)
        } MB left to trim`,
      );
      assert.ok(more < 4 * MB, `a trim after the releaser freed ${more} bytes`);
    });
  } finally {
    releaser.stop();
  }
});
