import { VERSION } from "../lib/version/mod.ts";
import { deepEqual, equal, ok } from "node:assert/strict";
import { EdgeNode, type EdgeNodeOptions } from "../lib/edge/mod.ts";
import { type FlvTag, isKeyframe, isSequenceHeader } from "../lib/flv/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { FakeCloud, testFingerprint, until } from "./edge_support.ts";
import {
  describe,
  HttpPlayer,
  syntheticStream,
  WsPlayer,
} from "./http_support.ts";

const LOOP = "127.0.0.1";

async function startEdge(
  quicPort: number,
  extra: Partial<EdgeNodeOptions> = {},
): Promise<EdgeNode> {
  const edge = new EdgeNode({
    udp: { hostname: LOOP, port: 0 },
    flv: { hostname: LOOP, port: 0 },
    api: { hostname: LOOP, port: 0 },
    quicPort,
    fingerprint: await testFingerprint(),
    latencyMs: 300,
    logger: nullLogger,
    ...extra,
  });
  await edge.start();
  return edge;
}

/** Edge + cloud; the cloud's QUIC port is learned first so the edge can use
 * "RTP source address + quicPort" (no cloudQuic given). */
async function setup(
  extra: Partial<EdgeNodeOptions> = {},
  cloudOpts: { secret?: string } = {},
): Promise<{ edge: EdgeNode; cloud: FakeCloud; close(): Promise<void> }> {
  // Start the cloud against a placeholder port, then point it at the edge.
  const cloud = await FakeCloud.start(9, cloudOpts);
  const edge = await startEdge(cloud.rtxPort, {
    secret: cloudOpts.secret,
    ...extra,
  });
  cloud.sendTo(edge.ports.udp);
  return {
    edge,
    cloud,
    async close() {
      await edge.stop();
      await cloud.close();
    },
  };
}

/**
 * Waits until the edge has learned `key` and its repair link is up (read from
 * the API): repairs asked before the QUIC handshake ends would time out on a
 * loaded machine, and the test would then be about the machine.
 */
async function learned(edge: EdgeNode, key: string): Promise<void> {
  await until(() => edge.hub.get(key) !== undefined, `${key} to be learned`);
  await until(
    () =>
      edge.metrics().find((m) => m.name === "flvcast_edge_rtx_connected")
        ?.samples.some((s) => s.value === 1) ?? false,
    "the repair link to be up",
    10_000,
  );
}

function flvUrl(edge: EdgeNode, key: string): string {
  return `http://${LOOP}:${edge.ports.flv}/${key}.flv`;
}

/** Every 5th packet is kept off UDP (many tags lose one fragment). */
const everyFifth = (seq: number) => seq % 5 === 2;

Deno.test("edge: packets held back from UDP are recovered over QUIC; output equals the sent tags", async () => {
  const { edge, cloud, close } = await setup({}, { secret: "s3cret" });
  try {
    const stream = cloud.stream("live/movie", { seq: 65500 }); // wraps soon
    await stream.report();
    await learned(edge, "live/movie");
    const player = await HttpPlayer.open(flvUrl(edge, "live/movie"));
    equal(player.response.status, 200);
    equal(player.response.headers.get("content-type"), "video/x-flv");
    const tags = syntheticStream({ gops: 4, frames: 10 });
    await stream.send(tags, everyFifth);
    ok(stream.skipped.length > 20, `held back ${stream.skipped.length}`);
    await player.waitFor(tags.length, 10_000);
    deepEqual(player.tags.map(describe), tags.map(describe));
    // Counters add up: every packet was received or recovered.
    const [info] = edge.streams();
    equal(info.key, "live/movie");
    equal(info.ssrc, stream.ssrc);
    equal(info.recovered, stream.skipped.length);
    equal(info.unrecoverable, 0);
    equal(
      info.packets_received + info.recovered + info.unrecoverable,
      stream.sent,
    );
    equal(info.tags_out, tags.length);
    equal(info.tags_dropped, 0);
    ok(info.nacked >= stream.skipped.length);
    ok(
      info.one_way_delay_ms !== null && Math.abs(info.one_way_delay_ms) < 1000,
    );
    equal(info.players, 1);
    // BYE: the body ends once the stream is over, and the key is gone.
    await stream.bye();
    equal(await player.done, "end");
    await until(() => edge.streams().length === 0, "the stream to end");
    const gone = await fetch(flvUrl(edge, "live/movie"));
    await gone.body?.cancel();
    equal(gone.status, 404);
  } finally {
    await close();
  }
});

