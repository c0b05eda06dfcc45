// Session behaviour over real sockets with the raw test client: replies as
// Adobe servers send them, publish delivery, play ordering, bounded player
// queue, close semantics.
import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import {
  type AmfValue,
  decodeAmf0,
  encodeAmf0,
  type PublishSink,
  type RtmpHandler,
  type RtmpMessage,
  RtmpServer,
  type RtmpServerOptions,
  setChunkSizeMessage,
  userControlMessage,
  windowAckSizeMessage,
} from "../lib/rtmp/mod.ts";
import { RtmpClient } from "../testkit/rtmp_client.ts";
import { until } from "../testkit/poll.ts";
import { captureLogger, startTestServer, TestRelay } from "./rtmp_helpers.ts";

async function withServer(
  handler: RtmpHandler,
  fn: (
    server: RtmpServer,
    log: ReturnType<typeof captureLogger>,
  ) => Promise<void>,
  extra: Partial<RtmpServerOptions> = {},
): Promise<void> {
  const { server, log } = await startTestServer({ handler, ...extra });
  try {
    await fn(server, log);
  } finally {
    await server.stop();
  }
}

async function client(port: number, opened: RtmpClient[]): Promise<RtmpClient> {
  const c = await RtmpClient.open(port);
  opened.push(c);
  await c.handshake();
  return c;
}

const obj = (v: AmfValue) => v as Record<string, AmfValue>;

Deno.test("connect: Window Ack Size, Set Peer Bandwidth, Set Chunk Size, StreamBegin, then _result", async () => {
  const opened: RtmpClient[] = [];
  await withServer(new TestRelay(), async (server) => {
    const c = await client(server.port, opened);
    try {
      await c.command(0, "connect", 1, { app: "live", objectEncoding: 0 });
      const seen: string[] = [];
      while (true) {
        const m = (await c.next())!;
        if (m.type === 5) {
          seen.push(`was:${new DataView(m.data.buffer).getUint32(0)}`);
        } else if (m.type === 6) {
          seen.push(
            `spb:${new DataView(m.data.buffer).getUint32(0)}/${m.data[4]}`,
          );
        } else if (m.type === 1) {
          seen.push(`scs:${new DataView(m.data.buffer).getUint32(0)}`);
        } else if (m.type === 4) seen.push(`uc:${m.data[1]}`);
        else if (m.type === 20) {
          const v = decodeAmf0(m.data);
          equal(v[0], "_result");
          equal(v[1], 1);
          deepEqual(v[2], { fmsVer: "FMS/3,0,1,123", capabilities: 31 });
          deepEqual(v[3], {
            level: "status",
            code: "NetConnection.Connect.Success",
            description: "Connection succeeded.",
            objectEncoding: 0,
          });
          break;
        }
      }
      deepEqual(seen, ["was:2500000", "spb:2500000/2", "scs:4096", "uc:0"]);
      equal(c.dec.chunkSize, 4096);
      // releaseStream / FCPublish / createStream / getStreamLength answers.
      await c.command(0, "releaseStream", 2, null, "x");
      deepEqual(await c.until("_result"), ["_result", 2, null, undefined]);
      await c.command(0, "createStream", 3, null);
      deepEqual(await c.until("_result"), ["_result", 3, null, 1]);
      await c.command(0, "createStream", 4, null);
      deepEqual(await c.until("_result"), ["_result", 4, null, 2]);
      await c.command(0, "getStreamLength", 5, null, "x");
      deepEqual(await c.until("_result"), ["_result", 5, null, 0]);
      await c.command(0, "noSuchMethod", 6, null);
      const err = await c.until("_error");
      equal(obj(err[3]).code, "NetConnection.Call.Failed");
    } finally {
      c.close();
    }
  });
});

