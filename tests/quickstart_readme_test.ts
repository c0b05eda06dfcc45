/**
 * The README's quick start, run as written (free ports added as flags and
 * substituted in the URLs): `deno task start`, the ffmpeg publish command,
 * then the play URL is fetched and what it serves decodes in ffprobe.
 */
import { equal, ok } from "node:assert/strict";
import { FlvDemuxer, TAG_VIDEO } from "../lib/flv/mod.ts";
import { probe } from "./support/media.ts";
import { freePortFlags, freeUdpPort } from "./support/nodes.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** The quick-start commands: continuation lines joined, comments dropped. */
function quickStartCommands(readme: string): string[][] {
  const section = readme.split(/^## /m).find((s) => /^quick start/i.test(s));
  if (!section) {
    throw new Error(
      'README.md: expected a "## Quick start" section, found none',
    );
  }
  const block = section.match(/```(?:sh|bash|shell)?\n([\s\S]*?)```/)?.[1];
  if (!block) {
    throw new Error("README.md quick start: expected a ```sh code block");
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

/** A child whose output lines are collected (and drained). */
function spawn(cmd: string, args: string[], cwd: string) {
  const child = new Deno.Command(cmd, {
    args,
    cwd,
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
    kill(signal: Deno.Signal = "SIGKILL") {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    },
  };
}

Deno.test("quick start: README parsing", () => {
  const cmds = quickStartCommands(
    "# x\n## Quick start\n\n```sh\ndeno task start\n# note\nffmpeg -i a \\\n  -f flv rtmp://h:1/x # tail\nffplay 'http://h:2/x.flv'\n```\n## Next\n",
  );
  equal(
    JSON.stringify(cmds),
    JSON.stringify([
      ["deno", "task", "start"],
      ["ffmpeg", "-i", "a", "-f", "flv", "rtmp://h:1/x"],
      ["ffplay", "http://h:2/x.flv"],
    ]),
  );
});

Deno.test({
  name:
    "quick start: the README's commands publish and play a decodable stream",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const cmds = quickStartCommands(
      await Deno.readTextFile(`${ROOT}/README.md`),
    );
    const start = cmds.find((c) => c.join(" ").startsWith("deno task start"));
    const publish = cmds.find((c) =>
      c[0] === "ffmpeg" && c.some((w) => w.startsWith("rtmp://"))
    );
    const play = cmds.flatMap((c) => c).find((w) =>
      /^https?:\/\/.*\.flv$/.test(w)
    );
    ok(
      start,
      `README quick start: expected "deno task start", got ${
        JSON.stringify(cmds)
      }`,
    );
    ok(
      publish,
      `README quick start: expected an ffmpeg … rtmp:// command, got ${
        JSON.stringify(cmds)
      }`,
    );
    ok(
      play,
      `README quick start: expected an http://….flv play URL, got ${
        JSON.stringify(cmds)
      }`,
    );

    const dir = await Deno.makeTempDir({ prefix: "flvcast_quickstart_" });
    const udp = freeUdpPort();
    // As written, from the project root, with free ports instead of the
    // well-known ones (the suite runs in parallel) and the log in TMP.
    const app = spawn(Deno.execPath(), [
      ...start.slice(1),
      ...freePortFlags(udp),
      `--log_file=${dir}/flvcast.log`,
    ], ROOT);
    let pub: ReturnType<typeof spawn> | undefined;
    try {
      const cloud = await app.waitLine(/cloud started rtmp=(\d+)/);
      const edge = await app.waitLine(/edge started .*flv=(\d+)/);
      const pubArgs = publish.slice(1).map((w) =>
        w.startsWith("rtmp://") ? withPort(w, cloud[1]) : w
      );
      pub = spawn("ffmpeg", ["-nostdin", ...pubArgs], dir);
      const url = withPort(play, edge[1]);
      const key = new URL(url).pathname.slice(1, -4);
      await app.waitLine(new RegExp(`stream started key=${key}`));

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
        `quick start: ${url} → ${p.videoFrames} video / ${p.audioFrames} audio frames, no decode errors`,
      );
    } finally {
      pub?.kill();
      await pub?.done;
      app.kill("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const st = await Promise.race([
        app.done,
        new Promise<"timeout">((r) => {
          timer = setTimeout(() => r("timeout"), 8000);
        }),
      ]);
      clearTimeout(timer);
      if (st === "timeout") {
        app.kill("SIGKILL");
        await app.done;
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});
