import { deepEqual, equal, match, rejects, throws } from "node:assert/strict";
import {
  demuxFlv,
  FlvDemuxer,
  FlvFileWriter,
  type FlvTag,
  recordFileName,
} from "../lib/flv/mod.ts";
import { ffprobeJson, makeMedia } from "../testkit/media.ts";

const dec = new TextDecoder();

function ffmpegFlv(dir: string): Promise<Uint8Array> {
  return makeMedia(
    "-f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 -t 3 -c:v libx264 -preset ultrafast -g 25 -c:a aac -f flv",
    `${dir}/src.flv`,
  );
}

async function ffprobe(
  file: string,
): Promise<{ stderr: string; streams: Record<string, string | number>[] }> {
  const out = await ffprobeJson(file, "stream=codec_name,nb_read_frames");
  equal(out.code, 0, out.stderr);
  return { stderr: out.stderr, streams: out.json!.streams };
}

Deno.test("recordFileName makes a safe name", () => {
  equal(
    recordFileName("live/movie", new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678))),
    "live_movie-20240102T030405Z.flv",
  );
  match(recordFileName("../../etc/x y"), /^__\.\._etc_x_y-\d{8}T\d{6}Z\.flv$/);
});

Deno.test("FlvFileWriter: re-written ffmpeg FLV is byte-identical and ffprobe decodes it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const src = await ffmpegFlv(dir);
    const { tags } = demuxFlv(src);
    const w = await FlvFileWriter.open({
      dir: `${dir}/rec/sub`,
      key: "live/movie",
    });
    match(w.path, /\/rec\/sub\/live_movie-\d{8}T\d{6}Z\.flv$/);
    // writes need not be awaited one by one; order is kept
    const pending = tags.map((t) => w.write(t));
    await Promise.all(pending);
    await w.close();
    await w.close(); // idempotent
    equal(w.tagsWritten, tags.length);
    const out = await Deno.readFile(w.path);
    equal(w.bytesWritten, out.length);
    deepEqual(out, src);
    const probe = await ffprobe(w.path);
    equal(probe.stderr, "");
    const orig = await ffprobe(`${dir}/src.flv`);
    deepEqual(probe.streams, orig.streams);
    const video = probe.streams.find((s) => s.codec_name === "h264")!;
    equal(Number(video.nb_read_frames), 75);
    equal(probe.streams.some((s) => s.codec_name === "aac"), true);
    await rejects(w.write(tags[0]), /write after close/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FlvFileWriter: a process killed mid-stream leaves a playable file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await ffmpegFlv(dir);
    const mod = new URL("../lib/flv/mod.ts", import.meta.url).href;
    const script = `
      import { demuxFlv, FlvFileWriter } from "${mod}";
      const { tags } = demuxFlv(await Deno.readFile("${dir}/src.flv"));
      const w = await FlvFileWriter.open({ dir: "${dir}/rec", fileName: "live.flv" });
      let ts = 0;
      for (let round = 0; round < 1000; round++) {
        for (const t of tags) {
          if (round > 0 && t.data[1] === 0 && (t.type === 8 || t.type === 9)) continue;
          if (t.type === 18 && round > 0) continue;
          await w.write({ ...t, timestamp: t.timestamp + round * 3000 });
          if (++ts % 20 === 0) await new Promise((r) => setTimeout(r, 1));
        }
        if (round === 0) console.log("ROUND");
      }
    `;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.getReader();
    let text = "";
    while (!text.includes("ROUND")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value);
    }
    child.kill("SIGKILL");
    reader.releaseLock();
    await child.stdout.cancel();
    const status = await child.status;
    const err = await new Response(child.stderr).text();
    equal(text.includes("ROUND"), true, err);
    equal(status.success, false);
    const file = `${dir}/rec/live.flv`;
    const bytes = await Deno.readFile(file);
    // ends on a tag boundary: demuxes cleanly, nothing truncated
    const d = new FlvDemuxer();
    const tags: FlvTag[] = d.push(bytes);
    d.end();
    equal(tags.length > 150, true, `${tags.length} tags`);
    const probe = await ffprobe(file);
    equal(probe.stderr, "");
    const video = probe.streams.find((s) => s.codec_name === "h264")!;
    equal(Number(video.nb_read_frames) >= 75, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FlvFileWriter: refuses to overwrite, bad names, and an invalid tag", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = await FlvFileWriter.open({ dir, fileName: "a.flv" });
    await rejects(
      FlvFileWriter.open({ dir, fileName: "a.flv" }),
      /cannot create .*a\.flv/,
    );
    await rejects(
      FlvFileWriter.open({ dir, fileName: "../a.flv" }),
      /expected a plain file name/,
    );
    await rejects(
      w.write({ type: 9, timestamp: -1, data: new Uint8Array() }),
      /timestamp/,
    );
    await w.write({ type: 9, timestamp: 0, data: new Uint8Array([0x17, 1]) });
    await w.close();
    equal((await Deno.stat(w.path)).size, 13 + 11 + 2 + 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FlvFileWriter: bounded pending bytes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const w = await FlvFileWriter.open({
      dir,
      fileName: "b.flv",
      maxPendingBytes: 1000,
    });
    const tag: FlvTag = { type: 9, timestamp: 0, data: new Uint8Array(400) };
    const p1 = w.write(tag);
    const p2 = w.write(tag);
    await rejects(
      w.write(tag),
      /expected at most 1000 pending bytes, got 1245/,
    );
    await rejects(p1.then(() => w.write(tag)), /pending bytes/); // failed state is sticky
    await p2.catch(() => {});
    await w.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FlvFileWriter.create: sync open at a path; fire-and-forget failures only call onError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const errors: Error[] = [];
    const w = FlvFileWriter.create(`${dir}/c.flv`, {
      maxPendingBytes: 1000,
      onError: (e) => errors.push(e),
    });
    equal(w.bytesWritten, 13);
    const tag: FlvTag = { type: 9, timestamp: 0, data: new Uint8Array(400) };
    // not awaited, not caught: must not surface as an unhandled rejection
    w.write(tag);
    w.write(tag);
    w.write(tag);
    w.write(tag);
    equal(errors.length, 1);
    match(errors[0].message, /pending bytes/);
    equal(w.error, errors[0]);
    await w.close();
    equal(w.tagsWritten, 0); // failed before the queued writes ran
    throws(
      () => FlvFileWriter.create(`${dir}/c.flv`),
      /cannot create .*c\.flv/,
    );
    throws(
      () => FlvFileWriter.create(`${dir}/missing/d.flv`),
      /cannot create/,
    );
    const ok = FlvFileWriter.create(`${dir}/e.flv`);
    ok.write({ type: 8, timestamp: 5, data: new Uint8Array([0xaf, 1, 7]) });
    await ok.close();
    const { tags } = demuxFlv(await Deno.readFile(`${dir}/e.flv`));
    equal(tags.length, 1);
    equal(tags[0].timestamp, 5);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
