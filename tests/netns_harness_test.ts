// Proves the network-namespace harness (testkit/netns.ts) and the UDP
// probe: isolation, multicast fan-out, nftables random loss, and cleanup.
import { deepEqual, ok, rejects, throws } from "node:assert/strict";
import { until } from "../testkit/poll.ts";
import {
  createTopology,
  listNetns,
  netnsUnavailableReason,
  sweepStaleTopologies,
  type Topology,
} from "../testkit/netns.ts";
import type {
  ReceiveProbeResult,
  SendProbeResult,
} from "../testkit/udp_probe.ts";

const PROBE = new URL("../testkit/udp_probe.ts", import.meta.url).pathname;
const GROUP = "239.255.0.1";
const PORT = 5222;

const skipReason = await netnsUnavailableReason();
if (skipReason !== undefined) {
  console.warn(`netns_harness_test: skipping all tests: ${skipReason}`);
}
const ignore = skipReason !== undefined;

/** Starts a probe receiver on `host` and waits until it is bound/joined. */
async function startReceiver(
  topo: Topology,
  host: string,
  args: string[],
) {
  const proc = topo.spawnDeno(host, PROBE, [
    "recv",
    "--port",
    String(PORT),
    ...args,
  ]);
  const ready = await proc.nextJson<{ event: string }>();
  deepEqual(ready.event, "ready", `receiver on ${host} did not get ready`);
  return proc;
}

/** True while `pid` exists and is not a zombie. */
async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "netns: topology is isolated (no default route, nothing in the root namespace)",
  ignore,
  async fn() {
    await using topo = await createTopology({ hosts: ["a", "b"] });
    deepEqual(topo.address("a"), "198.18.0.1");
    deepEqual(topo.address("b"), "198.18.0.2");
    throws(() => topo.host("nope"), /received "nope"/);
    for (const h of topo.hosts.values()) {
      ok(h.iface.length <= 15, `interface name too long: ${h.iface}`);
      const routes = JSON.parse(
        (await topo.exec(h.name, "ip", [
          "-j",
          "-4",
          "route",
          "show",
          "table",
          "all",
        ]))
          .stdout,
      ) as { dst: string; dev: string; table?: string }[];
      const main = routes.filter((r) =>
        r.table === undefined || r.table === "main"
      );
      deepEqual(
        main.map((r) => `${r.dst} ${r.dev}`).sort(),
        [`198.18.0.0/24 ${h.iface}`, `224.0.0.0/4 ${h.iface}`],
      );
      ok(
        !routes.some((r) => r.dst === "default"),
        "no default route anywhere",
      );
      const links = JSON.parse(
        (await topo.exec(h.name, "ip", ["-j", "link", "show"])).stdout,
      ) as { ifname: string; operstate: string; flags: string[] }[];
      deepEqual(links.map((l) => l.ifname).sort(), [h.iface, "lo"].sort());
      ok(links.every((l) => l.flags.includes("UP")), "lo and veth are up");
    }
    const bridge = JSON.parse(
      (await new Deno.Command("ip", {
        args: ["-n", topo.bridgeNetns, "-d", "-j", "link", "show", topo.bridge],
      }).output()).stdout.reduce((s, b) => s + String.fromCharCode(b), ""),
    ) as { linkinfo: { info_data: { mcast_snooping: number } } }[];
    deepEqual(bridge[0].linkinfo.info_data.mcast_snooping, 0);
    // Output to files, and exec's exit-code check.
    const dir = await Deno.makeTempDir({ prefix: "netns_test_" });
    try {
      const p = topo.spawn(
        "a",
        "sh",
        ["-c", "echo out; echo err >&2; exit 3"],
        {
          stdout: { file: `${dir}/out.txt` },
          stderr: { file: `${dir}/err.txt` },
        },
      );
      deepEqual((await p.status).code, 3);
      deepEqual(await Deno.readTextFile(`${dir}/out.txt`), "out\n");
      deepEqual(await Deno.readTextFile(`${dir}/err.txt`), "err\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    await rejects(
      () => topo.exec("a", "false"),
      /expected "ip netns exec .* false" to exit 0/,
    );
    deepEqual((await topo.exec("b", "false", [], { check: false })).code, 1);
    // No interface of this topology exists in the root namespace.
    const rootLinks = new TextDecoder().decode(
      (await new Deno.Command("ip", { args: ["-br", "link"] }).output()).stdout,
    );
    ok(
      !rootLinks.includes(topo.tag),
      `root namespace has ${topo.tag} links`,
    );
  },
});

