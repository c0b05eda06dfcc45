// Real clients against the RTMP server: ffmpeg and GStreamer publish, ffmpeg
// plays, ffprobe decodes.
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { decodeAmf0, RtmpServer } from "../lib/rtmp/mod.ts";
import {
  ffprobeJson,
  lavfiPublishArgs,
  recordFlv,
  type RunningProcess,
  spawnProcess,
} from "../testkit/media.ts";
import { RtmpClient } from "../testkit/rtmp_client.ts";
import { until } from "../testkit/poll.ts";
import { captureLogger, startTestServer, TestRelay } from "./rtmp_helpers.ts";

async function withServer(
  fn: (
    server: RtmpServer,
    relay: TestRelay,
    log: ReturnType<typeof captureLogger>,
  ) => Promise<void>,
): Promise<void> {
  const { server, relay, log } = await startTestServer();
  try {
    await fn(server, relay, log);
  } finally {
    await server.stop();
  }
}

/** Kills `p` if it is still running after `ms`; returns the guard's clear. */
function guard(kill: () => void, ms: number): () => void {
  const t = setTimeout(kill, ms);
  return () => clearTimeout(t);
}

/** Waits (60 s at most) for `p` to exit and asserts it exited 0. */
async function exitsCleanly(p: RunningProcess): Promise<void> {
  const clear = guard(p.kill, 60_000);
  try {
    const r = await p.done;
    equal(r.code, 0, r.stderr);
  } finally {
    clear();
    p.kill();
  }
}

function countBy(msgs: { type: number }[]): Record<number, number> {
  const c: Record<number, number> = { 8: 0, 9: 0, 18: 0 };
  for (const m of msgs) c[m.type]++;
  return c;
}

Deno.test("ffmpeg publishes a 5 s clip: metadata, AVC and AAC sequence headers, ~125 video messages", async () => {
  await withServer(async (server, relay, log) => {
    const ff = spawnProcess(
      "ffmpeg",
      lavfiPublishArgs({
        url: `rtmp://127.0.0.1:${server.port}/live/test`,
        seconds: 5,
        realtime: false,
      }),
    );
    await exitsCleanly(ff);
    await until(() => relay.all[0]?.closeReasons.length === 1, "close", 5000);
    const s = relay.all[0];
    equal(s.info.key, "live/test");
    equal(s.info.app, "live");
    equal(s.info.name, "test");
    deepEqual(s.closeReasons.length, 1);
    match(s.closeReasons[0], /unpublished|closed/);
    // First message is the metadata, without @setDataFrame.
    const first = s.messages[0];
    equal(first.type, 18);
    const meta = decodeAmf0(first.data);
    equal(meta[0], "onMetaData");
    const props = meta[1] as Map<string, unknown>;
    equal(props.get("width"), 320);
    equal(props.get("height"), 240);
    equal(props.get("videocodecid"), 7);
    equal(props.get("audiocodecid"), 10);
    // AVC sequence header (keyframe, codec 7, packet type 0) and AAC
    // AudioSpecificConfig (format 10, packet type 0).
    ok(s.videoHeader, "AVC sequence header");
    equal(s.videoHeader.data[0], 0x17);
    equal(s.videoHeader.data[1], 0);
    ok(s.audioHeader, "AAC sequence header");
    equal(s.audioHeader.data[0] >> 4, 10);
    const frames = s.messages.filter((m) => m.type === 9 && m.data[1] === 1);
    ok(
      frames.length >= 120 && frames.length <= 130,
      `video frames: ${frames.length}`,
    );
    const c = countBy(s.messages);
    ok(c[8] > 150, `audio messages: ${c[8]}`);
    // Timestamps: last video frame near 4.96 s.
    const lastTs = frames.at(-1)!.timestamp;
    ok(lastTs >= 4800 && lastTs <= 5100, `last video ts ${lastTs}`);
    // ffmpeg uses the digest handshake.
    ok(
      log.lines.some((l) => /handshake .*"mode":"digest"/.test(l)),
      "digest handshake logged",
    );
    await until(() => server.connections === 0, "connection gone", 2000);
  });
});