Deno.test("edge: the first packets of a fresh stream lost on the way are recovered too", async () => {
  const { edge, cloud, close } = await setup();
  try {
    const stream = cloud.stream("live/fresh", { seq: 3 });
    await stream.report(); // count 0: the stream has just begun
    await learned(edge, "live/fresh");
    const player = await HttpPlayer.open(flvUrl(edge, "live/fresh"));
    const tags = syntheticStream({ gops: 1, frames: 4 });
    await stream.send(tags, (_seq, i) => i < 2 || i === 9);
    await player.waitFor(tags.length, 10_000);
    deepEqual(player.tags.map(describe), tags.map(describe));
    const [info] = edge.streams();
    equal(info.recovered, 3);
    equal(info.unrecoverable, 0);
    equal(info.packets_received + info.recovered, stream.sent);
    await player.close();
  } finally {
    await close();
  }
});

Deno.test("edge: WebSocket-FLV players get the same tags; a late joiner starts at a keyframe", async () => {
  const { edge, cloud, close } = await setup();
  try {
    const stream = cloud.stream("live/a/b");
    await stream.report();
    await learned(edge, "live/a/b");
    const ws = await WsPlayer.open(
      `ws://${LOOP}:${edge.ports.flv}/live/a/b.flv`,
    );
    const tags = syntheticStream({ gops: 2, frames: 6 });
    await stream.send(tags, everyFifth);
    await ws.waitFor(tags.length, 10_000);
    deepEqual(ws.tags.map(describe), tags.map(describe));
    // A late HTTP player: metadata, seq headers, then the last GOP from its keyframe.
    const late = await HttpPlayer.open(flvUrl(edge, "live/a/b"));
    await late.waitFor(3 + 12);
    ok(isSequenceHeader(late.tags[1]) && isSequenceHeader(late.tags[2]));
    const firstVideo = late.tags.slice(3).find((t) => t.type === 9)!;
    ok(isKeyframe(firstVideo));
    deepEqual(late.tags.slice(3).map(describe), tags.slice(-12).map(describe));
    await ws.close();
    await late.close();
  } finally {
    await close();
  }
});

/** Checks `got` is `sent` minus whole tags, with video resuming only at keyframes. */
function assertCleanSubsequence(got: FlvTag[], sent: FlvTag[]): void {
  const want = sent.map(describe);
  let j = 0;
  let videoBroken = false;
  for (const t of got) {
    const d = describe(t);
    while (j < want.length && want[j] !== d) {
      if (sent[j].type === 9 && !isSequenceHeader(sent[j])) videoBroken = true;
      j++;
    }
    ok(j < want.length, `delivered tag ${d} was never sent (or out of order)`);
    if (t.type === 9 && !isSequenceHeader(t)) {
      if (videoBroken) {
        ok(isKeyframe(t), `video resumed on a non-keyframe: ${d}`);
      }
      videoBroken = false;
    }
    j++;
  }
}

