// Resource attacks on the cloud's RTMP port, each followed by a real ffmpeg
// publish and an ffprobe play at the edge in the same process. RSS figures
// are printed (in-process: the attackers' client sockets cost nothing).
import { equal, match, notEqual, ok } from "node:assert/strict";
import { probe, publishLavfi } from "../testkit/media.ts";
import { RtmpClient } from "../testkit/rtmp_client.ts";
import { until } from "../testkit/poll.ts";
import {
  type CloudAndEdge,
  type TempCloudAndEdgeOptions,
  withCloudAndEdge,
} from "./support/nodes.ts";

const MB = 1024 * 1024;
const rss = () => Deno.memoryUsage().rss;

/** Resolves with the ms until the server closes `conn` (EOF or reset). */
async function closedAfter(conn: Deno.Conn, t0: number): Promise<number> {
  const buf = new Uint8Array(65536);
  try {
    while ((await conn.read(buf)) !== null) { /* server replies */ }
  } catch { /* reset */ }
  return performance.now() - t0;
}

/** A real publish and play still work: ffmpeg → cloud → edge → ffprobe. */
async function publishAndPlay(
  nodes: CloudAndEdge,
  name: string,
): Promise<void> {
  const key = `live/${name}`;
  await using pub = publishLavfi({
    url: `rtmp://127.0.0.1:${nodes.cloud.ports.rtmp}/${key}`,
    seconds: 4,
  });
  await until(
    () => nodes.edge.streams().some((s) => s.key === key),
    `${key} at the edge`,
    15_000,
    50,
  );
  const p = await probe(`http://127.0.0.1:${nodes.edge.ports.flv}/${key}.flv`);
  ok(p.videoFrames > 25, `${key}: frames ${p.videoFrames}`);
  equal(p.errors.length, 0, p.errors.join("\n"));
  equal((await pub.done).code, 0);
}

/**
 * Runs the attack `fn` on a fresh cloud + edge (the connections it adds to
 * `conns` are closed after); then a real publish and play of
 * `live/<after>` must still work.
 */
async function attack(
  after: string,
  opts: TempCloudAndEdgeOptions,
  fn: (nodes: CloudAndEdge, conns: Deno.Conn[]) => Promise<void>,
): Promise<void> {
  await withCloudAndEdge(opts, async (nodes) => {
    const conns: Deno.Conn[] = [];
    try {
      await fn(nodes, conns);
      await publishAndPlay(nodes, after);
    } finally {
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    }
  });
}

Deno.test("limits: 1,100 idle RTMP connections — past limits.max_connections refused at once, the rest closed within 15 s; then a publish and play work", async () => {
  await attack("after_idle", {}, async (nodes, conns) => {
    const before = rss();
    const t0 = performance.now();
    for (let i = 0; i < 1100; i++) {
      conns.push(
        await Deno.connect({
          hostname: "127.0.0.1",
          port: nodes.cloud.ports.rtmp,
        }),
      );
    }
    const closes = conns.map((c) => closedAfter(c, t0));
    await until(
      () => nodes.cloud.refusals.count("max_connections") >= 100,
      "100 refusals",
      10_000,
      50,
    );
    const times = await Promise.all(closes);
    const slowest = Math.max(...times);
    ok(
      slowest < 15_000,
      `every idle connection closed within 15 s (slowest ${
        Math.round(slowest)
      } ms)`,
    );
    ok(nodes.cloud.refusals.count("max_connections") >= 100);
    console.log(
      `1,100 idle: ${
        nodes.cloud.refusals.count("max_connections")
      } refused at once, all closed after ${Math.round(slowest)} ms; RSS ${
        Math.round(before / MB)
      } → ${Math.round(rss() / MB)} MB`,
    );
  });
});

/** Opens an RTMP connection through the handshake and `connect`. */
async function rtmpConnect(port: number): Promise<Deno.Conn> {
  const c = await RtmpClient.open(port);
  await c.handshake();
  await c.command(0, "connect", 1, { app: "live" });
  return c.conn;
}

