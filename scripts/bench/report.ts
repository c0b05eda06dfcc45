/**
 * Markdown report of `deno task bench`: one table per section, the figures
 * the issues ask for, and the goals of issue 6 marked met or missed.
 *
 * @module
 */
import type { FanoutResult } from "./fanout.ts";
import { type HlsBenchResult, renderHls } from "./hls.ts";
import type { LossRow } from "./loss.ts";
import type { PipelineResult } from "./pipeline.ts";
import { wanCostTable, type WanRow, wanTable } from "./wan.ts";
import { type DesignRow, designTable } from "./wan_designs.ts";
import { fmt, table } from "./util.ts";

/** A micro-benchmark row. */
export interface MicroRow {
  /** What was measured. */
  name: string;
  /** Value. */
  value: number;
  /** Unit. */
  unit: string;
}

/** Everything one run measured. */
export interface BenchReport {
  /** Environment facts (date, machine, versions, mode). */
  env: Record<string, string>;
  /** Micro rows. */
  micro: MicroRow[];
  /** Pipeline runs (flvcast and NMS). */
  pipeline: PipelineResult[];
  /** Loss sweep rows. */
  loss: LossRow[];
  /** Fan-out results by case. */
  fanout: FanoutResult[];
  /** HLS / LL-HLS section. */
  hls?: HlsBenchResult;
  /** Wide-area repair rows (flvcast designs and SRT). */
  wan: WanRow[];
  /** Repair designs of the prototype (wan_designs.ts). */
  wanDesigns: DesignRow[];
  /** Profile summaries (text) when `--profile` was given. */
  profiles: string[];
  /** Sections skipped or failed, with the reason. */
  problems: string[];
  /** Free-form notes. */
  notes: string[];
}

const pct = (a: number, b: number) => (b > 0 ? (100 * a) / b : NaN);

/** CPU % of one core per delivered Mbit/s of a pipeline run (all server processes). */
export function cpuPerMbps(r: PipelineResult, which?: string): number {
  const cpu = which
    ? r.cpu[which] ?? NaN
    : Object.values(r.cpu).reduce((a, b) => a + b, 0);
  return (100 * cpu / r.windowS) / r.deliveredMbps;
}

/** CPU seconds per stream-minute. */
function cpuPerStreamMinute(r: PipelineResult, which?: string): number {
  const cpu = which
    ? r.cpu[which] ?? NaN
    : Object.values(r.cpu).reduce((a, b) => a + b, 0);
  return cpu / (r.n * r.windowS / 60);
}

function lost(r: PipelineResult): number {
  return r.tagsExpected - r.tagsDelivered;
}

function pipelineTable(rows: PipelineResult[]): string {
  return table(
    [
      "system",
      "N pub",
      "M/stream",
      "window s",
      "ingest Mbit/s",
      "delivered Mbit/s",
      "CPU s / stream-min (cloud · edge · total)",
      "CPU % / delivered Mbit/s (cloud · edge · total)",
      "peak RSS MiB",
      "latency ms p50 / p95 / p99 / max",
      "tags sent → delivered (expected)",
      "notes",
    ],
    rows.map((r) => {
      const labels = Object.keys(r.cpu);
      const parts = (f: (w?: string) => number, d: number) =>
        labels.length > 1
          ? [...labels.map((l) => fmt(f(l), d)), fmt(f(), d)].join(" · ")
          : fmt(f(), d);
      return [
        r.variant ? `${r.system} (${r.variant}, diagnosis)` : r.system,
        r.n,
        r.m,
        fmt(r.windowS, 1),
        fmt(r.ingestMbps, 1),
        fmt(r.deliveredMbps, 1),
        parts((w) => cpuPerStreamMinute(r, w), 2),
        parts((w) => cpuPerMbps(r, w), 2),
        labels.map((l) => fmt(r.peakRss[l], 0)).join(" · "),
        `${fmt(r.latency.p50, 1)} / ${fmt(r.latency.p95, 1)} / ${
          fmt(r.latency.p99, 1)
        } / ${fmt(r.latency.max, 0)}`,
        `${r.tagsSent} → ${r.tagsDelivered} (${r.tagsExpected}${
          lost(r) ? `, ${lost(r)} missing` : ""
        })`,
        [
          ...r.notes,
          r.edge && (r.edge.tags_dropped || r.edge.lost || r.edge.socketDrops)
            ? `edge: kernel dropped ${r.edge.socketDrops} datagrams (socket buffer full) in the window; lost ${r.edge.lost} pkts, recovered ${r.edge.recovered}, unrecoverable ${r.edge.unrecoverable}, tags dropped ${r.edge.tags_dropped}, skipped ${r.edge.tags_skipped}`
            : "",
          `agent ${fmt(r.agentCpuPct, 0)} % CPU`,
        ].filter(Boolean).join("; "),
      ];
    }),
  );
}

