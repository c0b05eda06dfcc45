// The HLS play gate with fake time and a real hook server: a viewer session
// ends after idleMs without requests (on_stop with its duration), sessions
// are bounded (in all, and per address: an IPv6 /64), and without hooks
// nothing is tracked.
import { equal, ok } from "node:assert/strict";
import { AccessControl } from "../lib/auth/mod.ts";
import { HlsPlayGate } from "../lib/edge/hls_gate.ts";
import { Refusals } from "../lib/limits/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";

function hookServer() {
  const calls: Record<string, unknown>[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      calls.push(await req.json());
      return new Response("0");
    },
  );
  return {
    calls,
    url: `http://127.0.0.1:${server.addr.port}/`,
    close: () => server.shutdown(),
  };
}

function access(url: string): AccessControl {
  return new AccessControl({
    secret: "",
    publish: false,
    play: false,
    hooks: {
      on_publish: "",
      on_unpublish: "",
      on_play: url,
      on_stop: url,
      timeout_ms: 1000,
    },
    role: "edge",
    refusals: new Refusals({ logger: nullLogger, metric: "t" }),
    logger: nullLogger,
  });
}

const addr = (ip: string): Deno.NetAddr => ({
  transport: "tcp",
  hostname: ip,
  port: 40000,
});
const req = () => new Request("http://e/live/a.m3u8");

Deno.test("hls gate: an idle viewer session ends with on_stop and its duration; past maxSessions 503", async () => {
  const hooks = hookServer();
  let now = 0;
  const gate = new HlsPlayGate({
    access: access(hooks.url),
    hooks: true,
    idleMs: 30_000,
    maxSessions: 2,
    now: () => now,
  });
  try {
    equal(await gate.check(req(), "live/a", addr("10.0.0.1")), undefined);
    now = 10_000;
    equal(await gate.check(req(), "live/a", addr("10.0.0.1")), undefined);
    equal(await gate.check(req(), "live/a", addr("10.0.0.2")), undefined);
    equal(gate.sessions, 2);
    const full = await gate.check(req(), "live/a", addr("10.0.0.3"));
    equal(full?.status, 503);
    await full?.body?.cancel();
    equal(hooks.calls.filter((c) => c.action === "on_play").length, 2);
    now = 39_999; // 10.0.0.1 last asked at 10 s: not idle for 30 s yet
    gate.sweep();
    equal(gate.sessions, 2);
    now = 40_000;
    gate.sweep();
    equal(gate.sessions, 0);
    const deadline = performance.now() + 5000;
    while (hooks.calls.filter((c) => c.action === "on_stop").length < 2) {
      ok(performance.now() < deadline, "on_stop calls");
      await new Promise((r) => setTimeout(r, 10));
    }
    const stops = hooks.calls.filter((c) => c.action === "on_stop");
    const byIp = new Map(stops.map((c) => [c.client_ip, c.duration_ms]));
    equal(byIp.get("10.0.0.1"), 40_000);
    equal(byIp.get("10.0.0.2"), 30_000);
  } finally {
    gate.close();
    await hooks.close();
  }
});

Deno.test("hls gate: one address (an IPv6 /64) holds at most maxSessionsPerIp sessions; past it 503, counted", async () => {
  const hooks = hookServer();
  let now = 0;
  const refusals = new Refusals({ logger: nullLogger, metric: "t" });
  const gate = new HlsPlayGate({
    access: access(hooks.url),
    hooks: true,
    maxSessionsPerIp: 2,
    refusals,
    now: () => now,
  });
  const status = async (ip: string) =>
    (await gate.check(req(), "live/a", addr(ip)))?.status ?? 200;
  try {
    equal(await status("2001:db8:1:2::1"), 200);
    equal(await status("2001:db8:1:2:ffff::2"), 200);
    equal(await status("2001:db8:1:2::3"), 503, "a third address of the /64");
    equal(refusals.count("hls_sessions_per_ip"), 1);
    equal(await status("2001:db8:1:3::1"), 200, "another /64");
    equal(await status("10.0.0.1"), 200);
    equal(gate.sessions, 4);
    // The /64's sessions end: its slots come back.
    now = 30_000;
    gate.sweep();
    equal(gate.sessions, 0);
    equal(await status("2001:db8:1:2::3"), 200);
  } finally {
    gate.close();
    await hooks.close();
  }
});

Deno.test("hls gate: without hooks nothing is tracked and no hook is called", async () => {
  const hooks = hookServer();
  const gate = new HlsPlayGate({ access: access(hooks.url), hooks: false });
  try {
    equal(await gate.check(req(), "live/a", addr("10.0.0.1")), undefined);
    equal(gate.sessions, 0);
    equal(hooks.calls.length, 0);
  } finally {
    gate.close();
    await hooks.close();
  }
});
