/**
 * Attacks on the HLS routes, over real loopback sockets: one address
 * cannot take every held request (blocking reloads, hinted parts) from the
 * other viewers, and a huge query string is not copied onto every URI of
 * the playlist.
 */
import { equal, ok } from "node:assert/strict";
import { StreamHub } from "../lib/hub/mod.ts";
import {
  HlsSegmenter,
  HlsService,
  MAX_PART_BYTES,
  MAX_SEGMENT_BYTES,
} from "../lib/hls/mod.ts";
import { listenHttp } from "../lib/http/mod.ts";
import { createLogger } from "../lib/log/mod.ts";
import { until } from "../testkit/poll.ts";
import { FFMPEG_AVC_SEQ, syntheticVideo } from "./support/vectors.ts";

const AVC_SEQ = FFMPEG_AVC_SEQ;

/** Synthetic 25 fps H.264 (1 s GOP) tags from `from` to `to` ms. */
const video = syntheticVideo;

/** A live stream with 2.5 s of video, HLS served on loopback. */
function setup() {
  const logs: string[] = [];
  const hub = new StreamHub();
  const movie = hub.open("live/movie");
  const other = hub.open("live/other");
  for (const s of [movie, other]) {
    s.push({ type: 9, timestamp: 0, data: AVC_SEQ });
  }
  const hls = new HlsService({
    hub,
    logger: createLogger({ level: "debug", write: (l) => logs.push(l) }),
  });
  const server = listenHttp({
    hostname: "127.0.0.1",
    port: 0,
    handler: (req, info) =>
      hls.handle(req, info.remoteAddr) ?? new Response("no", { status: 404 }),
  });
  const base = `http://127.0.0.1:${server.port}`;
  return { hub, movie, other, hls, server, base, logs };
}

/** One raw HTTP/1.1 GET on its own connection; resolves with the status line. */
async function rawGet(
  port: number,
  path: string,
): Promise<{ conn: Deno.TcpConn; status: Promise<string> }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n`,
    ),
  );
  const status = (async () => {
    const buf = new Uint8Array(256);
    const n = await conn.read(buf).catch(() => null);
    return n
      ? new TextDecoder().decode(buf.subarray(0, n)).split("\r\n")[0]
      : "";
  })();
  return { conn, status };
}

Deno.test("attack: one address holding blocking reloads past its share is refused; other addresses still held", async () => {
  const { movie, other, hls, server, base, logs } = setup();
  // Start both playlists (answered once the first segment exists).
  const first = [
    fetch(`${base}/live/movie.m3u8`),
    fetch(`${base}/live/other.m3u8`),
  ];
  await until(() => hls.produced().sessions === 2, "both sessions", 10_000);
  for (const t of video(0, 2500)) {
    movie.push(t);
    other.push(t);
  }
  for (const r of await Promise.all(first)) {
    equal(r.status, 200);
    await r.body?.cancel();
  }
  // The attacker: 100 connections from 127.0.0.1, each a blocking reload
  // for a part that is not there yet (held up to 3 target durations).
  const attack = [];
  for (let i = 0; i < 100; i++) {
    attack.push(
      await rawGet(server.port, "/live/movie.m3u8?_HLS_msn=3&_HLS_part=0"),
    );
  }
  await until(
    () => hls.stats.heldNow + hls.stats.heldRefused === 100,
    "held or refused",
    10_000,
  );
  const perAddress = 64; // edge.max_connections_per_ip's default
  equal(hls.stats.heldNow, perAddress, "held for one address");
  equal(hls.stats.heldRefused, 100 - perAddress);
  // Another viewer's blocking reload on another stream is still held, not refused.
  const viewer = hls.handle(
    new Request("http://edge/live/other.m3u8?_HLS_msn=3&_HLS_part=0"),
    { transport: "tcp", hostname: "198.18.0.7", port: 40000 },
  );
  ok(viewer instanceof Promise, "another address's blocking reload is held");
  equal(hls.stats.heldRefused, 100 - perAddress);
  // One warning for the refusals, not one per request.
  equal(
    logs.filter((l) => /too many held/.test(l)).length,
    1,
    logs.join("\n"),
  );
  // The parts come: every held request is answered 200, the refused ones got 503.
  for (const t of video(2500, 4200)) {
    movie.push(t);
    other.push(t);
  }
  equal((await viewer).status, 200);
  const statuses = await Promise.all(attack.map((a) => a.status));
  equal(statuses.filter((s) => s.endsWith("200 OK")).length, perAddress);
  equal(statuses.filter((s) => / 503 /.test(s)).length, 100 - perAddress);
  for (const a of attack) a.conn.close();
  equal(hls.stats.heldNow, 0);
  // The address's share is free again.
  const again = hls.handle(
    new Request("http://edge/live/movie.m3u8?_HLS_msn=5&_HLS_part=0"),
    { transport: "tcp", hostname: "127.0.0.1", port: 1 },
  );
  ok(again instanceof Promise);
  hls.stop();
  await again;
  await server.shutdown();
});

Deno.test("attack: a huge query string is not copied onto every URI of the playlist", async () => {
  const { movie, hls, server, base } = setup();
  const first = fetch(`${base}/live/movie.m3u8?sign=1-abc`);
  await until(() => hls.produced().sessions === 1, "the session", 10_000);
  for (const t of video(0, 8500)) movie.push(t);
  const small = await first;
  equal(small.status, 200);
  const smallText = await small.text();
  ok(smallText.includes("?sign=1-abc"), smallText);
  // 30 KB of query: the playlist would carry it on every part and segment URI.
  const big = "x".repeat(30_000);
  const res = await fetch(`${base}/live/movie.m3u8?sign=1-abc&pad=${big}`);
  const body = await res.text();
  console.log(
    `playlist with a 30 KB query: ${res.status}, ${body.length} bytes`,
  );
  equal(res.status, 414, body.slice(0, 200));
  ok(body.length < 1000, `short refusal, got ${body.length} bytes`);
  hls.stop();
  await server.shutdown();
});

Deno.test("attack: a publisher whose timestamps stand still cannot make HLS hold unbounded memory", () => {
  const seg = new HlsSegmenter();
  seg.push({ type: 9, timestamp: 0, data: AVC_SEQ }, 0);
  const frame = (key: boolean) => {
    const d = new Uint8Array(100_000);
    d.set([key ? 0x17 : 0x27, 1, 0, 0, 0, 0, 1, 0x86, 0x9b]);
    return d;
  };
  seg.push({ type: 9, timestamp: 0, data: frame(true) }, 0);
  // 200 MB of inter frames at timestamps 0 and 1: no duration ever passes.
  for (let i = 0; i < 2000; i++) {
    seg.push({ type: 9, timestamp: i % 2, data: frame(false) }, 0);
  }
  let held = 0;
  for (let id = 0; id < seg.nextPartId; id++) {
    held += seg.part(id)?.bytes.length ?? 0;
  }
  console.log(
    `frozen timestamps, 200 MB pushed: ${seg.stats.segments} segments, ${seg.stats.parts} parts, ${
      (held / 1e6).toFixed(1)
    } MB in the window`,
  );
  // Cut by size: what is not in a part yet is at most one part's worth.
  ok(
    seg.stats.parts >= 200_000_000 / MAX_PART_BYTES - 1,
    "cut into parts by size",
  );
  ok(seg.stats.segments >= 1, "cut into segments by size");
  ok(
    held <= (6 + 1) * MAX_SEGMENT_BYTES,
    `window holds ${held} bytes, at most 7 segments of ${MAX_SEGMENT_BYTES}`,
  );
});
