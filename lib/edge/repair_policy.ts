/**
 * How much redundancy repair needs on a lossy, long path (pure arithmetic).
 *
 * A missing packet gets `rounds` requests within the budget: the first after
 * the reorder grace, each next one 1.5 × RTT later, an answer arriving one
 * RTT after its request. When every answer is sent `k` times and each copy is
 * lost with probability `p`, a packet stays missing after all rounds with
 * probability `p^(k × rounds)`. {@linkcode answerCopies} picks the smallest
 * `k` that brings this under `target`, so redundancy (and its cost, `k` × the
 * lost traffic) grows only as loss and round trip demand.
 *
 * @module
 */

/** Inputs of {@linkcode answerCopies}. */
export interface CopiesInput {
  /** Measured loss rate of the path into the edge (0..1). */
  lossRate: number;
  /** Measured repair round trip (ms). */
  rttMs: number;
  /** Repair budget (`latency_ms`). */
  budgetMs: number;
  /** Reorder grace before the first request (ms). */
  graceMs: number;
  /** Residual loss aimed at per missing packet. Default 1e-6: a run of
   * thousands of losses must not lose one (one lost packet costs a GOP). */
  target?: number;
  /** Most copies. Default 6. */
  maxCopies?: number;
  /** Most requests per packet. Default 8. */
  maxRounds?: number;
}

/** Requests of one missing packet whose answers can land within the budget. */
export function repairRounds(
  i: Pick<CopiesInput, "rttMs" | "budgetMs" | "graceMs" | "maxRounds">,
): number {
  // Not measured yet: plan for a single round (the safe side).
  if (!(i.rttMs > 0)) return 1;
  const rtt = i.rttMs;
  const spare = i.budgetMs - i.graceMs - rtt;
  const rounds = spare < 0 ? 1 : 1 + Math.floor(spare / (1.5 * rtt));
  return Math.max(1, Math.min(i.maxRounds ?? 8, rounds));
}

/**
 * Copies of each answer so that a lost packet is still missing after every
 * round with a probability below `target`.
 *
 * @example Usage
 * ```ts
 * import { answerCopies } from "./repair_policy.ts";
 * answerCopies({ lossRate: 0.2, rttMs: 100, budgetMs: 400, graceMs: 20 }); // 5
 * answerCopies({ lossRate: 0.05, rttMs: 1, budgetMs: 200, graceMs: 20 }); // 1
 * ```
 */
export function answerCopies(i: CopiesInput): number {
  const max = i.maxCopies ?? 6;
  const p = Math.min(0.9, i.lossRate);
  if (!(p > 0)) return 1;
  const rounds = repairRounds(i);
  const k = Math.ceil(Math.log(i.target ?? 1e-6) / (rounds * Math.log(p)));
  return Math.max(1, Math.min(max, k));
}

/**
 * The budget `latency_ms: auto` sets: 4 × the round trip (5 × above 15 %
 * loss), as SRT recommends for its latency, plus the reorder grace; at least
 * 120 ms, at most 5 s; rounded up to 10 ms.
 *
 * @example Usage
 * ```ts
 * import { autoBudget } from "./repair_policy.ts";
 * autoBudget({ rttMs: 100, lossRate: 0.05 }); // 420
 * autoBudget({ rttMs: 100, lossRate: 0.2 }); // 520
 * autoBudget({ rttMs: 0.5, lossRate: 0 }); // 120
 * ```
 */
export function autoBudget(
  i: { rttMs: number; lossRate: number; graceMs?: number },
): number {
  const factor = i.lossRate > 0.15 ? 5 : 4;
  const ms = factor * Math.max(0, i.rttMs) + (i.graceMs ?? 20);
  return Math.min(5000, Math.max(120, Math.ceil(ms / 10) * 10));
}

/**
 * Loss rate of a path from packet counts (each update covers an interval;
 * intervals with too few packets are merged into the next). The first sample
 * replaces the prior; a higher sample is taken at once, a lower one only
 * gradually (moving average): underestimating loss loses packets, while
 * overestimating it only costs a few more answer copies.
 */
export class LossEstimator {
  #rate: number;
  #measured = false;
  #lost = 0;
  #total = 0;
  #minPackets: number;
  #gain: number;

  /**
   * @param opts `initial` rate before any measurement (default 0.05: assume
   *   some loss until told otherwise), `minPackets` per sample (default 100),
   *   `gain` of the moving average (default 0.3).
   */
  constructor(
    opts: { initial?: number; minPackets?: number; gain?: number } = {},
  ) {
    this.#rate = opts.initial ?? 0.05;
    this.#minPackets = opts.minPackets ?? 100;
    this.#gain = opts.gain ?? 0.3;
  }

  /** The current estimate (0..1). */
  get rate(): number {
    return this.#rate;
  }

  /** Whether a sample has replaced the prior. */
  get measured(): boolean {
    return this.#measured;
  }

