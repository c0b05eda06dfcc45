/**
 * Metrics exposition shared by the cloud and edge APIs.
 *
 * @module
 */
export {
  bitrateSeries,
  type HistoryDocument,
  type HistorySeries,
  StatsHistory,
  type StatsHistoryOptions,
} from "./history.ts";
export {
  type MetricFamily,
  PROMETHEUS_CONTENT_TYPE,
  renderPrometheus,
} from "./prometheus.ts";
export { metricFamilies, type MetricKind, type MetricRow } from "./table.ts";
