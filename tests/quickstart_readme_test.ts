/**
 * The README as a new user follows it, on a clean clone of this checkout
 * with a fresh npm and Deno cache (only Node/npm assumed):
 *
 * 1. The "## Set up" block must hold exactly two commands: one runs
 *    `task start`, one `task test`.
 * 2. The start command, run as written (free ports appended as flags), then
 *    the quick start's ffmpeg publish command; the play URL is fetched and
 *    what it serves decodes in ffprobe.
 * 3. The test command, run as written with ONE argument appended: the file
 *    filter `setup_test`. Run bare it would start the whole suite, this file
 *    included, which would clone and run the suite again without end (and
 *    double CI's time). `deno task` appends arguments to the task's last
 *    command (`scripts/test.ts`), so everything before it runs in full — the
 *    apt set-up step and `deno task check` — and the runner's closing line
 *    `tests: N passed, 0 failed` is checked.
 *
 * The commands are parsed from the README, so editing its set-up block or
 * quick start without this test breaks it.
 */
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { FlvDemuxer, TAG_VIDEO } from "../lib/flv/mod.ts";
import { cloneWorkingTree, freshMachineEnv } from "./support/clone.ts";
import { probe } from "../testkit/media.ts";
import { freePortFlags, freeUdpPort } from "./support/nodes.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Test file filter given to the README's test command (see above). */
const INNER_FILTER = "setup_test";

/**
 * The commands of the first shell block of the README section whose title
 * matches `title`: continuation lines joined, comments dropped.
 */
