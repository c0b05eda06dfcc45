/**
 * Wide-area repair, side by side with SRT: cloud and edge in two network
 * namespaces, the edge behind the harness's delay wire (`delayMs` = RTT / 2
 * each way) and nftables dropping a random share of EVERY UDP datagram into
 * the edge (RTP, RTCP and the repair traffic alike).
 *
 * flvcast: the bench clip published in the cloud's namespace, one HTTP-FLV
 * player of the edge (missing tags = sent − delivered in the window), per
 * edge design (extra `edge:` YAML). SRT: `srt-live-transmit` (Debian
 * `srt-tools`, live mode) carrying numbered 1,316-byte datagrams at 4 Mbit/s
 * from the cloud to the edge with the same `latency` as flvcast's budget over
 * the same wire and drop rule (missing = datagrams that never came out).
 *
 * @module
 */
import { createTopology, type Topology } from "../../testkit/netns.ts";
import type {
  ReceiveProbeResult,
  SendProbeResult,
} from "../../testkit/udp_probe.ts";
import { type LossRow, runLossSweep } from "./loss.ts";
import type { PipelineContext, PipelineTiming } from "./pipeline.ts";
import { REPO_ROOT, run, table } from "./util.ts";
import { type Blackout, blackoutLabel } from "./blackout.ts";

const PROBE = `${REPO_ROOT}/testkit/udp_probe.ts`;

/** One edge design to measure (its `edge:` YAML lines). */
export interface WanDesign {
  /** Short label for the table. */
  label: string;
  /** Extra YAML lines under `edge:`. */
  edgeYaml: string[];
  /** Extra top-level YAML lines of the cloud. */
  cloudYaml?: string[];
}

/** One cell: round trip, budget, losses. */
export interface WanCell {
  /** Round-trip time added by the wire (ms; 0 = no wire). */
  rttMs: number;
  /** flvcast `latency_ms` and SRT `latency`. */
  budgetMs: number;
  /** Blackouts on top of the random drop (flvcast designs only). */
  burst?: Blackout;
}

/** One measured point. */
export interface WanRow {
  /** Design label (`SRT` for srt-live-transmit). */
  design: string;
  /** Wire round trip (ms). */
  rttMs: number;
  /** Budget / SRT latency (ms). */
  budgetMs: number;
  /** Random drop on all UDP into the edge (%). */
  lossPct: number;
  /** Blackouts on top of it, if any. */
  burst?: Blackout;
  /** Units sent in the window (tags, or SRT datagrams). */
  sent: number;
  /** Units missing at the receiver. */
  missing: number;
  /** Repair packets sent / packets lost on the path: NACKed (`lost`) plus
   * rebuilt by FEC parity (`fec_recovered`) (flvcast only). */
  repairPerLost: number;
  /** UDP datagrams beyond the RTP media (FEC parity, RTCP) / RTP packets
   * (flvcast only). */
  parityOverhead: number;
  /** Edge counters (flvcast only). */
  edge?: Record<string, number>;
  /** Anything odd. */
  notes: string[];
}

