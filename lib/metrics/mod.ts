/**
 * Metrics exposition shared by the cloud and edge APIs.
 *
 * @module
 */
export {
  type MetricFamily,
  PROMETHEUS_CONTENT_TYPE,
  renderPrometheus,
} from "./prometheus.ts";
