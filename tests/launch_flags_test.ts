/**
 * Every way of starting flvcast passes {@linkcode V8_FLAGS} (deno.json tasks,
 * `deno task compile`), and the flags do what they are there for: the young
 * generation stays small under per-packet allocation churn.
 *
 * @module
 */
import assert from "node:assert/strict";
import { V8_FLAGS } from "../lib/app/mod.ts";
import { compileArgs } from "../scripts/compile.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("launch: deno.json's start, cloud and edge tasks pass V8_FLAGS", async () => {
  const cfg = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  for (const task of ["start", "cloud", "edge"]) {
    assert.match(
      cfg.tasks[task],
      new RegExp(`^deno run -A --v8-flags=${V8_FLAGS} main\\.ts`),
      `task ${task}`,
    );
  }
});

Deno.test("launch: the compiled binary embeds V8_FLAGS", async () => {
  const args = await compileArgs({
    target: Deno.build.target,
    output: "/tmp/x",
    root: ROOT,
  });
  assert.ok(args.includes(`--v8-flags=${V8_FLAGS}`), args.join(" "));
});

/** New-space size (MiB) after 360 MB of 1,200-byte arrays, each kept a while. */
async function newSpaceAfterChurn(flags: string[]): Promise<number> {
  const code = `
    import { getHeapSpaceStatistics } from "node:v8";
    // Like a relay: each packet lives a while in a ring (a cache).
    const ring = new Array(20_000);
    let keep = 0;
    for (let i = 0; i < 300_000; i++) {
      const a = new Uint8Array(1200); a[0] = i;
      ring[i % ring.length] = { seq: i, payload: a, parts: [a, a] };
      keep += ring[(i * 7) % ring.length]?.parts.length ?? 0;
    }
    const s = getHeapSpaceStatistics().find((x) => x.space_name === "new_space");
    console.log(JSON.stringify({ size: s.space_size, keep }));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", ...flags, code],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(out.code, 0);
  const { size } = JSON.parse(new TextDecoder().decode(out.stdout));
  return size / (1 << 20);
}

Deno.test("launch: V8_FLAGS keep the young generation at 2 × 4 MiB under churn", async () => {
  const capped = await newSpaceAfterChurn([`--v8-flags=${V8_FLAGS}`]);
  const dflt = await newSpaceAfterChurn([]);
  assert.ok(capped <= 8, `expected new space <= 8 MiB, received ${capped}`);
  // The test can fail: without the flag the same churn grows it further.
  assert.ok(dflt > capped, `default ${dflt} MiB vs capped ${capped} MiB`);
});
