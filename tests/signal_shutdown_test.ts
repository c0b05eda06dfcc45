/**
 * Graceful stop as a service manager does it: `flvcast` (main.ts, cloud +
 * edge, recording on) gets SIGTERM during a live ffmpeg publish with a player
 * attached → exits 0 within 5 s, the player's body ends, no ERROR is logged,
 * and the recorded FLV is complete (ends on a tag boundary) and decodes with
 * ffprobe.
 */
import { equal, ok } from "node:assert/strict";
import { probe, publishLavfi } from "../testkit/media.ts";
import { Flvcast } from "./support/flvcast_process.ts";
import { freePortFlags, freeUdpPort } from "./support/nodes.ts";

/** Checks an FLV file is whole: header, then tags each followed by the
 * right PreviousTagSize, ending exactly at the end of the file. */
function flvStructure(bytes: Uint8Array): { tags: number; error?: string } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (
    bytes.length < 13 || String.fromCharCode(...bytes.subarray(0, 3)) !== "FLV"
  ) {
    return { tags: 0, error: "no FLV header" };
  }
  let off = v.getUint32(5) + 4;
  let tags = 0;
  while (off < bytes.length) {
    if (off + 11 > bytes.length) {
      return { tags, error: `partial tag header at ${off}` };
    }
    const size = v.getUint32(off) & 0xffffff;
    const end = off + 11 + size;
    if (end + 4 > bytes.length) {
      return { tags, error: `partial tag at ${off} (size ${size})` };
    }
    if (v.getUint32(end) !== 11 + size) {
      return { tags, error: `bad PreviousTagSize at ${end}` };
    }
    off = end + 4;
    tags++;
  }
  return { tags };
}

Deno.test({
  name:
    "signal: SIGTERM during a live publish → exit 0 within 5 s, recording complete and decodable",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "flvcast_signal_" });
    const recordDir = `${dir}/record`;
    const edgeUdp = freeUdpPort();
    const app = new Flvcast([
      "--enable_record=true",
      `--record_dir=${recordDir}`,
      "--enable_log_file=false",
      ...freePortFlags(edgeUdp),
    ], dir);
    let pub: ReturnType<typeof publishLavfi> | undefined;
    let player: Promise<{ bytes: number; error?: string }> | undefined;
    try {
      const cloud = await app.waitLine(/cloud started rtmp=(\d+) api=(\d+)/);
      const edge = await app.waitLine(/edge started .*flv=(\d+) api=(\d+)/);
      await app.waitLine(/flvcast running/);
      const [rtmpPort, apiPort] = [cloud[1], cloud[2]];
      const flvPort = edge[1];
      pub = publishLavfi({
        url: `rtmp://127.0.0.1:${rtmpPort}/live/sig`,
        seconds: 120,
      });
      // Live: at least ~3 s of media through the cloud and at the edge.
      const until = Date.now() + 30_000;
      for (;;) {
        const r = await fetch(`http://127.0.0.1:${apiPort}/api/streams`);
        const body = await r.json();
        const s = body.streams?.find((x: { key: string }) =>
          x.key === "live/sig"
        );
        if (s && (s.tags_in ?? 0) > 250) break;
        if (Date.now() > until) {
          throw new Error(
            `the publish did not go live: ${JSON.stringify(body)}`,
          );
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      // A player on the edge, reading until the server ends the body.
      const res = await fetch(`http://127.0.0.1:${flvPort}/live/sig.flv`);
      equal(res.status, 200);
      player = (async () => {
        let bytes = 0;
        try {
          for await (const c of res.body!) bytes += c.length;
          return { bytes };
        } catch (e) {
          return { bytes, error: (e as Error).message };
        }
      })();
      await new Promise((r) => setTimeout(r, 500));
      // Every tag the cloud took in before the signal must be in the file.
      const before = (await (await fetch(
        `http://127.0.0.1:${apiPort}/api/streams`,
      )).json()).streams.find((x: { key: string }) => x.key === "live/sig")
        .tags_in as number;

      const t0 = performance.now();
      app.kill("SIGTERM");
      const status = await Promise.race([
        app.done,
        new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 6000)),
      ]);
      const ms = performance.now() - t0;
      ok(
        status !== "timeout",
        `flvcast did not exit within 6 s of SIGTERM:\n${app.lines.join("\n")}`,
      );
      equal(status.code, 0, `exit code; output:\n${app.lines.join("\n")}`);
      ok(ms <= 5000, `expected exit within 5 s, took ${ms.toFixed(0)} ms`);
      console.log(`signal: exited 0 ${ms.toFixed(0)} ms after SIGTERM`);

      const played = await player;
      ok(played.bytes > 10_000, `player got ${played.bytes} bytes`);
      const errors = app.lines.filter((l) =>
        / ERROR /.test(l) || /Uncaught|panicked/.test(l)
      );
      equal(errors.length, 0, `errors logged:\n${errors.join("\n")}`);
      ok(
        app.lines.some((l) => /stopping signal=SIGTERM/.test(l)),
        "logs the signal",
      );

      const files: string[] = [];
      for await (const e of Deno.readDir(recordDir)) {
        if (e.name.endsWith(".flv")) files.push(`${recordDir}/${e.name}`);
      }
      equal(files.length, 1, `expected one recording, got ${files}`);
      const bytes = await Deno.readFile(files[0]);
      const shape = flvStructure(bytes);
      equal(shape.error, undefined, `recording ${files[0]}: ${shape.error}`);
      ok(
        shape.tags >= before,
        `recording has ${shape.tags} tags, the cloud had taken in ${before} before SIGTERM`,
      );
      const p = await probe(files[0]);
      equal(p.errors.length, 0, `ffprobe errors: ${p.errors.join("\n")}`);
      ok(
        p.videoFrames >= 75,
        `recording decodes ${p.videoFrames} video frames`,
      );
      ok(p.audioFrames > 0, "recording has audio");
    } finally {
      app.kill("SIGKILL");
      await app.done;
      pub?.kill();
      await pub?.done;
      await player;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
