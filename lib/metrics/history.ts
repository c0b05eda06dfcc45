/**
 * A bounded recent history of per-stream numbers for the status pages'
 * charts: one fixed ring of samples per series per stream (default 120 one-
 * second samples = 2 minutes), at most `maxStreams` streams. Pure: the
 * caller feeds it snapshots ({@linkcode StatsHistory.record}) from its own
 * timer and serves {@linkcode StatsHistory.snapshot} as JSON.
 *
 * A series is either a gauge (the value as read) or a rate (the increase of
 * a counter per second since the previous sample, times `scale`). A counter
 * that goes down (the stream restarted) restarts the rate at the next
 * sample; a value that is not a finite number is a gap (`null` in JSON).
 *
 * @module
 */

/** One charted series of rows of type `R`. */
export interface HistorySeries<R> {
  /** Name in the JSON (snake_case), e.g. `bitrate_kbps`. */
  name: string;
  /** Label shown above the chart, e.g. `bitrate in`. */
  label: string;
  /** Short label for the small per-row sparklines, e.g. `in`; default
   * `label`. */
  short?: string;
  /** Unit shown beside the value, e.g. `kbit/s`. */
  unit: string;
  /** CSS colour of the chart's line. */
  color: string;
  /** `gauge`: the value as read; `rate`: increase per second × `scale`. */
  kind: "gauge" | "rate";
  /** Reads the number from one snapshot row (`null` = unknown). */
  read: (row: R) => number | null;
  /** Factor applied to a rate (e.g. 8 / 1000: bytes/s → kbit/s). Default 1. */
  scale?: number;
}

/**
 * The `bitrate in` series both status pages chart first: kbit/s from a
 * counter of bytes received that `read` returns.
 */
export function bitrateSeries<R>(read: (row: R) => number): HistorySeries<R> {
  return {
    name: "bitrate_kbps",
    label: "bitrate in",
    short: "bitrate",
    unit: "kbit/s",
    color: "#4da3ff",
    kind: "rate",
    scale: 8 / 1000,
    read,
  };
}

/** Options for {@linkcode StatsHistory}. */
export interface StatsHistoryOptions<R> {
  /** What to chart, in display order. */
  series: HistorySeries<R>[];
  /** Samples kept per series (the ring's length). Default 120. */
  length?: number;
  /** Sampling interval the caller keeps, in ms (reported). Default 1000. */
  intervalMs?: number;
  /** Most streams tracked at once; more are counted, not kept. Default 256. */
  maxStreams?: number;
}

/** The JSON document of {@linkcode StatsHistory.snapshot}. */
export interface HistoryDocument {
  /** Milliseconds between samples. */
  interval_ms: number;
  /** Samples per series when the ring is full. */
  length: number;
  /** Wall-clock time of the newest sample (ms since the epoch), or null. */
  updated_at: number | null;
  /** The series, in display order (without the reader). */
  series: {
    name: string;
    label: string;
    short?: string;
    unit: string;
    color: string;
  }[];
  /** Live streams beyond `maxStreams` that have no history. */
  untracked_streams: number;
  /** Per stream: each series' samples, oldest first (`null` = gap). */
  streams: { key: string; samples: Record<string, (number | null)[]> }[];
}

interface Track {
  /** Ring per series (NaN = gap). */
  rings: Float64Array[];
  /** Last raw counter value per rate series (NaN = none yet). */
  last: Float64Array;
  lastAt: number;
  /** Index of the next write. */
  head: number;
  /** Samples written so far (≤ length). */
  count: number;
}

/**
 * Fixed-size recent history of per-stream series.
 *
 * @example Usage
 * ```ts
 * import { StatsHistory } from "./history.ts";
 * const h = new StatsHistory<{ key: string; lost: number }>({
 *   series: [{
 *     name: "lost", label: "packets lost", unit: "/s", color: "red",
 *     kind: "rate", read: (s) => s.lost,
 *   }],
 * });
 * h.record(0, [{ key: "live/a", lost: 0 }]);
 * h.record(1000, [{ key: "live/a", lost: 5 }]);
 * h.snapshot().streams[0].samples.lost; // [null, 5]
 * ```
 */
