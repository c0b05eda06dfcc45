/**
 * Servers under test, each in its own process so its CPU is attributable:
 * flvcast cloud and edge (`main.ts cloud|edge` with a generated config), and
 * node-media-server 4.x installed by npm into a cache folder under /tmp at
 * bench time. Processes run on loopback or inside a netns host of the
 * harness, and are always stopped by PID.
 *
 * @module
 */
import { V8_FLAGS } from "../../lib/app/mod.ts";
import { generateSelfSigned } from "../../lib/quic/mod.ts";
import type { AgentConfig } from "./agent.ts";
import type { Topology } from "../../testkit/netns.ts";
import { CACHE_DIR } from "./media.ts";
import {
  Child,
  type Disposable,
  getJson,
  poll,
  REPO_ROOT,
  run,
  sleep,
} from "./util.ts";

/** A running server process. */
export interface ServerProc extends Disposable {
  /** What it is. */
  readonly name: string;
  /** Its PID (the server itself, not a wrapper). */
  readonly pid: number;
  /** True once it has exited. */
  readonly exited: boolean;
  /** Last output lines (for errors). */
  tail(): string;
  /**
   * SIGTERM (lets `--cpu-prof` write its profile), then SIGKILL after
   * `graceMs` (default 3000).
   */
  dispose(graceMs?: number): Promise<void>;
}

/** Where a server runs: loopback (root namespace) or a harness host. */
export interface Place {
  /** Harness topology, if in a namespace. */
  topo?: Topology;
  /** Host name in the topology. */
  host?: string;
}

/**
 * Starts `cmd args` at `place`: directly on loopback, or through
 * `ip netns exec` (which execs the command, so the PID is the command's own;
 * the topology's destroy also kills whatever is left in its namespaces).
 */
export function spawnAt(
  place: Place,
  name: string,
  cmd: string,
  args: string[],
  opts: { cwd?: string; stdin?: boolean } = {},
): ServerProc & { child: Child } {
  const child = place.topo
    ? new Child(name, "ip", [
      "netns",
      "exec",
      place.topo.host(place.host!).netns,
      cmd,
      ...args,
    ], { cwd: opts.cwd, stdin: opts.stdin })
    : new Child(name, cmd, args, { cwd: opts.cwd, stdin: opts.stdin });
  return {
    name,
    child,
    get pid() {
      return child.pid;
    },
    get exited() {
      return child.exited;
    },
    tail: () => child.tail,
    dispose: (graceMs?: number) => child.dispose(graceMs),
  };
}

/** HTTP GET from inside `place` (curl in a namespace, fetch on loopback). */
export async function httpGetAt(place: Place, url: string): Promise<string> {
  if (!place.topo) {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
    return text;
  }
  const r = await place.topo.exec(
    place.host!,
    "curl",
    ["-sf", "--max-time", "5", url],
    { check: false, timeoutMs: 8000 },
  );
  if (r.code !== 0) throw new Error(`curl ${url}: exit ${r.code}`);
  return r.stdout;
}

/** TLS material shared by all clouds of a run (so edges can pin it). */
export interface Tls {
  /** PEM certificate file. */
  certFile: string;
  /** PEM key file. */
  keyFile: string;
  /** SHA-256 fingerprint (hex). */
  fingerprint: string;
}

/** Writes a self-signed certificate into `dir`. */
export async function makeTls(dir: string): Promise<Tls> {
  const t = await generateSelfSigned();
  const certFile = `${dir}/cloud_cert.pem`;
  const keyFile = `${dir}/cloud_key.pem`;
  await Deno.writeTextFile(certFile, t.certPem);
  await Deno.writeTextFile(keyFile, t.keyPem, { mode: 0o600 });
  return { certFile, keyFile, fingerprint: t.fingerprint };
}

/** The repair link's shared secret between the bench's cloud and edges. */
const BENCH_SECRET = "flvcast-bench-repair";