Deno.test({
  name:
    "netns: multicast reaches every member (2,000 packets to two receivers)",
  ignore,
  async fn() {
    await using topo = await createTopology({ hosts: ["tx", "rx1", "rx2"] });
    const receivers = await Promise.all(
      ["rx1", "rx2"].map((h) =>
        startReceiver(topo, h, [
          "--group",
          GROUP,
          "--iface",
          topo.address(h),
          "--count",
          "2000",
          "--timeout-ms",
          "30000",
        ])
      ),
    );
    const tx = topo.spawnDeno("tx", PROBE, [
      "send",
      "--to",
      `${GROUP}:${PORT}`,
      "--count",
      "2000",
      "--rate",
      "2000",
      "--ttl",
      "1",
      "--iface",
      topo.address("tx"),
    ]);
    const sent = await tx.nextJson<SendProbeResult>();
    deepEqual(sent.sent, 2000);
    deepEqual((await tx.status).code, 0);
    for (const r of receivers) {
      const res = await r.nextJson<ReceiveProbeResult>();
      deepEqual(
        { host: r.host, received: res.received, reason: res.reason },
        { host: r.host, received: 2000, reason: "complete" },
        `missing e.g. ${res.missingSample.join(",")}`,
      );
      deepEqual(res.duplicates, 0);
      deepEqual((await r.status).code, 0);
    }
  },
});

Deno.test({
  name: "netns: dropUdp(50‰) loses about 5 % of 4,000 packets",
  ignore,
  async fn() {
    await using topo = await createTopology({ hosts: ["tx", "rx"] });
    await topo.dropUdp("rx", PORT, 50);
    const rx = await startReceiver(topo, "rx", [
      "--count",
      "4000",
      "--timeout-ms",
      "30000",
      "--idle-ms",
      "1000",
    ]);
    const tx = topo.spawnDeno("tx", PROBE, [
      "send",
      "--to",
      `${topo.address("rx")}:${PORT}`,
      "--count",
      "4000",
      "--rate",
      "4000",
    ]);
    const sent = await tx.nextJson<SendProbeResult>();
    deepEqual(sent.sent, 4000);
    const res = await rx.nextJson<ReceiveProbeResult>();
    const ratio = res.received / 4000;
    ok(
      ratio >= 0.90 && ratio <= 0.99,
      `expected 90..99 % received, received ${JSON.stringify(res)}`,
    );
    deepEqual(res.reason, "idle");
    const dropped = await topo.droppedPackets("rx");
    ok(
      dropped > 0 && res.received + dropped <= 4000 &&
        res.received + dropped >= 3960,
      `expected received + dropped ≈ 4000, received ${res.received} + ${dropped}`,
    );
    await topo.clearDrops("rx");
    deepEqual(await topo.droppedPackets("rx"), 0);
    await rejects(() => topo.dropUdp("rx", PORT, 1001), RangeError);
  },
});

Deno.test({
  name: "netns: destroy() kills processes, removes namespaces, is idempotent",
  ignore,
  async fn() {
    const topo = await createTopology({ hosts: ["h1", "h2"], prefix: "fct" });
    const names = topo.namespaces;
    const before = await listNetns();
    for (const ns of names) ok(before.includes(ns), `${ns} exists`);
    // A plain process, one ignoring SIGTERM, and a grandchild the harness never saw.
    const plain = topo.spawn("h1", "sleep", ["600"]);
    const stubborn = topo.spawn("h2", "sh", [
      "-c",
      "trap '' TERM; echo up; while :; do sleep 1; done",
    ]);
    deepEqual(await stubborn.nextLine(), "up");
    const parent = topo.spawn("h1", "sh", ["-c", "sleep 600 & echo $!; wait"]);
    const grandchild = Number(await parent.nextLine());
    ok(grandchild > 0);

    await topo.destroy({ graceMs: 200 });
    deepEqual((await plain.status).signal, "SIGTERM");
    deepEqual((await stubborn.status).signal, "SIGKILL");
    ok(parent.exited);
    ok(!(await isRunning(grandchild)), `grandchild ${grandchild} still runs`);

    const after = await listNetns();
    for (const ns of names) {
      ok(!after.includes(ns), `${ns} was not removed`);
    }
    await topo.destroy(); // idempotent
    await topo[Symbol.asyncDispose]();
    ok(topo.destroyed);
    throws(() => topo.spawn("h1", "true"), /already destroyed/);
  },
});

Deno.test({
  name: "netns: await using cleans up when the test body throws",
  ignore,
  async fn() {
    let names: string[] = [];
    let wirePid = 0;
    await rejects(async () => {
      await using topo = await createTopology({
        hosts: ["only"],
        delayMs: { only: 5 },
      });
      names = topo.namespaces;
      wirePid = topo.wires[0].pid;
      topo.spawn("only", "sleep", ["600"]);
      throw new Error("test body failed");
    }, /test body failed/);
    ok(!(await isRunning(wirePid)), `delay wire ${wirePid} still runs`);
    const after = await listNetns();
    deepEqual(names.length, 3);
    for (const ns of names) {
      ok(!after.includes(ns), `${ns} was not removed`);
    }
  },
});

