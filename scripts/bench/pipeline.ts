/**
 * Pipeline benchmarks: N paced publishers → server(s) → M HTTP-FLV readers
 * per stream, on loopback. flvcast runs as two processes (cloud, edge);
 * node-media-server as one. CPU and peak RSS come from `/proc` of the
 * server processes only (the load agent is another process).
 *
 * @module
 */
import type { PipelineAgentConfig } from "./agent.ts";
import {
  EDGE_COUNTERS,
  installNms,
  makeTls,
  type NmsInstall,
  type Place,
  type ServerProc,
  startAgent,
  startCloud,
  startEdge,
  startNms,
  sumStreams,
  type Tls,
} from "./nodes.ts";
import {
  cpuSeconds,
  freeTcpPort,
  freeUdpPorts,
  memoryMiB,
  monotonicUs,
  parsePrometheus,
  pssMiB,
  threadCpu,
  udpSocketDrops,
} from "./util.ts";

/** Durations of one pipeline run. */
export interface PipelineTiming {
  /** Warm-up after readers connect. */
  warmupMs: number;
  /** Measurement window. */
  measureMs: number;
  /** Wait for late tags. */
  graceMs: number;
}

/** Result of one pipeline run. */
export interface PipelineResult {
  /** `flvcast` or `nms`. */
  system: "flvcast" | "nms";
  /** A diagnostic variant (not used for ratios or goals), e.g. `repair off`. */
  variant?: string;
  /** Publishers. */
  n: number;
  /** Readers per stream. */
  m: number;
  /** Window (s). */
  windowS: number;
  /** Ingest Mbit/s (all publishers). */
  ingestMbps: number;
  /** Delivered Mbit/s (all readers). */
  deliveredMbps: number;
  /** CPU seconds in the window per process label (cloud, edge, nms). */
  cpu: Record<string, number>;
  /** Peak RSS MiB per process label. */
  peakRss: Record<string, number>;
  /** Largest sum over the processes of their PSS (MiB), sampled every
   * 500 ms in the window: shared pages counted once. */
  peakPss: number;
  /** Tags sent in the window (all streams). */
  tagsSent: number;
  /** Deliveries expected (sent × readers per stream). */
  tagsExpected: number;
  /** Deliveries seen. */
  tagsDelivered: number;
  /** Latency percentiles (ms). */
  latency: { p50: number; p95: number; p99: number; max: number; min: number };
  /** Publisher scheduling lateness p99 (ms; load-agent health). */
  sendLatenessP99: number;
  /** Load agent CPU % of one core. */
  agentCpuPct: number;
  /** flvcast cloud UDP datagrams/s in the window. */
  rtpPps?: number;
  /** flvcast edge counters over all streams at window end. */
  edge?: Record<string, number>;
  /** CPU seconds in the window per process label, then per thread group. */
  threads: Record<string, Record<string, number>>;
  /** The window on the monotonic clock (µs), to cut CPU profiles. */
  monoWindow: [number, number];
  /**
   * Time each server took to exit after SIGTERM while the load still ran
   * (ms; with {@linkcode PipelineContext.measureStop}).
   */
  stopMs?: Record<string, number>;
  /** Problems worth printing. */
  notes: string[];
}

/** Shared state of a pipeline section (temp dir, TLS, NMS install). */
export interface PipelineContext {
  /** Temp dir. */
  dir: string;
  /** TLS for flvcast clouds. */
  tls?: Tls;
  /** NMS install. */
  nms?: NmsInstall;
  /** The bench clip. */
  clip: string;
  /** CPU profile folder (flvcast only). */
  cpuProfDir?: string;
  /**
   * Diagnosis only: where the edge asks for repairs (default: the cloud).
   * A dead address turns repair off, to see the receive path alone.
   */
  edgeCloudQuic?: string;
  /** SRTP between cloud and edge (the product default, true); false for
   * the "srtp off" comparison. */
  srtp?: boolean;
  /**
   * Stop cloud and edge (SIGTERM, both at once) while publishers and
   * readers still run, after the window, and report how long each took.
   */
  measureStop?: boolean;
  /** Publishers: the paced in-process replayer (default) or ffmpeg. */
  publisher?: "replayer" | "ffmpeg";
}

