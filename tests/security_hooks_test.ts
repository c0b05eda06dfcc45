// SRS-style hooks against a small HTTP server in the test: allow, deny
// ({"code":1}), 500 and silence past timeout_ms refuse; on_unpublish and
// on_stop arrive with duration and bytes; a slow hook on one publish does
// not delay another stream's packets.
import { deepEqual, equal, notEqual, ok } from "node:assert/strict";
import { type HooksConfig } from "../lib/config/mod.ts";
import { ffmpeg, publishLavfi } from "../testkit/media.ts";
import { AccessControl, type AccessRequest } from "../lib/auth/mod.ts";
import { Refusals } from "../lib/limits/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { VERSION } from "../lib/version/mod.ts";
import {
  publishLive,
  type TempCloudAndEdge,
  withCloudAndEdge,
} from "./support/nodes.ts";
import { until } from "../testkit/poll.ts";

interface HookCall {
  path: string;
  body: Record<string, unknown>;
  at: number;
}

/** A hook server: the stream name picks the answer. */
function hookServer() {
  const calls: HookCall[] = [];
  const held: (() => void)[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const body = await req.json() as Record<string, unknown>;
      const path = new URL(req.url).pathname;
      calls.push({ path, body, at: performance.now() });
      const stream = String(body.stream);
      if (path === "/end") {
        return new Response("0", {
          status: stream.startsWith("err") ? 500 : 200,
        });
      }
      if (stream.startsWith("deny")) return Response.json({ code: 1 });
      if (stream.startsWith("err")) return new Response("0", { status: 500 });
      if (stream.startsWith("silent")) {
        await new Promise<void>((r) => held.push(r));
        return new Response("0");
      }
      if (stream.startsWith("slow")) {
        await new Promise((r) => setTimeout(r, 2500));
      }
      return stream.startsWith("json")
        ? Response.json({ code: 0 })
        : new Response("0");
    },
  );
  return {
    calls,
    url: (p: string) => `http://127.0.0.1:${server.addr.port}${p}`,
    async close() {
      for (const r of held) r();
      await server.shutdown();
    },
  };
}

type HookServer = ReturnType<typeof hookServer>;

/** A hooks config with only the hooks in `set` (the others off, 1 s timeout). */
function hooksConfig(set: Partial<HooksConfig>): HooksConfig {
  return {
    on_publish: "",
    on_unpublish: "",
    on_play: "",
    on_stop: "",
    timeout_ms: 1000,
    ...set,
  };
}

/** Which node uses the hooks {@linkcode withHooks} sets. */
interface HookedNodes {
  /** The cloud uses them. */
  cloud?: boolean;
  /** The edge uses them. */
  edge?: boolean;
  /** The hooks set (others off, 1 s timeout), given the hook server's URLs. */
  set: (url: HookServer["url"]) => Partial<HooksConfig>;
}

/**
 * Runs `fn` with a hook server and a cloud + edge whose hooks (on the nodes
 * `spec` names) call it; closes everything after.
 */
async function withHooks(
  spec: HookedNodes,
  fn: (t: {
    hooks: HookServer;
    nodes: TempCloudAndEdge;
    rtmp: string;
  }) => Promise<void>,
): Promise<void> {
  const hooks = hookServer();
  const cfg = hooksConfig(spec.set(hooks.url));
  try {
    await withCloudAndEdge({
      ...(spec.cloud ? { cloud: { hooks: cfg } } : {}),
      ...(spec.edge ? { edge: { hooks: cfg } } : {}),
    }, (n) => fn({ hooks, nodes: n, rtmp: n.rtmp() }));
  } finally {
    await hooks.close();
  }
}

