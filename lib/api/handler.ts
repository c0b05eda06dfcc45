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

/**
 * A JSON response of an ops API. No CORS header: a page on another origin
 * cannot read the ops APIs from a visitor's browser (the player routes keep
 * `Access-Control-Allow-Origin: *`).
 */
export function jsonResponse(
  body: unknown,
  status = 200,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body, null, 2) + "\n", {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      ...headers,
    },
  });
}

/**
 * Whether `req` carries `Authorization: Bearer TOKEN` (constant-time
 * compare). An empty `token` means no token is required.
 *
 * @example Usage
 * ```ts
 * import { hasBearer } from "./handler.ts";
 * const req = new Request("http://n/", { headers: { authorization: "Bearer t" } });
 * hasBearer(req, "t"); // true
 * ```
 */
export function hasBearer(req: Request, token: string): boolean {
  if (token === "") return true;
  const m = /^Bearer +(.+)$/i.exec(req.headers.get("authorization") ?? "");
  if (!m) return false;
  const a = new TextEncoder().encode(m[1].trim());
  const b = new TextEncoder().encode(token);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i];
  return diff === 0;
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
  /**
   * `api_token`: non-empty = every route but `/healthz` needs
   * `Authorization: Bearer TOKEN` (401 otherwise).
   */
  token?: string;
}

/**
 * Builds a request handler serving `routes`, `/metrics` and `/healthz`
 * (`/healthz` is always open; the rest need the bearer token when set).
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
  const token = options.token ?? "";
  return (req) => {
    const { pathname } = new URL(req.url);
    if (pathname !== "/healthz" && !hasBearer(req, token)) {
      return jsonResponse(
        { error: 'expected "Authorization: Bearer <api_token>"' },
        401,
        { "www-authenticate": 'Bearer realm="flvcast"' },
      );
    }
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