/** How long a stopping server may take before SIGKILL (and the bench says so). */
const STOP_LIMIT_MS = 15_000;

/**
 * SIGTERMs every server at once and returns how long each took to exit
 * (SIGKILL at {@linkcode STOP_LIMIT_MS}).
 */
async function timeStop(procs: ServerProc[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const t0 = performance.now();
  await Promise.all(procs.map(async (p) => {
    await p.dispose(STOP_LIMIT_MS);
    out[p.name.replace(/^flvcast /, "")] = performance.now() - t0;
  }));
  return out;
}

/**
 * Runs a pipeline agent at `place`, sampling the CPU time of `pids` at its
 * window start and end.
 */
export async function runPipelineAgent(
  place: Place,
  cfg: PipelineAgentConfig,
  pids: Record<string, number>,
  counters: Record<string, () => number> = {},
  underLoad?: () => Promise<void>,
): Promise<
  {
    result: Record<string, unknown>;
    cpu: Record<string, number>;
    threads: Record<string, Record<string, number>>;
    monoWindow: [number, number];
    deltas: Record<string, number>;
    peakPss: number;
  }
> {
  const agent = startAgent(place, cfg, { name: "load agent" }).child;
  try {
    const setupMs = 30_000 + cfg.publish.length * 300;
    await agent.next("measure_start", setupMs + cfg.warmupMs);
    const c0: Record<string, number> = {};
    const t0: Record<string, Record<string, number>> = {};
    for (const [k, pid] of Object.entries(pids)) {
      c0[k] = cpuSeconds(pid);
      t0[k] = threadCpu(pid);
    }
    const m0 = monotonicUs();
    const d0: Record<string, number> = {};
    for (const [k, f] of Object.entries(counters)) d0[k] = f();
    let peakPss = 0;
    const samplePss = () => {
      let sum = 0;
      for (const pid of Object.values(pids)) sum += pssMiB(pid);
      if (sum > peakPss) peakPss = sum;
    };
    samplePss();
    const sampler = setInterval(samplePss, 500);
    try {
      await agent.next("measure_end", cfg.measureMs + 10_000);
    } finally {
      clearInterval(sampler);
    }
    const m1 = monotonicUs();
    const deltas: Record<string, number> = {};
    for (const [k, f] of Object.entries(counters)) deltas[k] = f() - d0[k];
    const cpu: Record<string, number> = {};
    const threads: Record<string, Record<string, number>> = {};
    for (const [k, pid] of Object.entries(pids)) {
      cpu[k] = cpuSeconds(pid) - c0[k];
      const t1 = threadCpu(pid);
      threads[k] = {};
      for (const [name, v] of Object.entries(t1)) {
        threads[k][name] = v - (t0[k][name] ?? 0);
      }
    }
    const result = await agent.next("result", cfg.graceMs + 20_000);
    // The agent holds the load (holdAfterResultMs) while this runs.
    await underLoad?.();
    return { result, cpu, threads, monoWindow: [m0, m1], deltas, peakPss };
  } finally {
    await agent.dispose();
  }
}

/**
 * After a failed run: which server stopped answering its health check, and
 * how busy it is (a server spinning at 100 % of a core is stuck in a loop).
 */
async function diagnose(
  pids: Record<string, number>,
  healthUrls: Record<string, string>,
): Promise<string> {
  const out: string[] = [];
  for (const [k, pid] of Object.entries(pids)) {
    let health = "no health URL";
    const url = healthUrls[k];
    if (url) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        await res.body?.cancel();
        health = `health ${res.status}`;
      } catch (e) {
        health = `health check failed (${(e as Error).message})`;
      }
    }
    try {
      const c0 = cpuSeconds(pid);
      await new Promise((r) => setTimeout(r, 1000));
      const busy = (cpuSeconds(pid) - c0) * 100;
      out.push(`${k}: ${health}, ${busy.toFixed(0)} % CPU over 1 s`);
    } catch {
      out.push(`${k}: exited`);
    }
  }
  return ` [diagnosis: ${out.join("; ")}]`;
}