Deno.test("edge: with the retransmission server down it drops what it cannot repair, keeps serving, and recovers when it returns", async () => {
  const { edge, cloud, close } = await setup({ latencyMs: 150 });
  try {
    const stream = cloud.stream("live/outage");
    await stream.report();
    await learned(edge, "live/outage");
    const player = await HttpPlayer.open(flvUrl(edge, "live/outage"));

    // Phase 1: all well.
    const p1 = syntheticStream({ gops: 1, frames: 5 });
    await stream.send(p1, everyFifth);
    await player.waitFor(p1.length, 10_000);
    deepEqual(player.tags.map(describe), p1.map(describe));

    // Phase 2: the cloud's QUIC service is gone.
    await cloud.stopRtx();
    const p2 = syntheticStream({ gops: 3, frames: 5, t0: 1000 }).slice(3);
    await stream.send(p2, everyFifth);
    await until(
      () =>
        (edge.streams()[0]?.tags_dropped ?? 0) > 0 &&
        edge.streams()[0].pending_repair === 0,
      "tags to be dropped",
    );
    const info2 = edge.streams()[0];
    ok(info2.unrecoverable > 0);
    // Released tags reach the player over HTTP a moment later.
    await until(
      () => player.tags.length > p1.length,
      "still serving what arrives whole",
    );
    const phase2 = player.tags.slice(p1.length);
    ok(phase2.length < p2.length, "something was dropped");
    assertCleanSubsequence(phase2, p2);

    // Phase 3: the cloud returns (same port). Once the edge's link says it
    // is connected again (read from the API), a GOP with every 5th packet
    // lost is repaired whole.
    const link = async () =>
      ((await (await fetch(
        `http://${LOOP}:${edge.ports.api}/api/node`,
      )).json()) as {
        rtx: { connected: boolean; stats: { connects: number } }[];
      }).rtx[0];
    const connectsBefore = (await link()).stats.connects;
    await cloud.startRtx();
    const deadline = performance.now() + 10_000;
    while (true) {
      const l = await link();
      if (l.connected && l.stats.connects > connectsBefore) break;
      ok(
        performance.now() < deadline,
        `expected the link to reconnect within 10 s: ${JSON.stringify(l)}`,
      );
      await new Promise((r) => setTimeout(r, 20));
    }
    const before = player.tags.length;
    const droppedBefore = edge.streams()[0].tags_dropped;
    const p3 = syntheticStream({ gops: 1, frames: 5, t0: 10_000 }).slice(3);
    await stream.send(p3, everyFifth);
    await player.waitFor(before + p3.length, 10_000);
    deepEqual(player.tags.slice(before).map(describe), p3.map(describe));
    equal(edge.streams()[0].tags_dropped, droppedBefore);
    await player.close();
  } finally {
    await close();
  }
});

Deno.test("edge: packets of an SSRC are held until its SDES names it", async () => {
  const { edge, cloud, close } = await setup();
  try {
    const stream = cloud.stream("live/early");
    const tags = syntheticStream({ gops: 1, frames: 4 });
    await stream.send(tags, undefined, { report: false });
    // Nothing is served before the stream has a name.
    equal(edge.hub.size, 0);
    const r = await fetch(flvUrl(edge, "live/early"));
    await r.body?.cancel();
    equal(r.status, 404);
    await stream.report();
    await learned(edge, "live/early");
    await until(
      () => edge.streams()[0]?.tags_out === tags.length,
      "held packets to come out",
    );
    const player = await HttpPlayer.open(flvUrl(edge, "live/early"));
    await player.waitFor(tags.length);
    // Start tags: metadata, both seq headers, then the GOP.
    deepEqual(player.tags.map(describe), tags.map(describe));
    await player.close();
  } finally {
    await close();
  }
});

Deno.test("edge: a new SSRC for the same key (republish) replaces the stream", async () => {
  const { edge, cloud, close } = await setup();
  try {
    const first = cloud.stream("live/re", { ssrc: 0xa1 });
    await first.report();
    await learned(edge, "live/re");
    const p1 = await HttpPlayer.open(flvUrl(edge, "live/re"));
    const t1 = syntheticStream({ gops: 1, frames: 3 });
    await first.send(t1);
    await p1.waitFor(t1.length);
    // The publisher reconnects: new SSRC, new sequence space, no BYE seen.
    const second = cloud.stream("live/re", { ssrc: 0xb2, seq: 123 });
    await second.report();
    equal(await p1.done, "end", "players of the old publish are ended");
    const p2 = await HttpPlayer.open(flvUrl(edge, "live/re"));
    const t2 = syntheticStream({ gops: 1, frames: 3, t0: 5 });
    await second.send(t2, everyFifth);
    // A straggler of the old publish is ignored.
    await first.send([t1[3]]);
    await p2.waitFor(t2.length, 10_000);
    deepEqual(p2.tags.map(describe), t2.map(describe));
    const [info] = edge.streams();
    equal(info.ssrc, 0xb2);
    equal(edge.stats.republishes, 1);
    // The old SSRC's BYE does not end the new stream.
    await first.bye();
    await second.report();
    await until(() => edge.stats.rtcpPackets >= 5, "rtcp to be processed");
    equal(edge.streams().length, 1);
    await p2.close();
  } finally {
    await close();
  }
});

