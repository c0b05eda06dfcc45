/**
 * The edge's `/metrics` families (`flvcast_edge_*`) and its `/api/node`
 * document, built from snapshots: node counters, player counters, per-stream
 * API snapshots and the repair links. Pure.
 *
 * @module
 */
import { snakeKeys } from "../api/mod.ts";
import type { FlvHttpStats } from "../http/mod.ts";
import {
  metricFamilies,
  type MetricFamily,
  type MetricRow,
} from "../metrics/mod.ts";
import type { SocketBufferResult } from "../net/mod.ts";
import { VERSION } from "../version/mod.ts";
import type { EdgeNodeOptions } from "./edge_options.ts";
import type { RtxClientStats } from "../quic/mod.ts";
import type { EdgeStreamInfo } from "./edge_api.ts";
import type { EdgeNodeStats } from "./receiver_types.ts";

/** A repair link as the metrics see it. */
export interface EdgeLinkSnapshot {
  /** `host:port` of the cloud. */
  cloud: string;
  /** Whether the QUIC connection is up. */
  connected: boolean;
  /** Why it last failed ("" if it did not). */
  lastError: string;
  /** The link's counters. */
  stats: Readonly<RtxClientStats>;
}

/** What {@linkcode edgeMetrics} reads. */
export interface EdgeMetricsSource {
  /** Live streams (API snapshots). */
  streams: EdgeStreamInfo[];
  /** Receiver counters. */
  stats: Readonly<EdgeNodeStats>;
  /** Player counters. */
  players: Readonly<FlvHttpStats>;
  /** Repair links. */
  links: EdgeLinkSnapshot[];
}

/** Node-wide metrics (one sample each). */
// deno-fmt-ignore
const NODE: readonly MetricRow<EdgeMetricsSource>[] = [
  ["streams", "gauge", "Live streams at the edge.", (s) => s.streams.length],
  ["streams_total", "counter", "Streams learned.", (s) => s.stats.streamsTotal],
  ["republishes_total", "counter", "Keys taken over by a new SSRC.", (s) => s.stats.republishes],
  ["udp_datagrams_total", "counter", "UDP datagrams received.", (s) => s.stats.datagrams],
  ["rtcp_packets_total", "counter", "RTCP compounds received.", (s) => s.stats.rtcpPackets],
  ["malformed_total", "counter", "Datagrams neither valid RTP nor RTCP.", (s) => s.stats.malformed],
  ["simulated_drops_total", "counter", "RTP packets dropped by pack_loss.", (s) => s.stats.simulatedDrops],
  ["repair_shed_total", "counter", "Missing packets given up over the repair budget.", (s) => s.stats.repairShed],
  ["unnamed_dropped_total", "counter", "Held packets of unnamed SSRCs discarded.", (s) => s.stats.unnamedDropped],
  ["streams_refused_total", "counter", "New streams refused (max_streams).", (s) => s.stats.streamsRefused],
  ["srtp_auth_failures_total", "counter", "SRTP/SRTCP datagrams that failed authentication (dropped).", (s) => s.stats.srtpAuthFailures],
  ["srtp_replays_total", "counter", "SRTP/SRTCP datagrams refused as replays (dropped).", (s) => s.stats.srtpReplays],
  ["srtp_malformed_total", "counter", "Datagrams too short for SRTP/SRTCP (dropped).", (s) => s.stats.srtpMalformed],
  ["srtp_held_dropped_total", "counter", "Datagrams held for an SSRC without keys, discarded.", (s) => s.stats.srtpHeldDropped],
  ["keys_requested_total", "counter", "KEYS requests sent to the cloud.", (s) => s.stats.keysRequested],
  ["keys_received_total", "counter", "KEYS answers with keys.", (s) => s.stats.keysReceived],
  ["keys_unknown_total", "counter", "KEYS answers: no such live stream.", (s) => s.stats.keysUnknown],
  ["keys_refused_total", "counter", "KEYS answers for plain RTP, refused (edge.srtp).", (s) => s.stats.keysRefused],
  ["stalls_total", "counter", "Times the edge process was not scheduled past its next event by > 30 ms (repair deadlines moved by the delay).", (s) => s.stats.stalls],
  ["players", "gauge", "Players connected.", (s) => s.players.httpPlayers + s.players.wsPlayers],
  ["players_total", "counter", "Players accepted.", (s) => s.players.playersTotal],
  ["slow_disconnects_total", "counter", "Players cut off for being too slow.", (s) => s.players.slowDisconnects],
  ["not_found_total", "counter", "Requests for unknown streams.", (s) => s.players.notFound],
  ["player_budget_cuts_total", "counter", "Players cut over edge.player_buffer_bytes.", (s) => s.players.budgetCuts],
  ["player_unsent_bytes", "gauge", "All players' unsent bytes.", (s) => s.players.unsentBytes],
];

