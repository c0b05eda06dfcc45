/**
 * Stream keys in request paths (pure): the one check every player route
 * (HTTP-FLV, WebSocket-FLV, HLS) makes of a path before it names a stream.
 *
 * @module
 */

/**
 * The percent-decoded path when it is well formed and absolute; undefined
 * for a bad escape or a relative path.
 *
 * @example Usage
 * ```ts
 * import { decodePath } from "./stream_path.ts";
 * decodePath("/live/a%20b.flv"); // "/live/a b.flv"
 * decodePath("/%zz"); // undefined
 * ```
 */
export function decodePath(pathname: string): string | undefined {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  return path.startsWith("/") ? path : undefined;
}

/**
 * Whether `key` may name a stream: not empty, no empty or `..` segment.
 *
 * @example Usage
 * ```ts
 * import { isStreamKey } from "./stream_path.ts";
 * isStreamKey("live/movie"); // true
 * isStreamKey("live/../x"); // false
 * ```
 */
export function isStreamKey(key: string): boolean {
  return key !== "" && !key.split("/").some((p) => p === "" || p === "..");
}

/**
 * Stream key for a request path: `/live/movie.flv` → `live/movie`; undefined
 * when the path does not name an FLV stream.
 *
 * @example Usage
 * ```ts
 * import { streamKeyFromPath } from "./stream_path.ts";
 * streamKeyFromPath("/live/movie.flv"); // "live/movie"
 * ```
 */
export function streamKeyFromPath(pathname: string): string | undefined {
  const path = decodePath(pathname);
  if (path === undefined || !path.endsWith(".flv")) return undefined;
  const key = path.slice(1, -4);
  return isStreamKey(key) ? key : undefined;
}
