/**
 * `deno task bench`: flvcast's benchmarks in one run, printed as Markdown and
 * written to a report outside the checkout (`$TMPDIR/flvcast-bench/`), so a
 * run leaves `git status` clean; `--write-results` writes the committed
 * `scripts/bench/results.md` instead.
 *
 * 1. Micro: FLV/RTP byte paths, RTMP chunk parsing, SRTP, QUIC retransmission.
 * 2. Pipeline flvcast: N publishers → cloud → edge → M readers per stream.
 * 3. Pipeline node-media-server 4.x (npm, temp folder), ratios.
 * 4. Loss sweep in network namespaces (nftables random drop).
 * 4b. Wide-area repair (`wan`): the edge behind a delay wire, random drop on
 *    every UDP datagram into it; repair designs side by side with SRT
 *    (`srt-live-transmit`, Debian `srt-tools`). Only with `--only=…,wan`
 *    (a few minutes); `FLVCAST_BENCH_WAN_DESIGNS` picks designs by label,
 *    `FLVCAST_BENCH_WAN_CELLS` cells (`RTT/budget`, `RTT/budget/lossb`).
 * 4c. Repair designs against each other (`wan-designs`, a BENCH PROTOTYPE:
 *    scripts/bench/wan_designs.ts): answers on one QUIC stream, one QUIC
 *    stream per batch, QUIC DATAGRAMs, plain UDP. Only with
 *    `--only=…,wan-designs`; `FLVCAST_BENCH_WAN_DESIGNS` and
 *    `FLVCAST_BENCH_WAN_CELLS` (`RTT/budget/loss`, `b` = with blackouts) pick.
 * 5. Fan-out limit of one cloud (unicast 1/4/16, multicast; loopback pps).
 * 6. HLS / LL-HLS: edge CPU per viewer vs HTTP-FLV, send → part latency,
 *    hls.js live latency in Chromium (scripts/bench/hls.ts).
 *
 * ```sh
 * deno task bench                 # full run (~11 min on 2 cores)
 * deno task bench --quick         # ~1 min subset
 * deno task bench --only=flvcast,nms --profile   # V8 CPU profiles of cloud/edge
 * deno task bench --write-results # full run that updates scripts/bench/results.md
 * ```
 *
 * Exit code 0 when the bench ran (goals missed or not); 1 when it could not
 * run at all; 130 on Ctrl-C. Every process and namespace it started is
 * stopped by PID on the way out.
 *
 * @module
 */
import { dirname } from "node:path";
import {
  createTopology,
  netnsUnavailableReason,
  type Topology,
} from "../../testkit/netns.ts";
import { summarizeDir } from "./cpuprofile.ts";
import { type FanoutCase, type FanoutResult, runFanout } from "./fanout.ts";
import { runHlsBench } from "./hls.ts";
import { type LossRow, runLossSweep } from "./loss.ts";
import { ensureClip } from "./media.ts";
import { hasSrt, runWan, type WanCell, type WanDesign } from "./wan.ts";
import { designCells, runWanDesigns } from "./wan_designs.ts";
import { benchRtmpChunks } from "./micro_rtmp.ts";
import {
  type PipelineContext,
  type PipelineResult,
  type PipelineTiming,
  runPipeline,
} from "./pipeline.ts";
import { type BenchReport, type MicroRow, renderReport } from "./report.ts";
import { disposeAll, REPO_ROOT, run, track } from "./util.ts";

const SECTIONS = [
  "micro",
  "flvcast",
  "nms",
  "loss",
  "wan",
  "wan-designs",
  "fanout",
  "hls",
] as const;
type Section = typeof SECTIONS[number];

interface Options {
  quick: boolean;
  /** Pipeline configurations (publishers × readers), when given. */
  configs?: [number, number][];
  /** Pipeline measurement window (s), when given. */
  windowS?: number;
  only: Set<Section>;
  profile: boolean;
  /** Stop cloud and edge under load after each flvcast pipeline run. */
  stopTime: boolean;
  /** Pipeline publishers. */
  publisher: "replayer" | "ffmpeg";
  out: string;
}

