/**
 * The cloud role: RTMP in, RTP/RTCP out, QUIC retransmission, API.
 *
 * @module
 */
export {
  CLOUD_HISTORY_SERIES,
  cloudApiHandler,
  type CloudApiSource,
  livestat,
} from "./api.ts";
export { CloudNode, type CloudNodeOptions } from "./cloud_node.ts";
export {
  CloudStream,
  type CloudStreamInfo,
  type CloudStreamOptions,
} from "./cloud_stream.ts";
export {
  RtpSender,
  type RtpSenderOptions,
  type RtpSenderStats,
} from "./rtp_sender.ts";
export { cloudMetrics, type CloudMetricsSource } from "./cloud_metrics.ts";
