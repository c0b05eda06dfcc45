/**
 * Prometheus text exposition format (version 0.0.4) rendering.
 *
 * @module
 */

/** One metric family with its samples. */
export interface MetricFamily {
  /** Metric name, e.g. `flvcast_rtp_packets_sent_total`. */
  name: string;
  /** One-line help text. */
  help: string;
  /** Prometheus type. */
  type: "counter" | "gauge";
  /** Samples, each with its own labels. */
  samples: { labels?: Record<string, string | number>; value: number }[];
}

/** The `Content-Type` of the exposition format. */
export const PROMETHEUS_CONTENT_TYPE =
  "text/plain; version=0.0.4; charset=utf-8";

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll(
    '"',
    '\\"',
  );
}

/**
 * Renders metric families as Prometheus text.
 *
 * @example Usage
 * ```ts
 * import { renderPrometheus } from "./prometheus.ts";
 * renderPrometheus([{
 *   name: "flvcast_streams",
 *   help: "Live streams.",
 *   type: "gauge",
 *   samples: [{ value: 2 }],
 * }]);
 * // "# HELP flvcast_streams Live streams.\n# TYPE flvcast_streams gauge\nflvcast_streams 2\n"
 * ```
 */
export function renderPrometheus(families: MetricFamily[]): string {
  let out = "";
  for (const f of families) {
    out += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples) {
      const labels = s.labels ? Object.entries(s.labels) : [];
      const l = labels.length
        ? `{${
          labels.map(([k, v]) => `${k}="${escapeLabel(String(v))}"`).join(",")
        }}`
        : "";
      out += `${f.name}${l} ${Number.isFinite(s.value) ? s.value : 0}\n`;
    }
  }
  return out;
}