const HELP = `usage: deno task bench [--quick] [--only=${
  SECTIONS.join(",")
}] [--profile] [--stop-time] [--publisher=ffmpeg]
                        [--write-results | --out=PATH]
                        [--configs=50x1,10x2] [--window=SECONDS]

  --quick     ~1-minute subset (shorter windows, fewer configurations)
  --only=…    run only these sections (comma-separated)
  --profile   run flvcast's cloud and edge with --cpu-prof and summarise the
              profiles in the report (adds profiler overhead to their CPU)
  --write-results  write the report to scripts/bench/results.md (the
              committed tables) instead of a file outside the checkout
  --out=PATH  Markdown output (default \$TMPDIR/flvcast-bench/results-DATE.md)
  --configs=… pipeline configurations, publishers x readers per stream
              (default 1x1,1x20,10x2,50x1; --quick 10x2)
  --window=S  pipeline measurement window in seconds (default 20; --quick 4)
  --stop-time after each flvcast pipeline window, SIGTERM cloud and edge while
              the load still runs and note how long each took to exit
  --publisher=ffmpeg  pipeline publishers are ffmpeg processes (-re
              -stream_loop -1 -c copy), as outside the bench, instead of the
              paced in-process replayer (no latency then; losses by tag order)`;

/** The committed report, written only with `--write-results`. */
const COMMITTED_RESULTS = `${REPO_ROOT}/scripts/bench/results.md`;

/** Where a run's report goes by default: outside the checkout. */
function defaultOut(): string {
  const tmp = Deno.env.get("TMPDIR") || "/tmp";
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return `${tmp}/flvcast-bench/results-${stamp}.md`;
}

function parseArgs(args: string[]): Options {
  const o: Options = {
    quick: false,
    // wan and wan-designs (minutes of netns runs) only when asked for by name.
    only: new Set(SECTIONS.filter((s) => s !== "wan" && s !== "wan-designs")),
    profile: false,
    stopTime: false,
    publisher: "replayer",
    out: "",
  };
  let write = false;
  for (const a of args) {
    if (a === "--quick") o.quick = true;
    else if (a === "--profile") o.profile = true;
    else if (a === "--stop-time") o.stopTime = true;
    else if (a === "--publisher=ffmpeg") o.publisher = "ffmpeg";
    else if (a === "--publisher=replayer") o.publisher = "replayer";
    else if (a === "--write-results") write = true;
    else if (a.startsWith("--only=")) {
      const names = a.slice(7).split(",").filter(Boolean);
      for (const n of names) {
        if (!SECTIONS.includes(n as Section)) {
          throw new Error(
            `--only: expected some of ${SECTIONS.join(",")}, received "${n}"`,
          );
        }
      }
      o.only = new Set(names as Section[]);
    } else if (a.startsWith("--out=")) o.out = a.slice(6);
    else if (a.startsWith("--configs=")) {
      o.configs = a.slice(10).split(",").filter(Boolean).map((c) => {
        const m = /^(\d+)x(\d+)$/.exec(c);
        if (!m) {
          throw new Error(
            `--configs: expected NxM (e.g. 50x1), received "${c}"`,
          );
        }
        return [Number(m[1]), Number(m[2])];
      });
    } else if (a.startsWith("--window=")) {
      o.windowS = Number(a.slice(9));
      if (!(o.windowS >= 1)) {
        throw new Error(
          `--window: expected seconds >= 1, received "${a.slice(9)}"`,
        );
      }
    } else if (a === "--help" || a === "-h") {
      console.log(HELP);
      Deno.exit(0);
    } else throw new Error(`unknown argument "${a}"\n${HELP}`);
  }
  if (write && o.out !== "") {
    throw new Error(
      `expected --write-results or --out=PATH, received both (--out=${o.out})`,
    );
  }
  o.out ||= write ? COMMITTED_RESULTS : defaultOut();
  return o;
}

function log(msg: string): void {
  const t = new Date().toISOString().slice(11, 19);
  console.error(`[bench ${t}] ${msg}`);
}

async function version(cmd: string, args: string[]): Promise<string> {
  try {
    const r = await run(cmd, args, { timeoutMs: 10_000 });
    return (r.stdout || r.stderr).split("\n")[0].trim();
  } catch {
    return "not found";
  }
}