function sectionCommands(readme: string, title: RegExp): string[][] {
  const section = readme.split(/^## /m).find((s) => title.test(s));
  if (!section) {
    throw new Error(
      `README.md: expected a "## " section matching ${title}, found none`,
    );
  }
  const block = section.match(/```(?:sh|bash|shell)?\n([\s\S]*?)```/)?.[1];
  if (!block) {
    throw new Error(`README.md ${title}: expected a \`\`\`sh code block`);
  }
  const joined = block.replace(/\\\n/g, " ");
  return joined.split("\n").map((l) => l.replace(/(^|\s)#.*$/, "").trim())
    .filter((l) => l !== "").map(splitWords);
}

function splitWords(line: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (const m of line.matchAll(re)) words.push(m[1] ?? m[2] ?? m[3]);
  return words;
}

function withPort(url: string, port: string): string {
  const u = new URL(url);
  u.port = port;
  return u.href;
}

/**
 * A child whose output lines are collected (and drained), started in its own
 * process group (`setsid`): `npx` → `sh` → `deno task` → `deno run` is a
 * tree, and a signal must reach all of it.
 */
function spawn(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
) {
  const child = new Deno.Command("setsid", {
    args: [cmd, ...args],
    cwd,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const pump = async (s: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split(/\r?\n|\r/);
      rest = parts.pop()!;
      for (const line of parts) {
        if (lines.length > 2000) lines.shift();
        lines.push(line);
        for (let i = waiters.length - 1; i >= 0; i--) {
          const m = line.match(waiters[i].re);
          if (m) {
            waiters[i].resolve(m);
            waiters.splice(i, 1);
          }
        }
      }
    }
    if (rest !== "") lines.push(rest);
  };
  const pumps = [pump(child.stdout), pump(child.stderr)];
  const done = child.status.then(async (s) => {
    await Promise.all(pumps);
    return s;
  });
  return {
    child,
    lines,
    done,
    waitLine(re: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
      for (const l of lines) {
        const m = l.match(re);
        if (m) return Promise.resolve(m);
      }
      const { promise, resolve, reject } = Promise.withResolvers<
        RegExpMatchArray
      >();
      const fail = (why: string) =>
        reject(new Error(`${why} ${re} from ${cmd}:\n${lines.join("\n")}`));
      const timer = setTimeout(() => fail("timed out waiting for"), timeoutMs);
      waiters.push({
        re,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
      done.then(() => {
        clearTimeout(timer);
        fail("exited before printing");
      });
      return promise;
    },
    /** Signals the whole process group (by the group leader's id). */
    kill(signal: Deno.Signal = "SIGKILL") {
      try {
        Deno.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    },
    /** SIGTERM, then SIGKILL after `ms` if the group leader is still up. */
    async stop(ms = 10_000) {
      this.kill("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const st = await Promise.race([
        done,
        new Promise<"timeout">((r) => {
          timer = setTimeout(() => r("timeout"), ms);
        }),
      ]);
      clearTimeout(timer);
      if (st === "timeout") {
        this.kill("SIGKILL");
        await done;
      }
      this.kill("SIGKILL"); // anything of the group left behind
    },
  };
}

/** The README's set-up commands, the start one and the test one. */
function setUpCommands(readme: string): { start: string[]; test: string[] } {
  const cmds = sectionCommands(readme, /^set up/i);
  const named = (task: string) =>
    cmds.filter((c) => c.some((w, i) => w === "task" && c[i + 1] === task));
  const start = named("start");
  const test = named("test");
  if (cmds.length !== 2 || start.length !== 1 || test.length !== 1) {
    throw new Error(
      `README.md set up: expected exactly two commands, one "… task start" and one "… task test", got ${
        JSON.stringify(cmds)
      }`,
    );
  }
  return { start: start[0], test: test[0] };
}

Deno.test("README parsing: set-up and quick start blocks", () => {
  const readme =
    "# x\n## Set up\n\n```sh\nnpx -y deno@2 task start # run\nnpx -y deno@2 task test\n```\n" +
    "## Quick start\n\n```sh\nnpx -y deno@2 task start\n# note\nffmpeg -i a \\\n  -f flv rtmp://h:1/x # tail\nffplay 'http://h:2/x.flv'\n```\n## Next\n";
  deepEqual(sectionCommands(readme, /^quick start/i), [
    ["npx", "-y", "deno@2", "task", "start"],
    ["ffmpeg", "-i", "a", "-f", "flv", "rtmp://h:1/x"],
    ["ffplay", "http://h:2/x.flv"],
  ]);
  deepEqual(setUpCommands(readme), {
    start: ["npx", "-y", "deno@2", "task", "start"],
    test: ["npx", "-y", "deno@2", "task", "test"],
  });
  let threw = false;
  try {
    setUpCommands(readme.replace("task test\n", "task test\nnpm i x\n"));
  } catch (e) {
    threw = true;
    match((e as Error).message, /expected exactly two commands/);
  }
  ok(threw, "a third set-up command is refused");
});

Deno.test({
  name:
    "README: in a clean clone, the two set-up commands run as written: start serves a published stream, test ends green",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const readme = await Deno.readTextFile(`${ROOT}/README.md`);
    const { start, test } = setUpCommands(readme);
    const quick = sectionCommands(readme, /^quick start/i);
    deepEqual(
      quick[0],
      start,
      "the quick start begins with the set-up's start command",
    );
    const publish = quick.find((c) =>
      c[0] === "ffmpeg" && c.some((w) => w.startsWith("rtmp://"))
    );
    const play = quick.flatMap((c) => c).find((w) =>
      /^https?:\/\/.*\.flv$/.test(w)
    );
    ok(
      publish,
      `README quick start: expected an ffmpeg … rtmp:// command, got ${
        JSON.stringify(quick)
      }`,
    );
    ok(
      play,
      `README quick start: expected an http://….flv play URL, got ${
        JSON.stringify(quick)
      }`,
    );

    const dir = await Deno.makeTempDir({ prefix: "flvcast_readme_" });
    const repo = `${dir}/flvcast`;
    equal(await cloneWorkingTree(repo), "", "the clone starts clean");
    const env = freshMachineEnv(dir);
    const udp = freeUdpPort();
    // As written, from the clone, with free ports instead of the well-known
    // ones (the suite runs in parallel) and the log in the temp dir.
    const app = spawn(
      start[0],
      [
        ...start.slice(1),
        ...freePortFlags(udp),
        `--log_file=${dir}/flvcast.log`,
      ],
      repo,
      env,
    );
    let pub: ReturnType<typeof spawn> | undefined;
    try {
      // First run on a fresh cache: npx fetches Deno, Deno the npm packages.
      const cloud = await app.waitLine(/cloud started rtmp=(\d+)/, 180_000);
      const edge = await app.waitLine(/edge started .*flv=(\d+)/);
      const pubArgs = publish.slice(1).map((w) =>
        w.startsWith("rtmp://") ? withPort(w, cloud[1]) : w
      );
      pub = spawn("ffmpeg", ["-nostdin", ...pubArgs], dir);
      const url = withPort(play, edge[1]);
      const key = new URL(url).pathname.slice(1, -4);
      // The edge's own line: it learns the stream (keys over QUIC) a little
      // after the cloud does.
      await app.waitLine(new RegExp(`\\[edge\\] stream started key=${key}`));

      // Fetch the play URL until it has carried 4 s of video.
      const res = await fetch(url);
      equal(res.status, 200, `GET ${url}`);
      equal(res.headers.get("content-type"), "video/x-flv");
      const demux = new FlvDemuxer();
      const chunks: Uint8Array[] = [];
      let first: number | undefined;
      let last = 0;
      const until = Date.now() + 30_000;
      for await (const c of res.body!) {
        chunks.push(c);
        for (const t of demux.push(c)) {
          if (t.type !== TAG_VIDEO) continue;
          first ??= t.timestamp;
          last = t.timestamp;
        }
        if (first !== undefined && last - first >= 4000) break;
        if (Date.now() > until) break;
      }
      await res.body!.cancel().catch(() => {});
      ok(
        first !== undefined && last - first >= 4000,
        `expected 4 s of video from ${url}, got ${
          first === undefined ? "none" : last - first
        } ms`,
      );
      const file = `${dir}/played.flv`;
      await Deno.writeFile(
        file,
        new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer()),
      );
      const p = await probe(file);
      equal(p.errors.length, 0, `ffprobe errors: ${p.errors.join("\n")}`);
      ok(p.videoFrames >= 90, `decoded ${p.videoFrames} video frames`);
      ok(p.audioFrames > 0, "decoded audio");
      console.log(
        `README start: ${url} → ${p.videoFrames} video / ${p.audioFrames} audio frames, no decode errors`,
      );
      await pub.stop();
      pub = undefined;
      await app.stop();
      // npx itself dies of the SIGTERM (exit 143); flvcast must stop cleanly.
      await app.waitLine(/stopped code=0/, 0);

      // The test command as written + the file filter (see the header).
      const runner = spawn(
        test[0],
        [...test.slice(1), INNER_FILTER],
        repo,
        env,
      );
      const ended = await Promise.race([
        runner.done,
        new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 300_000)),
      ]);
      if (ended === "timeout") await runner.stop(1000);
      const out = runner.lines.filter((l) => l.trim() !== "");
      const closing = out.at(-1) ?? "";
      const text = out.join("\n");
      ok(ended !== "timeout", `the test command timed out:\n${text}`);
      match(
        closing,
        /^tests: [1-9]\d* passed, 0 failed\b/,
        `closing line of ${[...test, INNER_FILTER].join(" ")}:\n${text}`,
      );
      equal(ended.code, 0, text);
      match(text, /^setup: \d+ apt packages present/m, "the set-up step ran");
      ok(
        out.some((l) => l.includes(`tests/${INNER_FILTER}.ts`)),
        `the filtered file ran:\n${text}`,
      );
      console.log(`README test: "${closing}" (set-up, check, ${INNER_FILTER})`);
    } finally {
      await pub?.stop();
      await app.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