/** SRT: numbered datagrams through two `srt-live-transmit`s on the topology. */
async function srtRun(
  topo: Topology,
  latencyMs: number,
  lossPct: number,
  seconds: number,
): Promise<{ sent: number; received: number; notes: string[] }> {
  const notes: string[] = [];
  const rate = Math.round(4_000_000 / 8 / 1316); // 4 Mbit/s
  const count = rate * seconds;
  const cloudIp = topo.address("cloud");
  await topo.clearDrops("edge");
  const srtOpts = `latency=${latencyMs}&transtype=live`;
  const tx = topo.spawn("cloud", "srt-live-transmit", [
    "-q",
    "udp://127.0.0.1:15000",
    `srt://:19000?mode=listener&${srtOpts}`,
  ]);
  const rx = topo.spawn("edge", "srt-live-transmit", [
    "-q",
    `srt://${cloudIp}:19000?mode=caller&${srtOpts}`,
    "udp://127.0.0.1:16000",
  ]);
  try {
    const recv = topo.spawnDeno("edge", PROBE, [
      "recv",
      "--port",
      "16000",
      "--hostname",
      "127.0.0.1",
      "--count",
      String(count),
      "--timeout-ms",
      String(seconds * 1000 + 20_000),
      "--idle-ms",
      String(latencyMs + 3000),
    ]);
    await recv.nextJson<{ event: string }>();
    // Let the SRT handshake finish before the drop starts and data flows.
    await new Promise((r) => setTimeout(r, 1500));
    if (lossPct > 0) await topo.dropAllUdp("edge", Math.round(lossPct * 10));
    const send = topo.spawnDeno("cloud", PROBE, [
      "send",
      "--to",
      "127.0.0.1:15000",
      "--count",
      String(count),
      "--rate",
      String(rate),
      "--size",
      "1316",
    ]);
    const s = await send.nextJson<SendProbeResult>(seconds * 1000 + 30_000);
    const r = await recv.nextJson<ReceiveProbeResult>(
      seconds * 1000 + 30_000,
    );
    if (r.duplicates > 0) notes.push(`${r.duplicates} duplicates`);
    return { sent: s.sent, received: r.received, notes };
  } finally {
    tx.kill();
    rx.kill();
    await Promise.all([tx.status, rx.status]);
    await topo.clearDrops("edge");
  }
}

/**
 * Runs every cell for every design and SRT. One topology per round trip
 * (the wire's delay is fixed when it is built).
 */
export async function runWan(
  ctx: PipelineContext,
  opts: {
    cells: WanCell[];
    losses: number[];
    designs: WanDesign[];
    timing: PipelineTiming;
    srt: boolean;
    /** Random drop under the blackouts of cells with `burst` (%; default 5). */
    burstLoss?: number;
  },
  progress: (msg: string) => void,
): Promise<WanRow[]> {
  const rows: WanRow[] = [];
  const rtts = [...new Set(opts.cells.map((c) => c.rttMs))];
  for (const rttMs of rtts) {
    const budgets = opts.cells.filter((c) => c.rttMs === rttMs && !c.burst)
      .map((c) => c.budgetMs);
    const bursts = [
      ...new Map(
        opts.cells.filter((c) => c.rttMs === rttMs && c.burst).map((
          c,
        ) => [blackoutLabel(c.burst!), c.burst!]),
      ).values(),
    ];
    const topo = await createTopology({
      hosts: ["cloud", "edge"],
      prefix: "fw",
      delayMs: rttMs > 0 ? { edge: rttMs / 2 } : undefined,
    });
    try {
      for (const d of opts.designs) {
        progress(`wan: ${d.label}, RTT ${rttMs} ms`);
        for (const burst of [undefined, ...bursts]) {
          const key = burst ? blackoutLabel(burst) : "";
          const lossRows: LossRow[] = await runLossSweep(ctx, topo, {
            latencies: opts.cells.filter((c) =>
              c.rttMs === rttMs &&
              (c.burst ? blackoutLabel(c.burst) : "") === key
            ).map((c) => c.budgetMs),
            losses: burst ? [opts.burstLoss ?? 5] : opts.losses,
            timing: opts.timing,
            dropAll: true,
            edgeYaml: d.edgeYaml,
            cloudYaml: d.cloudYaml,
            burst,
          }, progress);
          for (const r of lossRows) {
            const pathLost = r.edge.lost + (r.edge.fec_recovered || 0);
            rows.push({
              design: d.label,
              rttMs,
              budgetMs: r.latencyMs,
              lossPct: r.lossPct,
              burst,
              sent: r.tagsSent,
              missing: r.tagsSent - r.tagsDelivered,
              repairPerLost: r.repairPackets / pathLost,
              parityOverhead: (r.datagramsSent - r.rtpPackets) /
                r.rtpPackets,
              edge: {
                ...r.edge,
                repair_packets: r.repairPackets,
                extra_datagrams: r.datagramsSent - r.rtpPackets,
                rtp_packets: r.rtpPackets,
              },
              notes: r.notes,
            });
          }
        }
      }
      if (opts.srt) {
        for (const budgetMs of budgets) {
          for (const lossPct of opts.losses) {
            progress(
              `wan: SRT, RTT ${rttMs} ms, latency ${budgetMs}, ${lossPct} %`,
            );
            try {
              const s = await srtRun(
                topo,
                budgetMs,
                lossPct,
                Math.round(opts.timing.measureMs / 1000),
              );
              rows.push({
                design: "SRT",
                rttMs,
                budgetMs,
                lossPct,
                sent: s.sent,
                missing: s.sent - s.received,
                repairPerLost: NaN,
                parityOverhead: NaN,
                notes: s.notes,
              });
            } catch (e) {
              rows.push({
                design: "SRT",
                rttMs,
                budgetMs,
                lossPct,
                sent: NaN,
                missing: NaN,
                repairPerLost: NaN,
                parityOverhead: NaN,
                notes: [`failed: ${(e as Error).message.slice(0, 200)}`],
              });
            }
          }
        }
      }
    } finally {
      await topo.destroy();
    }
  }
  return rows;
}

