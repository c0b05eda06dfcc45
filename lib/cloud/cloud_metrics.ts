/**
 * The cloud's `/metrics` families (`flvcast_cloud_*`), built from snapshots:
 * node totals, the UDP sender's counters, the QUIC service's counters and
 * the per-stream API snapshots. Pure.
 *
 * @module
 */
import {
  metricFamilies,
  type MetricFamily,
  type MetricRow,
} from "../metrics/mod.ts";
import type { CloudStreamInfo } from "./cloud_stream.ts";
import type { RtpSenderStats } from "./rtp_sender.ts";

/** What {@linkcode cloudMetrics} reads. */
export interface CloudMetricsSource {
  /** Live streams (API snapshots). */
  streams: CloudStreamInfo[];
  /** Node totals. */
  totals: {
    publishes: number;
    refused: number;
    tagsIn: number;
    packetsSent: number;
  };
  /** The RTP sender's counters. */
  sender: Readonly<RtpSenderStats>;
  /** The QUIC retransmission service's counters (numbers only are used). */
  rtx: object;
}

/** Node-wide metrics (one sample each). */
// deno-fmt-ignore
const NODE: readonly MetricRow<CloudMetricsSource>[] = [
  ["streams", "gauge", "Live published streams.", (s) => s.streams.length],
  ["publishes_total", "counter", "Publishes accepted.", (s) => s.totals.publishes],
  ["publishes_refused_total", "counter", "Publishes refused (key live).", (s) => s.totals.refused],
  ["tags_in_total", "counter", "FLV tags received from publishers.", (s) => s.totals.tagsIn],
  ["rtp_packets_total", "counter", "RTP packets produced.", (s) => s.totals.packetsSent],
  ["udp_datagrams_sent_total", "counter", "UDP datagrams handed to the kernel.", (s) => s.sender.datagramsSent],
  ["udp_bytes_sent_total", "counter", "UDP bytes handed to the kernel.", (s) => s.sender.bytesSent],
  ["udp_queue_drops_total", "counter", "Datagrams dropped on a full send queue.", (s) => s.sender.queueDrops],
  ["udp_send_errors_total", "counter", "UDP sends refused by the kernel.", (s) => s.sender.sendErrors],
];

/** Per-stream metrics (label `key`). */
// deno-fmt-ignore
const PER_STREAM: readonly MetricRow<CloudStreamInfo>[] = [
  ["bytes_in_total", "counter", "FLV body bytes received per stream.", (i) => i.video_bytes + i.audio_bytes + i.data_bytes],
  ["bitrate_bps", "gauge", "Ingest bitrate per stream.", (i) => i.video_bps + i.audio_bps],
  ["packets_sent_total", "counter", "RTP packets per stream.", (i) => i.packets_sent],
  ["retransmissions_total", "counter", "Packets served again per stream.", (i) => i.retransmissions],
  ["cache_packets", "gauge", "Packets in the stream's cache.", (i) => i.cache_packets],
  ["rtmp_players", "gauge", "RTMP players per stream.", (i) => i.players],
];

/**
 * The metric families of a cloud: node totals, then every numeric counter
 * of the QUIC service (`rtx_*`), then per stream.
 *
 * @example Usage
 * ```ts ignore
 * renderPrometheus(cloudMetrics({ streams, totals, sender, rtx }));
 * ```
 */
export function cloudMetrics(src: CloudMetricsSource): MetricFamily[] {
  const rtx: MetricRow<CloudMetricsSource>[] = [];
  for (const [k, v] of Object.entries(src.rtx)) {
    if (typeof v !== "number") continue;
    const gauge = k === "activeConnections";
    const base = `rtx_${k.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase())}`;
    rtx.push([
      gauge ? base : `${base}_total`,
      gauge ? "gauge" : "counter",
      `QUIC retransmission service: ${k}.`,
      () => v,
    ]);
  }
  return [
    ...metricFamilies("flvcast_cloud_", [src], undefined, [...NODE, ...rtx]),
    ...metricFamilies(
      "flvcast_cloud_stream_",
      src.streams,
      (i) => ({ key: i.key }),
      PER_STREAM,
    ),
  ];
}