async function environment(o: Options): Promise<Record<string, string>> {
  const cpu = /model name\s*:\s*(.*)/.exec(
    await Deno.readTextFile("/proc/cpuinfo"),
  )?.[1] ?? "?";
  const memKb = Number(
    /MemTotal:\s+(\d+)/.exec(await Deno.readTextFile("/proc/meminfo"))?.[1],
  );
  const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(
    0,
    3,
  ).join(" ");
  let commit = "?";
  try {
    commit = (await run("git", ["rev-parse", "--short", "HEAD"], {
      cwd: REPO_ROOT,
    })).stdout.trim();
    const dirty =
      (await run("git", ["status", "--porcelain", "--", "lib", "main.ts"], {
        cwd: REPO_ROOT,
      })).stdout.split("\n").filter(Boolean).length;
    if (dirty > 0) {
      commit += ` (+ ${dirty} uncommitted file(s) in lib/, main.ts)`;
    }
  } catch { /* not a checkout */ }
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    mode: o.quick ? "quick" : "full",
    machine: `${cpu}, ${navigator.hardwareConcurrency} cores, ${
      (memKb / 1048576).toFixed(0)
    } GiB, Linux ${Deno.osRelease()}`,
    "load average at start": load,
    "flvcast commit": commit,
    deno: `${Deno.version.deno} (V8 ${Deno.version.v8})`,
    ffmpeg: await version("ffmpeg", ["-version"]),
    node: await version("node", ["--version"]),
  };
}

async function micro(o: Options, report: BenchReport): Promise<void> {
  log("micro: FLV/RTP");
  const { benchFlvRtp } = await import("./micro_flv_rtp.ts");
  report.micro.push(...(await benchFlvRtp()) as MicroRow[]);
  log("micro: RTMP chunk parsing");
  report.micro.push(...benchRtmpChunks());
  log("micro: SRTP protect/unprotect");
  const { benchSrtp } = await import("./micro_srtp.ts");
  report.micro.push(...benchSrtp() as MicroRow[]);
  if (o.quick) {
    report.notes.push("--quick: QUIC retransmission micro-bench skipped.");
    return;
  }
  let rtx: { benchRtx: () => Promise<MicroRow[]> } | undefined;
  try {
    await Deno.stat(`${REPO_ROOT}/scripts/bench/rtx.ts`);
    rtx = await import(`./${"rtx.ts"}`);
  } catch (e) {
    report.problems.push(
      `QUIC retransmission bench (rtx.ts) unavailable: ${
        (e as Error).message.split("\n")[0]
      }`,
    );
  }
  if (rtx) {
    log("micro: QUIC retransmission (rtx.ts)");
    try {
      report.micro.push(...await rtx.benchRtx());
    } catch (e) {
      report.problems.push(`rtx.ts failed: ${(e as Error).message}`);
    }
  }
}

