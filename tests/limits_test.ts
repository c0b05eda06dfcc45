// Pure pieces of the limits: refusal counting, connection caps, the HTTP
// connection tracker, the player budget, the kernel TCP table parser, the
// per-IP key (IPv4 per address, IPv6 per /64).
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  ConnectionCaps,
  ConnectionTracker,
  ipCapKey,
  Refusals,
} from "../lib/limits/mod.ts";
import { HeldRequests } from "../lib/hls/held_requests.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { PlayerBudget } from "../lib/http/mod.ts";
import { parseTcpTable, peerKey } from "../lib/net/mod.ts";

Deno.test("refusals: counted every time, logged once per interval with what was not logged", () => {
  const lines: string[] = [];
  let now = 0;
  const log = {
    debug() {},
    info() {},
    warn: (m: string, f?: Record<string, unknown>) =>
      lines.push(`${m} ${JSON.stringify(f)}`),
    error() {},
    child() {
      return log;
    },
  };
  const r = new Refusals({
    logger: log,
    metric: "x_total",
    intervalMs: 1000,
    now: () => now,
  });
  for (let i = 0; i < 5; i++) r.refuse("a", "refused a", { i });
  r.refuse("b", "refused b");
  equal(r.count("a"), 5);
  equal(lines.length, 2);
  now = 1000;
  r.refuse("a", "refused a", { i: 5 });
  equal(lines.length, 3);
  equal(lines[2], 'refused a {"reason":"a","i":5,"not_logged_since_last":4}');
  deepEqual(r.metrics()[0].samples, [
    { labels: { reason: "a" }, value: 6 },
    { labels: { reason: "b" }, value: 1 },
  ]);
});

Deno.test("connection caps: total and per address, slots given back once", () => {
  const caps = new ConnectionCaps({ maxTotal: 3, maxPerAddress: 2 });
  const a1 = caps.admit("a");
  const a2 = caps.admit("a");
  equal(caps.admit("a"), "max_connections_per_ip");
  const b1 = caps.admit("b");
  equal(caps.admit("c"), "max_connections");
  if (
    typeof a1 === "string" || typeof a2 === "string" || typeof b1 === "string"
  ) throw new Error();
  a1.release();
  a1.release();
  equal(caps.total, 2);
  equal(caps.from("a"), 1);
  equal(typeof caps.admit("c"), "object");
});

Deno.test("per-IP key: IPv4 per address, IPv6 per /64 whatever its spelling", () => {
  equal(ipCapKey("10.0.0.1"), "10.0.0.1");
  equal(ipCapKey("::ffff:10.0.0.1"), "10.0.0.1");
  equal(ipCapKey("[::ffff:0a00:0001]"), "10.0.0.1");
  equal(ipCapKey("2001:db8:1:2::5"), "2001:db8:1:2::/64");
  equal(
    ipCapKey("2001:0DB8:0001:0002:ffff:eeee:dddd:cccc"),
    "2001:db8:1:2::/64",
  );
  equal(ipCapKey("[2001:db8:1:2::7]"), "2001:db8:1:2::/64");
  equal(ipCapKey("fe80::1%eth0"), "fe80:0:0:0::/64");
  equal(ipCapKey("::1"), "0:0:0:0::/64");
  equal(ipCapKey("2001:db8:1:3::5"), "2001:db8:1:3::/64");
  equal(ipCapKey("2001:db8::1:2:0:5"), "2001:db8:0:0::/64");
});

