import { deepEqual, equal, ok } from "node:assert/strict";
import { type FlvTag, isKeyframe, isSequenceHeader } from "../lib/flv/mod.ts";
import {
  FlvHttpServer,
  PlayerQueue,
  streamKeyFromPath,
} from "../lib/http/mod.ts";
import { StreamHub } from "../lib/hub/mod.ts";
import { until } from "../testkit/poll.ts";
import {
  AAC_SEQ,
  audioFrame,
  AVC_SEQ,
  describe,
  HttpPlayer,
  interframe,
  keyframe,
  META,
  syntheticStream,
  WsPlayer,
} from "./http_support.ts";

async function withServer(
  fn: (
    ctx: { hub: StreamHub; server: FlvHttpServer; base: string },
  ) => Promise<void>,
  opts: {
    maxQueueBytes?: number;
    hostname?: string;
    maxPlayersPerIp?: number;
    maxPlayers?: number;
  } = {},
): Promise<void> {
  const hub = new StreamHub();
  const hostname = opts.hostname ?? "127.0.0.1";
  const server = new FlvHttpServer({
    hub,
    hostname,
    port: 0,
    maxQueueBytes: opts.maxQueueBytes,
    maxPlayersPerIp: opts.maxPlayersPerIp,
    maxPlayers: opts.maxPlayers,
  });
  await server.start();
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  try {
    await fn({ hub, server, base: `${host}:${server.port}` });
  } finally {
    hub.endAll("test over");
    await server.stop();
  }
}

Deno.test("http: stream key from the URL path", () => {
  equal(streamKeyFromPath("/live/movie.flv"), "live/movie");
  equal(streamKeyFromPath("/live/a/b.flv"), "live/a/b");
  equal(streamKeyFromPath("/live/caf%C3%A9.flv"), "live/café");
  equal(streamKeyFromPath("/live/movie"), undefined);
  equal(streamKeyFromPath("/.flv"), undefined);
  equal(streamKeyFromPath("/live/../x.flv"), undefined);
  equal(streamKeyFromPath("/live/%E0%A4%A.flv"), undefined);
});

Deno.test("http: unknown stream is 404 at once, with CORS", async () => {
  await withServer(async ({ base, server }) => {
    const t0 = performance.now();
    const res = await fetch(`http://${base}/live/nothing.flv`);
    await res.text();
    equal(res.status, 404);
    equal(res.headers.get("access-control-allow-origin"), "*");
    ok(performance.now() - t0 < 2000);
    const other = await fetch(`http://${base}/favicon.ico`);
    await other.text();
    equal(other.status, 404);
    equal(server.stats.notFound, 2);
    const pre = await fetch(`http://${base}/live/x.flv`, { method: "OPTIONS" });
    await pre.body?.cancel();
    equal(pre.status, 204);
    equal(pre.headers.get("access-control-allow-origin"), "*");
  });
});

Deno.test("http: a late joiner gets header, metadata, seq headers, GOP from a keyframe, then live tags", async () => {
  await withServer(async ({ hub, base, server }) => {
    const stream = hub.open("live/a/b");
    const tags = syntheticStream({ gops: 2, frames: 4 });
    for (const t of tags) stream.push(t);
    const player = await HttpPlayer.open(`http://${base}/live/a/b.flv`);
    equal(player.response.status, 200);
    equal(player.response.headers.get("content-type"), "video/x-flv");
    equal(player.response.headers.get("access-control-allow-origin"), "*");
    // metadata + 2 seq headers + the last GOP (4 video + 4 audio).
    await player.waitFor(3 + 8);
    deepEqual(
      player.tags.slice(0, 3).map(describe),
      [META, AVC_SEQ, AAC_SEQ].map(describe),
    );
    const firstVideo = player.tags.slice(3).find((t) => t.type === 9)!;
    ok(
      isKeyframe(firstVideo),
      "first video tag after the seq headers is a keyframe",
    );
    deepEqual(player.tags.slice(3).map(describe), tags.slice(-8).map(describe));
    // Live tags follow in order.
    const live = [interframe(1000), audioFrame(1003), keyframe(1040)];
    for (const t of live) stream.push(t);
    await player.waitFor(3 + 8 + 3);
    deepEqual(player.tags.slice(11).map(describe), live.map(describe));
    equal(server.stats.httpPlayers, 1);
    equal(stream.players, 1);
    // The publisher leaves: the body ends.
    hub.end("live/a/b", "bye");
    equal(await player.done, "end");
    equal(hub.get("live/a/b"), undefined);
    equal(server.stats.httpPlayers, 0);
  });
});