Deno.test("edge: a silent stream is ended after the timeout", async () => {
  const { edge, cloud, close } = await setup({ streamTimeoutMs: 300 });
  try {
    const stream = cloud.stream("live/quiet");
    await stream.report();
    await learned(edge, "live/quiet");
    const player = await HttpPlayer.open(flvUrl(edge, "live/quiet"));
    await stream.send(syntheticStream({ gops: 1, frames: 2 }));
    equal(await player.done, "end");
    equal(edge.streams().length, 0);
  } finally {
    await close();
  }
});

Deno.test("edge: simulated input loss is repaired", async () => {
  const { edge, cloud, close } = await setup({ packLoss: 0.2 });
  try {
    const stream = cloud.stream("live/lossy");
    await stream.report();
    await learned(edge, "live/lossy");
    const player = await HttpPlayer.open(flvUrl(edge, "live/lossy"));
    const tags = syntheticStream({ gops: 3, frames: 8 });
    await stream.send(tags);
    await player.waitFor(tags.length, 10_000);
    deepEqual(player.tags.map(describe), tags.map(describe));
    ok(edge.stats.simulatedDrops > 0);
    equal(edge.streams()[0].recovered, edge.stats.simulatedDrops);
    await player.close();
  } finally {
    await close();
  }
});

Deno.test("edge: API serves /api/streams, /metrics, /healthz; garbage datagrams are counted", async () => {
  const { edge, cloud, close } = await setup();
  try {
    const stream = cloud.stream("live/api");
    await stream.report();
    await learned(edge, "live/api");
    await stream.send(syntheticStream({ gops: 1, frames: 2 }), everyFifth);
    await cloud.sendRaw(new Uint8Array([1, 2, 3]));
    await cloud.sendRaw(new Uint8Array([0x80, 0xc8, 0, 40]));
    await until(() => edge.stats.malformed >= 2, "garbage to be counted");
    await until(() => edge.streams()[0].pending_repair === 0, "repairs");
    const base = `http://${LOOP}:${edge.ports.api}`;
    const health = await fetch(`${base}/healthz`);
    deepEqual(await health.json(), { status: "ok", version: VERSION });
    const res = await fetch(`${base}/api/streams`);
    const body = await res.json();
    equal(body.streams.length, 1);
    const s = body.streams[0];
    equal(s.key, "live/api");
    for (
      const k of [
        "packets_received",
        "reordered",
        "lost",
        "nacked",
        "recovered",
        "unrecoverable",
        "tags_dropped",
        "players",
        "one_way_delay_ms",
      ]
    ) ok(k in s, `missing ${k}`);
    ok(s.recovered > 0);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    ok(
      metrics.includes(
        'flvcast_edge_stream_packets_recovered_total{key="live/api"}',
      ),
      metrics,
    );
    ok(/flvcast_edge_streams 1\n/.test(metrics));
    ok(
      /flvcast_edge_rtx_connected\{cloud="127\.0\.0\.1:\d+"\} 1/.test(metrics),
      metrics,
    );
    const nf = await fetch(`${base}/nope`);
    await nf.body?.cancel();
    equal(nf.status, 404);
  } finally {
    await close();
  }
});

