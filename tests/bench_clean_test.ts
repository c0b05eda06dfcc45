/**
 * `deno task bench --quick` in a clean clone prints its tables, writes its
 * report outside the checkout and leaves `git status --porcelain` empty;
 * only `--write-results` touches the committed `scripts/bench/results.md`.
 */
import { equal, match, ok } from "node:assert/strict";
import { cloneWorkingTree } from "./support/clone.ts";

async function git(args: string[], cwd: string): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd }).output();
  equal(out.code, 0, `git ${args.join(" ")}`);
  return new TextDecoder().decode(out.stdout);
}

async function bench(repo: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "bench", ...args],
    cwd: repo,
    stdin: "null",
    env: { NO_COLOR: "1" },
    // The quick run takes about a minute on 2 cores.
    signal: AbortSignal.timeout(6 * 60_000),
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test({
  name:
    "bench: --quick in a clean clone prints its tables and leaves git status clean",
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "flvcast_bench_clean_" });
    try {
      const repo = `${dir}/flvcast`;
      equal(await cloneWorkingTree(repo), "", "the clone starts clean");

      const quick = await bench(repo, ["--quick"]);
      const tail = quick.stderr.split("\n").slice(-30).join("\n");
      equal(quick.code, 0, `deno task bench --quick: ${tail}`);
      match(quick.stdout, /^# flvcast benchmark results$/m);
      match(quick.stdout, /\| *N × M *\|/, "the pipeline table is printed");
      const written = /written to (\S+)/.exec(quick.stderr)?.[1];
      ok(written, `expected "written to PATH" on stderr, got: ${tail}`);
      ok(
        !written.startsWith(repo),
        `expected the report outside the checkout, got ${written}`,
      );
      equal(
        (await Deno.readTextFile(written)).trimEnd(),
        quick.stdout.trimEnd(),
      );
      equal(
        await git(["status", "--porcelain", "--ignored=no"], repo),
        "",
        "git status --porcelain after deno task bench --quick",
      );
      console.log(`bench --quick: report at ${written}; git status clean`);
      await Deno.remove(written);

      // Asked for, the committed tables are rewritten (and only they).
      const write = await bench(repo, [
        "--quick",
        "--only=micro",
        "--write-results",
      ]);
      equal(write.code, 0, write.stderr);
      equal(
        await git(["status", "--porcelain"], repo),
        " M scripts/bench/results.md\n",
      );
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
