/**
 * The cloud's HTTP API: `/api/streams`, `/api/history` (their last 2
 * minutes, charted by the read-only page at `/`), `/api/node`,
 * `/stat/livestat`, `/metrics`, `/healthz`.
 *
 * @module
 */
import { apiHandler } from "../api/mod.ts";
import {
  bitrateSeries,
  type HistorySeries,
  type MetricFamily,
} from "../metrics/mod.ts";
import { VERSION } from "../version/mod.ts";
import type { CloudStreamInfo } from "./cloud_stream.ts";

/** What the cloud's page charts per publisher (`/api/history`), in order. */
export const CLOUD_HISTORY_SERIES: HistorySeries<CloudStreamInfo>[] = [
  bitrateSeries((s) => s.video_bytes + s.audio_bytes + s.data_bytes),
  {
    name: "packets_sent",
    label: "RTP packets sent",
    short: "sent",
    unit: "/s",
    color: "#5fd38d",
    kind: "rate",
    read: (s) => s.packets_sent,
  },
  {
    name: "retransmissions",
    label: "retransmitted",
    short: "retransmitted",
    unit: "/s",
    color: "#ffb454",
    kind: "rate",
    read: (s) => s.retransmissions,
  },
  {
    name: "cache_packets",
    label: "repair cache",
    short: "cache",
    unit: "pkts",
    color: "#c792ea",
    kind: "gauge",
    read: (s) => s.cache_packets,
  },
];

/** What the API reads from the node. */
export interface CloudApiSource {
  /** Snapshots of the live streams. */
  streams(): CloudStreamInfo[];
  /** The streams' recent history (a `HistoryDocument`); absent: no route. */
  history?(): unknown;
  /** Node facts (fingerprint, ports…). */
  node(): Record<string, unknown>;
  /** Metric families for `/metrics`. */
  metrics(): MetricFamily[];
  /** `api_token`; empty or absent = open. */
  token?: string;
}

/**
 * The seed's livego-derived `/stat/livestat` document.
 *
 * @example Usage
 * ```ts
 * import { livestat } from "./api.ts";
 * livestat([]); // { status: 200, data: { publishers: [], players: [] } }
 * ```
 */
export function livestat(streams: CloudStreamInfo[]): unknown {
  return {
    status: 200,
    data: {
      publishers: streams.map((s) => ({
        key: s.key,
        url: `rtmp://${s.publisher}/${s.key}`,
        stream_id: s.id,
        video_total_bytes: s.video_bytes,
        video_speed: Math.round(s.video_bps / 8 / 1024),
        audio_total_bytes: s.audio_bytes,
        audio_speed: Math.round(s.audio_bps / 8 / 1024),
        ssrc: s.ssrc,
        start_time: s.start_time,
      })),
      players: [],
    },
  };
}

/**
 * Builds the request handler for {@linkcode listenHttp}.
 *
 * @example Usage
 * ```ts ignore
 * listenHttp({ port: 8090, handler: cloudApiHandler(source) });
 * ```
 */
export function cloudApiHandler(
  source: CloudApiSource,
): (req: Request) => Response {
  return apiHandler({
    routes: {
      "/api/streams": () => ({ streams: source.streams() }),
      ...(source.history ? { "/api/history": () => source.history!() } : {}),
      "/api/node": () => ({ version: VERSION, ...source.node() }),
      "/stat/livestat": () => livestat(source.streams()),
    },
    metrics: source.metrics,
    token: source.token,
  });
}
