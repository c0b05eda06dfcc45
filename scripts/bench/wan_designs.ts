/**
 * Repair designs measured against each other on the WAN wire (issue 15):
 * a BENCH PROTOTYPE (scripts/bench/wan_proto_node.ts, not product code) of
 * one cloud and one edge in two network namespaces, the edge behind the
 * delay wire, nftables dropping a share of EVERY UDP datagram into the edge
 * (RTP, QUIC and UDP answers alike), and optionally a blackout (every UDP
 * datagram into the edge dropped for `burst.forMs` every `burst.everyMs`).
 * The designs share the stream (the bench clip, the product's packetizer),
 * the NACK schedule, RTT estimate and loss-adaptive copies; only the answer
 * path differs (see wan_proto_node.ts).
 *
 * Per run: tags missing (a tag with a packet not delivered within the
 * budget, and the video after it until the next keyframe, as the edge's
 * tag-atomic jitter buffer withholds it), answers within the budget (of the
 * packets lost on the primary path), and repair traffic per lost packet:
 * every packet the cloud's interface sent beyond the RTP stream (answers,
 * copies, QUIC retransmissions and ACKs) ÷ packets lost.
 *
 * ```sh
 * deno task bench --only=wan-designs
 * FLVCAST_BENCH_WAN_DESIGNS=dgram,udp FLVCAST_BENCH_WAN_CELLS=100/400 deno task bench --only=wan-designs
 * ```
 *
 * @module
 */
import { createTopology, type Topology } from "../../testkit/netns.ts";
import { type Blackout, blackoutLabel, startBlackouts } from "./blackout.ts";
import { REPO_ROOT, table } from "./util.ts";
import { TAG_AUDIO, TAG_KEY } from "./wan_proto_node.ts";

const NODE = `${REPO_ROOT}/scripts/bench/wan_proto_node.ts`;

/** One cell of the design comparison. */
export interface DesignCell {
  /** Wire round trip (ms). */
  rttMs: number;
  /** Repair budget (ms). */
  budgetMs: number;
  /** Random drop on all UDP into the edge (%). */
  lossPct: number;
  /** A blackout: all UDP into the edge dropped for `forMs` every `everyMs`. */
  burst?: Blackout;
}

/** One measured design × cell. */
export interface DesignRow extends DesignCell {
  /** Design name (`stream`, `ustream`, `dgram`, `udp`, `dgram1`, `udp1`). */
  design: string;
  /** Tags sent. */
  tags: number;
  /** Tags missing at a tag-atomic player (see the module doc). */
  tagsMissing: number;
  /** RTP packets sent. */
  packets: number;
  /** Packets never delivered within the budget. */
  packetsMissing: number;
  /** Packets lost on the primary path (NACKed). */
  lost: number;
  /** Lost packets repaired within the budget. */
  repaired: number;
  /** Cloud interface packets beyond the RTP stream ÷ `lost`. */
  repairPerLost: number;
  /** Answers and copies the cloud sent (application level) ÷ `lost`. */
  answersPerLost: number;
  /** Largest cloud → edge packet rate in any 1 s, ÷ the RTP rate. */
  peakRate: number;
  /** NACKs issued (every retry). */
  nacks: number;
  /** The edge's RTT estimate at the end (ms). */
  rttEstimateMs: number;
  /** Datagrams nftables dropped. */
  dropped: number;
  /** Anything odd. */
  notes: string[];
}

async function txPackets(topo: Topology, host: string): Promise<number> {
  const r = await topo.exec(host, "cat", ["/proc/net/dev"]);
  let total = 0;
  for (const line of r.stdout.split("\n")) {
    const m = line.match(/^\s*([^:\s]+):\s*(.*)$/);
    if (!m || m[1] === "lo") continue;
    total += Number(m[2].trim().split(/\s+/)[9]); // tx packets
  }
  return total;
}

/** Tags missing at a tag-atomic player: a tag with a missing packet, and
 * the video after a missing video tag until the next keyframe. */
export function tagsMissing(
  tags: [number, number, number][],
  undelivered: Set<number>,
): number {
  let missing = 0;
  let needKey = false;
  for (const [first, count, kind] of tags) {
    let bad = false;
    for (let s = first; s < first + count && !bad; s++) {
      bad = undelivered.has(s);
    }
    if (kind === TAG_AUDIO) {
      if (bad) missing++;
      continue;
    }
    if (bad) {
      missing++;
      needKey = true;
      continue;
    }
    if (needKey && kind !== TAG_KEY) {
      missing++;
      continue;
    }
    needKey = false;
  }
  return missing;
}