function threadTable(rows: PipelineResult[]): string {
  const out: (string | number)[][] = [];
  for (const r of rows) {
    for (const [label, t] of Object.entries(r.threads ?? {})) {
      const total = Object.values(t).reduce((a, b) => a + b, 0);
      const parts = Object.entries(t).filter(([, v]) => v > 0).sort((a, b) =>
        b[1] - a[1]
      ).map(([k, v]) => `${k} ${fmt((100 * v) / r.windowS, 1)}`);
      out.push([
        r.variant ? `${r.system} (${r.variant})` : r.system,
        `${r.n} × ${r.m}`,
        label,
        fmt((100 * total) / r.windowS, 1),
        parts.join(" · "),
      ]);
    }
  }
  return table(
    [
      "system",
      "N × M",
      "process",
      "CPU % of one core",
      "by thread (% of one core)",
    ],
    out,
  );
}

function ratioTable(rows: PipelineResult[]): string {
  const out: (string | number)[][] = [];
  for (const f of rows.filter((r) => r.system === "flvcast" && !r.variant)) {
    const n = rows.find((r) =>
      r.system === "nms" && r.n === f.n && r.m === f.m
    );
    if (!n) continue;
    const cf = cpuPerMbps(f);
    const cn = cpuPerMbps(n);
    out.push([
      `${f.n} × ${f.m}`,
      fmt(cf, 2),
      fmt(cn, 2),
      fmt(cf / cn, 2),
      `${fmt(f.peakRss.cloud + f.peakRss.edge, 0)} / ${fmt(n.peakRss.nms, 0)}`,
      `${fmt(f.peakPss, 0)} / ${fmt(n.peakPss, 0)}`,
      `${fmt(f.latency.p50, 1)} / ${fmt(n.latency.p50, 1)}`,
      `${fmt(f.latency.p99, 1)} / ${fmt(n.latency.p99, 1)}`,
      `${lost(f)} / ${lost(n)}`,
      cf / cn <= 0.5 ? "met" : "**missed**",
    ]);
  }
  return table(
    [
      "N × M",
      "flvcast CPU %/Mbit/s (cloud+edge)",
      "NMS CPU %/Mbit/s",
      "ratio flvcast/NMS",
      "peak RSS MiB flvcast/NMS",
      "peak PSS MiB in window flvcast/NMS",
      "p50 ms flvcast/NMS",
      "p99 ms flvcast/NMS",
      "missing tags flvcast/NMS",
      "goal ≤ 0.5",
    ],
    out,
  );
}

function lossTable(rows: LossRow[]): string {
  return table(
    [
      "latency_ms",
      "loss %",
      "nft dropped",
      "tags sent → delivered",
      "delivered %",
      "edge lost / recovered / unrecoverable pkts (NACKs)",
      "edge tags dropped / skipped",
      "repair bytes / sent bytes",
      "latency ms p50 / p95 / p99 / max",
      "decode errors",
      "CPU % cloud · edge",
      "edge RTT est. ms",
      "notes",
    ],
    rows.map((r) => [
      r.latencyMs,
      r.lossPct,
      r.nftDropped,
      `${r.tagsSent} → ${r.tagsDelivered}`,
      fmt(pct(r.tagsDelivered, r.tagsSent), 2),
      `${r.edge.lost} / ${r.edge.recovered} / ${r.edge.unrecoverable} (${r.edge.nacked})`,
      `${r.edge.tags_dropped} / ${r.edge.tags_skipped}`,
      fmt(r.repairRatio * 100, 1) + " %",
      `${fmt(r.latency.p50, 1)} / ${fmt(r.latency.p95, 1)} / ${
        fmt(r.latency.p99, 1)
      } / ${fmt(r.latency.max, 0)}`,
      r.decodeErrors,
      `${fmt(r.cloudCpuPct, 1)} · ${fmt(r.edgeCpuPct, 1)}`,
      fmt(r.edge.rtt_ms, 1),
      r.notes.join("; "),
    ]),
  );
}

