/**
 * node-media-server-compatible signed URLs (no I/O): `?sign=EXPIRES-HASH`,
 * EXPIRES in unix seconds, HASH the lowercase hex MD5 of
 * `/APP/NAME-EXPIRES-SECRET`, e.g. `/live/movie-1767225600-s3cret`.
 *
 * @module
 */
import { createHash } from "node:crypto";

/**
 * The hash of a signature: MD5 hex of `/KEY-EXPIRES-SECRET`.
 *
 * @example Usage
 * ```ts
 * import { signHash } from "./sign.ts";
 * signHash("live/movie", 1767225600, "s3cret").length; // 32
 * ```
 */
export function signHash(key: string, expires: number, secret: string): string {
  return createHash("md5").update(`/${key}-${expires}-${secret}`).digest(
    "hex",
  );
}

/**
 * A `sign` value valid until `expires` (unix seconds) for stream `key`
 * (`app/name`), as an operator's backend would make it.
 *
 * @example Usage
 * ```ts
 * import { makeSign } from "./sign.ts";
 * const sign = makeSign("live/movie", 1767225600, "s3cret");
 * // rtmp://host/live/movie?sign=${sign}
 * ```
 */
export function makeSign(key: string, expires: number, secret: string): string {
  return `${expires}-${signHash(key, expires, secret)}`;
}

/** Options for {@linkcode checkSign}. */
export interface CheckSignOptions {
  /** Stream key `app/name` (no query). */
  key: string;
  /** The request's query string (with or without a leading `?`). */
  query: string;
  /** The signing secret. */
  secret: string;
  /** Unix seconds now; default the clock. */
  nowSec?: number;
}

/**
 * Checks the `sign` parameter of a query string. Returns `undefined` when it
 * is valid, else why not (`missing sign`, `malformed sign`, `sign expired`,
 * `wrong sign`). The comparison does not leak the expected hash by timing.
 *
 * @example Usage
 * ```ts
 * import { checkSign, makeSign } from "./sign.ts";
 * const sign = makeSign("live/movie", 4102444800, "s3cret");
 * checkSign({ key: "live/movie", query: `sign=${sign}`, secret: "s3cret" }); // undefined
 * checkSign({ key: "live/movie", query: "", secret: "s3cret" }); // "missing sign"
 * ```
 */
export function checkSign(options: CheckSignOptions): string | undefined {
  let sign: string | null;
  try {
    sign = new URLSearchParams(options.query.replace(/^\?/, "")).get("sign");
  } catch {
    return "malformed query";
  }
  if (sign === null || sign === "") return "missing sign";
  const m = /^(\d{1,12})-([0-9a-f]{32})$/.exec(sign);
  if (!m) return "malformed sign (expected EXPIRES-md5hex)";
  const expires = Number(m[1]);
  const now = options.nowSec ?? Math.floor(Date.now() / 1000);
  if (expires < now) return "sign expired";
  const want = signHash(options.key, expires, options.secret);
  let diff = 0;
  for (let i = 0; i < 32; i++) {
    diff |= want.charCodeAt(i) ^ m[2].charCodeAt(i);
  }
  return diff === 0 ? undefined : "wrong sign";
}
