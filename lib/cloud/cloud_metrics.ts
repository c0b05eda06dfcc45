/**
 * The cloud's `/metrics` families (`flvcast_cloud_*`), built from snapshots:
 * node totals, the UDP sender's counters, the QUIC service's counters and
 * the per-stream API snapshots. Pure.
 *
 * @module
 */
import type { MetricFamily } from "../metrics/mod.ts";
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

type Kind = "counter" | "gauge";

/**
 * The metric families of a cloud.
 *
 * @example Usage
 * ```ts ignore
 * renderPrometheus(cloudMetrics({ streams, totals, sender, rtx }));
 * ```
 */
// deno-fmt-ignore
export function cloudMetrics(src: CloudMetricsSource): MetricFamily[] {
  const { streams, totals: t, sender: snd } = src;
  const out: MetricFamily[] = [];
  const add = (name: string, type: Kind, help: string, samples: MetricFamily["samples"]) =>
    out.push({ name: `flvcast_cloud_${name}`, type, help, samples });
  const node: [string, Kind, string, number][] = [
    ["streams", "gauge", "Live published streams.", streams.length],
    ["publishes_total", "counter", "Publishes accepted.", t.publishes],
    ["publishes_refused_total", "counter", "Publishes refused (key live).", t.refused],
    ["tags_in_total", "counter", "FLV tags received from publishers.", t.tagsIn],
    ["rtp_packets_total", "counter", "RTP packets produced.", t.packetsSent],
    ["udp_datagrams_sent_total", "counter", "UDP datagrams handed to the kernel.", snd.datagramsSent],
    ["udp_bytes_sent_total", "counter", "UDP bytes handed to the kernel.", snd.bytesSent],
    ["udp_queue_drops_total", "counter", "Datagrams dropped on a full send queue.", snd.queueDrops],
    ["udp_send_errors_total", "counter", "UDP sends refused by the kernel.", snd.sendErrors],
  ];
  for (const [name, type, help, value] of node) add(name, type, help, [{ value }]);
  for (const [k, v] of Object.entries(src.rtx)) {
    if (typeof v !== "number") continue;
    const gauge = k === "activeConnections";
    const base = `rtx_${k.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase())}`;
    add(gauge ? base : `${base}_total`, gauge ? "gauge" : "counter", `QUIC retransmission service: ${k}.`, [{ value: v }]);
  }
  const per: [string, Kind, string, (i: CloudStreamInfo) => number][] = [
    ["bytes_in_total", "counter", "FLV body bytes received per stream.", (i) => i.video_bytes + i.audio_bytes + i.data_bytes],
    ["bitrate_bps", "gauge", "Ingest bitrate per stream.", (i) => i.video_bps + i.audio_bps],
    ["packets_sent_total", "counter", "RTP packets per stream.", (i) => i.packets_sent],
    ["retransmissions_total", "counter", "Packets served again per stream.", (i) => i.retransmissions],
    ["cache_packets", "gauge", "Packets in the stream's cache.", (i) => i.cache_packets],
    ["rtmp_players", "gauge", "RTMP players per stream.", (i) => i.players],
  ];
  for (const [name, type, help, get] of per) {
    add(`stream_${name}`, type, help, streams.map((i) => ({ labels: { key: i.key }, value: get(i) })));
  }
  return out;
}