Deno.test("per-IP caps: one IPv6 /64 is one address for the player caps, the guard and held HLS requests", () => {
  const caps = new ConnectionCaps({ maxPerAddress: 2 });
  equal(typeof caps.admit("2001:db8:1:2::1"), "object");
  equal(typeof caps.admit("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "object");
  equal(caps.admit("2001:db8:1:2::3"), "max_connections_per_ip");
  equal(typeof caps.admit("2001:db8:1:3::1"), "object", "another /64");
  equal(typeof caps.admit("10.0.0.1"), "object");
  equal(typeof caps.admit("10.0.0.1"), "object");
  equal(caps.admit("10.0.0.1"), "max_connections_per_ip");
  equal(typeof caps.admit("10.0.0.2"), "object", "IPv4: per address");
  equal(caps.from("2001:db8:1:2::99"), 2);

  // The guard: past maxPerIp, a /64's newest idle connections are ended.
  const t = new ConnectionTracker({ idleMs: 10_000, maxPerIp: 1 });
  deepEqual(t.sweep(["[2001:db8:1:2::1]:5000"], 0), []);
  deepEqual(
    t.sweep(["[2001:db8:1:2::1]:5000", "[2001:db8:1:2::2]:5001"], 1),
    ["[2001:db8:1:2::2]:5001"],
  );

  // Held HLS requests: the /64 shares maxHeldPerClient.
  const stats = { held: 0, heldTimeouts: 0, heldRefused: 0, heldNow: 0 };
  const held = new HeldRequests({
    maxHeld: 10,
    maxHeldPerClient: 1,
    stats,
    logger: nullLogger,
    now: () => 0,
  });
  const target = { waiters: new Set<() => void>(), ended: () => false };
  let ready = false;
  const first = held.wait(target, () => ready, 60_000, "2001:db8:1:2::1");
  ok(first instanceof Promise);
  equal(held.wait(target, () => ready, 60_000, "2001:db8:1:2::2"), false);
  equal(stats.heldRefused, 1);
  ok(
    held.wait(target, () => ready, 60_000, "2001:db8:1:3::1") instanceof
      Promise,
  );
  ready = true;
  for (const w of [...target.waiters]) w();
  equal(stats.heldNow, 0);
});

Deno.test("connection tracker: idle without a request, not while one is in flight, upgraded left alone, newest idle past the per-IP cap", () => {
  const t = new ConnectionTracker({ idleMs: 10, maxPerIp: 2 });
  deepEqual(t.sweep(["1.1.1.1:1", "1.1.1.1:2"], 0), []);
  t.begin("1.1.1.1:1", 5);
  deepEqual(t.sweep(["1.1.1.1:1", "1.1.1.1:2"], 10), ["1.1.1.1:2"]);
  t.end("1.1.1.1:1", 12);
  deepEqual(t.sweep(["1.1.1.1:1"], 21), []);
  deepEqual(t.sweep(["1.1.1.1:1"], 22), ["1.1.1.1:1"]);
  // Upgraded (WebSocket): never idle here.
  t.begin("2.2.2.2:1", 30, true);
  t.end("2.2.2.2:1", 30);
  deepEqual(t.sweep(["2.2.2.2:1"], 100), []);
  // Per-IP cap: the newest idle go first.
  const u = new ConnectionTracker({ idleMs: 1000, maxPerIp: 2 });
  u.sweep(["3.3.3.3:1"], 0);
  u.begin("3.3.3.3:1", 0);
  u.sweep(["3.3.3.3:1", "3.3.3.3:2"], 1);
  deepEqual(
    u.sweep(["3.3.3.3:1", "3.3.3.3:2", "3.3.3.3:3", "3.3.3.3:4"], 2).sort(),
    ["3.3.3.3:3", "3.3.3.3:4"],
  );
  equal(u.size, 4);
});

Deno.test("player budget: the largest holders are cut until the total fits", () => {
  const b = new PlayerBudget(100);
  const cut: string[] = [];
  const p = (name: string) => {
    const me = { cut: () => (cut.push(name), b.remove(me)) };
    b.add(me);
    return me;
  };
  const [x, y, z] = [p("x"), p("y"), p("z")];
  b.set(x, 30);
  b.set(y, 50);
  equal(b.total, 80);
  b.set(z, 60); // 140 > 100: z (60), the largest, is cut
  deepEqual(cut, ["z"]);
  equal(b.total, 80);
  b.set(x, 70); // 120: x (70) largest
  deepEqual(cut, ["z", "x"]);
  equal(b.total, 50);
  equal(b.cuts, 2);
});

Deno.test("tcp table: established peers of a local port from /proc/net/tcp and tcp6 text", () => {
  const v4 = [
    "  sl  local_address rem_address   st tx_queue rx_queue",
    "   0: 0100007F:1B59 0100007F:C350 01 00000000:00000000",
    "   1: 0100007F:1B59 0100007F:C351 06 00000000:00000000", // TIME_WAIT
    "   2: 00000000:1B59 00000000:0000 0A 00000000:00000000", // LISTEN
    "   3: 0100007F:C350 0100007F:1B59 01 00000000:00000000", // the client side
  ].join("\n");
  deepEqual(parseTcpTable(v4, 7001), ["127.0.0.1:50000"]);
  const v6 = "  sl  local_address rem_address st\n" +
    "   0: 00000000000000000000000001000000:1B59 0000000000000000FFFF00000100007F:C350 01 0\n" +
    "   1: 00000000000000000000000001000000:1B59 00000000000000000000000001000000:C351 01 0\n";
  deepEqual(parseTcpTable(v6, 7001), [
    "127.0.0.1:50000",
    "[0:0:0:0:0:0:0:1]:50001",
  ]);
  equal(peerKey("::ffff:127.0.0.1", 50000), "127.0.0.1:50000");
  equal(peerKey("::1", 50001), "[0:0:0:0:0:0:0:1]:50001");
});