function fanoutTable(rows: FanoutResult[]): string {
  return table(
    [
      "case",
      "max aggregate pkts/s, no receiver loss",
      "cloud CPU % there",
      "max with ≤ 0.1 % receiver loss",
      "max aggregate pkts/s the cloud put on the wire on pace",
      "cloud CPU % there",
      "first loss at: target → received pkts/s; sink socket-buffer drops; other gaps; cloud queue drops / send errors; kernel backlog drops",
    ],
    rows.map((r) => {
      const f = r.firstFailure;
      return [
        r.label,
        fmt(r.maxSustained, 0),
        fmt(r.best?.cloudCpuPct, 0),
        fmt(r.maxLowLoss, 0),
        fmt(r.maxOutput, 0),
        fmt(r.bestOutput?.cloudCpuPct, 0),
        f
          ? `${fmt(f.target, 0)} → ${fmt(f.received, 0)}; ${f.socketDrops}; ${
            f.lost - f.socketDrops
          }; ${f.queueDrops} / ${f.sendErrors}; ${f.backlogDrops}${
            f.behind ? `; publisher behind ${f.behind} tags` : ""
          }`
          : "none up to the last step",
      ];
    }),
  );
}

/** The goals of issue 6, each with its measured figure. */
function goals(r: BenchReport): string {
  const rows: string[][] = [];
  const fl = r.pipeline.filter((p) => p.system === "flvcast" && !p.variant);
  const one = fl.find((p) => p.n === 1 && p.m === 1);
  const loss0 = r.loss.filter((l) => l.lossPct === 0);
  const lat0 = [
    ...(one ? [[`pipeline 1×1 (loopback)`, one.latency] as const] : []),
    ...loss0.map((l) =>
      [`netns, latency_ms ${l.latencyMs}, 0 % loss`, l.latency] as const
    ),
  ];
  for (const [where, l] of lat0) {
    rows.push([
      "added latency at 0 % loss: p50 ≤ 5 ms, p99 ≤ 20 ms",
      `${where}: p50 ${fmt(l.p50, 1)} ms, p99 ${fmt(l.p99, 1)} ms`,
      // No latency (null/NaN) with ffmpeg publishers: not a pass.
      !Number.isFinite(l.p50 ?? NaN)
        ? "not measured"
        : l.p50 <= 5 && l.p99 <= 20
        ? "met"
        : "**missed**",
    ]);
  }
  for (const l of r.loss.filter((x) => x.lossPct === 5)) {
    rows.push([
      "p99 ≤ budget at 5 % loss",
      `latency_ms ${l.latencyMs}: p99 ${fmt(l.latency.p99, 1)} ms`,
      l.latency.p99 <= l.latencyMs ? "met" : "**missed**",
    ]);
  }
  for (const f of fl) {
    const n = r.pipeline.find((p) =>
      p.system === "nms" && p.n === f.n && p.m === f.m
    );
    if (!n) continue;
    const ratio = cpuPerMbps(f) / cpuPerMbps(n);
    rows.push([
      "CPU per delivered Mbit/s (cloud + edge) ≤ ½ of node-media-server",
      `${f.n}×${f.m}: ${fmt(cpuPerMbps(f), 2)} vs ${
        fmt(cpuPerMbps(n), 2)
      } % per Mbit/s = ${fmt(ratio, 2)}×`,
      ratio <= 0.5 ? "met" : "**missed**",
    ]);
  }
  for (const l of r.loss.filter((x) => x.latencyMs === 300)) {
    if (l.lossPct > 20) continue;
    const d = pct(l.tagsDelivered, l.tagsSent);
    const need = l.lossPct <= 10 ? 100 : 99.9;
    rows.push([
      `latency_ms 300: ${need} % of tags at ${l.lossPct} % loss`,
      `${fmt(d, 2)} % (${
        l.tagsSent - l.tagsDelivered
      } missing of ${l.tagsSent}), decode errors ${l.decodeErrors}`,
      d >= need ? "met" : "**missed**",
    ]);
  }
  const fifty = fl.find((p) => p.n === 50);
  if (fifty) {
    const missing = lost(fifty);
    rows.push([
      "50 publishers × 2.5 Mbit/s through one cloud + one edge, 0 lost tags",
      `${missing} of ${fifty.tagsExpected} deliveries missing; edge tags dropped ${
        fifty.edge?.tags_dropped ?? "?"
      }, packets lost ${fifty.edge?.lost ?? "?"} (recovered ${
        fifty.edge?.recovered ?? "?"
      }); p99 ${fmt(fifty.latency.p99, 1)} ms`,
      missing === 0 && (fifty.edge?.tags_dropped ?? 0) === 0
        ? "met"
        : "**missed**",
    ]);
  }
  return table(["goal (issue 6)", "measured", "status"], rows);
}