/** `srt-live-transmit` present? */
export async function hasSrt(): Promise<boolean> {
  try {
    const r = await run("srt-live-transmit", ["-version"], {
      timeoutMs: 5000,
    });
    return r.code === 0 || /SRT/i.test(r.stdout + r.stderr);
  } catch {
    return false;
  }
}

const cellKey = (r: WanRow) =>
  `${r.rttMs}|${r.budgetMs}|${r.lossPct}${
    r.burst ? ` % + ${blackoutLabel(r.burst)}` : " %"
  }`;

/** Markdown table of the rows: one line per cell, one column per design. */
export function wanTable(rows: WanRow[]): string {
  const designs = [...new Set(rows.map((r) => r.design))];
  const cells = [...new Set(rows.map(cellKey))];
  const head = [
    "RTT ms",
    "budget ms",
    "loss",
    ...designs.map((d) => `${d} missing`),
    ...designs.filter((d) => d !== "SRT").map((d) => `${d} repair/lost`),
  ];
  const lines = [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
  ];
  const pct = (r?: WanRow) =>
    r === undefined || !Number.isFinite(r.missing)
      ? "—"
      : `${r.missing} / ${r.sent} (${(100 * r.missing / r.sent).toFixed(2)} %)`;
  for (const c of cells) {
    const [rtt, budget, loss] = c.split("|");
    const at = (d: string) =>
      rows.find((r) => r.design === d && cellKey(r) === c);
    lines.push(
      `| ${rtt} | ${budget} | ${loss} | ${
        designs.map((d) => pct(at(d))).join(" | ")
      } | ${
        designs.filter((d) => d !== "SRT").map((d) => {
          const v = at(d)?.repairPerLost;
          return v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(2);
        }).join(" | ")
      } |`,
    );
  }
  return lines.join("\n");
}

/**
 * Markdown: what repair and FEC cost per flvcast design × cell — packets
 * lost on the path (NACKed + rebuilt by parity), parity overhead, NACKs
 * issued and repair packets sent (every copy), and their ratio.
 */
export function wanCostTable(rows: WanRow[]): string {
  const body = rows.filter((r) => r.design !== "SRT" && r.edge).map((r) => {
    const e = r.edge!;
    const fec = e.fec_recovered || 0;
    const [rtt, budget, loss] = cellKey(r).split("|");
    return [
      rtt,
      budget,
      loss,
      r.design,
      `${r.missing} / ${r.sent}`,
      `${e.lost} + ${fec}`,
      e.unrecoverable,
      `${(100 * r.parityOverhead).toFixed(1)} %`,
      e.nacked,
      e.repair_packets,
      r.repairPerLost.toFixed(2),
      ((e.repair_packets + e.extra_datagrams) / (e.lost + fec)).toFixed(2),
      `${
        (100 * (e.repair_packets + e.extra_datagrams) / e.rtp_packets).toFixed(
          1,
        )
      } %`,
    ];
  });
  return table([
    "RTT ms",
    "budget ms",
    "loss",
    "design",
    "tags missing",
    "path losses (NACKed + FEC-rebuilt)",
    "given up",
    "datagrams beyond RTP (parity, RTCP) / RTP",
    "NACKs sent",
    "repair packets",
    "repair / path losses",
    "(repair + parity) / path losses",
    "(repair + parity) / RTP packets",
  ], body);
}