Deno.test("ffmpeg plays a live stream (digest handshake, GOP start) and ffprobe decodes it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rtmp_play_" });
  try {
    await withServer(async (server, relay) => {
      const url = `rtmp://127.0.0.1:${server.port}/live/test`;
      const pub = spawnProcess(
        "ffmpeg",
        lavfiPublishArgs({ url, seconds: 5, realtime: true }),
      );
      let player: ReturnType<typeof spawnProcess> | undefined;
      const clear = guard(() => {
        pub.kill();
        player?.kill();
      }, 60_000);
      try {
        // Join mid-stream: after the first second (second GOP).
        await until(
          () =>
            (relay.all[0]?.messages.filter((m) => m.type === 9).length ?? 0) >
              30,
          "publisher running",
          20_000,
        );
        const out = `${dir}/out.flv`;
        player = recordFlv(url, out);
        const videoFrames = () =>
          relay.all[0].messages.filter((m) => m.type === 9 && m.data[1] === 1)
            .length;
        await until(
          () => (relay.all[0]?.players.size ?? 0) === 1,
          "player subscribed",
          10_000,
        );
        // Published before the player was seen (polled: maybe a frame more).
        const beforeJoin = videoFrames();
        const p = await pub.done;
        equal(p.code, 0, p.stderr);
        const r = await player.done;
        equal(r.code, 0, r.stderr);
        // The player is gone: unsubscribe was called.
        equal(relay.all[0].players.size, 0);
        const res = await ffprobeJson(
          out,
          "stream=codec_type,codec_name,nb_read_frames",
        );
        equal(res.code, 0, res.stderr);
        equal(res.stderr.trim(), "", "ffprobe reports no decoding errors");
        const streams = res.json!.streams as {
          codec_type: string;
          codec_name: string;
          nb_read_frames: string;
        }[];
        const v = streams.find((s) => s.codec_type === "video");
        const a = streams.find((s) => s.codec_type === "audio");
        equal(v?.codec_name, "h264");
        equal(a?.codec_name, "aac");
        const nv = Number(v!.nb_read_frames);
        // Joined after >1 s: got the GOP in progress and everything after
        // (however long ffmpeg took to start on a loaded machine).
        const total = videoFrames();
        ok(
          beforeJoin >= 30 && nv >= total - beforeJoin && nv <= total,
          `decoded video frames: ${nv} of ${total}, ${beforeJoin} published before the player joined`,
        );
        ok(Number(a!.nb_read_frames) > 100, "decoded audio frames");
      } finally {
        clear();
        pub.kill();
        player?.kill();
        await pub.done;
        await player?.done;
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("GStreamer rtmp2sink publishes H.264 + AAC", async () => {
  await withServer(async (server, relay) => {
    const url = `rtmp://127.0.0.1:${server.port}/live/g`;
    const gst = spawnProcess(
      "gst-launch-1.0",
      `-q videotestsrc num-buffers=150 is-live=true ! x264enc tune=zerolatency key-int-max=30 ! h264parse ! flvmux name=m streamable=true ! rtmp2sink location=${url} audiotestsrc num-buffers=200 is-live=true ! audioconvert ! voaacenc ! aacparse ! m.`
        .split(" "),
    );
    await exitsCleanly(gst);
    await until(() => relay.all[0]?.closeReasons.length === 1, "close", 5000);
    const s = relay.all[0];
    equal(s.info.key, "live/g");
    equal(s.closeReasons.length, 1);
    ok(s.meta, "metadata");
    equal(decodeAmf0(s.meta.data)[0], "onMetaData");
    ok(s.videoHeader, "AVC sequence header");
    ok(s.audioHeader, "AAC sequence header");
    const frames = s.messages.filter((m) => m.type === 9 && m.data[1] === 1);
    ok(frames.length >= 140 && frames.length <= 150, `frames ${frames.length}`);
    ok(countBy(s.messages)[8] > 100, "audio messages");
  });
});

Deno.test("second publish to a live key gets NetStream.Publish.BadName while the first goes on", async () => {
  await withServer(async (server, relay, log) => {
    const url = `rtmp://127.0.0.1:${server.port}/live/dup`;
    const first = spawnProcess(
      "ffmpeg",
      lavfiPublishArgs({ url, seconds: 5, realtime: true }),
    );
    let second: ReturnType<typeof spawnProcess> | undefined;
    const raw = await RtmpClient.open(server.port);
    const clear = guard(() => {
      first.kill();
      second?.kill();
      raw.close();
    }, 60_000);
    try {
      await until(
        () => (relay.all[0]?.messages.length ?? 0) > 10,
        "first publisher running",
        20_000,
      );
      // A raw client sees the exact onStatus and is disconnected.
      await raw.handshake();
      equal(
        await raw.publish("live", "dup?token=x"),
        "NetStream.Publish.BadName",
      );
      equal(await raw.closedByServer(), true);
      // ffmpeg as the second publisher fails.
      second = spawnProcess(
        "ffmpeg",
        lavfiPublishArgs({ url, seconds: 5, realtime: false }),
      );
      const r2 = await second.done;
      ok(r2.code !== 0, "second ffmpeg must fail");
      const before = relay.all[0].messages.length;
      const r1 = await first.done;
      equal(r1.code, 0, r1.stderr);
      const s = relay.all[0];
      ok(s.messages.length > before, "first publisher kept going");
      equal(relay.all.length, 1);
      deepEqual(relay.refused, ["live/dup", "live/dup"]);
      const frames = s.messages.filter((m) => m.type === 9 && m.data[1] === 1);
      ok(frames.length >= 120, `frames ${frames.length}`);
      equal(s.closeReasons.length, 1);
      ok(log.lines.some((l) => /publish refused/.test(l)));
    } finally {
      clear();
      raw.close();
      first.kill();
      second?.kill();
      await first.done;
      await second?.done;
    }
  });
});

Deno.test("play of an unknown key gets NetStream.Play.StreamNotFound", async () => {
  await withServer(async (server) => {
    const c = await RtmpClient.open(server.port);
    try {
      await c.handshake(0);
      const sid = await c.connectAndCreate("live");
      await c.command(sid, "play", 0, null, "nope", -2);
      const st = await c.until("onStatus");
      const info = st[3] as Record<string, unknown>;
      equal(info.level, "error");
      equal(info.code, "NetStream.Play.StreamNotFound");
    } finally {
      c.close();
    }
  });
});
