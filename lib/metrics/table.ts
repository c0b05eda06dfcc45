/**
 * Metric families from a table: one row per metric (name, kind, help, how to
 * read its value from an item), one sample per item. How both roles build
 * their `/metrics` without writing a family object per metric.
 *
 * @module
 */
import type { MetricFamily } from "./prometheus.ts";

/** Counter (only grows) or gauge. */
export type MetricKind = "counter" | "gauge";

/** One metric of a table: name (after the prefix), kind, help, value. */
export type MetricRow<T> = readonly [
  name: string,
  kind: MetricKind,
  help: string,
  value: (item: T) => number,
];

/**
 * One family per row, named `prefix + name`, with a sample per item
 * (labelled by `labels(item)`, if given).
 *
 * @example Usage
 * ```ts
 * import { metricFamilies } from "./table.ts";
 * metricFamilies("flvcast_x_", [{ n: 3 }], undefined, [
 *   ["things_total", "counter", "Things.", (s) => s.n],
 * ])[0].samples; // [{ value: 3 }]
 * ```
 */
export function metricFamilies<T>(
  prefix: string,
  items: readonly T[],
  labels: ((item: T) => Record<string, string>) | undefined,
  rows: readonly MetricRow<T>[],
): MetricFamily[] {
  return rows.map(([name, type, help, value]) => ({
    name: prefix + name,
    type,
    help,
    samples: items.map((item) =>
      labels
        ? { labels: labels(item), value: value(item) }
        : { value: value(item) }
    ),
  }));
}
