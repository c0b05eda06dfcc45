/**
 * The HLS routes' paths (pure): which playlist, init section, segment or
 * part a request path names, and the plain answers every route shares.
 *
 * @module
 */
import { decodePath, isStreamKey } from "../http/mod.ts";

/** CORS headers of every HLS answer (players may be on any origin). */
export const HLS_CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, HEAD, OPTIONS",
  "access-control-allow-headers": "*",
};

/** What an HLS request path names. */
export type HlsRoute =
  | { kind: "playlist"; key: string }
  | { kind: "init"; key: string; id: number }
  | { kind: "segment"; key: string; msn: number }
  | { kind: "part"; key: string; id: number };

/**
 * Parses an HLS path: `/live/movie.m3u8`, `/live/movie/init1.mp4`,
 * `/live/movie/s12.m4s`, `/live/movie/p61.m4s`; undefined for anything else
 * (including empty or `..` key segments).
 *
 * @example Usage
 * ```ts
 * import { parseHlsPath } from "./route.ts";
 * parseHlsPath("/live/movie/s12.m4s"); // { kind: "segment", key: "live/movie", msn: 12 }
 * ```
 */
export function parseHlsPath(pathname: string): HlsRoute | undefined {
  const path = decodePath(pathname);
  if (path === undefined) return undefined;
  if (path.endsWith(".m3u8")) {
    const key = path.slice(1, -5);
    return isStreamKey(key) ? { kind: "playlist", key } : undefined;
  }
  const m = path.match(/^\/(.+)\/(init|s|p)(\d{1,9})\.(mp4|m4s)$/);
  if (!m || !isStreamKey(m[1])) return undefined;
  const n = Number(m[3]);
  if (m[2] === "init" && m[4] === "mp4") {
    return { kind: "init", key: m[1], id: n };
  }
  if (m[2] === "s" && m[4] === "m4s") {
    return { kind: "segment", key: m[1], msn: n };
  }
  if (m[2] === "p" && m[4] === "m4s") return { kind: "part", key: m[1], id: n };
  return undefined;
}

/** A plain-text answer with the HLS CORS headers. */
export function hlsText(status: number, body: string): Response {
  return new Response(body + "\n", {
    status,
    headers: { ...HLS_CORS, "content-type": "text/plain; charset=utf-8" },
  });
}
