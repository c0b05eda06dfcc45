/**
 * The web handler an edge mounts in its HTTP-FLV server: the page at `/`,
 * its script, the charts script, mpegts.js (served from the npm package, so
 * the page works offline) and a same-origin `/api/streams` and
 * `/api/history`. Any other request is not its business: it returns
 * `undefined` and the FLV server goes on. {@linkcode cloudWebHandler} is the
 * cloud API's read-only page of publishers, with the same charts.
 *
 * @module
 */
import {
  loadHlsScript,
  loadPlayerScript,
  type PlayerScript,
} from "./assets.ts";
import { CHARTS_JS, CHARTS_PATH, HISTORY_PATH } from "./charts.ts";
import { CLOUD_APP_JS, CLOUD_APP_PATH, cloudPageHtml } from "./cloud_page.ts";
import * as pages from "./page.ts";

/** Options for {@linkcode webHandler}. */
export interface WebHandlerOptions {
  /** The live streams, as the edge API's `/api/streams` lists them
   * (an array of objects with at least `key`). */
  streams: () => unknown;
  /** Page title. Default `flvcast edge`. */
  title?: string;
  /** Version shown in the header. */
  version?: string;
  /** The player script; default: mpegts.js read once from the npm package. */
  playerScript?: PlayerScript;
  /** The HLS player script; default: hls.js read once from the npm package. */
  hlsScript?: PlayerScript;
  /** The charts' history (`/api/history`, a `HistoryDocument`), of the
   * streams named by `?key=` parameters when there are any; absent: the
   * route answers an empty history. */
  history?: (keys?: string[]) => unknown;
}

/** A request handler that answers only its own paths. */
export type WebHandler = (req: Request) => Response | undefined;

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "media-src 'self' blob:",
  "worker-src 'self' blob:",
  "connect-src 'self' ws: wss:",
  "frame-ancestors 'self'",
].join("; ");

const COMMON = {
  "x-content-type-options": "nosniff",
};

function answer(
  req: Request,
  body: BodyInit | null,
  headers: Record<string, string>,
  status = 200,
): Response {
  return new Response(req.method === "HEAD" ? null : body, {
    status,
    headers: { ...COMMON, ...headers },
  });
}

function scriptResponse(
  req: Request,
  bytes: Uint8Array<ArrayBuffer>,
): Response {
  return answer(req, bytes, {
    "content-type": "text/javascript; charset=utf-8",
    "cache-control": "no-cache",
  });
}

function htmlPage(req: Request, bytes: Uint8Array<ArrayBuffer>): Response {
  return answer(req, bytes, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-cache",
    "content-security-policy": CSP,
    "referrer-policy": "no-referrer",
  });
}

function history(
  req: Request,
  source?: (keys?: string[]) => unknown,
  cors = true,
): Response {
  const keys = new URL(req.url).searchParams.getAll("key");
  try {
    return json(
      req,
      source ? source(keys.length ? keys : undefined) : EMPTY_HISTORY,
      200,
      cors,
    );
  } catch (err) {
    return json(
      req,
      {
        error: `cannot read the history: ${(err as Error).message}`,
      },
      500,
      cors,
    );
  }
}

const EMPTY_HISTORY = {
  interval_ms: 1000,
  length: 120,
  updated_at: null,
  series: [],
  untracked_streams: 0,
  streams: [],
};

function methodNotAllowed(req: Request): Response {
  return new Response(
    `method not allowed: expected GET or HEAD, got ${req.method}\n`,
    {
      status: 405,
      headers: {
        ...COMMON,
        allow: "GET, HEAD",
        "content-type": "text/plain; charset=utf-8",
      },
    },
  );
}

/** JSON; `cors` false on the ops port (the cloud's page), where no other
 * origin may read it. */
function json(
  req: Request,
  body: unknown,
  status = 200,
  cors = true,
): Response {
  return answer(req, JSON.stringify(body) + "\n", {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    ...(cors ? { "access-control-allow-origin": "*" } : {}),
  }, status);
}

/**
 * Builds the handler for the edge's page. Mount it in front of the FLV
 * routes: `webHandler(opts)(req) ?? flvHandler(req)`.
 *
 * Routes: `GET /` (and `/index.html`) the page; `GET /web/app.js` its
 * script; `GET /web/mpegts.js` and `GET /web/hls.js` the players; `GET /api/streams`
 * `{"streams": [...]}` from `opts.streams()`. `HEAD` as `GET` without a
 * body; other methods on these paths: 405. Anything else: `undefined`.
 *
 * @example Usage
 * ```ts
 * import { webHandler } from "./handler.ts";
 * const web = webHandler({
 *   streams: () => [{ key: "live/movie", players: 1 }],
 *   playerScript: { ok: true, bytes: new Uint8Array(), source: "test" },
 * });
 * web(new Request("http://edge:7001/"))?.status; // 200
 * web(new Request("http://edge:7001/live/movie.flv")); // undefined
 * ```
 */