async function pipelines(
  o: Options,
  ctx: PipelineContext,
  system: "flvcast" | "nms",
  report: BenchReport,
): Promise<void> {
  const configs: [number, number][] = o.configs ??
    (o.quick ? [[10, 2]] : [[1, 1], [1, 20], [10, 2], [50, 1]]);
  const timing: PipelineTiming = o.quick
    ? { warmupMs: 1500, measureMs: 4000, graceMs: 1000 }
    : { warmupMs: 3000, measureMs: 20_000, graceMs: 1500 };
  if (o.windowS) timing.measureMs = o.windowS * 1000;
  const missing = (n: number, m: number) => {
    const r = report.pipeline.find((p) =>
      p.system === "flvcast" && !p.variant && p.n === n && p.m === m
    );
    return r !== undefined && r.tagsDelivered < r.tagsExpected;
  };
  for (const [n, m] of configs) {
    log(`pipeline ${system}: ${n} publisher(s) × ${m} reader(s) per stream`);
    const pctx = { ...ctx, measureStop: o.stopTime, publisher: o.publisher };
    if (system === "flvcast" && o.profile) {
      pctx.cpuProfDir = `${ctx.cpuProfDir}/${n}x${m}`;
    }
    // A failed run is reported, then tried once more (fresh processes).
    for (let attempt = 1; attempt <= 2; attempt++) {
      try {
        const r: PipelineResult = await runPipeline(pctx, system, n, m, timing);
        ctx.tls ??= pctx.tls;
        ctx.nms ??= pctx.nms;
        if (attempt > 1) {
          r.notes.push("second attempt (the first failed, see Notes)");
        }
        report.pipeline.push(r);
        if (system === "nms") {
          report.env["node-media-server"] = ctx.nms!.version;
        }
        break;
      } catch (e) {
        report.problems.push(
          `pipeline ${system} ${n}×${m} attempt ${attempt} failed: ${
            (e as Error).message.slice(0, 700)
          }`,
        );
        log(`  failed: ${(e as Error).message.slice(0, 400)}`);
      }
    }
  }
  /** One more flvcast run of `n × m` with `over`; a failure is a problem. */
  const extraRun = async (
    what: string,
    over: Partial<typeof ctx>,
    n: number,
    m: number,
  ) => {
    try {
      report.pipeline.push(
        await runPipeline({ ...ctx, ...over }, "flvcast", n, m, timing),
      );
    } catch (e) {
      report.problems.push(
        `pipeline flvcast ${what} failed: ${
          (e as Error).message.slice(0, 400)
        }`,
      );
    }
  };
  // SRTP's cost: 10 × 2 again with plain RTP (cloud srtp and edge.srtp off).
  if (system === "flvcast") {
    log("pipeline flvcast: 10 × 2 again with SRTP off (its cost)");
    await extraRun(
      "10×2 srtp-off",
      { srtp: false, cpuProfDir: undefined },
      10,
      2,
    );
  }
  // Diagnosis: when flvcast lost tags at 50 streams, run that configuration
  // once more with repair turned off (the edge's QUIC peer is a dead port),
  // to tell the receive path's own limit from a repair-traffic collapse.
  if (system === "flvcast" && !o.quick && missing(50, 1)) {
    log("pipeline flvcast: 50 × 1 again with repair off (diagnosis)");
    await extraRun(
      "50×1 repair-off diagnosis",
      {
        edgeCloudQuic: "127.0.0.1:9",
        cpuProfDir: o.profile ? `${ctx.cpuProfDir}/50x1-repair-off` : undefined,
      },
      50,
      1,
    );
  }
  report.notes.push(
    `pipeline ${system}: warm-up ${timing.warmupMs / 1000} s, window ${
      timing.measureMs / 1000
    } s per configuration${o.quick ? " (--quick)" : ""}.`,
  );
  if (system === "flvcast" && o.profile && ctx.cpuProfDir) {
    for (const [n, m] of configs) {
      const r = report.pipeline.find((p) =>
        p.system === "flvcast" && p.n === n && p.m === m
      );
      for (const role of ["cloud", "edge"]) {
        report.profiles.push(
          ...await summarizeDir(
            `${ctx.cpuProfDir}/${n}x${m}/${role}`,
            `${role}, ${n}×${m}`,
            12,
            r?.monoWindow,
          ),
        );
      }
    }
    const diag = report.pipeline.find((p) => p.variant === "repair off");
    for (const role of ["cloud", "edge"]) {
      report.profiles.push(
        ...await summarizeDir(
          `${ctx.cpuProfDir}/50x1-repair-off/${role}`,
          `${role}, 50×1 with repair off (diagnosis)`,
          12,
          diag?.monoWindow,
        ),
      );
    }
    report.notes.push(
      `--profile: cloud/edge ran under the V8 profiler (their CPU figures include its overhead); raw profiles in ${ctx.cpuProfDir}.`,
    );
  }
}

async function topology(
  report: BenchReport,
  state: { topo?: Topology; tried?: boolean },
): Promise<Topology | undefined> {
  if (state.tried) return state.topo;
  state.tried = true;
  const why = await netnsUnavailableReason();
  if (why) {
    report.problems.push(`network namespaces unavailable: ${why}`);
    return undefined;
  }
  const topo = await createTopology({ hosts: ["cloud", "edge"], prefix: "fb" });
  track({ dispose: () => topo.destroy() });
  state.topo = topo;
  return topo;
}