/** Figures issues 2 and 4 ask for. */
function issueFigures(r: BenchReport): string {
  const rows: string[][] = [];
  const pk = r.micro.find((m) => m.name.startsWith("rtp packetize"));
  if (pk) rows.push(["2", "packetizer throughput", `${fmt(pk.value, 0)} MB/s`]);
  for (const f of r.fanout.filter((x) => x.label.startsWith("loopback"))) {
    rows.push([
      "2",
      `RTP packets/s one cloud sends on loopback, ${
        f.label.replace("loopback, ", "")
      }`,
      `${fmt(f.maxOutput, 0)} on pace (${
        fmt(f.maxSustained, 0)
      } with no receiver loss)`,
    ]);
  }
  const seenN = new Set<number>();
  for (
    const p of r.pipeline.filter((x) => x.system === "flvcast" && !x.variant)
  ) {
    if (p.rtpPps !== undefined && !seenN.has(p.n)) {
      seenN.add(p.n);
      rows.push([
        "2",
        `RTP packets/s at real media, ${p.n} stream(s) of ${
          fmt(p.ingestMbps / p.n, 1)
        } Mbit/s`,
        fmt(p.rtpPps, 0),
      ]);
    }
  }
  for (
    const p of r.pipeline.filter((x) =>
      x.system === "flvcast" && !x.variant && x.m <= 2
    )
  ) {
    rows.push([
      "2",
      `cloud CPU % of one core per Mbit/s of RTMP ingest (${p.n} × ${p.m})`,
      fmt((100 * p.cpu.cloud / p.windowS) / p.ingestMbps, 2),
    ]);
  }
  for (
    const p of r.pipeline.filter((x) =>
      x.system === "flvcast" && !x.variant && x.n === 1
    )
  ) {
    rows.push([
      "4",
      `edge CPU % per Mbit/s with ${p.m} player(s)`,
      `${
        fmt((100 * p.cpu.edge / p.windowS) / p.deliveredMbps, 2)
      } per delivered Mbit/s; ${
        fmt((100 * p.cpu.edge / p.windowS) / p.ingestMbps, 2)
      } per ingested Mbit/s`,
    ]);
  }
  for (const l of r.loss.filter((x) => [0, 5, 20].includes(x.lossPct))) {
    rows.push([
      "4",
      `added latency at ${l.lossPct} % loss (latency_ms ${l.latencyMs})`,
      `p50 ${fmt(l.latency.p50, 1)} / p95 ${fmt(l.latency.p95, 1)} / p99 ${
        fmt(l.latency.p99, 1)
      } ms; ${l.tagsDelivered}/${l.tagsSent} tags`,
    ]);
  }
  return table(["issue", "figure", "value"], rows);
}