  /**
   * Adds an interval's counts: packets found lost and packets that arrived
   * on the primary path. Returns the estimate.
   */
  update(lost: number, received: number): number {
    this.#lost += Math.max(0, lost);
    this.#total += Math.max(0, lost) + Math.max(0, received);
    if (this.#total >= this.#minPackets) {
      const sample = this.#lost / this.#total;
      if (!this.#measured || sample > this.#rate) this.#rate = sample;
      else this.#rate += (sample - this.#rate) * this.#gain;
      this.#measured = true;
      this.#lost = 0;
      this.#total = 0;
    }
    return this.#rate;
  }
}

/** `latency_ms: auto` before the link has a round-trip estimate. */
const AUTO_INITIAL_BUDGET_MS = 400;

/** One stream's counters as {@linkcode RepairPolicy.sample} reads them. */
export interface PolicyStream {
  /** Stream key. */
  key: string;
  /** `host:port` the stream's RTP comes from. */
  source: string;
  /** Packets found missing so far. */
  lost: number;
  /** Packets received on the primary path so far. */
  packets_received: number;
  /** Packets FEC rebuilt so far. */
  fec_recovered: number;
}

/**
 * The edge's repair policy per link (pure; the shell applies it): each
 * link's loss rate, measured over its streams once a second, sets how many
 * copies of each answer to ask the cloud for ({@linkcode answerCopies}) and,
 * with `latency_ms: auto`, the link's budget ({@linkcode autoBudget}).
 *
 * @example Usage
 * ```ts ignore
 * const policy = new RepairPolicy<RtxClient>("auto", (l) => l.rttMs);
 * for (const { link, copies } of policy.sample(streams, linkOf)) link.setAnswerCopies(copies);
 * ```
 */
export class RepairPolicy<L> {
  #latency: number | "auto";
  #rttOf: (link: L) => number;
  #loss = new Map<L, LossEstimator>();
  /** Per stream key: `lost` and `packets_received` at the last sample. */
  #sampled = new Map<string, { lost: number; received: number }>();

  /** `latencyMs` as configured (a number, or `auto`); `rttOf` reads a
   * link's round trip (0 = not measured yet). */
  constructor(
    latencyMs: number | "auto" | undefined,
    rttOf: (link: L) => number,
  ) {
    this.#latency = latencyMs ?? 200;
    this.#rttOf = rttOf;
  }

  /** Whether budgets follow the links (`latency_ms: auto`). */
  get auto(): boolean {
    return this.#latency === "auto";
  }

  /** The configured budget, or (auto) 400 until the link has measured. */
  get fixedBudget(): number {
    return typeof this.#latency === "number"
      ? this.#latency
      : AUTO_INITIAL_BUDGET_MS;
  }

  /** Copies of each answer to ask for on a link that has measured nothing
   * yet: the prior loss, a single round. */
  get initialCopies(): number {
    return answerCopies({
      lossRate: new LossEstimator().rate,
      rttMs: 0,
      budgetMs: this.fixedBudget,
      graceMs: 20,
    });
  }

  /** A link's loss estimate (0..1; {@linkcode LossEstimator}'s initial
   * guess until measured). */
  lossRate(link: L): number {
    return this.#estimator(link).rate;
  }

  #estimator(link: L): LossEstimator {
    let est = this.#loss.get(link);
    if (!est) this.#loss.set(link, est = new LossEstimator());
    return est;
  }

  /** With `latency_ms: auto` and a link that has measured its round trip:
   * the budget and the round trip and loss it comes from. */
  budgetBasis(
    link: L,
  ): { budgetMs: number; rttMs: number; lossRate: number } | undefined {
    const rttMs = this.#rttOf(link);
    if (this.#latency !== "auto" || !rttMs) return undefined;
    const lossRate = this.lossRate(link);
    return { budgetMs: autoBudget({ rttMs, lossRate }), rttMs, lossRate };
  }

  /** A link's budget: the configured one, or (auto) from its RTT and loss. */
  budgetOf(link: L): number {
    return this.budgetBasis(link)?.budgetMs ?? this.fixedBudget;
  }

  /**
   * One sample: adds each stream's new losses and receptions to its link's
   * estimate (`linkOf` maps a source to its link) and returns, per link, the
   * answer copies its loss, round trip and budget call for.
   */
  sample(
    streams: readonly PolicyStream[],
    linkOf: (hostname: string, port: number) => L,
  ): { link: L; copies: number }[] {
    const counts = new Map<L, { lost: number; received: number }>();
    const live = new Set<string>();
    for (const s of streams) {
      live.add(s.key);
      const [host, port] = splitSource(s.source);
      const link = linkOf(host, port);
      const prev = this.#sampled.get(s.key) ?? { lost: 0, received: 0 };
      const c = counts.get(link) ?? { lost: 0, received: 0 };
      // The path's loss: NACKed packets plus those FEC rebuilt first (an
      // FEC repair that was NACKed too counts twice: an overestimate, the
      // safe side, since the copies protect what FEC cannot).
      const lost = s.lost + s.fec_recovered;
      c.lost += Math.max(0, lost - prev.lost);
      c.received += Math.max(0, s.packets_received - prev.received);
      counts.set(link, c);
      this.#sampled.set(s.key, { lost, received: s.packets_received });
    }
    for (const key of this.#sampled.keys()) {
      if (!live.has(key)) this.#sampled.delete(key);
    }
    const out: { link: L; copies: number }[] = [];
    for (const [link, c] of counts) {
      const est = this.#estimator(link);
      const rate = est.update(c.lost, c.received);
      const budget = this.budgetOf(link);
      out.push({
        link,
        copies: answerCopies({
          lossRate: rate,
          // Loss not measured yet: plan for one round (the prior's copies).
          rttMs: est.measured ? this.#rttOf(link) : 0,
          budgetMs: budget,
          graceMs: Math.min(20, budget / 10),
        }),
      });
    }
    return out;
  }
}

/** `host:port` / `[v6]:port` → host and port. */
function splitSource(source: string): [string, number] {
  const i = source.lastIndexOf(":");
  const host = source.slice(0, i);
  return [
    host.startsWith("[") ? host.slice(1, -1) : host,
    Number(source.slice(i + 1)),
  ];
}