async function lossSweep(
  o: Options,
  ctx: PipelineContext,
  topo: Topology,
  report: BenchReport,
): Promise<void> {
  const latencies = o.quick ? [300] : [100, 300];
  const losses = o.quick ? [0, 5, 20] : [0, 1, 5, 10, 20, 30];
  const timing: PipelineTiming = o.quick
    ? { warmupMs: 1500, measureMs: 3000, graceMs: 1000 }
    : { warmupMs: 2000, measureMs: 15_000, graceMs: 1000 };
  const rows: LossRow[] = await runLossSweep(
    ctx,
    topo,
    { latencies, losses, timing },
    log,
  );
  report.loss.push(...rows);
  report.notes.push(
    `loss sweep: window ${timing.measureMs / 1000} s per point (${
      o.quick ? "--quick: latency_ms 300 at 0/5/20 % only" : "full grid"
    }); grace latency_ms + 1.5 s for late repairs.`,
  );
}

/** Edge designs the wide-area section compares (`FLVCAST_BENCH_WAN_DESIGNS`
 * picks some by label, comma-separated). */
const WAN_DESIGNS: WanDesign[] = [
  { label: "stream", edgeYaml: ["repair_answers: stream"] },
  { label: "udp", edgeYaml: ["repair_answers: udp"] },
  {
    label: "udp+fec8",
    edgeYaml: ["repair_answers: udp"],
    cloudYaml: ["fec_block: 8"],
  },
];

async function wanSweep(
  o: Options,
  ctx: PipelineContext,
  report: BenchReport,
): Promise<void> {
  const pick = Deno.env.get("FLVCAST_BENCH_WAN_DESIGNS");
  const designs = pick
    ? WAN_DESIGNS.filter((d) => pick.split(",").includes(d.label))
    : WAN_DESIGNS;
  const srt = await hasSrt();
  if (!srt) {
    report.problems.push("wan: srt-live-transmit not found (srt-tools)");
  }
  const burst = { everyMs: 3000, forMs: 200 };
  const all: WanCell[] = o.quick ? [{ rttMs: 100, budgetMs: 400 }] : [
    { rttMs: 0, budgetMs: 200 },
    { rttMs: 100, budgetMs: 200 },
    { rttMs: 100, budgetMs: 400 },
    { rttMs: 100, budgetMs: 400, burst },
    { rttMs: 200, budgetMs: 600 },
  ];
  // `RTT/budget` or `RTT/budgetb` (the cell with blackouts), comma-separated.
  const pickCells = Deno.env.get("FLVCAST_BENCH_WAN_CELLS");
  const cells = pickCells
    ? all.filter((c) =>
      pickCells.split(",").includes(
        `${c.rttMs}/${c.budgetMs}${c.burst ? "b" : ""}`,
      )
    )
    : all;
  const losses = o.quick ? [5, 20] : [5, 20, 30];
  const timing: PipelineTiming = o.quick
    ? { warmupMs: 1500, measureMs: 4000, graceMs: 1000 }
    : { warmupMs: 1500, measureMs: 6000, graceMs: 1000 };
  report.wan.push(
    ...await runWan(ctx, { cells, losses, designs, timing, srt }, log),
  );
  report.notes.push(
    `wan: window ${
      timing.measureMs / 1000
    } s per point; RTT = the delay wire's two crossings (the player's HTTP also crosses it); blackout cells: 5 % random drop plus ${burst.forMs} ms of 100 % drop every ${
      burst.everyMs / 1000
    } s.`,
  );
}

/** The repair-design prototype (wan_designs.ts), 8 s of the clip per run. */
async function wanDesignSweep(ctx: PipelineContext, report: BenchReport) {
  const designs = (Deno.env.get("FLVCAST_BENCH_WAN_DESIGNS") ??
    "stream,ustream,dgram,udp").split(",").filter(Boolean);
  const seconds = 8;
  report.wanDesigns.push(
    ...await runWanDesigns({
      dir: ctx.dir,
      clip: ctx.clip,
      designs,
      cells: designCells(Deno.env.get("FLVCAST_BENCH_WAN_CELLS")),
      seconds,
    }, log),
  );
  report.notes.push(
    `wan-designs: ${seconds} s of the clip per run, one cloud and one edge process of the prototype per run.`,
  );
}