/** Renders the whole report as Markdown. */
export function renderReport(r: BenchReport): string {
  const out: string[] = [];
  out.push("# flvcast benchmark results", "");
  out.push(
    "Produced by `deno task bench`" +
      (r.env.mode === "quick" ? " `--quick`" : "") +
      ". Reproduce with `deno task bench` (full, ~11 min) or `deno task bench --quick` (~1 min).",
    "",
  );
  out.push(table(["", ""], Object.entries(r.env)), "");
  if (r.micro.length) {
    out.push("## 1. Micro-benchmarks (in memory, one core)", "");
    out.push(
      table(
        ["benchmark", "value", "unit"],
        r.micro.map((m) => [
          m.name,
          m.unit === "MB/s" || m.unit === "ms" || m.unit === "µs/packet"
            ? fmt(m.value, 2)
            : fmt(m.value, 0),
          m.unit,
        ]),
      ),
      "",
    );
  }
  const fl = r.pipeline.filter((p) => p.system === "flvcast");
  const nms = r.pipeline.filter((p) => p.system === "nms");
  if (fl.length) {
    out.push(
      "## 2. Pipeline: flvcast (publishers → cloud → RTP → edge → HTTP-FLV readers, loopback)",
      "",
      "N publishers at ~2.5 Mbit/s each (paced replayer of an H.264 + AAC clip), M HTTP-FLV readers **per stream**. " +
        "CPU and RSS are the cloud and edge processes only (from `/proc`); the load agent is a separate process. " +
        "Latency per delivered tag = time read by the player − time the publisher wrote it (same process, same clock), so it is cloud-in → edge-out plus two loopback TCP hops.",
      "",
      pipelineTable(fl),
      "",
    );
  }
  if (nms.length) {
    out.push(
      "## 3. Pipeline: node-media-server (RTMP → HTTP-FLV in one process), and ratios",
      "",
      pipelineTable(nms),
      "",
      "Peak RSS is each process's high-water mark (`VmHWM`, start-up included), summed over cloud and edge: pages both map (the `deno` executable, ~50 MiB) count twice. " +
        "Peak PSS is the largest sum of the processes' proportional set sizes sampled every 500 ms in the window: shared pages count once.",
      "",
      ratioTable(r.pipeline),
      "",
    );
  }
  if (r.loss.length) {
    out.push(
      "## 4. Loss sweep (cloud and edge in two network namespaces, nftables random drop on the edge's RTP port)",
      "",
      "One 2.5 Mbit/s stream, one player. Repair ratio = bytes served over QUIC / RTP bytes sent by the cloud in the window. Decode errors = lines of `ffmpeg -v error` decoding the player's saved output.",
      "",
      lossTable(r.loss),
      "",
    );
  }
  if (r.wan.length) {
    out.push(
      "## 4b. Wide-area repair vs SRT (edge behind a delay wire, random drop on EVERY UDP datagram into the edge)",
      "",
      "flvcast: tags missing at one HTTP-FLV player of a 2.5 Mbit/s stream; repair/lost = repair packets the cloud sent (every copy) / packets lost on the path (NACKed + rebuilt by FEC parity). " +
        "SRT: `srt-live-transmit` live mode carrying numbered 1,316-byte datagrams at 4 Mbit/s with `latency` = the budget, on the same wire and drop rule.",
      "",
      wanTable(r.wan),
      "",
      "What repair costs per design and cell: path losses = packets the edge NACKed (`lost`) + packets FEC parity rebuilt (`fec_recovered`); repair packets = every answer and copy the cloud sent; datagrams beyond RTP = FEC parity plus RTCP (SR, BYE).",
      "",
      wanCostTable(r.wan),
      "",
    );
  }
  if (r.wanDesigns.length) {
    out.push(
      "## 4c. Repair designs against each other (BENCH PROTOTYPE, scripts/bench/wan_designs.ts; same wire and drop rule as 4b)",
      "",
      "The same RTP stream (the bench clip), NACK schedule, RTT estimate and loss-adaptive copies; only the answer path differs: `stream` = one QUIC stream (SPEC §6), `ustream` = one QUIC stream per answer batch, `dgram` = QUIC DATAGRAMs with k copies (an answer over `maxDatagramSize` in two halves), `udp` = the product's RMOD udp answers with k copies. Tags missing counts the video withheld until the next keyframe. Repair pkts / lost = every packet the cloud's interface sent beyond the RTP stream (answers, copies, QUIC retransmissions and ACKs) ÷ packets lost; peak rate = the cloud's busiest second ÷ the RTP rate.",
      "",
      designTable(r.wanDesigns),
      "",
    );
  }
  if (r.fanout.length) {
    out.push(
      "## 5. Fan-out limit (synthetic 10-packet tags, UDP sinks count sequence gaps; no drop configured)",
      "",
      "Aggregate = datagrams/s summed over destinations. Sinks are Deno UDP sockets with the kernel's default receive buffer, like an edge. " +
        '"No receiver loss" is what edges would see; "on the wire" is what the cloud sent on pace (received + sink socket-buffer drops), i.e. the cloud\'s own limit.',
      "",
      fanoutTable(r.fanout),
      "",
    );
  }
  if (r.hls) {
    out.push(
      "## 6. HLS and LL-HLS at the edge (1 stream, 2.5 Mbit/s, 1 s GOP, 200 ms parts)",
      "",
      "Per-viewer figures are (row − no-viewer baseline) / viewers. LL-HLS viewers do what hls.js in low-latency mode does: blocking playlist reloads and every new part. MediaMTX documents 500 ms–3 s for its LL-HLS (README, Latency).",
      "",
      renderHls(r.hls),
      "",
    );
  }
  if (r.pipeline.length) {
    out.push(
      "### CPU by thread (pipeline windows)",
      "",
      "`main` is the JavaScript thread; Deno does socket I/O on `tokio-runtime-w` threads, V8 runs GC/compilation on `V8 DefaultWorke` threads.",
      "",
      threadTable(r.pipeline),
      "",
    );
  }
  out.push("## Figures for issues 2 and 4", "", issueFigures(r), "");
  out.push("## Goals (issue 6)", "", goals(r), "");
  if (r.profiles.length) {
    out.push("## CPU profiles (`--profile`)", "", ...r.profiles, "");
  }
  if (r.problems.length || r.notes.length) {
    out.push("## Notes", "");
    for (const p of r.problems) out.push(`- **${p}**`);
    for (const n of r.notes) out.push(`- ${n}`);
    out.push("");
  }
  return out.join("\n");
}
