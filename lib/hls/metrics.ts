/**
 * The HLS service's counters as Prometheus families (`flvcast_edge_hls_*`).
 *
 * @module
 */
import type { MetricFamily } from "../metrics/mod.ts";
import type { HeldStats } from "./held_requests.ts";

/** Counters of an HLS service. */
export interface HlsStats extends HeldStats {
  /** Playlist requests answered (any status). */
  playlistRequests: number;
  /** Init, segment and part requests answered (any status). */
  segmentRequests: number;
  /** Of those, part requests. */
  partRequests: number;
  /** Response body bytes served (playlists, inits, segments, parts). */
  bytesServed: number;
  /** Requests for a stream that is not live (404). */
  notFound: number;
  /** Requests with bad `_HLS_*` parameters (400) or a playlist query
   * too long to carry on its URIs (414). */
  badRequests: number;
}

/** What the segmenters produced (live and retired streams together). */
export interface HlsProduced {
  /** Segments made. */
  segments: number;
  /** Parts made. */
  parts: number;
  /** Streams being segmented now. */
  sessions: number;
}

/**
 * The metric families of an HLS service, each name prefixed.
 *
 * @example Usage
 * ```ts ignore
 * hlsMetrics(hls.stats, hls.produced(), "flvcast_edge_hls_");
 * ```
 */
export function hlsMetrics(
  s: Readonly<HlsStats>,
  p: HlsProduced,
  prefix: string,
): MetricFamily[] {
  const rows: [string, "counter" | "gauge", string, number][] = [
    [
      "playlist_requests_total",
      "counter",
      "HLS playlist requests.",
      s.playlistRequests,
    ],
    [
      "segment_requests_total",
      "counter",
      "HLS init/segment/part requests.",
      s.segmentRequests,
    ],
    ["part_requests_total", "counter", "LL-HLS part requests.", s.partRequests],
    [
      "held_total",
      "counter",
      "Requests held (blocking reload, hinted part).",
      s.held,
    ],
    ["held", "gauge", "Requests held now.", s.heldNow],
    [
      "held_timeouts_total",
      "counter",
      "Held requests that timed out.",
      s.heldTimeouts,
    ],
    [
      "held_refused_total",
      "counter",
      "Requests refused: too many held.",
      s.heldRefused,
    ],
    [
      "bytes_served_total",
      "counter",
      "HLS response body bytes.",
      s.bytesServed,
    ],
    [
      "not_found_total",
      "counter",
      "HLS requests for streams not live.",
      s.notFound,
    ],
    [
      "bad_requests_total",
      "counter",
      "HLS requests with bad parameters.",
      s.badRequests,
    ],
    ["segments_total", "counter", "HLS segments produced.", p.segments],
    ["parts_total", "counter", "LL-HLS parts produced.", p.parts],
    ["sessions", "gauge", "Streams being segmented.", p.sessions],
  ];
  return rows.map(([name, type, help, value]) => ({
    name: prefix + name,
    type,
    help,
    samples: [{ value }],
  }));
}