Deno.test("User Control PingRequest gets PingResponse; acknowledgements follow the client's window", async () => {
  const opened: RtmpClient[] = [];
  await withServer(new TestRelay(), async (server) => {
    const c = await client(server.port, opened);
    try {
      await c.send(userControlMessage(6, 123456));
      let m = (await c.next())!;
      equal(m.type, 4);
      deepEqual([...m.data], [0, 7, 0, 1, 0xe2, 0x40]);
      await c.send(windowAckSizeMessage(1000));
      // 3 × 500-byte audio messages (ignored before publish) cross the window.
      for (let i = 0; i < 3; i++) {
        await c.send({
          csid: 4,
          type: 8,
          streamId: 1,
          timestamp: i,
          data: new Uint8Array(500),
        });
      }
      m = (await c.next())!;
      equal(m.type, 3);
      ok(new DataView(m.data.buffer).getUint32(0) >= 1000);
    } finally {
      c.close();
    }
  });
});

Deno.test("publish: key strips queries, @setDataFrame stripped byte-exact, AMF3 data converted, aggregate split, big and extended-timestamp messages", async () => {
  const relay = new TestRelay();
  const opened: RtmpClient[] = [];
  await withServer(relay, async (server) => {
    const c = await client(server.port, opened);
    try {
      // AMF3-wrapped connect (type 17, leading format byte 0).
      await c.send({
        csid: 3,
        type: 17,
        streamId: 0,
        timestamp: 0,
        data: new Uint8Array([
          0,
          ...encodeAmf0("connect", 1, {
            app: "live?vhost=a",
            objectEncoding: 3,
          }),
        ]),
      });
      const res = await c.until("_result");
      equal(obj(res[3]).objectEncoding, 3);
      await c.command(0, "createStream", 2, null);
      const sid = (await c.until("_result"))[3] as number;
      await c.command(sid, "publish", 0, null, "movie?token=abc", "live");
      const st = obj((await c.until("onStatus"))[3]);
      equal(st.code, "NetStream.Publish.Start");
      equal(st.level, "status");
      const s = relay.all[0];
      equal(s.info.key, "live/movie");
      equal(s.info.app, "live");
      equal(s.info.name, "movie");
      const meta = new Map<string, AmfValue>([["width", 320], ["height", 240]]);
      await c.send({
        csid: 5,
        type: 18,
        streamId: sid,
        timestamp: 0,
        data: encodeAmf0("@setDataFrame", "onMetaData", meta),
      });
      await c.send({
        csid: 5,
        type: 18,
        streamId: sid,
        timestamp: 0,
        data: encodeAmf0("onCuePoint", { t: 1 }),
      });
      // AMF3 data: format byte, then AMF0 with an AVM+ switched AMF3 string.
      await c.send({
        csid: 5,
        type: 15,
        streamId: sid,
        timestamp: 7,
        data: new Uint8Array([
          0,
          ...encodeAmf0("@setDataFrame", "onMetaData"),
          0x11,
          0x06,
          0x05,
          0x61,
          0x62,
        ]),
      });
      // Aggregate: video @100 and audio @120 inside a message at 1000.
      const sub = (type: number, ts: number, body: number[]) => [
        type,
        0,
        0,
        body.length,
        0,
        0,
        ts,
        0,
        0,
        0,
        0,
        ...body,
        0,
        0,
        0,
        11 + body.length,
      ];
      await c.send({
        csid: 6,
        type: 22,
        streamId: sid,
        timestamp: 1000,
        data: new Uint8Array([
          ...sub(9, 100, [0x17, 1, 9]),
          ...sub(8, 120, [0xaf, 1, 8]),
        ]),
      });
      // Bigger chunk size from the client, a 100 KB frame, extended timestamp.
      await c.send(setChunkSizeMessage(60000));
      c.enc.setChunkSize(60000);
      const big = new Uint8Array(100_000).map((_, i) => i & 0xff);
      await c.send({
        csid: 6,
        type: 9,
        streamId: sid,
        timestamp: 0x1234567,
        data: big,
      });
      await until(() => s.messages.length === 6, "6 messages", 2000);
      deepEqual(s.messages[0], {
        type: 18,
        timestamp: 0,
        data: encodeAmf0("onMetaData", meta),
      });
      deepEqual(s.messages[1], {
        type: 18,
        timestamp: 0,
        data: encodeAmf0("onCuePoint", { t: 1 }),
      });
      deepEqual(s.messages[2], {
        type: 18,
        timestamp: 7,
        data: encodeAmf0("onMetaData", "ab"),
      });
      deepEqual(s.messages[3], {
        type: 9,
        timestamp: 1000,
        data: new Uint8Array([0x17, 1, 9]),
      });
      deepEqual(s.messages[4], {
        type: 8,
        timestamp: 1020,
        data: new Uint8Array([0xaf, 1, 8]),
      });
      deepEqual(s.messages[5], { type: 9, timestamp: 0x1234567, data: big });
      // Clean unpublish: FCUnpublish then deleteStream → one onClose.
      await c.command(0, "FCUnpublish", 5, null, "movie");
      await c.command(0, "deleteStream", 6, null, sid);
      await until(() => s.closeReasons.length === 1, "close", 2000);
      equal(s.closeReasons[0], "unpublished (FCUnpublish)");
      c.close();
      await until(() => server.connections === 0, "gone", 2000);
      deepEqual(s.closeReasons, ["unpublished (FCUnpublish)"]);
    } finally {
      c.close();
    }
  });
});