async function fanouts(
  o: Options,
  ctx: PipelineContext,
  topo: Topology | undefined,
  report: BenchReport,
): Promise<void> {
  const cases: FanoutCase[] = [];
  if (topo) {
    const dests = o.quick ? [1] : [1, 4, 16];
    for (const d of dests) {
      cases.push({
        label: `netns, ${d} unicast destination${d > 1 ? "s" : ""}`,
        destinations: d,
        streams: 1,
        topo,
      });
    }
    cases.push({
      label: "netns, 1 multicast group",
      destinations: 1,
      multicast: true,
      streams: 1,
      topo,
    });
  }
  if (!o.quick) {
    cases.push(
      { label: "loopback, 1 stream", destinations: 1, streams: 1 },
      { label: "loopback, 10 streams", destinations: 1, streams: 10 },
    );
  }
  const opts = o.quick
    ? { settleMs: 300, stepMs: 700, maxSteps: 6 }
    : { settleMs: 500, stepMs: 1500 };
  for (const c of cases) {
    log(`fan-out: ${c.label}`);
    try {
      const r: FanoutResult = await runFanout(ctx, c, opts);
      report.fanout.push(r);
    } catch (e) {
      report.problems.push(
        `fan-out ${c.label} failed: ${(e as Error).message.slice(0, 600)}`,
      );
    }
  }
  report.notes.push(
    `fan-out: steps of ${opts.stepMs / 1000} s after ${
      opts.settleMs / 1000
    } s settling; rates tried 5k…200k aggregate pkts/s until the cloud falls off pace, plus one bisection step.`,
  );
}

/** Runs the bench; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let o: Options;
  try {
    o = parseArgs(args);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const started = performance.now();
  const dir = await Deno.makeTempDir({ prefix: "flvcast-bench-" });
  const stop = async () => {
    log("interrupted: stopping every process and namespace");
    await disposeAll();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const report: BenchReport = {
    env: await environment(o),
    micro: [],
    pipeline: [],
    loss: [],
    fanout: [],
    hls: undefined,
    wan: [],
    wanDesigns: [],
    profiles: [],
    problems: [],
    notes: [],
  };
  let ran = 0;
  const netState: { topo?: Topology; tried?: boolean } = {};
  try {
    log(`making/loading the bench clip`);
    const ctx: PipelineContext = { dir, clip: await ensureClip() };
    if (o.profile) {
      ctx.cpuProfDir = `/tmp/flvcast-bench-profiles-${Date.now()}`;
      await Deno.mkdir(ctx.cpuProfDir, { recursive: true });
    }
    const section = async (name: Section, f: () => Promise<void>) => {
      if (!o.only.has(name)) return;
      const t = performance.now();
      try {
        await f();
        ran++;
      } catch (e) {
        report.problems.push(
          `section ${name} could not run: ${
            (e as Error).message.slice(0, 800)
          }`,
        );
        log(`section ${name} failed: ${(e as Error).stack}`);
      }
      log(`${name} done in ${((performance.now() - t) / 1000).toFixed(0)} s`);
    };
    await section("micro", () => micro(o, report));
    await section("flvcast", () => pipelines(o, ctx, "flvcast", report));
    await section("nms", () => pipelines(o, ctx, "nms", report));
    await section("loss", async () => {
      const topo = await topology(report, netState);
      if (topo) await lossSweep(o, ctx, topo, report);
    });
    await section("wan", async () => {
      if (await netnsUnavailableReason()) {
        report.problems.push("wan: network namespaces unavailable");
        return;
      }
      await wanSweep(o, ctx, report);
    });
    await section("wan-designs", async () => {
      if (await netnsUnavailableReason()) {
        report.problems.push("wan-designs: network namespaces unavailable");
        return;
      }
      await wanDesignSweep(ctx, report);
    });
    await section("fanout", async () => {
      const topo = await topology(report, netState);
      await fanouts(o, ctx, topo, report);
    });
    await section("hls", async () => {
      log("hls: 1 stream, 1 s GOP: 50 HTTP-FLV vs 50 LL-HLS viewers, latency");
      report.hls = await runHlsBench({ quick: o.quick });
    });
  } catch (e) {
    report.problems.push(`bench setup failed: ${(e as Error).message}`);
  } finally {
    await disposeAll();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
  }
  report.env["bench wall time"] = `${
    ((performance.now() - started) / 1000).toFixed(0)
  } s`;
  const md = renderReport(report);
  console.log(md);
  await Deno.mkdir(dirname(o.out), { recursive: true });
  await Deno.writeTextFile(o.out, md);
  log(`written to ${o.out}`);
  return ran > 0 ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