export function webHandler(options: WebHandlerOptions): WebHandler {
  const script = options.playerScript ?? loadPlayerScript();
  const hlsScript = options.hlsScript ?? loadHlsScript();
  const html = pages.pageHtml({
    title: options.title ?? "flvcast edge",
    version: options.version,
  });
  const page = new TextEncoder().encode(html);
  const app = new TextEncoder().encode(pages.APP_JS);
  const charts = new TextEncoder().encode(CHARTS_JS);
  return (req) => {
    const { pathname } = new URL(req.url);
    const mine = pathname === "/" || pathname === "/index.html" ||
      pathname === pages.APP_PATH || pathname === pages.PLAYER_PATH ||
      pathname === pages.HLS_PLAYER_PATH || pathname === pages.STREAMS_PATH ||
      pathname === CHARTS_PATH || pathname === HISTORY_PATH;
    if (!mine) return undefined;
    if (req.method !== "GET" && req.method !== "HEAD") {
      return methodNotAllowed(req);
    }
    switch (pathname) {
      case pages.APP_PATH:
        return scriptResponse(req, app);
      case CHARTS_PATH:
        return scriptResponse(req, charts);
      case HISTORY_PATH:
        return history(req, options.history);
      case pages.PLAYER_PATH:
      case pages.HLS_PLAYER_PATH: {
        const [s, name] = pathname === pages.PLAYER_PATH
          ? [script, "mpegts.js"]
          : [hlsScript, "hls.js"];
        if (!s.ok) {
          return answer(req, `${name} is not available: ${s.error}\n`, {
            "content-type": "text/plain; charset=utf-8",
          }, 503);
        }
        return answer(req, s.bytes, {
          "content-type": "text/javascript; charset=utf-8",
          "cache-control": "public, max-age=3600",
        });
      }
      case pages.STREAMS_PATH: {
        let streams: unknown;
        try {
          streams = options.streams();
        } catch (err) {
          return json(req, {
            error: `cannot list streams: ${(err as Error).message}`,
          }, 500);
        }
        return json(req, { streams: Array.isArray(streams) ? streams : [] });
      }
      default:
        return htmlPage(req, page);
    }
  };
}

/** Options for {@linkcode cloudWebHandler}. */
export interface CloudWebHandlerOptions {
  /** The charts' history (`/api/history`, a `HistoryDocument`), of the
   * streams named by `?key=` parameters when there are any. */
  history: (keys?: string[]) => unknown;
  /** Page title. Default `flvcast cloud`. */
  title?: string;
  /** Version shown in the header. */
  version?: string;
}

/**
 * The cloud API port's read-only page: `GET /` lists the publishers (from
 * the API's own `/api/streams`) with their charts; `GET /web/cloud.js`,
 * `GET /web/charts.js` its scripts; `GET /api/history` the charts' data.
 * Anything else: `undefined` (the API goes on).
 *
 * @example Usage
 * ```ts
 * import { cloudWebHandler } from "./handler.ts";
 * const web = cloudWebHandler({ history: () => ({ series: [], streams: [] }) });
 * web(new Request("http://cloud:8090/"))?.status; // 200
 * web(new Request("http://cloud:8090/api/streams")); // undefined
 * ```
 */
export function cloudWebHandler(options: CloudWebHandlerOptions): WebHandler {
  const page = new TextEncoder().encode(cloudPageHtml({
    title: options.title ?? "flvcast cloud",
    version: options.version,
  }));
  const app = new TextEncoder().encode(CLOUD_APP_JS);
  const charts = new TextEncoder().encode(CHARTS_JS);
  return (req) => {
    const { pathname } = new URL(req.url);
    const mine = pathname === "/" || pathname === "/index.html" ||
      pathname === CLOUD_APP_PATH || pathname === CHARTS_PATH ||
      pathname === HISTORY_PATH;
    if (!mine) return undefined;
    if (req.method !== "GET" && req.method !== "HEAD") {
      return methodNotAllowed(req);
    }
    switch (pathname) {
      case CLOUD_APP_PATH:
        return scriptResponse(req, app);
      case CHARTS_PATH:
        return scriptResponse(req, charts);
      case HISTORY_PATH:
        return history(req, options.history, false);
      default:
        return htmlPage(req, page);
    }
  };
}