/** A type-0 video message header on chunk stream 6 announcing `length`. */
function announce(length: number): Uint8Array {
  return new Uint8Array([
    6,
    0,
    0,
    0,
    length >> 16,
    (length >> 8) & 0xff,
    length & 0xff,
    9,
    1,
    0,
    0,
    0,
  ]);
}

Deno.test("limits: 20 × 16 MiB announcements are refused at the header; 20 × 8 MiB announcements trickling a byte a second are closed within 15 s and hold no buffers; then a publish and play work", async () => {
  await attack("after_trickle", {}, async (nodes, conns) => {
    const timers: ReturnType<typeof setInterval>[] = [];
    try {
      const port = nodes.cloud.ports.rtmp;
      // 16 MiB − 1 (the largest the header can say): over max_message_bytes.
      const t16 = performance.now();
      const big: Promise<number>[] = [];
      for (let i = 0; i < 20; i++) {
        const c = await rtmpConnect(port);
        conns.push(c);
        await c.write(announce(0xffffff));
        big.push(closedAfter(c, t16));
      }
      const bigTimes = await Promise.all(big);
      // 8 MiB (accepted) then a byte a second: not progress.
      const before = rss();
      let peak = before;
      const t8 = performance.now();
      const trickled: Promise<number>[] = [];
      for (let i = 0; i < 20; i++) {
        const c = await rtmpConnect(port);
        conns.push(c);
        await c.write(announce(8 * MB));
        timers.push(
          setInterval(
            () => void c.write(new Uint8Array([0x17])).catch(() => {}),
            1000,
          ),
        );
        trickled.push(closedAfter(c, t8));
      }
      const sampler = setInterval(() => (peak = Math.max(peak, rss())), 200);
      const times = await Promise.all(trickled);
      clearInterval(sampler);
      const slowest = Math.max(...times);
      ok(
        slowest < 15_000,
        `tricklers closed within 15 s (slowest ${Math.round(slowest)} ms)`,
      );
      ok(
        peak - before < 50 * MB,
        `RSS growth ${Math.round((peak - before) / MB)} MB`,
      );
      // Counted (and warned once per interval, not once per connection).
      equal(nodes.cloud.refusals.count("max_message_bytes"), 20);
      // No progress 10 s after connecting (they never publish).
      equal(nodes.cloud.refusals.count("rtmp_unbound"), 20);
      console.log(
        `20 × 16 MiB: closed after ${
          Math.round(Math.max(...bigTimes))
        } ms; 20 × 8 MiB trickling: closed after ${
          Math.round(slowest)
        } ms; RSS ${Math.round(before / MB)} → peak ${
          Math.round(peak / MB)
        } MB`,
      );
    } finally {
      for (const t of timers) clearInterval(t);
    }
  });
});