export class StatsHistory<R extends { key: string }> {
  #series: HistorySeries<R>[];
  #length: number;
  #intervalMs: number;
  #maxStreams: number;
  #tracks = new Map<string, Track>();
  #untracked = 0;
  #updatedAt: number | null = null;

  /** @throws {RangeError} on a length, interval or stream cap below 1. */
  constructor(options: StatsHistoryOptions<R>) {
    this.#series = options.series;
    this.#length = options.length ?? 120;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#maxStreams = options.maxStreams ?? 256;
    for (
      const [name, v] of [
        ["length", this.#length],
        ["intervalMs", this.#intervalMs],
        ["maxStreams", this.#maxStreams],
      ] as const
    ) {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(
          `StatsHistory ${name}: expected an integer >= 1, got ${v}`,
        );
      }
    }
  }

  /** Streams with a history now. */
  get size(): number {
    return this.#tracks.size;
  }

  /**
   * Adds one sample per series for every row (keyed by `row.key`) taken at
   * `nowMs` (wall clock). Streams absent from `rows` are forgotten; new
   * streams beyond `maxStreams` are only counted.
   */
  record(nowMs: number, rows: readonly R[]): void {
    const present = new Set(rows.map((r) => r.key));
    for (const key of this.#tracks.keys()) {
      if (!present.has(key)) this.#tracks.delete(key);
    }
    const seen = new Set<string>();
    let untracked = 0;
    for (const row of rows) {
      if (seen.has(row.key)) continue;
      seen.add(row.key);
      let t = this.#tracks.get(row.key);
      if (!t) {
        if (this.#tracks.size >= this.#maxStreams) {
          untracked++;
          continue;
        }
        t = this.#newTrack();
        this.#tracks.set(row.key, t);
      }
      this.#sample(t, nowMs, row);
    }
    this.#untracked = untracked;
    this.#updatedAt = nowMs;
  }

  /** The history as a JSON-ready document; with `keys`, of those streams
   * only (the page asks for the one it shows). */
  snapshot(keys?: readonly string[]): HistoryDocument {
    const streams: HistoryDocument["streams"] = [];
    const wanted = keys ? new Set(keys) : undefined;
    for (const [key, t] of this.#tracks) {
      if (wanted && !wanted.has(key)) continue;
      const samples: Record<string, (number | null)[]> = {};
      this.#series.forEach((s, i) => {
        const ring = t.rings[i];
        const out: (number | null)[] = new Array(t.count);
        const start = (t.head - t.count + this.#length) % this.#length;
        for (let j = 0; j < t.count; j++) {
          const v = ring[(start + j) % this.#length];
          out[j] = Number.isFinite(v) ? Math.round(v * 100) / 100 : null;
        }
        samples[s.name] = out;
      });
      streams.push({ key, samples });
    }
    return {
      interval_ms: this.#intervalMs,
      length: this.#length,
      updated_at: this.#updatedAt,
      series: this.#series.map(({ name, label, short, unit, color }) => ({
        name,
        label,
        ...(short === undefined ? {} : { short }),
        unit,
        color,
      })),
      untracked_streams: this.#untracked,
      streams,
    };
  }

  #newTrack(): Track {
    return {
      rings: this.#series.map(() => new Float64Array(this.#length).fill(NaN)),
      last: new Float64Array(this.#series.length).fill(NaN),
      lastAt: NaN,
      head: 0,
      count: 0,
    };
  }

  #sample(t: Track, nowMs: number, row: R): void {
    const dt = (nowMs - t.lastAt) / 1000;
    this.#series.forEach((s, i) => {
      const raw = s.read(row);
      const v = typeof raw === "number" && Number.isFinite(raw) ? raw : NaN;
      let out = v;
      if (s.kind === "rate") {
        const prev = t.last[i];
        out = dt > 0 && v >= prev ? (v - prev) / dt * (s.scale ?? 1) : NaN;
        t.last[i] = v;
      }
      t.rings[i][t.head] = out;
    });
    t.lastAt = nowMs;
    t.head = (t.head + 1) % this.#length;
    if (t.count < this.#length) t.count++;
  }
}