/** Runs one pipeline configuration against flvcast or NMS. */
export async function runPipeline(
  ctx: PipelineContext,
  system: "flvcast" | "nms",
  n: number,
  m: number,
  timing: PipelineTiming,
): Promise<PipelineResult> {
  const procs: ServerProc[] = [];
  const notes: string[] = [];
  try {
    let publish: string[];
    let play: string[];
    let pids: Record<string, number>;
    let stats: { name: string; url: string }[] = [];
    let healthUrls: Record<string, string> = {};
    let counters: Record<string, () => number> = {};
    const streamKey = (i: number) => `live/b${i}`;
    if (system === "flvcast") {
      ctx.tls ??= await makeTls(ctx.dir);
      const rtmp = freeTcpPort();
      const capi = freeTcpPort();
      const quic = freeUdpPorts(1);
      const edgeUdp = freeUdpPorts(1);
      const flv = freeTcpPort();
      const eapi = freeTcpPort();
      const cloud = await startCloud({
        place: {},
        dir: ctx.dir,
        bind: "127.0.0.1",
        rtmpPort: rtmp,
        apiPort: capi,
        quicPort: quic,
        rtpPort: 0,
        destinations: [`127.0.0.1:${edgeUdp}`],
        tls: ctx.tls,
        srtp: ctx.srtp,
        cpuProfDir: ctx.cpuProfDir && `${ctx.cpuProfDir}/cloud`,
      });
      procs.push(cloud);
      const edge = await startEdge({
        place: {},
        dir: ctx.dir,
        bind: "127.0.0.1",
        udpAddr: `127.0.0.1:${edgeUdp}`,
        flvPort: flv,
        apiPort: eapi,
        cloudQuic: ctx.edgeCloudQuic ?? `127.0.0.1:${quic}`,
        fingerprint: ctx.tls.fingerprint,
        latencyMs: 200,
        srtp: ctx.srtp,
        cpuProfDir: ctx.cpuProfDir && `${ctx.cpuProfDir}/edge`,
      });
      procs.push(edge);
      publish = Array.from(
        { length: n },
        (_, i) => `rtmp://127.0.0.1:${rtmp}/${streamKey(i)}`,
      );
      play = Array.from(
        { length: n },
        (_, i) => `http://127.0.0.1:${flv}/${streamKey(i)}.flv`,
      );
      pids = { cloud: cloud.pid, edge: edge.pid };
      counters = { edgeSocketDrops: () => udpSocketDrops(edge.pid, edgeUdp) };
      healthUrls = {
        cloud: `http://127.0.0.1:${capi}/healthz`,
        edge: `http://127.0.0.1:${eapi}/healthz`,
      };
      stats = [
        { name: "cloudMetrics", url: `http://127.0.0.1:${capi}/metrics` },
        { name: "edgeStreams", url: `http://127.0.0.1:${eapi}/api/streams` },
      ];
    } else {
      ctx.nms ??= await installNms();
      const rtmp = freeTcpPort();
      const http = freeTcpPort();
      const nms = await startNms(ctx.nms, {
        dir: ctx.dir,
        rtmpPort: rtmp,
        httpPort: http,
      });
      procs.push(nms);
      publish = Array.from(
        { length: n },
        (_, i) => `rtmp://127.0.0.1:${rtmp}/${streamKey(i)}`,
      );
      play = Array.from(
        { length: n },
        (_, i) => `http://127.0.0.1:${http}/${streamKey(i)}.flv`,
      );
      pids = { nms: nms.pid };
    }
    const peakRss: Record<string, number> = {};
    let agentRun;
    const measureStop = ctx.measureStop && system === "flvcast";
    let stopMs: Record<string, number> | undefined;
    try {
      agentRun = await runPipelineAgent(
        {},
        {
          mode: "pipeline",
          clip: ctx.clip,
          publish,
          play,
          readersPerStream: m,
          warmupMs: timing.warmupMs,
          measureMs: timing.measureMs,
          graceMs: timing.graceMs,
          stats,
          maxRunMs: 60_000 + n * 500 + timing.warmupMs + timing.measureMs +
            timing.graceMs + (measureStop ? STOP_LIMIT_MS + 5000 : 0),
          holdAfterResultMs: measureStop ? STOP_LIMIT_MS + 5000 : 0,
          publisher: ctx.publisher,
        },
        pids,
        counters,
        measureStop
          ? async () => {
            // Peak RSS first: it is gone once they exit.
            for (const [k, pid] of Object.entries(pids)) {
              peakRss[k] = memoryMiB(pid).peak;
            }
            stopMs = await timeStop(procs);
          }
          : undefined,
      );
    } catch (e) {
      throw new Error(
        `${(e as Error).message.slice(0, 400)}${await diagnose(
          pids,
          healthUrls,
        )}`,
      );
    }
    const { result: r, cpu, threads, monoWindow, deltas, peakPss } = agentRun;
    if (!measureStop) {
      for (const [k, pid] of Object.entries(pids)) {
        peakRss[k] = memoryMiB(pid).peak;
      }
    }
    const windowS = (r.windowMs as number) / 1000;
    const res: PipelineResult = {
      system,
      variant: ctx.edgeCloudQuic
        ? "repair off"
        : ctx.srtp === false
        ? "srtp off"
        : undefined,
      n,
      m,
      windowS,
      ingestMbps: n * (r.clipBitrate as number) / 1e6,
      deliveredMbps: (r.deliveredBytes as number) * 8 / windowS / 1e6,
      cpu,
      peakRss,
      peakPss,
      tagsSent: r.tagsSent as number,
      tagsExpected: r.tagsExpected as number,
      tagsDelivered: r.tagsDelivered as number,
      latency: r.latency as PipelineResult["latency"],
      sendLatenessP99: (r.sendLateness as { p99: number }).p99,
      agentCpuPct: r.agentCpuPct as number,
      monoWindow,
      threads,
      stopMs,
      notes,
    };
    if (ctx.publisher === "ffmpeg") {
      notes.push(
        "publishers: ffmpeg -re -stream_loop -1 -c copy (no latency; losses by tag order)",
      );
    }
    if (stopMs) {
      const parts = Object.entries(stopMs).map(([k, ms]) =>
        `${k} ${(ms / 1000).toFixed(2)} s${ms > 5000 ? " (over 5 s)" : ""}`
      );
      notes.push(`stopped under full load (SIGTERM): ${parts.join(", ")}`);
    }
    if (
      (r.publisherErrors as number) > 0 || (r.publishersClosed as number) > 0
    ) {
      notes.push(`${r.publishersClosed} publisher connection(s) closed`);
    }
    if ((r.corruptTags as number) > 0) {
      notes.push(
        `${r.corruptTags} delivered tag(s) with a body differing from what was sent (not counted as delivered), e.g. ${
          JSON.stringify((r.corruptSamples as unknown[])?.[0])
        }`,
      );
    }
    if ((r.readersEndedEarly as number) > 0) {
      notes.push(
        `${r.readersEndedEarly} reader(s) cut off ${
          JSON.stringify(r.readerErrors)
        }`,
      );
    }
    if (res.sendLatenessP99 > 20) {
      notes.push(
        `load agent fell behind (send lateness p99 ${
          res.sendLatenessP99.toFixed(0)
        } ms)`,
      );
    }
    if (system === "flvcast") {
      const s0 = r.statsStart as Record<string, unknown>;
      const s1 = r.statsEnd as Record<string, unknown>;
      if (
        typeof s0.cloudMetrics === "string" &&
        typeof s1.cloudMetrics === "string"
      ) {
        const a = parsePrometheus(s0.cloudMetrics);
        const b = parsePrometheus(s1.cloudMetrics);
        const k = "flvcast_cloud_udp_datagrams_sent_total";
        res.rtpPps = ((b.get(k) ?? NaN) - (a.get(k) ?? NaN)) / windowS;
        const qd = "flvcast_cloud_udp_queue_drops_total";
        if ((b.get(qd) ?? 0) > 0) {
          notes.push(`cloud UDP queue drops ${b.get(qd)}`);
        }
      }
      const es = s1.edgeStreams;
      const err = (es as { error?: string })?.error;
      if (err) notes.push(`edge /api/streams at window end: ${err}`);
      res.edge = { socketDrops: deltas.edgeSocketDrops ?? NaN };
      for (const f of EDGE_COUNTERS) res.edge[f] = sumStreams(es, f);
    }
    return res;
  } finally {
    for (const p of procs.reverse()) await p.dispose();
  }
}