Deno.test("hooks: on_publish/on_play allow on 0 or {code:0}; deny, 500 and no answer refuse; on_unpublish/on_stop carry duration and bytes", async () => {
  await withHooks({
    cloud: true,
    edge: true,
    set: (url) => ({
      on_publish: url("/publish"),
      on_unpublish: url("/end"),
      on_play: url("/play"),
      on_stop: url("/end"),
    }),
  }, async ({ hooks, nodes, rtmp }) => {
    for (const name of ["deny", "err", "silent"]) {
      await using ff = publishLavfi({
        url: `${rtmp}/${name}?token=abc`,
        seconds: 2,
        realtime: false,
      });
      notEqual((await ff.done).code, 0, name);
      equal(nodes.cloud.streams.has(`live/${name}`), false, name);
    }
    equal(nodes.cloud.refusals.count("publish_hook"), 3);
    const deny = hooks.calls.find((c) => c.body.stream === "deny")!;
    equal(deny.path, "/publish");
    equal(deny.body.action, "on_publish");
    equal(deny.body.app, "live");
    equal(deny.body.param, "?token=abc");
    equal(deny.body.client_ip, "127.0.0.1");
    ok(String(deny.body.client_id).length > 0);
    deepEqual(deny.body.server, {
      role: "cloud",
      version: VERSION,
      name: "flvcast",
    });

    // Allowed ("0"), then played at the edge (on_play allowed with {code:0}
    // since the key starts with "json"), then both end.
    await using pub = publishLavfi({ url: `${rtmp}/json`, seconds: 4 });
    await until(
      () => nodes.edge.streams().some((s) => s.key === "live/json"),
      "stream at edge",
      10_000,
      20,
    );
    const flv = `http://127.0.0.1:${nodes.edge.ports.flv}/live/json.flv`;
    const res = await fetch(flv);
    equal(res.status, 200);
    let got = 0;
    const reader = res.body!.getReader();
    while (got < 100_000) {
      const { value, done } = await reader.read();
      if (done) break;
      got += value.length;
    }
    await reader.cancel();
    equal((await pub.done).code, 0);
    await until(
      () => hooks.calls.filter((c) => c.path === "/end").length >= 2,
      "end notices",
      10_000,
      20,
    );
    const stop = hooks.calls.find((c) => c.body.action === "on_stop")!;
    equal(stop.body.stream, "json");
    ok(
      Number(stop.body.bytes) >= 100_000,
      `on_stop bytes ${stop.body.bytes}`,
    );
    ok(Number(stop.body.duration_ms) >= 0);
    equal((stop.body.server as Record<string, unknown>).role, "edge");
    const unpub = hooks.calls.find((c) => c.body.action === "on_unpublish")!;
    equal(unpub.body.stream, "json");
    ok(
      Number(unpub.body.bytes) > 100_000,
      `on_unpublish bytes ${unpub.body.bytes}`,
    );
    ok(
      Number(unpub.body.duration_ms) > 2000,
      `duration ${unpub.body.duration_ms}`,
    );
    // The edge's play of a denied key: 403.
    const play = hooks.calls.find((c) => c.body.action === "on_play")!;
    equal(play.body.proto, "http-flv");
  });
});

Deno.test("hooks: a slow on_publish delays only its own publish, not another stream's packets", async () => {
  await withHooks({
    cloud: true,
    set: (url) => ({ on_publish: url("/publish"), timeout_ms: 5000 }),
  }, async ({ hooks, nodes, rtmp }) => {
    await using fast = await publishLive(nodes.cloud, "fast", { seconds: 8 });
    const tags = () =>
      nodes.cloud.streams.get("live/fast")?.info().tags_in ?? 0;
    // While the slow hook holds its publish (2.5 s), the fast stream's
    // tags keep arriving: sample them every 100 ms over the hold.
    await using slow = publishLavfi({ url: `${rtmp}/slow`, seconds: 4 });
    await until(
      () => hooks.calls.some((c) => c.body.stream === "slow"),
      "slow hook called",
      10_000,
      20,
    );
    const samples: number[] = [];
    while (!nodes.cloud.streams.has("live/slow")) {
      samples.push(tags());
      await new Promise((r) => setTimeout(r, 100));
      if (samples.length > 100) {
        throw new Error("slow publish never accepted");
      }
    }
    ok(
      samples.length >= 15,
      `the hook held the publish ${samples.length * 100} ms`,
    );
    // While the hook held the other publish, this stream kept flowing:
    // at 25 fps + audio, well over 20 tags in the ≥ 1.5 s of the hold.
    const during = samples[samples.length - 1] - samples[0];
    ok(during > 20, `fast stream tags during the hold: ${samples.join(",")}`);
    equal((await slow.done).code, 0);
    fast.kill();
  });
});