Deno.test("publisher socket loss and server stop each call onClose exactly once", async () => {
  const { server, relay } = await startTestServer();
  const opened: RtmpClient[] = [];
  try {
    const a = await client(server.port, opened);
    equal(await a.publish("live", "a"), "NetStream.Publish.Start");
    const b = await client(server.port, opened);
    equal(await b.publish("live", "b"), "NetStream.Publish.Start");
    // a half-sent message, then the socket goes away
    await a.write(
      new Uint8Array([6, 0, 0, 0, 0, 1, 0, 9, 1, 0, 0, 0, 1, 2, 3]),
    );
    a.close();
    await until(() => relay.all[0].closeReasons.length === 1, "a closed", 2000);
    equal(
      relay.all[0].closeReasons[0],
      "client closed the connection mid-message",
    );
    equal(relay.live.has("live/a"), false);
    await server.stop();
    deepEqual(relay.all[1].closeReasons, ["server stopping"]);
    equal(await b.closedByServer(), true);
    equal(server.connections, 0);
    deepEqual(relay.all[0].closeReasons.length, 1);
  } finally {
    for (const c of opened) c.close();
    await server.stop();
  }
});

interface PlayProbe {
  send?: (m: RtmpMessage) => void;
  end?: () => void;
  unsubscribed: number;
}

function playHandler(
  probe: PlayProbe,
  startTags: RtmpMessage[],
  early?: RtmpMessage,
): RtmpHandler {
  return {
    publish: () => "no publishing here",
    play: (info, send, end) => {
      if (info.key !== "live/p") return null;
      probe.send = send;
      probe.end = end;
      if (early) send(early); // before play() returns
      return { startTags, unsubscribe: () => probe.unsubscribed++ };
    },
  };
}

const tag = (
  type: 8 | 9 | 18,
  timestamp: number,
  ...b: number[]
): RtmpMessage => ({
  type,
  timestamp,
  data: new Uint8Array(b),
});

