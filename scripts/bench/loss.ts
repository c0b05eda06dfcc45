/**
 * Loss sweep: cloud and edge in two network namespaces of the netns harness
 * (198.18.0.1 and .2), nftables dropping a random share of the edge's RTP
 * input, for each `latency_ms`. One paced publisher (in the cloud's
 * namespace) and one HTTP-FLV reader of the edge (same process, same
 * clock). Per run: tags delivered, tags dropped by the edge, repair traffic
 * (bytes served over QUIC / RTP bytes sent, in the window), latency and the
 * decode errors of the saved player output (ffmpeg).
 *
 * @module
 */
import type { Topology } from "../../testkit/netns.ts";
import {
  EDGE_COUNTERS,
  makeTls,
  type Place,
  type ServerProc,
  startCloud,
  startEdge,
} from "./nodes.ts";
import type { PipelineContext, PipelineTiming } from "./pipeline.ts";
import { runPipelineAgent } from "./pipeline.ts";
import { parsePrometheus, run } from "./util.ts";
import { type Blackout, startBlackouts } from "./blackout.ts";

/** One row of the sweep. */
export interface LossRow {
  /** Edge `latency_ms`. */
  latencyMs: number;
  /** Configured random drop (%). */
  lossPct: number;
  /** Datagrams nftables dropped during the run. */
  nftDropped: number;
  /** Tags sent in the window. */
  tagsSent: number;
  /** Tags the player got (of those sent in the window). */
  tagsDelivered: number;
  /** Edge counters for the stream at window end. */
  edge: Record<string, number>;
  /** Bytes served over QUIC / RTP bytes sent, in the window. */
  repairRatio: number;
  /** Repair packets the cloud sent in the window (every copy counted). */
  repairPackets: number;
  /** RTP media packets the cloud made in the window. */
  rtpPackets: number;
  /** UDP datagrams the cloud sent in the window (media, FEC parity, RTCP). */
  datagramsSent: number;
  /** Latency percentiles (ms). */
  latency: { p50: number; p95: number; p99: number; max: number };
  /** Error lines of `ffmpeg -v error` decoding the player output. */
  decodeErrors: number;
  /** Edge CPU seconds per window second (%). */
  edgeCpuPct: number;
  /** Cloud CPU %. */
  cloudCpuPct: number;
  /** Anything odd. */
  notes: string[];
}

/** `ffmpeg -v error` lines decoding `file`: their count and the first one. */
export async function decodeErrors(
  file: string,
): Promise<{ count: number; first: string }> {
  const r = await run("ffmpeg", [
    "-hide_banner",
    "-nostdin",
    "-v",
    "error",
    "-threads",
    "1",
    "-i",
    file,
    "-f",
    "null",
    "-",
  ], { timeoutMs: 120_000 });
  const lines = r.stderr.split("\n").filter((l) => l.trim());
  return { count: lines.length, first: lines[0] ?? "" };
}

const CLOUD_IP = "198.18.0.1";
const EDGE_IP = "198.18.0.2";