/** Options for {@linkcode startCloud}. */
export interface CloudOptions {
  /** Where to run. */
  place: Place;
  /** Temp dir for config/profiles. */
  dir: string;
  /** Address the cloud binds its listeners to. */
  bind: string;
  /** Ports. */
  rtmpPort: number;
  /** API port. */
  apiPort: number;
  /** QUIC port. */
  quicPort: number;
  /** RTP source port (0 = any). */
  rtpPort: number;
  /** RTP destinations `host:port`. */
  destinations: string[];
  /** TLS material. */
  tls: Tls;
  /** SRTP to edges; absent: the product's default (true). */
  srtp?: boolean;
  /** Write a V8 CPU profile into this folder at exit. */
  cpuProfDir?: string;
  /** Extra top-level YAML lines (e.g. `fec_block: 8`). */
  cloudYaml?: string[];
}

function denoArgs(cpuProfDir?: string): string[] {
  // Started as the product starts (deno.json tasks, the compiled binary).
  const args = [
    "run",
    "-A",
    `--v8-flags=${V8_FLAGS}`,
    "--config",
    `${REPO_ROOT}/deno.json`,
  ];
  if (cpuProfDir) args.push("--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`);
  return args;
}

/** Starts a flvcast cloud and waits until its API answers. */
export async function startCloud(o: CloudOptions): Promise<ServerProc> {
  const cfg = `${o.dir}/cloud.yaml`;
  await Deno.writeTextFile(
    cfg,
    [
      `rtmp_addr: "${o.bind}:${o.rtmpPort}"`,
      `api_addr: "${o.bind}:${o.apiPort}"`,
      `quic_addr: "${o.bind}:${o.quicPort}"`,
      `rtp_port: ${o.rtpPort}`,
      "client_addr_list:",
      ...o.destinations.map((d) => `  - "${d}"`),
      "log_level: warn",
      "enable_log_file: false",
      `quic_secret: "${BENCH_SECRET}"`,
      ...(o.srtp === undefined ? [] : [`srtp: ${o.srtp}`]),
      `quic_cert: "${o.tls.certFile}"`,
      `quic_key: "${o.tls.keyFile}"`,
      `record_dir: "${o.dir}/record"`,
      ...(o.cloudYaml ?? []),
      "",
    ].join("\n"),
  );
  return await runFlvcast("cloud", cfg, o);
}

/**
 * Runs `main.ts ROLE --config CFG` (with `denoFlags` and the CPU profile
 * flags) at `o.place` and waits until its API answers `/healthz`.
 */
async function runFlvcast(
  role: "cloud" | "edge",
  cfg: string,
  o: {
    place: Place;
    dir: string;
    bind: string;
    apiPort: number;
    cpuProfDir?: string;
    denoFlags?: string[];
  },
): Promise<ServerProc> {
  const p = spawnAt(o.place, `flvcast ${role}`, Deno.execPath(), [
    ...denoArgs(o.cpuProfDir),
    ...(o.denoFlags ?? []),
    `${REPO_ROOT}/main.ts`,
    role,
    "--config",
    cfg,
  ], { cwd: o.dir });
  const host = o.bind === "0.0.0.0" ? "127.0.0.1" : o.bind;
  await waitHealthy(o.place, p, `http://${host}:${o.apiPort}/healthz`);
  return p;
}

/** Options for {@linkcode startEdge}. */
export interface EdgeOptions {
  /** Where to run. */
  place: Place;
  /** Temp dir. */
  dir: string;
  /** Address to bind HTTP listeners to. */
  bind: string;
  /** UDP listen (`:port` or `239.x:port`). */
  udpAddr: string;
  /** Interface address for a multicast group. */
  multicastInterface?: string;
  /** HTTP-FLV port. */
  flvPort: number;
  /** API port. */
  apiPort: number;
  /** Cloud QUIC `host:port`. */
  cloudQuic: string;
  /** Cloud fingerprint. */
  fingerprint: string;
  /** Reorder/repair budget. */
  latencyMs: number;
  /** Accept SRTP only; absent: the product's default (true). */
  srtp?: boolean;
  /** CPU profile folder. */
  cpuProfDir?: string;
  /** Extra `deno run` flags (e.g. `--inspect=…` for diagnosis). */
  denoFlags?: string[];
  /** HLS listen address (`edge.hls_addr`); default `""`: HLS only on the FLV port. */
  hlsAddr?: string;
  /** Extra YAML lines under `edge:` (each indented by two spaces). */
  edgeYaml?: string[];
}

/** Starts a flvcast edge and waits until its API answers. */
export async function startEdge(o: EdgeOptions): Promise<ServerProc> {
  const cfg = `${o.dir}/edge_${o.apiPort}.yaml`;
  await Deno.writeTextFile(
    cfg,
    [
      "log_level: warn",
      "enable_log_file: false",
      `record_dir: "${o.dir}/record"`,
      `quic_secret: "${BENCH_SECRET}"`,
      "edge:",
      `  udp_addr: "${o.udpAddr}"`,
      `  multicast_interface: "${o.multicastInterface ?? ""}"`,
      `  flv_addr: "${o.bind}:${o.flvPort}"`,
      `  api_addr: "${o.bind}:${o.apiPort}"`,
      `  cloud_quic_addr: "${o.cloudQuic}"`,
      `  cloud_fingerprint: "${o.fingerprint}"`,
      `  latency_ms: ${o.latencyMs}`,
      ...(o.srtp === undefined ? [] : [`  srtp: ${o.srtp}`]),
      `  hls_addr: "${o.hlsAddr ?? ""}"`,
      ...(o.edgeYaml ?? []).map((l) => `  ${l}`),
      "",
    ].join("\n"),
  );
  return await runFlvcast("edge", cfg, o);
}

function waitHealthy(place: Place, p: ServerProc, url: string): Promise<void> {
  return waitReady(p, `${p.name} healthy at ${url}`, async () => {
    await httpGetAt(place, url);
  });
}

/**
 * Polls `ready` (every 100 ms, 20 s at most) until it resolves; when it
 * never does, or `p` exits first, stops `p` and throws with its output tail.
 */
async function waitReady(
  p: ServerProc,
  what: string,
  ready: () => Promise<void>,
): Promise<void> {
  try {
    await poll(
      what,
      async () => {
        if (p.exited) throw new Error(`${p.name} exited: ${p.tail()}`);
        await ready();
        return true;
      },
      20_000,
      100,
    );
  } catch (e) {
    const tail = p.tail();
    await p.dispose();
    throw new Error(`${(e as Error).message}\n${tail}`);
  }
}

/** An installed node-media-server. */
export interface NmsInstall {
  /** Version installed. */
  version: string;
  /** Its `bin/app.js`. */
  app: string;
  /** Folder. */
  dir: string;
}

/**
 * Installs the latest node-media-server 4.x with npm into
 * `/tmp/flvcast-bench-cache/nms-<version>` (reused when present).
 */
export async function installNms(): Promise<NmsInstall> {
  let version = "";
  const view = await run("npm", ["view", "node-media-server@4", "version"], {
    timeoutMs: 60_000,
  });
  if (view.code === 0) {
    const versions = view.stdout.trim().split("\n").map((l) =>
      l.trim().split(/\s+/).pop()!.replace(/'/g, "")
    ).filter((v) => /^4\.\d+\.\d+$/.test(v));
    versions.sort((a, b) => {
      const pa = a.split(".").map(Number);
      const pb = b.split(".").map(Number);
      return pa[1] - pb[1] || pa[2] - pb[2];
    });
    version = versions.pop() ?? "";
  }
  if (!version) {
    // Offline: reuse any cached 4.x.
    for await (const e of Deno.readDir(CACHE_DIR)) {
      const m = /^nms-(4\.\d+\.\d+)$/.exec(e.name);
      if (m) version = m[1];
    }
    if (!version) {
      throw new Error(
        `npm view node-media-server@4 failed and nothing is cached: ${view.stderr}`,
      );
    }
  }
  const dir = `${CACHE_DIR}/nms-${version}`;
  const app = `${dir}/node_modules/node-media-server/bin/app.js`;
  try {
    await Deno.stat(app);
    return { version, app, dir };
  } catch {
    // install below
  }
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/package.json`,
    JSON.stringify({ name: "flvcast-bench-nms", private: true }),
  );
  const r = await run("npm", [
    "install",
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
    `node-media-server@${version}`,
  ], { cwd: dir, timeoutMs: 240_000 });
  if (r.code !== 0) {
    throw new Error(`npm install node-media-server@${version}: ${r.stderr}`);
  }
  return { version, app, dir };
}

/** Starts node-media-server (RTMP + HTTP-FLV) on loopback. */
export async function startNms(
  nms: NmsInstall,
  o: { dir: string; rtmpPort: number; httpPort: number },
): Promise<ServerProc> {
  const cfgFile = `${o.dir}/nms_config.json`;
  await Deno.writeTextFile(
    cfgFile,
    JSON.stringify(
      {
        bind: "127.0.0.1",
        notify: { url: "" },
        store: { path: `${o.dir}/nms_data`, maxHistory: 100 },
        auth: {
          play: false,
          publish: false,
          secret: "flvcast-bench",
          jwt: {
            secret: "flvcast-bench-jwt",
            expiresIn: "24h",
            refreshExpiresIn: "7d",
            algorithm: "HS256",
            users: [],
          },
        },
        rtmp: { port: o.rtmpPort },
        http: { port: o.httpPort },
        webadmin: { enable: false },
        record: { auto: false, path: `${o.dir}/nms_record` },
      },
      null,
      2,
    ),
  );
  const p = spawnAt({}, "node-media-server", "node", [
    nms.app,
    "--config",
    cfgFile,
    "--no-admin",
  ], { cwd: o.dir });
  await waitReady(p, "node-media-server listening", async () => {
    for (const port of [o.rtmpPort, o.httpPort]) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
    }
  });
  await sleep(200);
  return p;
}

/** The edge API's repair and delivery counters the bench reports (they
 * add up over streams). */
export const EDGE_COUNTERS: readonly string[] = [
  "packets_received",
  "lost",
  "recovered",
  "fec_recovered",
  "unrecoverable",
  "tags_out",
  "tags_dropped",
  "tags_skipped",
  "late",
  "duplicates",
  "nacked",
  "slow_players",
];

/** Sum of one numeric field over the streams of an `/api/streams` body. */
export function sumStreams(
  body: unknown,
  field: string,
  keyPrefix?: string,
): number {
  const streams = (body as { streams?: Record<string, unknown>[] })?.streams ??
    [];
  let s = 0;
  for (const st of streams) {
    if (keyPrefix && !String(st.key).startsWith(keyPrefix)) continue;
    const v = st[field];
    if (typeof v === "number") s += v;
  }
  return s;
}

export { getJson };

/** Starts the load agent (scripts/bench/agent.ts) at `place`. */
export function startAgent(
  place: Place,
  cfg: AgentConfig,
  opts: { stdin?: boolean; name?: string } = {},
): ServerProc & { child: Child } {
  return spawnAt(place, opts.name ?? `agent ${cfg.mode}`, Deno.execPath(), [
    "run",
    "-A",
    "--config",
    `${REPO_ROOT}/deno.json`,
    `${REPO_ROOT}/scripts/bench/agent.ts`,
    JSON.stringify(cfg),
  ], { cwd: REPO_ROOT, stdin: opts.stdin });
}