Deno.test("play: StreamBegin, Play.Reset, Play.Start, |RtmpSampleAccess, start tags, live, then end → EOF, UnpublishNotify, Stop, close", async () => {
  const probe: PlayProbe = { unsubscribed: 0 };
  const start = [
    tag(18, 0, ...encodeAmf0("onMetaData", { w: 1 })),
    tag(9, 0, 0x17, 0, 1),
    tag(9, 40, 0x17, 1, 2),
  ];
  const opened: RtmpClient[] = [];
  await withServer(
    playHandler(probe, start, tag(8, 50, 0xaf, 1, 3)),
    async (server) => {
      const c = await client(server.port, opened);
      try {
        const sid = await c.connectAndCreate("live");
        await c.command(sid, "play", 0, null, "p?x=1", -2, -1, true);
        const got: string[] = [];
        const take = async (n: number) => {
          for (let i = 0; i < n; i++) {
            const m = (await c.next())!;
            if (m.type === 20 || m.type === 18) {
              const v = decodeAmf0(m.data);
              got.push(
                v[0] === "onStatus"
                  ? `status:${obj(v[3]).code}@${m.streamId}`
                  : `data:${v[0]}@${m.timestamp}`,
              );
            } else if (m.type === 4) got.push(`uc:${m.data[1]}:${m.data[5]}`);
            else got.push(`${m.type}@${m.timestamp}:${[...m.data].join(",")}`);
          }
        };
        await take(8);
        probe.send!(tag(9, 80, 0x27, 1, 4));
        await take(1);
        deepEqual(got, [
          `uc:0:${sid}`,
          `status:NetStream.Play.Reset@${sid}`,
          `status:NetStream.Play.Start@${sid}`,
          "data:|RtmpSampleAccess@0",
          "data:onMetaData@0",
          "9@0:23,0,1",
          "9@40:23,1,2",
          "8@50:175,1,3",
          "9@80:39,1,4",
        ]);
        probe.end!();
        got.length = 0;
        await take(3);
        deepEqual(got, [
          `uc:1:${sid}`,
          `status:NetStream.Play.UnpublishNotify@${sid}`,
          `status:NetStream.Play.Stop@${sid}`,
        ]);
        equal(await c.next(), null);
        await until(() => probe.unsubscribed === 1, "unsubscribe", 2000);
        probe.send!(tag(9, 120, 0x27, 1, 5)); // ignored after the end
        await until(() => server.connections === 0, "closed", 2000);
        equal(probe.unsubscribed, 1);
      } finally {
        c.close();
      }
    },
  );
});

Deno.test("play: a player that cannot keep up is disconnected (bounded queue), once, logged", async () => {
  const probe: PlayProbe = { unsubscribed: 0 };
  const opened: RtmpClient[] = [];
  await withServer(playHandler(probe, []), async (server, log) => {
    const slow = await client(server.port, opened);
    const other = await client(server.port, opened);
    try {
      const sid = await slow.connectAndCreate("live");
      await slow.command(sid, "play", 0, null, "p");
      await slow.until("onStatus");
      // The handler pushes 50 × 100 KB at once; the player reads nothing.
      const frame = new Uint8Array(100_000);
      for (let i = 0; i < 50; i++) {
        probe.send!({ type: 9, timestamp: i * 40, data: frame });
      }
      await until(() => probe.unsubscribed === 1, "unsubscribed", 2000);
      ok(
        log.lines.some((l) =>
          /player too slow: \d+ bytes queued \(limit 1048576\)/.test(l)
        ),
      );
      equal(await slow.closedByServer(), true);
      // Other connections are unaffected.
      await other.command(0, "connect", 1, { app: "live" });
      equal(
        obj((await other.until("_result"))[3]).code,
        "NetConnection.Connect.Success",
      );
      equal(probe.unsubscribed, 1);
    } finally {
      slow.close();
      other.close();
    }
  }, { maxQueueBytes: 1024 * 1024 });
});

Deno.test("idle timeout spares a player waiting for data but closes an idle client", async () => {
  const probe: PlayProbe = { unsubscribed: 0 };
  const opened: RtmpClient[] = [];
  await withServer(playHandler(probe, []), async (server, log) => {
    const player = await client(server.port, opened);
    const idle = await client(server.port, opened);
    try {
      const sid = await player.connectAndCreate("live");
      await player.command(sid, "play", 0, null, "p");
      await player.until("onStatus");
      await idle.command(0, "connect", 1, { app: "live" });
      await idle.until("_result");
      equal(await idle.closedByServer(), true);
      ok(
        log.lines.some((l) =>
          /idle timeout: neither publishing nor playing \d+ ms after connecting"/
            .test(l)
        ),
      );
      // The player has been silent as long as the idle client; still served.
      await new Promise((r) => setTimeout(r, 300));
      probe.send!(tag(9, 0, 0x17, 1, 1));
      let m = (await player.next())!;
      while (m.type !== 9) m = (await player.next())!;
      deepEqual([...m.data], [0x17, 1, 1]);
      equal(server.connections, 1);
      equal(probe.unsubscribed, 0);
    } finally {
      player.close();
      idle.close();
    }
  }, { idleTimeoutMs: 200 });
});

