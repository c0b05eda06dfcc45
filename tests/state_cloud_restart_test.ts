/**
 * A cloud process restarted mid-session with `quic_cert` empty (the
 * default): it loads its certificate from `state_dir`, so the edge that
 * pinned its fingerprint reconnects without a "fingerprint mismatch" and
 * repairs again (input loss simulated at the edge: 5 %), SRTP on.
 */
import { equal, ok } from "node:assert/strict";
import { EdgeNode } from "../lib/edge/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { until } from "./edge_support.ts";
import { HttpPlayer } from "./http_support.ts";
import { publishLavfi } from "../testkit/media.ts";
import { freeUdpPort } from "./support/nodes.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const local = { hostname: "127.0.0.1", port: 0 };

function freeTcpPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** `main.ts cloud` as a real process, until it is killed. */
async function startCloud(args: string[], api: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "cloud", ...args],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${api}/api/node`);
      const node = await r.json();
      return { child, fingerprint: node.fingerprint as string };
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error("the cloud did not answer on its API in 20 s");
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function linkConnects(edge: EdgeNode): number {
  const f = edge.metrics().find((m) => m.name.endsWith("rtx_connects_total"));
  return f?.samples.reduce((a, s) => a + s.value, 0) ?? 0;
}

Deno.test({
  name:
    "cloud restart with quic_cert empty: same fingerprint from state_dir, the pinned edge reconnects and repairs again",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "flvcast_cloud_restart_" });
    const quicPort = freeUdpPort();
    const edgeUdp = freeUdpPort();
    const rtmp = freeTcpPort();
    const api = freeTcpPort();
    const args = [
      `--state_dir=${dir}/state`,
      "--quic_secret=restart",
      `--rtmp_addr=127.0.0.1:${rtmp}`,
      `--api_addr=127.0.0.1:${api}`,
      `--quic_addr=127.0.0.1:${quicPort}`,
      "--rtp_port=0",
      `--client_addr_list=127.0.0.1:${edgeUdp}`,
      `--record_dir=${dir}/record`,
      "--enable_log_file=false",
    ];
    let cloud = await startCloud(args, api);
    const pinned = cloud.fingerprint;
    equal(pinned.length, 64);
    const edge = new EdgeNode({
      udp: { hostname: "127.0.0.1", port: edgeUdp },
      flv: local,
      api: local,
      quicPort,
      cloudQuic: { host: "127.0.0.1", port: quicPort },
      secret: "restart",
      fingerprint: pinned,
      srtp: true,
      packLoss: 0.05,
      latencyMs: 400,
      logger: nullLogger,
    });
    await edge.start();
    const play = async (name: string) => {
      const pub = publishLavfi({
        url: `rtmp://127.0.0.1:${rtmp}/live/${name}`,
        seconds: 4,
      });
      await until(
        () => edge.hub.get(`live/${name}`) !== undefined,
        name,
        15_000,
      );
      const player = await HttpPlayer.open(
        `http://127.0.0.1:${edge.ports.flv}/live/${name}.flv`,
      );
      let last = edge.streams()[0];
      const watch = setInterval(() => (last = edge.streams()[0] ?? last), 20);
      const { code, stderr } = await pub.done;
      equal(code, 0, `ffmpeg failed: ${stderr}`);
      equal(await player.done, "end");
      clearInterval(watch);
      return last;
    };
    try {
      const before = await play("before");
      ok(before.recovered > 0, "repairs before the restart");
      equal(before.unrecoverable, 0);
      const connectsBefore = linkConnects(edge);

      cloud.child.kill("SIGTERM");
      await cloud.child.status;
      cloud = await startCloud(args, api);
      equal(cloud.fingerprint, pinned, "the same certificate after a restart");
      const after = await play("after");
      ok(after.recovered > 0, "repairs after the restart");
      equal(after.unrecoverable, 0);
      ok(linkConnects(edge) > connectsBefore, "the link reconnected");
      equal(edge.stats.srtpAuthFailures, 0);
    } finally {
      await edge.stop();
      cloud.child.kill("SIGKILL");
      await cloud.child.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
