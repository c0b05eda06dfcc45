/**
 * HLS end to end with real peers on loopback: ffmpeg publishes a 12 s lavfi
 * clip (H.264 + AAC, 1 s GOP) to a CloudNode, which sends RTP to an
 * EdgeNode; ffmpeg reads the edge's LL-HLS playlist on the HLS port and on
 * the player port at once, following the live playlist to its ENDLIST, and
 * decodes every frame with no error. HEVC published over Enhanced RTMP
 * (`hvc1`) goes the same way.
 */
import { equal, ok } from "node:assert/strict";
import { makeSign } from "../lib/auth/mod.ts";
import { generateSelfSigned } from "../lib/quic/mod.ts";
import { until } from "./edge_support.ts";
import { RtmpClient } from "../testkit/rtmp_client.ts";
import { hevcTags } from "./support/hevc.ts";
import {
  countFramecrc,
  framecrcArgs,
  makeMedia,
  publishLavfi,
} from "../testkit/media.ts";
import type { EdgeNodeOptions } from "../lib/edge/mod.ts";
import { type TempCloudAndEdge, withCloudAndEdge } from "./support/nodes.ts";

const KEY = "live/movie";
const SECONDS = 12;
const FPS = 25;

/** Decodes a URL to its end with ffmpeg: frames per stream and error lines. */
async function decode(url: string) {
  const out = await new Deno.Command("ffmpeg", {
    args: framecrcArgs(url),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    ...countFramecrc(new TextDecoder().decode(out.stdout)),
    errors: new TextDecoder().decode(out.stderr).trim(),
  };
}

/**
 * Runs `fn` with a cloud + edge (QUIC secret, 600 ms latency, plus `edge`
 * options) and a temporary record directory named after `dirPrefix`.
 */
const withNodes = (
  dirPrefix: string,
  edge: Partial<EdgeNodeOptions>,
  fn: (nodes: TempCloudAndEdge) => Promise<void>,
) =>
  withCloudAndEdge({
    dirPrefix,
    quicSecret: "e2e",
    edge: { secret: "e2e", latencyMs: 600, ...edge },
  }, fn);

/** Publishes the test clip to the cloud as {@linkcode KEY}. */
const publishKey = (nodes: TempCloudAndEdge, seconds: number) =>
  publishLavfi({
    url: `rtmp://127.0.0.1:${nodes.cloud.ports.rtmp}/${KEY}`,
    seconds,
    fps: FPS,
  });

Deno.test("hls e2e: ffmpeg → cloud → edge → LL-HLS playlist on the HLS port and the player port decodes clean", async () => {
  await withNodes("flvcast_hls_e2e_", {
    hls: { addr: { hostname: "127.0.0.1", port: 0 } },
  }, async (nodes) => {
    const { edge } = nodes;
    await using pub = publishKey(nodes, SECONDS);
    ok(edge.ports.hls, "the HLS port is bound");
    await until(
      () => edge.hub.get(KEY) !== undefined,
      "the edge to learn the stream",
      15_000,
    );
    const [onHls, onPlayerPort] = await Promise.all([
      decode(`http://127.0.0.1:${edge.ports.hls}/${KEY}.m3u8`),
      decode(`http://127.0.0.1:${edge.ports.flv}/${KEY}.m3u8`),
    ]);
    const { code, stderr } = await pub.done;
    equal(code, 0, `publisher: ${stderr}`);
    for (
      const [name, r] of [["hls port", onHls], [
        "player port",
        onPlayerPort,
      ]] as const
    ) {
      equal(r.errors, "", `${name}: decode errors`);
      equal(r.code, 0, name);
      console.log(`${name}: ${r.video} video frames, ${r.audio} audio frames`);
      ok(
        r.video >= 0.95 * SECONDS * FPS,
        `${name}: ${r.video} of ${SECONDS * FPS} frames`,
      );
      ok(
        r.audio >= 0.95 * SECONDS * 44100 / 1024,
        `${name}: ${r.audio} audio frames`,
      );
    }
    const metrics = edge.metrics();
    const value = (n: string) =>
      metrics.find((m) => m.name === n)!.samples[0].value;
    ok(value("flvcast_edge_hls_segments_total") >= SECONDS - 1);
    ok(value("flvcast_edge_hls_playlist_requests_total") >= 4);
    ok(value("flvcast_edge_hls_bytes_served_total") > 100_000);
  });
});

Deno.test("hls e2e: HEVC published over Enhanced RTMP (hvc1) plays over LL-HLS from the edge", async () => {
  await withNodes("flvcast_hls_hevc_", {}, async ({ cloud, edge, dir }) => {
    const tags = hevcTags(
      await makeMedia(
        "-f lavfi -i testsrc2=size=320x240:rate=25 -t 4 -c:v libx265 -x265-params log-level=none:keyint=25:min-keyint=25 -bf 0 -f hevc",
        `${dir}/in.hevc`,
      ),
    );
    const key = "live/hevc";
    const client = await RtmpClient.open(cloud.ports.rtmp);
    try {
      await client.handshake();
      equal(await client.publish("live", "hevc"), "NetStream.Publish.Start");
      const sid = 1;
      const start = performance.now();
      let reader: Promise<Awaited<ReturnType<typeof decode>>> | undefined;
      for (const tag of tags) {
        const wait = start + tag.timestamp - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        await client.send({
          csid: 6,
          type: 9,
          streamId: sid,
          timestamp: tag.timestamp,
          data: tag.data,
        });
        if (!reader && edge.hub.get(key)) {
          reader = decode(`http://127.0.0.1:${edge.ports.flv}/${key}.m3u8`);
        }
      }
      client.close();
      ok(reader, "the edge learned the stream while it was published");
      const r = await reader;
      equal(r.errors, "", "decode errors");
      console.log(`hevc over ll-hls: ${r.video} of ${tags.length - 1} frames`);
      ok(r.video >= 0.95 * (tags.length - 1), `${r.video} frames`);
    } finally {
      client.close();
    }
  });
});

Deno.test("hls e2e: with auth.play, HLS needs ?sign= on the playlist; its URIs carry it and ffmpeg decodes", async () => {
  const secret = "hls-s3cret";
  await withNodes("flvcast_hls_auth_", {
    hls: { addr: { hostname: "127.0.0.1", port: 0 } },
    auth: { secret, publish: false, play: true },
  }, async (nodes) => {
    const { edge } = nodes;
    const seconds = 6;
    await using pub = publishKey(nodes, seconds);
    await until(() => edge.hub.get(KEY) !== undefined, "the stream", 15_000);
    const base = `http://127.0.0.1:${edge.ports.hls}/${KEY}`;
    const unsigned = await fetch(`${base}.m3u8`);
    await unsigned.body?.cancel();
    equal(unsigned.status, 403);
    const sign = makeSign(KEY, Math.floor(Date.now() / 1000) + 3600, secret);
    const signed = await fetch(`${base}.m3u8?sign=${sign}`);
    const text = await signed.text();
    equal(signed.status, 200);
    ok(text.includes(`init1.mp4?sign=${sign}"`), text);
    const part = /URI="(movie\/p\d+\.m4s)\?sign=/.exec(text)![1];
    const bare = await fetch(new URL(part, `${base}.m3u8`));
    await bare.body?.cancel();
    equal(bare.status, 403, "a part without the signature is refused");
    const r = await decode(`${base}.m3u8?sign=${sign}`);
    equal(r.errors, "", "decode errors");
    // the session starts at the first signed request, from the cached GOP
    ok(r.video >= (seconds - 2) * FPS, `${r.video} frames`);
    equal((await pub.done).code, 0);
  });
});

Deno.test("hls e2e: the same LL-HLS routes over the edge's HTTPS port (edge.https_addr)", async () => {
  const tls = await generateSelfSigned();
  await withNodes("flvcast_hls_https_", {
    https: {
      address: { hostname: "127.0.0.1", port: 0 },
      certPem: tls.certPem,
      keyPem: tls.keyPem,
    },
  }, async (nodes) => {
    const { edge } = nodes;
    const seconds = 5;
    await using pub = publishKey(nodes, seconds);
    ok(edge.ports.https, "the HTTPS port is bound");
    await until(() => edge.hub.get(KEY) !== undefined, "the stream", 15_000);
    // ffmpeg does not verify certificates by default (self-signed here).
    const r = await decode(`https://127.0.0.1:${edge.ports.https}/${KEY}.m3u8`);
    equal(r.errors, "", "decode errors");
    ok(r.video >= (seconds - 2) * FPS, `${r.video} frames`);
    equal((await pub.done).code, 0);
  });
});