/** Per-stream metrics (label `key`). */
// deno-fmt-ignore
const PER_STREAM: readonly MetricRow<EdgeStreamInfo>[] = [
  ["packets_received_total", "counter", "Distinct RTP packets received over UDP.", (i) => i.packets_received],
  ["bytes_received_total", "counter", "RTP bytes received over UDP.", (i) => i.bytes_received],
  ["packets_reordered_total", "counter", "Packets that arrived after a later one.", (i) => i.reordered],
  ["packets_duplicate_total", "counter", "Duplicate packets dropped.", (i) => i.duplicates],
  ["packets_late_total", "counter", "Packets that arrived too late.", (i) => i.late],
  ["packets_lost_total", "counter", "Packets found missing.", (i) => i.lost],
  ["nacks_total", "counter", "NACK requests issued.", (i) => i.nacked],
  ["packets_recovered_total", "counter", "Packets recovered by retransmission.", (i) => i.recovered],
  ["packets_unrecoverable_total", "counter", "Packets given up.", (i) => i.unrecoverable],
  ["tags_out_total", "counter", "Tags released to players.", (i) => i.tags_out],
  ["tags_dropped_total", "counter", "Tags dropped whole.", (i) => i.tags_dropped],
  ["tags_skipped_total", "counter", "Video tags withheld until a keyframe.", (i) => i.tags_skipped],
  ["srtp_auth_failures_total", "counter", "SRTP/SRTCP datagrams of the SSRC that failed authentication.", (i) => i.srtp_auth_failures],
  ["srtp_replays_total", "counter", "SRTP/SRTCP datagrams of the SSRC refused as replays.", (i) => i.srtp_replays],
  ["players", "gauge", "Players of the stream.", (i) => i.players],
  ["one_way_delay_ms", "gauge", "One-way delay from the Sender Reports.", (i) => i.one_way_delay_ms ?? 0],
  ["rtt_ms", "gauge", "Retransmission round-trip estimate.", (i) => i.rtt_ms],
];

/** Per repair link metrics (label `cloud`). */
// deno-fmt-ignore
const PER_LINK: readonly MetricRow<EdgeLinkSnapshot>[] = [
  ["connected", "gauge", "Retransmission link up (1) or not (0).", (c) => (c.connected ? 1 : 0)],
  ["connects_total", "counter", "Retransmission connections made.", (c) => c.stats.connects],
  ["connect_attempts_total", "counter", "Connection attempts started (they overlap while the link is down).", (c) => c.stats.connectAttempts],
  ["connect_failures_total", "counter", "Connection attempts failed.", (c) => c.stats.connectFailures],
  ["packets_ok_total", "counter", "Packets the cloud sent back.", (c) => c.stats.packetsOk],
  ["packets_unavailable_total", "counter", "Packets the cloud no longer had.", (c) => c.stats.packetsUnavailable],
  ["packets_timeout_total", "counter", "Requests without an answer in time.", (c) => c.stats.packetsTimeout],
];

/**
 * The metric families of an edge.
 *
 * @example Usage
 * ```ts ignore
 * renderPrometheus(edgeMetrics({ streams, stats, players, links }));
 * ```
 */
export function edgeMetrics(src: EdgeMetricsSource): MetricFamily[] {
  return [
    ...metricFamilies("flvcast_edge_", [src], undefined, NODE),
    ...metricFamilies(
      "flvcast_edge_stream_",
      src.streams,
      (i) => ({ key: i.key }),
      PER_STREAM,
    ),
    ...metricFamilies(
      "flvcast_edge_rtx_",
      src.links,
      (c) => ({ cloud: c.cloud }),
      PER_LINK,
    ),
  ];
}

/**
 * The edge's `GET /api/node` document (snake_case keys).
 *
 * @example Usage
 * ```ts ignore
 * edgeNodeInfo(options, edge.ports, edge.receiveBuffer, snapshot);
 * ```
 */
export function edgeNodeInfo(
  o: EdgeNodeOptions,
  ports: Record<string, number | undefined>,
  rcvbuf: SocketBufferResult | undefined,
  src: EdgeMetricsSource,
): Record<string, unknown> {
  return {
    role: "edge",
    version: VERSION,
    ports,
    udp_rcvbuf: rcvbuf
      ? {
        requested: rcvbuf.requested,
        effective: rcvbuf.effective,
        method: rcvbuf.method,
      }
      : null,
    group: o.udp.group ?? null,
    latency_ms: o.latencyMs ?? 200,
    pack_loss: o.packLoss ?? 0,
    stream_timeout_ms: o.streamTimeoutMs ?? 5000,
    recording: o.enableRecord ?? false,
    stats: snakeKeys(src.stats),
    players: snakeKeys(src.players),
    rtx: src.links.map((c) => ({
      cloud: c.cloud,
      connected: c.connected,
      last_error: c.lastError || null,
      stats: snakeKeys(c.stats),
    })),
  };
}