/** Runs the sweep on an existing two-host topology (`cloud`, `edge`). */
export async function runLossSweep(
  ctx: PipelineContext,
  topo: Topology,
  opts: {
    latencies: number[];
    losses: number[];
    timing: PipelineTiming;
    /** Drop every UDP datagram into the edge (RTP, RTCP, QUIC), not only RTP. */
    dropAll?: boolean;
    /** Extra YAML lines under the edge's `edge:`. */
    edgeYaml?: string[];
    /** Extra top-level YAML lines of the cloud. */
    cloudYaml?: string[];
    /** Blackouts on top of the random drop (with `dropAll`). */
    burst?: Blackout;
  },
  progress: (msg: string) => void,
): Promise<LossRow[]> {
  ctx.tls ??= await makeTls(ctx.dir);
  const cloudPlace: Place = { topo, host: "cloud" };
  const edgePlace: Place = { topo, host: "edge" };
  const rows: LossRow[] = [];
  const cloud = await startCloud({
    place: cloudPlace,
    dir: ctx.dir,
    bind: "0.0.0.0",
    rtmpPort: 1935,
    apiPort: 8090,
    quicPort: 4242,
    rtpPort: 5220,
    destinations: [`${EDGE_IP}:5222`],
    tls: ctx.tls,
    cloudYaml: opts.cloudYaml,
  });
  try {
    for (const latencyMs of opts.latencies) {
      let edge: ServerProc | undefined;
      try {
        edge = await startEdge({
          place: edgePlace,
          dir: ctx.dir,
          bind: "0.0.0.0",
          udpAddr: ":5222",
          flvPort: 7001,
          apiPort: 8091 + latencyMs, // distinct config file per edge
          cloudQuic: `${CLOUD_IP}:4242`,
          fingerprint: ctx.tls.fingerprint,
          latencyMs,
          edgeYaml: opts.edgeYaml,
        });
        const edgeApi = `http://${EDGE_IP}:${8091 + latencyMs}`;
        for (const lossPct of opts.losses) {
          progress(`loss sweep: latency_ms ${latencyMs}, loss ${lossPct} %`);
          await topo.clearDrops("edge");
          if (lossPct > 0 && opts.dropAll) {
            await topo.dropAllUdp("edge", Math.round(lossPct * 10));
          } else if (lossPct > 0) {
            await topo.dropUdp("edge", 5222, Math.round(lossPct * 10));
          }
          const key = `live/loss_${latencyMs}_${lossPct}_${rows.length}`;
          const save =
            `${ctx.dir}/player_${latencyMs}_${lossPct}_${rows.length}.flv`;
          const grace = latencyMs + 1500;
          const stopBurst = opts.burst
            ? startBlackouts(
              topo,
              "edge",
              opts.burst,
              opts.dropAll ? Math.round(lossPct * 10) : 0,
            )
            : undefined;
          const { result: r, cpu } = await runPipelineAgent(cloudPlace, {
            mode: "pipeline",
            clip: ctx.clip,
            publish: [`rtmp://127.0.0.1:1935/${key}`],
            play: [`http://${EDGE_IP}:7001/${key}.flv`],
            readersPerStream: 1,
            warmupMs: opts.timing.warmupMs,
            measureMs: opts.timing.measureMs,
            graceMs: Math.max(opts.timing.graceMs, grace),
            saveFlv: save,
            stats: [
              { name: "cloudMetrics", url: "http://127.0.0.1:8090/metrics" },
              { name: "edgeStreams", url: `${edgeApi}/api/streams` },
            ],
            maxRunMs: 90_000 + opts.timing.measureMs,
          }, { cloud: cloud.pid, edge: edge.pid }).finally(() => stopBurst?.());
          const nftDropped = await topo.droppedPackets("edge");
          await topo.clearDrops("edge");
          const windowS = (r.windowMs as number) / 1000;
          const s0 = r.statsStart as Record<string, unknown>;
          const s1 = r.statsEnd as Record<string, unknown>;
          let repairRatio = NaN;
          let repairPackets = NaN;
          let rtpPackets = NaN;
          let datagramsSent = NaN;
          const notes: string[] = [];
          if (
            typeof s0.cloudMetrics === "string" &&
            typeof s1.cloudMetrics === "string"
          ) {
            const a = parsePrometheus(s0.cloudMetrics);
            const b = parsePrometheus(s1.cloudMetrics);
            const d = (k: string) => (b.get(k) ?? NaN) - (a.get(k) ?? NaN);
            repairRatio = d("flvcast_cloud_rtx_bytes_served_total") /
              d("flvcast_cloud_udp_bytes_sent_total");
            repairPackets = d("flvcast_cloud_rtx_packets_served_total") +
              (d("flvcast_cloud_rtx_answer_copies_total") || 0);
            rtpPackets = d("flvcast_cloud_rtp_packets_total");
            datagramsSent = d("flvcast_cloud_udp_datagrams_sent_total");
          } else notes.push("cloud metrics unavailable");
          const streams = (s1.edgeStreams as {
            streams?: Record<string, unknown>[];
          })?.streams ?? [];
          const st = streams.find((s) => s.key === key) ?? {};
          const edgeCounters: Record<string, number> = {};
          for (const f of [...EDGE_COUNTERS, "rtt_ms"]) {
            edgeCounters[f] = Number(st[f] ?? NaN);
          }
          if ((r.corruptTags as number) > 0) {
            notes.push(`${r.corruptTags} tag(s) with a wrong body`);
          }
          if ((r.readersEndedEarly as number) > 0) {
            notes.push(`player cut off: ${JSON.stringify(r.readerErrors)}`);
          }
          const dec = await decodeErrors(save);
          if (dec.count > 0) {
            notes.push(`first decode error: ${dec.first.slice(0, 120)}`);
            if (Deno.env.get("FLVCAST_BENCH_KEEP")) {
              await Deno.copyFile(save, `/tmp/${save.split("/").pop()}`);
            }
          }
          rows.push({
            latencyMs,
            lossPct,
            nftDropped,
            tagsSent: r.tagsSent as number,
            tagsDelivered: r.tagsDelivered as number,
            edge: edgeCounters,
            repairRatio,
            repairPackets,
            rtpPackets,
            datagramsSent,
            latency: r.latency as LossRow["latency"],
            decodeErrors: dec.count,
            edgeCpuPct: 100 * cpu.edge / windowS,
            cloudCpuPct: 100 * cpu.cloud / windowS,
            notes,
          });
          await Deno.remove(save).catch(() => {});
        }
      } finally {
        await edge?.dispose();
      }
    }
  } finally {
    await cloud.dispose();
  }
  return rows;
}