Deno.test({
  name: "netns: sweepStaleTopologies removes only namespaces of dead creators",
  ignore,
  async fn() {
    // pid_max is at most 2^22, so this creator PID cannot be running.
    const stale = `fcs0a1b2c-99999999-x`;
    const ip = (args: string[]) => new Deno.Command("ip", { args }).output();
    deepEqual((await ip(["netns", "add", stale])).code, 0);
    await using live = await createTopology({ hosts: ["l"] });
    try {
      const removed = await sweepStaleTopologies();
      ok(removed.includes(stale), `expected ${stale} in ${removed.join(", ")}`);
      const after = await listNetns();
      ok(!after.includes(stale), `${stale} still listed`);
      for (const ns of live.namespaces) {
        ok(after.includes(ns), `${ns} was removed`);
      }
    } finally {
      await ip(["netns", "del", stale]);
    }
  },
});

/** UDP echo server (one datagram back per datagram), for `deno eval`. */
const ECHO_SERVER = `
const c = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 7007 });
console.log(JSON.stringify({ event: "ready" }));
for (;;) { const [d, a] = await c.receive(); await c.send(d, a); }
`;

/** Sends 20 datagrams 30 ms apart to `host:7007`, prints each round trip. */
const ECHO_CLIENT = (host: string) => `
const c = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
const sentAt = new Map();
const rtts = [];
(async () => { for (;;) { const [d] = await c.receive(); const i = d[0];
  if (sentAt.has(i)) { rtts.push(performance.now() - sentAt.get(i)); sentAt.delete(i); } } })();
for (let i = 0; i < 20; i++) {
  sentAt.set(i, performance.now());
  await c.send(new Uint8Array([i]), { transport: "udp", hostname: "${host}", port: 7007 });
  await new Promise((r) => setTimeout(r, 30));
}
await new Promise((r) => setTimeout(r, 1500));
console.log(JSON.stringify({ rtts }));
Deno.exit(0);
`;

Deno.test({
  name:
    "netns: a delay wire of 50 ms gives a 100 ms round trip; dropAllUdp loses every port's datagrams",
  ignore,
  async fn() {
    await using topo = await createTopology({
      hosts: ["tx", "rx"],
      delayMs: { rx: 50 },
    });
    ok(topo.wireNetns !== undefined);
    deepEqual(topo.wires.length, 1);
    deepEqual(topo.host("rx").delayMs, 50);
    // Round trip: two crossings of the wire each way's 50 ms.
    const echo = topo.spawn("rx", Deno.execPath(), [
      "eval",
      "--unstable-net",
      ECHO_SERVER,
    ]);
    deepEqual((await echo.nextJson()).event, "ready");
    const client = topo.spawn("tx", Deno.execPath(), [
      "eval",
      "--unstable-net",
      ECHO_CLIENT(topo.address("rx")),
    ]);
    const { rtts } = await client.nextJson<{ rtts: number[] }>();
    deepEqual(rtts.length, 20, "every echo came back (no loss yet)");
    rtts.sort((a, b) => a - b);
    const median = rtts[10];
    ok(
      rtts[0] >= 99,
      `expected no round trip below 2 × 50 ms, received ${rtts[0].toFixed(1)}`,
    );
    ok(
      median < 250,
      `expected a median round trip near 100 ms, received ${
        median.toFixed(1)
      } (${rtts.map((r) => r.toFixed(1)).join(", ")})`,
    );
    // Loss on every UDP port into rx, after the wire: two ports, 20 % each.
    await topo.dropAllUdp("rx", 200);
    const receivers = await Promise.all([PORT, PORT + 1].map(async (port) => {
      const proc = topo.spawnDeno("rx", PROBE, [
        "recv",
        "--port",
        String(port),
        "--count",
        "2000",
        "--timeout-ms",
        "30000",
        "--idle-ms",
        "1500",
      ]);
      deepEqual((await proc.nextJson<{ event: string }>()).event, "ready");
      return proc;
    }));
    // `count` datagrams from tx to rx:`port` at 2,000/s; all sent.
    const send = async (port: number, count: number) => {
      const tx = topo.spawnDeno("tx", PROBE, [
        "send",
        "--to",
        `${topo.address("rx")}:${port}`,
        "--count",
        String(count),
        "--rate",
        "2000",
      ]);
      deepEqual((await tx.nextJson<SendProbeResult>()).sent, count);
    };
    for (const port of [PORT, PORT + 1]) await send(port, 2000);
    let received = 0;
    for (const r of receivers) {
      const res = await r.nextJson<ReceiveProbeResult>();
      ok(
        res.received >= 1400 && res.received <= 1800,
        `expected ~80 % of 2000 on each port, received ${JSON.stringify(res)}`,
      );
      received += res.received;
    }
    const dropped = await topo.droppedPackets("rx");
    ok(
      received + dropped >= 3960 && received + dropped <= 4000,
      `expected received + dropped ≈ 4000, received ${received} + ${dropped}`,
    );
    // 1000 ‰ (a blackout) drops every datagram: the rule has no numgen.
    await topo.clearDrops("rx");
    await topo.dropAllUdp("rx", 1000);
    await send(PORT, 200);
    // The wire still holds the last 50 ms of them.
    await until(
      async () => await topo.droppedPackets("rx") >= 200,
      "all 200 datagrams dropped",
    );
    deepEqual(await topo.droppedPackets("rx"), 200);
  },
});