/** Runs one design × cell on an existing topology (`cloud`, `edge`). */
async function runOne(
  topo: Topology,
  dir: string,
  clip: string,
  design: string,
  cell: DesignCell,
  seconds: number,
): Promise<DesignRow> {
  const runDir = await Deno.makeTempDir({ dir, prefix: `${design}_` });
  const notes: string[] = [];
  const common = [
    "--design",
    design,
    "--dir",
    runDir,
    "--budget",
    String(cell.budgetMs),
    "--seconds",
    String(seconds),
  ];
  await topo.clearDrops("edge");
  const cloud = topo.spawnDeno("cloud", NODE, [
    "cloud",
    ...common,
    "--clip",
    clip,
  ]);
  let edge: ReturnType<Topology["spawnDeno"]> | undefined;
  let stopBurst = (): Promise<void> => Promise.resolve();
  try {
    await cloud.nextJson(30_000); // listening
    edge = topo.spawnDeno("edge", NODE, [
      "edge",
      ...common,
      "--cloud",
      `${topo.address("cloud")}:4243`,
    ]);
    await cloud.nextJson(30_000); // connected
    const permille = Math.round(cell.lossPct * 10);
    if (permille > 0) await topo.dropAllUdp("edge", permille);
    const tx0 = await txPackets(topo, "cloud");
    // Peak rate: cloud tx packets per second, sampled while it runs.
    const perSecond: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      let prev = tx0;
      while (sampling) {
        await new Promise((r) => setTimeout(r, 1000));
        const now = await txPackets(topo, "cloud");
        perSecond.push(now - prev);
        prev = now;
      }
    })();
    if (cell.burst) {
      stopBurst = startBlackouts(topo, "edge", cell.burst, permille);
    }
    await Deno.writeTextFile(`${runDir}/go`, "");
    const deadline = (seconds + 30) * 1000 + cell.budgetMs;
    const e = await edge.nextJson<Record<string, unknown>>(deadline);
    await stopBurst();
    const c = await cloud.nextJson<Record<string, unknown>>(deadline);
    sampling = false;
    await sampler;
    const tx1 = await txPackets(topo, "cloud");
    const dropped = await topo.droppedPackets("edge");
    await topo.clearDrops("edge");
    const tags = c.tags as [number, number, number][];
    const undelivered = new Set(e.undelivered as number[]);
    const rtpPackets = c.rtpPackets as number;
    const lost = e.lost as number;
    const rtpRate = rtpPackets / seconds;
    if ((c.answerErrors as number) > 0) {
      notes.push(`${c.answerErrors} answer send errors (${c.firstError})`);
    }
    if ((c.datagramsSplit as number) > 0) {
      notes.push(
        `${c.datagramsSplit} answers split in two datagrams (max ${c.maxDatagramSize} B)`,
      );
    }
    return {
      ...cell,
      design,
      tags: tags.length,
      tagsMissing: tagsMissing(tags, undelivered),
      packets: rtpPackets,
      packetsMissing: undelivered.size,
      lost,
      repaired: e.repaired as number,
      repairPerLost: (tx1 - tx0 - rtpPackets) / lost,
      answersPerLost: ((c.answers as number) + (c.answerCopies as number)) /
        lost,
      peakRate: Math.max(...perSecond) / rtpRate,
      nacks: e.nacks as number,
      rttEstimateMs: e.rttMs as number,
      dropped,
      notes,
    };
  } finally {
    await stopBurst();
    edge?.kill();
    cloud.kill();
    await Promise.all([edge?.status, cloud.status]);
    await topo.clearDrops("edge").catch(() => {});
  }
}

/** A row for a run that could not finish: every figure NaN. */
function failedRow(design: string, cell: DesignCell, why: string): DesignRow {
  const nan = Object.fromEntries(
    [
      "tags",
      "tagsMissing",
      "packets",
      "packetsMissing",
      "lost",
      "repaired",
      "repairPerLost",
      "answersPerLost",
      "peakRate",
      "nacks",
      "rttEstimateMs",
      "dropped",
    ].map((k) => [k, NaN]),
  );
  return { ...cell, design, ...nan, notes: [why] } as DesignRow;
}