Deno.test("edge: recording writes the received stream to FLV", async () => {
  const dir = await Deno.makeTempDir();
  const { edge, cloud, close } = await setup({
    enableRecord: true,
    recordDir: dir,
  });
  try {
    const stream = cloud.stream("live/rec");
    await stream.report();
    await learned(edge, "live/rec");
    const tags = syntheticStream({ gops: 1, frames: 3 });
    await stream.send(tags, everyFifth);
    await until(() => edge.streams()[0]?.tags_out === tags.length, "tags out");
    await stream.bye();
    await until(() => edge.streams().length === 0, "the stream to end");
  } finally {
    await close();
  }
  const files = [...Deno.readDirSync(dir)].map((e) => e.name);
  equal(files.length, 1);
  ok(files[0].startsWith("live_rec-"), files[0]);
  const { demuxFlv } = await import("../lib/flv/mod.ts");
  const got = demuxFlv(await Deno.readFile(`${dir}/${files[0]}`));
  deepEqual(
    got.tags.map(describe),
    syntheticStream({ gops: 1, frames: 3 }).map(describe),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("edge: the QUIC link opens as soon as a stream is learned, before any loss", async () => {
  const { edge, cloud, close } = await setup();
  try {
    const rtxUp = () =>
      edge.metrics().find((m) => m.name === "flvcast_edge_rtx_connected")
        ?.samples[0]?.value === 1;
    equal(rtxUp(), false);
    const stream = cloud.stream("live/warm");
    await stream.report();
    await until(rtxUp, "the retransmission link to be up");
    equal(cloud.rtx!.stats.nacksReceived, 0);
  } finally {
    await close();
  }
});

Deno.test("edge: with cloudQuic given, the QUIC link opens at start", async () => {
  const cloud = await FakeCloud.start(9);
  const edge = await startEdge(1, {
    cloudQuic: { host: LOOP, port: cloud.rtxPort },
  });
  try {
    await until(
      () =>
        edge.metrics().find((m) => m.name === "flvcast_edge_rtx_connected")
          ?.samples[0]?.value === 1,
      "the retransmission link to be up",
    );
  } finally {
    await edge.stop();
    await cloud.close();
  }
});

Deno.test("edge: the FLV port serves the web page and its stream list", async () => {
  const { edge, cloud, close } = await setup();
  try {
    const stream = cloud.stream("live/page");
    await stream.report();
    await learned(edge, "live/page");
    const base = `http://${LOOP}:${edge.ports.flv}`;
    const page = await fetch(`${base}/`);
    ok((page.headers.get("content-type") ?? "").startsWith("text/html"));
    await page.text();
    const app = await fetch(`${base}/web/app.js`);
    await app.body?.cancel();
    equal(app.status, 200);
    const list = await (await fetch(`${base}/api/streams`)).json();
    deepEqual(list.streams.map((s: { key: string }) => s.key), ["live/page"]);
  } finally {
    await close();
  }
});

Deno.test("edge: past maxStreams new streams are refused, the others go on", async () => {
  const { edge, cloud, close } = await setup({ maxStreams: 1 });
  try {
    const a = cloud.stream("live/one");
    const b = cloud.stream("live/two");
    await a.report();
    await until(
      () => edge.hub.get("live/one") !== undefined,
      "the first stream",
    );
    await b.report();
    await until(
      () => edge.stats.streamsRefused > 0,
      "the second to be refused",
    );
    equal(edge.hub.get("live/two"), undefined);
    const tags = syntheticStream({ gops: 1, frames: 2 });
    await a.send(tags);
    await until(
      () => edge.streams()[0].tags_out === tags.length,
      "the first stream's tags",
    );
  } finally {
    await close();
  }
});

Deno.test("edge: bad options are refused with a clear error", () => {
  let err: unknown;
  try {
    new EdgeNode({
      udp: { hostname: LOOP, port: 0 },
      flv: { hostname: LOOP, port: 0 },
      api: { hostname: LOOP, port: 0 },
      quicPort: 1,
    });
  } catch (e) {
    err = e;
  }
  ok(err instanceof TypeError && /fingerprint/.test(err.message));
});

Deno.test("edge: past the repair budget, losses are given up at once and the stream goes on", async () => {
  const { edge, cloud, close } = await setup({
    packLoss: 0.3,
    maxRepairPerSecond: 2,
  });
  try {
    const stream = cloud.stream("live/storm");
    await stream.report();
    await learned(edge, "live/storm");
    const player = await HttpPlayer.open(flvUrl(edge, "live/storm"));
    const tags = syntheticStream({ gops: 4, frames: 10 });
    await stream.send(tags);
    await until(
      () =>
        edge.streams()[0]?.pending_repair === 0 && edge.stats.repairShed > 0,
      "losses past the budget to be shed",
    );
    const s = edge.streams()[0];
    ok(s.recovered <= 4, `at most the budget was repaired: ${s.recovered}`);
    ok(s.unrecoverable > 0);
    const metrics =
      await (await fetch(`http://${LOOP}:${edge.ports.api}/metrics`)).text();
    ok(
      /flvcast_edge_repair_shed_total [1-9]/.test(metrics),
      "shed losses are in /metrics",
    );
    await player.close();
  } finally {
    await close();
  }
});
