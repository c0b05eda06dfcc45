/**
 * The shape both node APIs share: JSON routes, `/metrics` (Prometheus text)
 * and `/healthz`, `GET`/`HEAD` only, a 404 that lists what exists.
 *
 * @module
 */
import {
  type MetricFamily,
  PROMETHEUS_CONTENT_TYPE,
  renderPrometheus,
} from "../metrics/mod.ts";
import { VERSION } from "../version/mod.ts";

/** A JSON response with CORS open (the status page reads it from a browser). */
export function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body, null, 2) + "\n", {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "access-control-allow-origin": "*",
    },
  });
}

/**
 * A counters object with its keys in snake_case, the style of every API
 * document (`{ tagsOut: 1 }` → `{ tags_out: 1 }`); one level deep.
 *
 * @example Usage
 * ```ts
 * import { snakeKeys } from "./handler.ts";
 * snakeKeys({ packetsOk: 3 }); // { packets_ok: 3 }
 * ```
 */
export function snakeKeys(
  record: object,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) {
    out[k.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase())] = v;
  }
  return out;
}

/** Options for {@linkcode apiHandler}. */
export interface ApiHandlerOptions {
  /** JSON documents by path, computed per request. */
  routes: Record<string, () => unknown>;
  /** Metric families for `/metrics`. */
  metrics: () => MetricFamily[];
}

/**
 * Builds a request handler serving `routes`, `/metrics` and `/healthz`.
 *
 * @example Usage
 * ```ts
 * import { apiHandler } from "./handler.ts";
 * const handle = apiHandler({ routes: { "/api/streams": () => ({ streams: [] }) }, metrics: () => [] });
 * handle(new Request("http://node/healthz")).status; // 200
 * ```
 */
export function apiHandler(
  options: ApiHandlerOptions,
): (req: Request) => Response {
  const paths = [...Object.keys(options.routes), "/metrics", "/healthz"];
  return (req) => {
    const { pathname } = new URL(req.url);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return jsonResponse({ error: `expected GET, got ${req.method}` }, 405);
    }
    const route = Object.hasOwn(options.routes, pathname)
      ? options.routes[pathname]
      : undefined;
    if (route) return jsonResponse(route());
    if (pathname === "/metrics") {
      return new Response(renderPrometheus(options.metrics()), {
        headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
      });
    }
    if (pathname === "/healthz") {
      return jsonResponse({ status: "ok", version: VERSION });
    }
    return jsonResponse({
      error: `not found: ${pathname} (expected one of ${paths.join(", ")})`,
    }, 404);
  };
}