/** A WebSocket client that upgrades and then never reads again. */
async function deafWebSocket(port: number, path: string): Promise<Deno.Conn> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  await c.write(new TextEncoder().encode(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  const buf = new Uint8Array(1);
  let head = "";
  while (!head.endsWith("\r\n\r\n")) {
    if ((await c.read(buf)) === null) {
      throw new Error(`EOF in upgrade: ${head}`);
    }
    head += String.fromCharCode(buf[0]);
  }
  if (!head.startsWith("HTTP/1.1 101")) throw new Error(`no upgrade: ${head}`);
  return c;
}

Deno.test("limits: 100 WebSocket players that never read on an 8 Mbit/s stream are cut and their memory released; then a publish and play work", async () => {
  // All 100 come from 127.0.0.1: raise the per-IP cap (64 by default, the
  // first defence) so that the budget and the per-player cap are tested.
  await attack(
    "after_ws",
    { edge: { maxPlayersPerIp: 128 } },
    async (nodes, conns) => {
      const key = "live/ws8";
      const hubStream = nodes.edge.hub.open(key);
      let ts = 0;
      let n = 0;
      const frame = new Uint8Array(40_000).fill(0x55); // 40 kB every 40 ms = 8 Mbit/s
      const pusher = setInterval(() => {
        const data = frame.slice();
        data[0] = n % 25 === 0 ? 0x17 : 0x27;
        data[1] = 1;
        hubStream.push({ type: 9, timestamp: ts, data });
        ts += 40;
        n++;
      }, 40);
      try {
        await new Promise((r) => setTimeout(r, 1000));
        const before = rss();
        let peak = before;
        const sampler = setInterval(() => (peak = Math.max(peak, rss())), 100);
        for (let i = 0; i < 100; i++) {
          conns.push(await deafWebSocket(nodes.edge.ports.flv, `/${key}.flv`));
        }
        await until(
          () => hubStream.players === 0 && countCut(nodes) >= 100,
          "all 100 cut",
          60_000,
          50,
        );
        // The edge frees what the cut sockets held (abort + allocator trim).
        let after = rss();
        await until(
          () => (after = rss()) - before < 50 * MB,
          "RSS back within 50 MB",
          15_000,
          50,
        ).catch(() => {});
        clearInterval(sampler);
        console.log(
          `100 deaf WebSocket players at 8 Mbit/s: RSS ${
            Math.round(before / MB)
          } → peak ${Math.round(peak / MB)} → after cut ${
            Math.round(after / MB)
          } MB`,
        );
        ok(
          after - before < 50 * MB,
          `RSS after the cut ${
            Math.round((after - before) / MB)
          } MB above the start`,
        );
        clearInterval(pusher);
        hubStream.end("test over");
      } finally {
        clearInterval(pusher);
      }
    },
  );
});

/** Players the edge has cut (too slow, or over the shared budget). */
function countCut(nodes: CloudAndEdge): number {
  const text = nodes.edge.metrics().flatMap((f) =>
    f.name === "flvcast_edge_slow_disconnects_total" ||
      f.name === "flvcast_edge_player_budget_cuts_total"
      ? f.samples.map((s) => s.value)
      : []
  );
  return text.reduce((a, b) => a + b, 0);
}

Deno.test("limits: slowloris on every HTTP port — 500 on the player port, 20 each on the HLS port and both APIs (a header byte every 2 s) — all closed within 15 s; then a publish and play work", async () => {
  // All from 127.0.0.1: lift the per-IP cap so the header timeout is what
  // ends them (the cap alone would end all but 64 at once).
  await attack("after_slowloris", {
    edge: {
      maxPlayersPerIp: 1000,
      hls: { addr: { hostname: "127.0.0.1", port: 0 } },
    },
  }, async (nodes, conns) => {
    let timer: ReturnType<typeof setInterval> | undefined;
    try {
      const ports = [
        ...new Array(500).fill(nodes.edge.ports.flv),
        ...[nodes.edge.ports.hls!, nodes.edge.ports.api, nodes.cloud.ports.api]
          .flatMap((p) => new Array(20).fill(p)),
      ];
      ok(nodes.edge.ports.hls! > 0, "an HLS port of its own");
      const t0 = performance.now();
      for (const port of ports) {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        await c.write(
          new TextEncoder().encode("GET /live/x.flv HTTP/1.1\r\nHost: e\r\n"),
        );
        conns.push(c);
      }
      timer = setInterval(() => {
        for (const c of conns) {
          void c.write(new Uint8Array([0x58])).catch(() => {});
        }
      }, 2000);
      const times = await Promise.all(conns.map((c) => closedAfter(c, t0)));
      const slowest = Math.max(...times);
      ok(
        slowest < 15_000,
        `slowest slowloris connection closed after ${Math.round(slowest)} ms`,
      );
      console.log(
        `${ports.length} slowloris: all closed after ${Math.round(slowest)} ms`,
      );
      clearInterval(timer);
    } finally {
      clearInterval(timer);
    }
  });
});

/** The value of one `/metrics` sample line of the cloud (0 when absent). */
async function cloudMetric(nodes: CloudAndEdge, line: string): Promise<number> {
  const text = await (await fetch(
    `http://127.0.0.1:${nodes.cloud.ports.api}/metrics`,
  )).text();
  const hit = text.split("\n").find((l) => l.startsWith(`${line} `));
  return hit === undefined ? 0 : Number(hit.slice(line.length + 1));
}

/** Tags the edge has sent out of `key` so far. */
function tagsOut(nodes: CloudAndEdge, key: string): number {
  return nodes.edge.streams().find((s) => s.key === key)?.tags_out ?? 0;
}

Deno.test("limits: max_streams 2 — a third ffmpeg publish is refused with NetStream.Publish.BadName and counted in /metrics, the first two keep flowing; a freed slot takes a new publish", async () => {
  await withCloudAndEdge({ cloud: { maxStreams: 2 } }, async (nodes) => {
    const rtmp = `rtmp://127.0.0.1:${nodes.cloud.ports.rtmp}/live`;
    await using a = publishLavfi({ url: `${rtmp}/a`, seconds: 60 });
    await using b = publishLavfi({ url: `${rtmp}/b`, seconds: 60 });
    await until(
      () => tagsOut(nodes, "live/a") > 25 && tagsOut(nodes, "live/b") > 25,
      "two streams at the edge",
      15_000,
      50,
    );
    await using c = publishLavfi({
      url: `${rtmp}/c`,
      seconds: 5,
      realtime: false,
    });
    const refused = await c.done;
    notEqual(refused.code, 0, "the third ffmpeg fails");
    match(refused.stderr, /limits\.max_streams \(2\) reached/);
    equal(nodes.cloud.streams.has("live/c"), false);
    // The status code itself, as a raw client sees it.
    const raw = await RtmpClient.open(nodes.cloud.ports.rtmp);
    try {
      await raw.handshake();
      equal(await raw.publish("live", "d"), "NetStream.Publish.BadName");
      equal(await raw.closedByServer(), true);
    } finally {
      raw.close();
    }
    equal(nodes.cloud.refusals.count("max_streams"), 2);
    equal(
      await cloudMetric(
        nodes,
        'flvcast_cloud_refusals_total{reason="max_streams"}',
      ),
      2,
    );
    const at = [tagsOut(nodes, "live/a"), tagsOut(nodes, "live/b")];
    await until(
      () =>
        tagsOut(nodes, "live/a") > at[0] + 50 &&
        tagsOut(nodes, "live/b") > at[1] + 50,
      "both admitted streams still flowing",
      15_000,
      50,
    );
    // A publish ending gives its slot back.
    b.kill();
    await until(
      () => !nodes.cloud.streams.has("live/b"),
      "live/b ended",
      15_000,
      50,
    );
    await publishAndPlay(nodes, "after_max_streams");
    equal(nodes.cloud.refusals.count("max_streams"), 2);
    a.kill();
  });
});

Deno.test("limits: max_message_bytes — an ffmpeg publisher whose keyframes are over it is cut (counted in /metrics), another publisher on the same cloud goes on and plays", async () => {
  // 320x240 keyframes are ~11 KB; 1280x720 at 20 Mbit/s ~110 KB.
  const limits = { maxMessageBytes: 64 * 1024 };
  await withCloudAndEdge({ cloud: limits }, async (nodes) => {
    const rtmp = `rtmp://127.0.0.1:${nodes.cloud.ports.rtmp}/live`;
    await using small = publishLavfi({ url: `${rtmp}/small`, seconds: 15 });
    await until(
      () => tagsOut(nodes, "live/small") > 25,
      "the small stream at the edge",
      15_000,
      50,
    );
    await using big = publishLavfi({
      url: `${rtmp}/big`,
      seconds: 10,
      size: "1280x720",
      videoBitrate: "20M",
    });
    const cut = await big.done;
    notEqual(cut.code, 0, "the big publisher is cut");
    equal(nodes.cloud.streams.has("live/big"), false);
    equal(nodes.cloud.refusals.count("max_message_bytes"), 1);
    equal(
      await cloudMetric(
        nodes,
        'flvcast_cloud_refusals_total{reason="max_message_bytes"}',
      ),
      1,
    );
    const at = tagsOut(nodes, "live/small");
    await until(
      () => tagsOut(nodes, "live/small") > at + 50,
      "the small stream still flowing",
      15_000,
      50,
    );
    const p = await probe(
      `http://127.0.0.1:${nodes.edge.ports.flv}/live/small.flv`,
    );
    ok(p.videoFrames > 25, `live/small plays: ${p.videoFrames} frames`);
    small.kill();
  });
});