Deno.test("a refused publish gets BadName with the handler's reason and is closed", async () => {
  const opened: RtmpClient[] = [];
  const sinks: PublishSink[] = [];
  const handler: RtmpHandler = {
    publish: (info) =>
      info.name === "ok"
        ? (sinks.push({ onMessage() {}, onClose() {} }), sinks[0])
        : "not allowed",
    play: () => null,
  };
  await withServer(handler, async (server, log) => {
    const c = await client(server.port, opened);
    try {
      const sid = await c.connectAndCreate("live");
      await c.command(sid, "publish", 0, null, "bad", "live");
      const st = obj((await c.until("onStatus"))[3]);
      equal(st.level, "error");
      equal(st.code, "NetStream.Publish.BadName");
      equal(st.description, "not allowed");
      equal(await c.closedByServer(), true);
      await until(
        () =>
          log.lines.some((l) =>
            /connection closed.*publish refused: not allowed/.test(l)
          ),
        "log",
        2000,
      );
      ok(
        log.lines.some((l) =>
          /\] publish refused .*live\/bad.*not allowed/.test(l)
        ),
      );
    } finally {
      c.close();
    }
  });
});

Deno.test("server: port 0, port in use rejects, bad options throw, stop is idempotent", async () => {
  const a = new RtmpServer({
    hostname: "127.0.0.1",
    port: 0,
    handler: new TestRelay(),
  });
  await a.start();
  try {
    ok(a.port > 0);
    equal(a.connections, 0);
    const b = new RtmpServer({
      hostname: "127.0.0.1",
      port: a.port,
      handler: new TestRelay(),
    });
    await rejects(() => b.start(), Deno.errors.AddrInUse);
    await b.stop();
    await rejects(() => a.start(), /already started/);
  } finally {
    await a.stop();
    await a.stop();
  }
  throws(
    () => new RtmpServer({ port: 0, handler: new TestRelay(), chunkSize: 0 }),
    /chunkSize: expected 1\.\.16777216, got 0/,
  );
  throws(
    () =>
      new RtmpServer({
        port: 0,
        handler: new TestRelay(),
        maxMessageSize: 0xffffff,
      }),
    /maxMessageSize: expected 1\.\.16777214, got 16777215/,
  );
});

Deno.test("a client that floods pings without reading the replies is dropped at the queue cap", async () => {
  const opened: RtmpClient[] = [];
  await withServer(new TestRelay(), async (server, log) => {
    const c = await client(server.port, opened);
    try {
      const enc = c.enc;
      const parts: Uint8Array[] = [];
      for (let i = 0; i < 150_000; i++) {
        parts.push(enc.encode(userControlMessage(6, i)));
      }
      const batch = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
      let o = 0;
      for (const p of parts) {
        batch.set(p, o);
        o += p.length;
      }
      const dropped = () =>
        log.lines.some((l) =>
          /peer does not read its replies: \d+ bytes queued \(limit 65536\)/
            .test(l)
        );
      for (
        let sent = 0;
        sent < 64 * 1024 * 1024 && !dropped();
        sent += batch.length
      ) {
        try {
          await c.write(batch);
        } catch {
          break; // reset by the server
        }
      }
      await until(dropped, "flooding client dropped", 5000);
      await until(() => server.connections === 0, "closed", 2000);
    } finally {
      c.close();
    }
  }, { maxQueueBytes: 64 * 1024 });
});