Deno.test("http: WebSocket-FLV on the same path sends the same bytes", async () => {
  await withServer(async ({ hub, base, server }) => {
    const stream = hub.open("live/ws");
    const tags = syntheticStream({ gops: 1, frames: 3 });
    for (const t of tags) stream.push(t);
    const player = await WsPlayer.open(`ws://${base}/live/ws.flv`);
    await player.waitFor(tags.length);
    deepEqual(player.tags.map(describe), tags.map(describe));
    const live = [interframe(500), audioFrame(503)];
    for (const t of live) stream.push(t);
    await player.waitFor(tags.length + 2);
    deepEqual(player.tags.slice(tags.length).map(describe), live.map(describe));
    equal(server.stats.wsPlayers, 1);
    hub.end("live/ws", "bye");
    equal(await player.closed, 1000);
    equal(stream.players, 0);
  });
});

Deno.test("http: WebSocket to an unknown stream is refused with 404", async () => {
  await withServer(async ({ base }) => {
    const err = await WsPlayer.open(`ws://${base}/live/none.flv`).then(
      (p) => p.close().then(() => undefined),
      (e: Error) => e,
    );
    ok(err instanceof Error, "the connection failed");
  });
});

Deno.test("http: a player that never reads is cut off and does not delay a normal player", async () => {
  await withServer(async ({ hub, base, server }) => {
    const stream = hub.open("live/busy");
    for (const t of [META, AVC_SEQ, AAC_SEQ, keyframe(0)]) stream.push(t);
    // The slow player: sends a request, then never reads a byte.
    const slow = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    await slow.write(
      new TextEncoder().encode(
        `GET /live/busy.flv HTTP/1.1\r\nHost: ${base}\r\n\r\n`,
      ),
    );
    await until(() => stream.players >= 1, "the player to subscribe");
    const normal = await HttpPlayer.open(`http://${base}/live/busy.flv`);
    await normal.waitFor(4);
    // 40 MiB of live video, far more than socket buffers + the 1 MiB queue.
    const n = 320;
    for (let i = 1; i <= n; i++) {
      const tag: FlvTag = interframe(i * 40, 128 * 1024);
      stream.push(tag);
      // The normal player gets each tag before the next is published.
      await normal.waitFor(4 + i, 5000);
    }
    equal(normal.tags.length, 4 + n);
    equal(server.stats.slowDisconnects, 1);
    equal(stream.info().slowPlayers, 1);
    equal(stream.players, 1);
    // The slow player's connection was closed by the server: draining it ends.
    const buf = new Uint8Array(1 << 20);
    let total = 0;
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      slow.close();
    }, 10_000);
    while (true) {
      const got = await slow.read(buf).catch(() => null);
      if (got === null) break;
      total += got;
    }
    clearTimeout(deadline);
    ok(!timedOut, "expected the server to close the slow player within 10 s");
    if (!timedOut) slow.close();
    ok(
      total < 40 * 1024 * 1024,
      `slow player got ${total} bytes, not everything`,
    );
    await normal.close();
  }, { maxQueueBytes: 1024 * 1024 });
});

