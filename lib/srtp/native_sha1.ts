/**
 * SHA-1 from the system's OpenSSL libcrypto through Deno FFI, when it can be
 * loaded: `SHA1_Update` + `SHA1_Final` on a copy of a precomputed `SHA_CTX`
 * cost well under a microsecond for an RTP packet (synchronous FFI calls
 * are cheap; the hashing itself uses the CPU's SHA extensions), against
 * several microseconds for a node:crypto `Hash.copy()`. Without FFI
 * permission, on a system without libcrypto, or when
 * `FLVCAST_SRTP_NATIVE=0`, callers fall back to node:crypto.
 *
 * @module
 */

/** Room for OpenSSL's `SHA_CTX` (96 bytes on LP64) with margin. */
export const SHA_CTX_SIZE = 128;

const SYMBOLS = {
  SHA1_Init: { parameters: ["buffer"], result: "i32" },
  SHA1_Update: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
  SHA1_Final: { parameters: ["buffer", "buffer"], result: "i32" },
} as const;

/** The three calls used. */
export type NativeSha1 = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let loaded: NativeSha1 | null | undefined;
let reason = "";

const CANDIDATES = ["libcrypto.so.3", "libcrypto.so"];

/**
 * libcrypto's SHA-1 calls, or null when they cannot be had (then
 * {@linkcode nativeSha1Unavailable} says why).
 *
 * @example Usage
 * ```ts
 * import { nativeSha1 } from "./native_sha1.ts";
 * const sha1 = nativeSha1(); // null without --allow-ffi
 * ```
 */
export function nativeSha1(): NativeSha1 | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  let env: string | undefined;
  try {
    env = Deno.env.get("FLVCAST_SRTP_NATIVE");
  } catch {
    env = undefined;
  }
  if (env === "0") {
    reason = "FLVCAST_SRTP_NATIVE=0";
    return loaded;
  }
  if (Deno.build.os !== "linux") {
    reason = `no libcrypto lookup on ${Deno.build.os}`;
    return loaded;
  }
  for (const name of CANDIDATES) {
    try {
      const lib = Deno.dlopen(name, SYMBOLS);
      if (selfTest(lib.symbols)) {
        loaded = lib.symbols;
        return loaded;
      }
      reason = `${name}: SHA-1 self-test failed`;
      lib.close();
    } catch (e) {
      reason = `${name}: ${(e as Error).message.split("\n")[0]}`;
    }
  }
  return loaded;
}

/** Why {@linkcode nativeSha1} is null (empty when it is not). */
export function nativeSha1Unavailable(): string {
  nativeSha1();
  return loaded ? "" : reason;
}

/** SHA-1("abc") must be a9993e36…: refuse a library that disagrees. */
function selfTest(s: NativeSha1): boolean {
  const ctx = new Uint8Array(SHA_CTX_SIZE);
  const md = new Uint8Array(20);
  if (s.SHA1_Init(ctx) !== 1) return false;
  s.SHA1_Update(ctx, new Uint8Array([0x61, 0x62, 0x63]), 3n);
  s.SHA1_Final(md, ctx);
  return md[0] === 0xa9 && md[1] === 0x99 && md[2] === 0x3e &&
    md[19] === 0x9d;
}
