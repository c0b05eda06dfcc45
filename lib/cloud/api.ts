/**
 * The cloud's HTTP API: `/api/streams`, `/api/node`, `/stat/livestat`,
 * `/metrics`, `/healthz`.
 *
 * @module
 */
import {
  type MetricFamily,
  PROMETHEUS_CONTENT_TYPE,
  renderPrometheus,
} from "../metrics/mod.ts";
import { VERSION } from "../version/mod.ts";
import type { CloudStreamInfo } from "./cloud_stream.ts";

/** What the API reads from the node. */
export interface CloudApiSource {
  /** Snapshots of the live streams. */
  streams(): CloudStreamInfo[];
  /** Node facts (fingerprint, ports…). */
  node(): Record<string, unknown>;
  /** Metric families for `/metrics`. */
  metrics(): MetricFamily[];
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body, null, 2), {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "access-control-allow-origin": "*",
    },
  });

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
      publishers: streams.map((s, i) => ({
        key: s.key,
        url: `rtmp://${s.publisher}/${s.key}`,
        stream_id: i + 1,
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
 * Builds the request handler for `Deno.serve`.
 *
 * @example Usage
 * ```ts ignore
 * Deno.serve({ port: 8090 }, cloudApiHandler(source));
 * ```
 */
export function cloudApiHandler(
  source: CloudApiSource,
): (req: Request) => Response {
  return (req) => {
    const { pathname } = new URL(req.url);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return json({ error: `expected GET, got ${req.method}` }, 405);
    }
    switch (pathname) {
      case "/api/streams":
        return json({ streams: source.streams() });
      case "/api/node":
        return json({ version: VERSION, ...source.node() });
      case "/stat/livestat":
        return json(livestat(source.streams()));
      case "/metrics":
        return new Response(renderPrometheus(source.metrics()), {
          headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
        });
      case "/healthz":
        return json({ status: "ok", version: VERSION });
      default:
        return json({ error: `no such endpoint: ${pathname}` }, 404);
    }
  };
}