Deno.test("hooks: an RTMP play refused by on_play gets an error and is counted", async () => {
  await withHooks({
    cloud: true,
    set: (url) => ({ on_play: url("/play") }),
  }, async ({ nodes, rtmp }) => {
    await using pub = await publishLive(nodes.cloud, "denyplay", {
      seconds: 6,
    });
    await using player = ffmpeg([
      "-i",
      `${rtmp}/denyplay`,
      "-t",
      "1",
      "-f",
      "null",
      "-",
    ]);
    notEqual((await player.done).code, 0);
    equal(nodes.cloud.refusals.count("play_hook"), 1);
    pub.kill();
  });
});

Deno.test("hooks: an HLS viewer is one session — on_play once per client address (a denied one gets 403), on_stop when it ends", async () => {
  await withHooks({
    edge: true,
    set: (url) => ({ on_play: url("/play"), on_stop: url("/end") }),
  }, async ({ hooks, nodes, rtmp }) => {
    await using _pubOk = publishLavfi({ url: `${rtmp}/hlsok`, seconds: 8 });
    await using _pubDeny = publishLavfi({ url: `${rtmp}/deny`, seconds: 8 });
    await until(
      () =>
        ["live/hlsok", "live/deny"].every((k) =>
          nodes.edge.streams().some((s) => s.key === k)
        ),
      "streams at edge",
      10_000,
      20,
    );
    const base = `http://127.0.0.1:${nodes.edge.ports.flv}/live`;
    const plays = () => hooks.calls.filter((c) => c.path === "/play");
    // A viewer polls: three playlist requests are one session, one on_play.
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${base}/hlsok.m3u8?token=t`);
      await r.body?.cancel();
      notEqual(r.status, 403, `request ${i}`);
    }
    equal(plays().length, 1, "one on_play for one viewer");
    const play = plays()[0];
    equal(play.body.action, "on_play");
    equal(play.body.stream, "hlsok");
    equal(play.body.proto, "hls");
    equal(play.body.param, "?token=t");
    // A denied viewer gets 403, and is asked again next time.
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${base}/deny.m3u8`);
      await r.body?.cancel();
      equal(r.status, 403, `denied request ${i}`);
    }
    equal(plays().length, 3, "a refused viewer has no session");
    // The edge stopping ends the session: on_stop with its duration.
    await nodes.edge.stop();
    await until(
      () => hooks.calls.some((c) => c.path === "/end"),
      "on_stop",
      5_000,
      20,
    );
    const stop = hooks.calls.filter((c) => c.path === "/end");
    equal(stop.length, 1, "on_stop only for the allowed viewer");
    equal(stop[0].body.action, "on_stop");
    equal(stop[0].body.stream, "hlsok");
    ok(Number(stop[0].body.duration_ms) >= 0);
    equal(stop[0].body.bytes, 0);
  });
});

Deno.test("hooks: a failing on_unpublish / on_stop is tried once, counted and logged, never retried", async () => {
  const hooks = hookServer();
  const refusals = new Refusals({ logger: nullLogger, metric: "x_total" });
  const access = new AccessControl({
    secret: "",
    publish: false,
    play: false,
    hooks: {
      on_publish: "",
      on_unpublish: hooks.url("/end"),
      on_play: "",
      on_stop: hooks.url("/end"),
      timeout_ms: 1000,
    },
    role: "cloud",
    refusals,
    logger: nullLogger,
  });
  const req = (stream: string): AccessRequest => ({
    key: `live/${stream}`,
    query: "",
    clientIp: "127.0.0.1",
    remote: "127.0.0.1:5000",
    clientId: 1,
    proto: "rtmp",
  });
  try {
    access.ended("publish", req("err_pub"), { durationMs: 1500, bytes: 7 });
    access.ended("play", req("err_play"), { durationMs: 900, bytes: 3 });
    access.ended("play", req("fine"), { durationMs: 10, bytes: 1 });
    await until(
      () =>
        refusals.count("on_unpublish_failed") === 1 &&
        refusals.count("on_stop_failed") === 1 && hooks.calls.length === 3,
      "both failures counted",
      5000,
      20,
    );
    // One call each (the answer 500 is not retried), with the usage.
    // (The three calls run at once: compare them in a fixed order.)
    deepEqual(
      hooks.calls.map((c) => [c.body.action, c.body.duration_ms, c.body.bytes])
        .sort((x, y) => Number(y[2]) - Number(x[2])),
      [["on_unpublish", 1500, 7], ["on_stop", 900, 3], ["on_stop", 10, 1]],
    );
  } finally {
    await hooks.close();
  }
});
