/**
 * SHA-1 and AES-128-CTR from the system's OpenSSL libcrypto through Deno
 * FFI, when it can be loaded. Synchronous FFI calls on buffers cost well
 * under a microsecond, and the work itself runs on the CPU's SHA and AES
 * instructions: `SHA1_Update` + `SHA1_Final` on a copy of a precomputed
 * `SHA_CTX` (~0.7 µs for an RTP packet, against several for a node:crypto
 * `Hash.copy()`), and one `EVP_EncryptInit_ex` (new IV) + `EVP_EncryptUpdate`
 * in place (~0.2 µs, keystream and XOR in C). Without FFI permission, on a
 * system without libcrypto, or when `FLVCAST_SRTP_NATIVE=0`, callers fall
 * back to node:crypto.
 *
 * @module
 */

/** Room for OpenSSL's `SHA_CTX` (96 bytes on LP64) with margin. */
export const SHA_CTX_SIZE = 128;

/** One FFI symbol: its parameter and result types (literal types kept). */
function fn<
  const P extends readonly Deno.NativeType[],
  const R extends Deno.NativeResultType,
>(parameters: P, result: R): { parameters: P; result: R } {
  return { parameters, result };
}

const SYMBOLS = {
  SHA1_Init: fn(["buffer"], "i32"),
  SHA1_Update: fn(["buffer", "buffer", "usize"], "i32"),
  SHA1_Final: fn(["buffer", "buffer"], "i32"),
  EVP_CIPHER_CTX_new: fn([], "pointer"),
  EVP_CIPHER_CTX_free: fn(["pointer"], "void"),
  EVP_aes_128_ctr: fn([], "pointer"),
  // (ctx, cipher, engine, key, iv)
  EVP_EncryptInit_ex: fn(
    ["pointer", "pointer", "pointer", "buffer", "buffer"],
    "i32",
  ),
  // (ctx, out, &outl, in, inl)
  EVP_EncryptUpdate: fn(
    ["pointer", "buffer", "buffer", "buffer", "i32"],
    "i32",
  ),
};

/** The libcrypto calls used. */
export type Libcrypto = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let loaded: Libcrypto | null | undefined;
let reason = "";

const CANDIDATES = ["libcrypto.so.3", "libcrypto.so"];

/**
 * libcrypto's SHA-1 and AES calls, or null when they cannot be had (then
 * {@linkcode libcryptoUnavailable} says why).
 *
 * @example Usage
 * ```ts
 * import { libcrypto } from "./libcrypto.ts";
 * const lc = libcrypto(); // null without --allow-ffi
 * ```
 */
export function libcrypto(): Libcrypto | null {
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
      const failed = selfTest(lib.symbols);
      if (failed === "") {
        loaded = lib.symbols;
        return loaded;
      }
      reason = `${name}: ${failed} self-test failed`;
      lib.close();
    } catch (e) {
      reason = `${name}: ${(e as Error).message.split("\n")[0]}`;
    }
  }
  return loaded;
}

/** Why {@linkcode libcrypto} is null (empty when it is not). */
export function libcryptoUnavailable(): string {
  libcrypto();
  return loaded ? "" : reason;
}

/**
 * SHA-1("abc") must be a9993e36…, and AES-128 of a zero block under a zero
 * key 66e94bd4…: refuse a library that disagrees.
 */
function selfTest(s: Libcrypto): string {
  const ctx = new Uint8Array(SHA_CTX_SIZE);
  const md = new Uint8Array(20);
  if (s.SHA1_Init(ctx) !== 1) return "SHA-1";
  s.SHA1_Update(ctx, new Uint8Array([0x61, 0x62, 0x63]), 3n);
  s.SHA1_Final(md, ctx);
  if (md[0] !== 0xa9 || md[1] !== 0x99 || md[2] !== 0x3e || md[19] !== 0x9d) {
    return "SHA-1";
  }
  const aes = new NativeAesCtr(new Uint8Array(16), s);
  const block = new Uint8Array(16);
  aes.xor(new Uint8Array(16), block, 0, 16);
  aes.free();
  return block[0] === 0x66 && block[1] === 0xe9 && block[15] === 0x2e
    ? ""
    : "AES-128-CTR";
}

const contexts = new FinalizationRegistry<
  { lc: Libcrypto; ctx: Deno.PointerValue }
>(({ lc, ctx }) => lc.EVP_CIPHER_CTX_free(ctx));

/**
 * AES-128 in counter mode (128-bit big-endian counter from the IV, as
 * OpenSSL's CTR mode counts) for one key, in place. SRTP never needs more
 * than 2^16 blocks per IV, so it agrees with RFC 3711's 16-bit block counter.
 * The native context is freed by {@linkcode NativeAesCtr.free} or when the
 * object is garbage collected.
 *
 * @example Usage
 * ```ts
 * import { libcrypto, NativeAesCtr } from "./libcrypto.ts";
 * const lc = libcrypto();
 * if (lc) {
 *   const aes = new NativeAesCtr(new Uint8Array(16), lc);
 *   const data = new Uint8Array(100);
 *   aes.xor(new Uint8Array(16), data, 0, 100); // now keystream bytes
 * }
 * ```
 */
export class NativeAesCtr {
  #lc: Libcrypto;
  #ctx: Deno.PointerValue;
  #outl = new Uint8Array(4);

  /**
   * @param key 16-byte AES key.
   * @param lc The loaded library ({@linkcode libcrypto}).
   * @throws {Error} When OpenSSL refuses to make the context.
   */
  constructor(key: Uint8Array, lc: Libcrypto) {
    this.#lc = lc;
    const ctx = lc.EVP_CIPHER_CTX_new();
    if (
      ctx === null ||
      lc.EVP_EncryptInit_ex(ctx, lc.EVP_aes_128_ctr(), null, key, null) !== 1
    ) {
      if (ctx !== null) lc.EVP_CIPHER_CTX_free(ctx);
      throw new Error("Expected libcrypto to make an AES-128-CTR context");
    }
    this.#ctx = ctx;
    contexts.register(this, { lc, ctx }, this);
  }

  /**
   * XORs the keystream of `iv` (block counter from the IV's own value) into
   * `data[off…off+len)`.
   *
   * @param iv 16-byte initial counter block.
   * @param data Bytes to encrypt or decrypt in place.
   * @param off Start offset.
   * @param len Length.
   */
  xor(iv: Uint8Array, data: Uint8Array, off: number, len: number): void {
    if (len <= 0) return;
    const lc = this.#lc;
    lc.EVP_EncryptInit_ex(this.#ctx, null, null, null, iv);
    const view = off === 0 && len === data.length
      ? data
      : data.subarray(off, off + len);
    lc.EVP_EncryptUpdate(this.#ctx, view, this.#outl, view, len);
  }

  /** Frees the native context now (the object is unusable afterwards). */
  free(): void {
    if (this.#ctx === null) return;
    contexts.unregister(this);
    this.#lc.EVP_CIPHER_CTX_free(this.#ctx);
    this.#ctx = null;
  }
}