Deno.test("http: a WebSocket player that never reads is cut off too", async () => {
  await withServer(async ({ hub, base, server }) => {
    const stream = hub.open("live/wsbusy");
    stream.push(keyframe(0));
    const slow = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    await slow.write(
      new TextEncoder().encode(
        `GET /live/wsbusy.flv HTTP/1.1\r\nHost: ${base}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
          `Sec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    await until(() => stream.players >= 1, "the player to subscribe");
    const normal = await WsPlayer.open(`ws://${base}/live/wsbusy.flv`);
    await normal.waitFor(1);
    const n = 200;
    for (let i = 1; i <= n; i++) {
      stream.push(interframe(i * 40, 128 * 1024));
      await normal.waitFor(1 + i, 5000);
    }
    equal(server.stats.slowDisconnects, 1);
    equal(stream.players, 1);
    slow.close();
    await normal.close();
  }, { maxQueueBytes: 1024 * 1024 });
});

Deno.test("http: stop() ends the bodies of connected players", async () => {
  const hub = new StreamHub();
  const server = new FlvHttpServer({ hub, hostname: "127.0.0.1", port: 0 });
  await server.start();
  const stream = hub.open("live/x");
  stream.push(META);
  const http = await HttpPlayer.open(
    `http://127.0.0.1:${server.port}/live/x.flv`,
  );
  const ws = await WsPlayer.open(`ws://127.0.0.1:${server.port}/live/x.flv`);
  await http.waitFor(1);
  await ws.waitFor(1);
  await server.stop();
  equal(await http.done, "end");
  await ws.closed;
  hub.endAll("done");
});

Deno.test("http: status page lists the streams", async () => {
  await withServer(async ({ hub, base }) => {
    hub.open("live/movie");
    const res = await fetch(`http://${base}/`);
    const html = await res.text();
    equal(res.status, 200);
    ok(html.includes('href="/live/movie.flv"'), html);
  });
});

Deno.test("http: an extra handler is asked first, FLV routes go on otherwise", async () => {
  const hub = new StreamHub();
  const server = new FlvHttpServer({
    hub,
    hostname: "127.0.0.1",
    port: 0,
    handler: (req) =>
      new URL(req.url).pathname === "/hello" ? new Response("hi") : undefined,
  });
  await server.start();
  try {
    equal(
      await (await fetch(`http://127.0.0.1:${server.port}/hello`)).text(),
      "hi",
    );
    const r = await fetch(`http://127.0.0.1:${server.port}/live/x.flv`);
    await r.body?.cancel();
    equal(r.status, 404);
  } finally {
    await server.stop();
  }
});

/**
 * Two players are admitted, a third is refused with 503 and counted under
 * `reason`, and a player leaving gives its slot back.
 */
async function thirdRefused(
  ctx: { hub: StreamHub; server: FlvHttpServer; base: string },
  reason: string,
): Promise<void> {
  const { hub, server, base } = ctx;
  const stream = hub.open("live/cap");
  for (const t of syntheticStream({ gops: 1, frames: 2 })) stream.push(t);
  const url = `http://${base}/live/cap.flv`;
  const players: HttpPlayer[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const p = await HttpPlayer.open(url);
      equal(p.response.status, 200);
      players.push(p);
    }
    const third = await fetch(url);
    equal(third.status, 503);
    await third.body?.cancel();
    deepEqual(server.refusals.counts(), { [reason]: 1 });
    await players.pop()!.close();
    await until(() => server.stats.httpPlayers === 1, "a slot given back");
    const again = await HttpPlayer.open(url);
    equal(again.response.status, 200);
    players.push(again);
  } finally {
    for (const p of players) await p.close();
  }
}

Deno.test("http: over IPv6 loopback the per-IP cap counts [::1] — the third player gets 503, counted", async () => {
  await withServer(
    (ctx) => thirdRefused(ctx, "max_connections_per_ip"),
    { hostname: "::1", maxPlayersPerIp: 2 },
  );
});

Deno.test("http: edge.max_players — the third player gets 503, counted", async () => {
  await withServer(
    (ctx) => thirdRefused(ctx, "max_connections"),
    { maxPlayers: 2 },
  );
});

Deno.test("hub: republish replaces the stream and ends its players", () => {
  const hub = new StreamHub();
  const first = hub.open("live/r");
  const ends: string[] = [];
  const got: number[] = [];
  const sub = first.subscribe({
    onTag: (t) => got.push(t.timestamp),
    onEnd: (r) => ends.push(r),
  });
  deepEqual(sub.startTags, []);
  first.push(audioFrame(5));
  const second = hub.open("live/r");
  deepEqual(ends, ["replaced"]);
  equal(hub.get("live/r"), second);
  first.push(audioFrame(6));
  deepEqual(got, [5]);
  first.end("late");
  equal(hub.get("live/r"), second, "ending the old stream keeps the new one");
  equal(hub.size, 1);
});

Deno.test("hub: start tags come from the GOP cache", () => {
  const hub = new StreamHub();
  const s = hub.open("live/g");
  const tags = syntheticStream({ gops: 2, frames: 3 });
  for (const t of tags) s.push(t);
  const sub = s.subscribe({ onTag() {}, onEnd() {} });
  ok(isSequenceHeader(sub.startTags[1]));
  ok(isKeyframe(sub.startTags[3]));
  equal(sub.startTags.length, 3 + 6);
  sub.unsubscribe();
  equal(s.players, 0);
});

Deno.test("player queue: bounded, joins chunks, fails on overflow", async () => {
  const q = new PlayerQueue({ maxBytes: 10 });
  ok(q.push(new Uint8Array(20), true), "forced start burst is accepted");
  ok(q.push(new Uint8Array([1, 2, 3])) === false, "over the bound");
  let err: unknown;
  await q.next().catch((e) => (err = e));
  ok(err instanceof Error && /too slow/.test(err.message));
  const q2 = new PlayerQueue({ maxBytes: 100 });
  q2.push(new Uint8Array([1]));
  q2.push(new Uint8Array([2, 3]));
  q2.close();
  deepEqual(Array.from((await q2.next())!), [1, 2, 3]);
  equal(await q2.next(), null);
});
