// Malformed input closes only the offending connection, with one logged
// reason; a healthy publisher and player go on, and a real ffmpeg publish
// succeeds afterwards in the same server process.
import { deepEqual, equal, match, ok } from "node:assert/strict";
import { ChunkEncoder, encodeAmf0, HANDSHAKE_SIZE } from "../lib/rtmp/mod.ts";
import { lavfiPublishArgs, spawnProcess } from "../testkit/media.ts";
import { seededBytes } from "../testkit/random.ts";
import { RtmpClient } from "../testkit/rtmp_client.ts";
import { until } from "../testkit/poll.ts";
import { startTestServer } from "./rtmp_helpers.ts";

const IDLE_MS = 300;

function cat(...parts: (number[] | Uint8Array)[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A fmt-0 chunk header on chunk stream 3 (no payload). */
function header(type: number, length: number): number[] {
  return [
    3,
    0,
    0,
    0,
    length >> 16,
    (length >> 8) & 0xff,
    length & 0xff,
    type,
    0,
    0,
    0,
    0,
  ];
}

const connectCmd = () =>
  new ChunkEncoder().encode({
    csid: 3,
    type: 20,
    streamId: 0,
    timestamp: 0,
    data: encodeAmf0("connect", 1, { app: "live" }),
  });

interface BadCase {
  name: string;
  /** Bytes sent after the (optional) handshake; then the client waits. */
  bytes: () => Uint8Array;
  handshake: boolean;
  reason: RegExp;
}

const cases: BadCase[] = [
  {
    name: "bad handshake version",
    handshake: false,
    bytes: () => cat([6], seededBytes(1)(HANDSHAKE_SIZE)),
    reason: /handshake: expected RTMP version 3 in C0, received 6/,
  },
  {
    name: "truncated handshake (stall)",
    handshake: false,
    bytes: () => cat([3], seededBytes(2)(700)),
    reason: /idle timeout: .* during the handshake/,
  },
  {
    name: "message length 16 MiB - 1",
    handshake: true,
    bytes: () => new Uint8Array(header(9, 0xffffff)),
    reason: /message length <= 8388608, received 16777215/,
  },
  {
    name: "chunk size 0",
    handshake: true,
    bytes: () => cat(header(1, 4).map((b, i) => i === 0 ? 2 : b), [0, 0, 0, 0]),
    reason: /chunk size: expected 1\.\.16777216, received 0/,
  },
  {
    name: "chunk size 2^31",
    handshake: true,
    bytes: () =>
      cat(header(1, 4).map((b, i) => i === 0 ? 2 : b), [0x80, 0, 0, 0]),
    reason: /chunk size: expected 1\.\.16777216, received 2147483648/,
  },
  {
    name: "unknown message type",
    handshake: true,
    bytes: () => cat(header(0x33, 4), [1, 2, 3, 4]),
    reason: /expected a known message type, received 51/,
  },
  {
    name: "AMF garbage in a command",
    handshake: true,
    bytes: () => cat(header(20, 6), [0x02, 0xff, 0xff, 0x41, 0x42, 0x43]),
    reason: /AMF: expected 65535 bytes for a string/,
  },
  {
    name: "AMF garbage after connect",
    handshake: true,
    bytes: () => cat(connectCmd(), header(20, 3), [0x04, 0x04, 0x04]),
    reason: /AMF: expected an AMF0 type marker at offset 0, received 0x04/,
  },
  {
    name: "command before connect",
    handshake: true,
    bytes: () =>
      new ChunkEncoder().encode({
        csid: 3,
        type: 20,
        streamId: 0,
        timestamp: 0,
        data: encodeAmf0("publish", 0, null, "x"),
      }),
    reason: /expected connect first, received publish/,
  },
  {
    name: "client stalls mid-message",
    handshake: true,
    bytes: () => cat(connectCmd(), header(9, 1000), seededBytes(3)(50)),
    reason: /idle timeout: .* mid-message/,
  },
];

/**
 * Sends a small video message on `csid` (message stream 1) now and every
 * 40 ms after; returns the interval (clear it to stop).
 */
async function keepPublishing(
  c: RtmpClient,
  csid: number,
): Promise<ReturnType<typeof setInterval>> {
  let sent = 0;
  const sendOne = () =>
    c.send({
      csid,
      type: 9,
      streamId: 1,
      timestamp: sent * 40,
      data: new Uint8Array([0x27, 1, 0, 0, 0, sent++ & 0xff]),
    });
  await sendOne();
  return setInterval(() => void sendOne().catch(() => {}), 40);
}

Deno.test("malformed input closes only that connection, each with one logged reason", async () => {
  const { server, relay, log } = await startTestServer({
    idleTimeoutMs: IDLE_MS,
  });
  // Each client handshakes right after it connects: the server's idle
  // timeout is short here, and a connection left waiting would be closed.
  const healthy = await RtmpClient.open(server.port);
  const opened: RtmpClient[] = [healthy];
  let keepalive: ReturnType<typeof setInterval> | undefined;
  let ff: ReturnType<typeof spawnProcess> | undefined;
  try {
    // A healthy publisher that keeps sending, and a player of it.
    await healthy.handshake(1);
    equal(await healthy.publish("live", "healthy"), "NetStream.Publish.Start");
    keepalive = await keepPublishing(healthy, 6);
    const player = await RtmpClient.open(server.port);
    opened.push(player);
    await player.handshake();
    const psid = await player.connectAndCreate("live");
    await player.command(psid, "play", 0, null, "healthy");
    equal(
      ((await player.until("onStatus"))[3] as Record<string, unknown>).code,
      "NetStream.Play.Reset",
    );
    const closedLines = () =>
      log.lines.filter((l) => l.includes("rtmp connection closed"));
    for (const c of cases) {
      const before = closedLines().length;
      const got = relay.all[0].messages.length;
      const bad = await RtmpClient.open(server.port);
      opened.push(bad);
      if (c.handshake) await bad.handshake();
      await bad.write(c.bytes()).catch(() => {});
      equal(await bad.closedByServer(), true, c.name);
      bad.close();
      await until(() => closedLines().length > before, c.name, 2000);
      const lines = closedLines().slice(before);
      equal(
        lines.length,
        1,
        `${c.name}: one close line, got:\n${lines.join("\n")}`,
      );
      match(lines[0], c.reason, c.name);
      // Healthy publisher is still delivering.
      await until(
        () => relay.all[0].messages.length > got + 1,
        `healthy stream after ${c.name}`,
        2000,
      );
      equal(server.connections, 2, `after ${c.name}`);
    }
    // Random bytes: whatever the reason, only that connection closes.
    for (let seed = 10; seed < 16; seed++) {
      const bad = await RtmpClient.open(server.port);
      opened.push(bad);
      const junk = seededBytes(seed)(5000);
      if (seed % 2 === 0) junk[0] = 3; // get past C0 half of the time
      await bad.write(junk).catch(() => {});
      equal(await bad.closedByServer(), true, `random ${seed}`);
      bad.close();
    }
    await until(() => server.connections === 2, "random closed", 2000);
    ok(relay.live.has("live/healthy"));
    equal(relay.all.length, 1);
    equal(relay.all[0].closeReasons.length, 0);

    // A real ffmpeg publish succeeds right after, in the same process.
    ff = spawnProcess(
      "ffmpeg",
      lavfiPublishArgs({
        url: `rtmp://127.0.0.1:${server.port}/live/after`,
        seconds: 5,
        realtime: false,
      }),
    );
    const r = await ff.done;
    equal(r.code, 0, r.stderr);
    await until(
      () => relay.all[1]?.closeReasons.length === 1,
      "ffmpeg close",
      3000,
    );
    const frames = relay.all[1].messages.filter((m) =>
      m.type === 9 && m.data[1] === 1
    );
    ok(frames.length >= 120, `ffmpeg frames ${frames.length}`);

    // The healthy player received the healthy stream's messages in order.
    clearInterval(keepalive);
    keepalive = undefined;
    const seen: number[] = [];
    while (seen.length < 20) {
      const m = await player.next();
      if (!m) break;
      if (m.type === 9) seen.push(m.data[5]);
    }
    equal(seen.length, 20);
    deepEqual(seen, seen.map((_, i) => (seen[0] + i) & 0xff));
  } finally {
    if (keepalive !== undefined) clearInterval(keepalive);
    ff?.kill();
    await ff?.done;
    for (const c of opened) c.close();
    await server.stop();
  }
});

Deno.test("idle: a stall of this process does not cut a healthy publisher (its bytes waited unread); a publisher trickling bytes of a big message is closed: a byte is not progress", async () => {
  const { server, relay, log } = await startTestServer({
    idleTimeoutMs: IDLE_MS,
  });
  const c = await RtmpClient.open(server.port);
  let timer: ReturnType<typeof setInterval> | undefined;
  try {
    await c.handshake();
    equal(await c.publish("live", "trickle"), "NetStream.Publish.Start");
    // Healthy first: a message every 40 ms; then the whole process stalls
    // (a long GC, a starved CPU) past the idle timeout, reading nothing.
    timer = await keepPublishing(c, 4);
    await until(() => relay.all[0].messages.length > 3, "flowing", 2000);
    const stallEnd = performance.now() + 2 * IDLE_MS;
    while (performance.now() < stallEnd) { /* busy */ }
    const got = relay.all[0].messages.length;
    await until(
      () => relay.all[0].messages.length > got + 5,
      "still flowing after the stall",
      2000,
    );
    equal(relay.all[0].closeReasons.length, 0, log.lines.join("\n"));
    clearInterval(timer);
    // 1 MB announced on chunk stream 6, then one byte every IDLE_MS / 6.
    const h = header(9, 1_000_000);
    h[0] = 6;
    h[8] = 1; // message stream 1
    await c.write(new Uint8Array(h));
    const started = performance.now();
    timer = setInterval(
      () => void c.write(new Uint8Array([0x17])).catch(() => {}),
      IDLE_MS / 6,
    );
    equal(await c.closedByServer(), true);
    const took = performance.now() - started;
    ok(took < IDLE_MS * 4, `closed after ${Math.round(took)} ms`);
    await until(
      () => log.lines.some((l) => /no progress for \d+ ms mid-message/.test(l)),
      "close reason",
      2000,
    );
    equal(relay.all[0].closeReasons.length, 1);
  } finally {
    clearInterval(timer);
    c.close();
    await server.stop();
  }
});

Deno.test("limits.max_connections: a connection past the cap is closed at once and counted", async () => {
  const { server, log } = await startTestServer({ maxConnections: 3 });
  const opened: RtmpClient[] = [];
  try {
    for (let i = 0; i < 3; i++) opened.push(await RtmpClient.open(server.port));
    await until(() => server.connections === 3, "3 accepted", 2000);
    const extra = await RtmpClient.open(server.port);
    opened.push(extra);
    equal(await extra.closedByServer(), true);
    equal(server.refusals.count("max_connections"), 1);
    const refusedLines = () =>
      log.lines.filter((l) => l.includes("limits.max_connections reached"));
    equal(refusedLines().length, 1);
    // A second refusal in the same interval is counted, not logged.
    const extra2 = await RtmpClient.open(server.port);
    opened.push(extra2);
    equal(await extra2.closedByServer(), true);
    equal(server.refusals.count("max_connections"), 2);
    equal(refusedLines().length, 1);
    // A slot freed is a slot again: a full publish works.
    opened[0].close();
    await until(() => server.connections === 2, "slot freed", 2000);
    const c = await RtmpClient.open(server.port);
    opened.push(c);
    await c.handshake();
    equal(await c.publish("live", "after"), "NetStream.Publish.Start");
  } finally {
    for (const c of opened) c.close();
    await server.stop();
  }
});