/** Runs every design over every cell; one topology per round trip. */
export async function runWanDesigns(
  opts: {
    dir: string;
    clip: string;
    designs: string[];
    cells: DesignCell[];
    seconds: number;
  },
  progress: (msg: string) => void,
): Promise<DesignRow[]> {
  const rows: DesignRow[] = [];
  for (const rttMs of [...new Set(opts.cells.map((c) => c.rttMs))]) {
    const topo = await createTopology({
      hosts: ["cloud", "edge"],
      prefix: "fd",
      delayMs: rttMs > 0 ? { edge: rttMs / 2 } : undefined,
    });
    try {
      for (const cell of opts.cells.filter((c) => c.rttMs === rttMs)) {
        for (const design of opts.designs) {
          progress(`wan-designs: ${design}, ${cellLabel(cell)}`);
          try {
            rows.push(
              await runOne(
                topo,
                opts.dir,
                opts.clip,
                design,
                cell,
                opts.seconds,
              ),
            );
          } catch (e) {
            const failed = `failed: ${(e as Error).message.slice(0, 300)}`;
            rows.push(failedRow(design, cell, failed));
          }
        }
      }
    } finally {
      await topo.destroy();
    }
  }
  return rows;
}

/** `100 ms RTT, 400 ms, 20 %` (+ the blackout). */
export function cellLabel(c: DesignCell): string {
  return `${c.rttMs} ms RTT, ${c.budgetMs} ms, ${c.lossPct} %${
    c.burst ? ` + ${blackoutLabel(c.burst)}` : ""
  }`;
}

const pct = (n: number, d: number) =>
  Number.isFinite(n) && d > 0 ? `${(100 * n / d).toFixed(2)} %` : "—";
const num = (v: number, digits = 2) =>
  Number.isFinite(v) ? v.toFixed(digits) : "—";

/** Markdown: one line per design × cell. */
export function designTable(rows: DesignRow[]): string {
  return table(
    [
      "RTT ms",
      "budget ms",
      "loss",
      "design",
      "tags missing",
      "packets missing",
      "answers within budget",
      "repair pkts / lost",
      "answers+copies / lost",
      "peak rate / RTP rate",
      "RTT est. ms",
      "notes",
    ],
    rows.map((r) => [
      r.rttMs,
      r.budgetMs,
      `${r.lossPct} %${r.burst ? ` + ${blackoutLabel(r.burst)}` : ""}`,
      r.design,
      Number.isFinite(r.tagsMissing)
        ? `${r.tagsMissing} / ${r.tags} (${pct(r.tagsMissing, r.tags)})`
        : "—",
      pct(r.packetsMissing, r.packets),
      pct(r.repaired, r.lost),
      num(r.repairPerLost),
      num(r.answersPerLost),
      num(r.peakRate),
      num(r.rttEstimateMs, 0),
      r.notes.join("; "),
    ]),
  );
}
/** The cells of the comparison (issue 15), `FLVCAST_BENCH_WAN_CELLS`
 * (`RTT/budget[/loss]`, comma-separated; `b` after the loss adds the
 * blackout) picks some. */
export function designCells(pick?: string): DesignCell[] {
  const burst = { everyMs: 3000, forMs: 200 };
  const all: DesignCell[] = [
    ...[5, 20, 30].map((lossPct) => ({ rttMs: 100, budgetMs: 200, lossPct })),
    ...[5, 20, 30].map((lossPct) => ({ rttMs: 100, budgetMs: 400, lossPct })),
    { rttMs: 100, budgetMs: 400, lossPct: 5, burst },
    ...[5, 20, 30].map((lossPct) => ({ rttMs: 200, budgetMs: 600, lossPct })),
  ];
  if (!pick) return all;
  const want = pick.split(",").filter(Boolean);
  return all.filter((c) =>
    want.some((w) => {
      const [rtt, budget, loss] = w.split("/");
      const b = loss?.endsWith("b") ?? false;
      return Number(rtt) === c.rttMs && Number(budget) === c.budgetMs &&
        (loss === undefined ||
          (Number(loss.replace("b", "")) === c.lossPct && b === !!c.burst));
    })
  );
}
