/**
 * The edge's HTTP API (SPEC §8): `GET /api/streams` (per-stream receive,
 * repair and player counters), `GET /api/history` (their last 2 minutes,
 * charted by the page), `GET /api/node`, `GET /metrics` (Prometheus text)
 * and `GET /healthz`.
 *
 * @module
 */
import { apiHandler } from "../api/mod.ts";
import {
  bitrateSeries,
  type HistorySeries,
  type MetricFamily,
} from "../metrics/mod.ts";

/** One stream as the edge API shows it. */
export interface EdgeStreamInfo {
  /** Stream key, e.g. `live/movie`. */
  key: string;
  /** Current RTP SSRC. */
  ssrc: number;
  /** Address the RTP comes from. */
  source: string;
  /** When the edge learned the stream (ISO 8601). */
  start_time: string;
  /** Distinct RTP packets received over UDP. */
  packets_received: number;
  /** RTP bytes received over UDP (datagrams of this stream). */
  bytes_received: number;
  /** Packets that arrived after a later one. */
  reordered: number;
  /** Duplicate packets dropped. */
  duplicates: number;
  /** Packets that arrived too late (behind the window or given up). */
  late: number;
  /** Packets found missing (NACKed at least once). */
  lost: number;
  /** NACK requests issued (retries included). */
  nacked: number;
  /** Packets recovered by retransmission. */
  recovered: number;
  /** Packets given up. */
  unrecoverable: number;
  /** Tags released to players. */
  tags_out: number;
  /** Tags dropped whole (incomplete at the deadline or corrupt). */
  tags_dropped: number;
  /** Video tags withheld until the next keyframe after a drop. */
  tags_skipped: number;
  /** Video codec (`avc`, `hevc`, `av1`, …), once a video tag arrived. */
  video_codec: string | null;
  /** Audio codec (`aac`, `mp3`, `opus`, …), once an audio tag arrived. */
  audio_codec: string | null;
  /** Players connected now. */
  players: number;
  /** Players cut off for being too slow. */
  slow_players: number;
  /** One-way delay cloud → edge from the Sender Reports (ms), if known. */
  one_way_delay_ms: number | null;
  /** Retransmission round-trip estimate (ms; Karn's rule). */
  rtt_ms: number;
  /** The repair budget in force (ms): how long a gap may wait for repair. */
  budget_ms: number;
  /** `latency_ms: auto`: the link's round trip (ms) and loss rate (0..1)
   * the budget in force was derived from (unrounded); absent otherwise. */
  budget_basis?: { rtt_ms: number; loss_rate: number };
  /** Where repair answers come: `udp` (asked with `RMOD`) or `stream`. */
  repair_mode: "udp" | "stream";
  /** Copies of each answer asked for now (1 on the stream). */
  repair_copies: number;
  /** Loss rate measured on the link (0..1; the copies follow it). */
  loss_rate: number;
  /** Packets rebuilt from FEC parity (cloud `fec_block`; also in `recovered`). */
  fec_recovered: number;
  /** Share of lost packets recovered (recovered / lost), `null` before a loss. */
  repair_success: number | null;
  /** SRTP/SRTCP datagrams of this SSRC that failed authentication. */
  srtp_auth_failures: number;
  /** SRTP/SRTCP datagrams of this SSRC refused as replays. */
  srtp_replays: number;
  /** Packets held in the reorder buffer now. */
  buffered_packets: number;
  /** Packets waiting for repair now. */
  pending_repair: number;
  /** The FLV file being recorded, if any. */
  recording: string | null;
}

/** What the edge's page charts per stream (`/api/history`), in order. */
export const EDGE_HISTORY_SERIES: HistorySeries<EdgeStreamInfo>[] = [
  bitrateSeries((s) => s.bytes_received),
  {
    name: "lost",
    label: "packets lost",
    short: "lost",
    unit: "/s",
    color: "#ff6b6b",
    kind: "rate",
    read: (s) => s.lost,
  },
  {
    name: "recovered",
    label: "packets recovered",
    short: "recovered",
    unit: "/s",
    color: "#5fd38d",
    kind: "rate",
    read: (s) => s.recovered,
  },
  {
    name: "tags_dropped",
    label: "tags dropped",
    short: "dropped",
    unit: "/s",
    color: "#ffb454",
    kind: "rate",
    read: (s) => s.tags_dropped,
  },
  {
    name: "delay_ms",
    label: "cloud → edge delay",
    short: "delay",
    unit: "ms",
    color: "#c792ea",
    kind: "gauge",
    read: (s) => s.one_way_delay_ms,
  },
];

/** A stream that ended: its final counters, when and why it ended. */
export interface EndedStreamInfo extends EdgeStreamInfo {
  /** When it ended (ISO 8601). */
  end_time: string;
  /** Why: `bye`, `timeout`, `edge stopping`, `replaced`… */
  end_reason: string;
}

/** What the API reads from the edge. */
export interface EdgeApiSource {
  /** Snapshots of the live streams. */
  streams(): EdgeStreamInfo[];
  /** Final snapshots of the last streams that ended (at most 32). */
  ended?(): EndedStreamInfo[];
  /** The streams' recent history (a `HistoryDocument`); absent: no route. */
  history?(): unknown;
  /** Node facts (ports, retransmission link…). */
  node(): Record<string, unknown>;
  /** Metric families for `/metrics`. */
  metrics(): MetricFamily[];
  /** `api_token`; empty or absent = open. */
  token?: string;
}

/**
 * Builds the edge API request handler.
 *
 * @example Usage
 * ```ts
 * import { edgeApiHandler } from "./edge_api.ts";
 * const handle = edgeApiHandler({ streams: () => [], node: () => ({}), metrics: () => [] });
 * const res = handle(new Request("http://edge/healthz"));
 * res.status; // 200
 * ```
 */
export function edgeApiHandler(
  source: EdgeApiSource,
): (req: Request) => Response {
  return apiHandler({
    routes: {
      "/api/streams": () => ({
        streams: source.streams(),
        ended: source.ended?.() ?? [],
      }),
      ...(source.history ? { "/api/history": () => source.history!() } : {}),
      "/api/node": () => source.node(),
    },
    metrics: source.metrics,
    token: source.token,
  });
}

/** The fields the public player port lists of a stream (a viewer's needs). */
export const PUBLIC_STREAM_FIELDS = [
  "key",
  "start_time",
  "video_codec",
  "audio_codec",
  "players",
  "bytes_received",
  "tags_out",
  "lost",
  "recovered",
  "one_way_delay_ms",
] as const;

/** What the public player port lists of a stream (a viewer's needs). */
export type PublicStreamInfo = Pick<
  EdgeStreamInfo,
  typeof PUBLIC_STREAM_FIELDS[number]
>;

/**
 * A stream as the public player port lists it (the page's table: key,
 * codecs, players, the bitrate from `bytes_received`, losses repaired,
 * delay):
 * only {@linkcode PUBLIC_STREAM_FIELDS}, never what identifies the publisher
 * or the data plane (`ssrc`, `source`), the repair and SRTP state, or a
 * path on disk (`recording`).
 *
 * @example Usage
 * ```ts ignore
 * publicStreamInfo(edge.streams()[0]).ssrc; // undefined
 * ```
 */
export function publicStreamInfo(info: EdgeStreamInfo): PublicStreamInfo {
  const out: Record<string, unknown> = {};
  for (const f of PUBLIC_STREAM_FIELDS) out[f] = info[f];
  return out as PublicStreamInfo;
}
