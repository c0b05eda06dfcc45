/**
 * HMAC-SHA1 (RFC 2104) for one fixed key, from precomputed inner and outer
 * hash states. The inner hash (the message) continues a SHA-1 state that
 * has already absorbed `key XOR ipad`: libcrypto's `SHA_CTX` copied and
 * finished through FFI when {@linkcode libcrypto} has it, else a
 * node:crypto `Hash.copy()`. The outer hash is a single block after
 * `key XOR opad`: a copied libcrypto `SHA_CTX` as well (~0.07 µs), else
 * the pure-JS compression function (~0.25 µs; cheaper than a node:crypto
 * hash object).
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import { type Libcrypto, libcrypto, SHA_CTX_SIZE } from "./libcrypto.ts";
import { SHA1_INIT, sha1Compress } from "./sha1_block.ts";

/** SHA-1 digest length (bytes). */
export const SHA1_LENGTH = 20;

/**
 * HMAC-SHA1 keyed once.
 *
 * @example Usage
 * ```ts
 * import { HmacSha1 } from "./hmac_sha1.ts";
 * const mac = new HmacSha1(new Uint8Array(20));
 * const tag = mac.digest(new TextEncoder().encode("data")); // 20 bytes
 * ```
 */
export class HmacSha1 {
  #inner: Hash | undefined;
  #native: Libcrypto | null;
  /** libcrypto `SHA_CTX` after the `key XOR ipad` block, and a work copy. */
  #ctx0 = new Uint8Array(0);
  #ctx = new Uint8Array(0);
  #innerMd = new Uint8Array(20);
  /** libcrypto `SHA_CTX` after the `key XOR opad` block. */
  #octx0 = new Uint8Array(0);
  /** SHA-1 state after the `key XOR opad` block. */
  #outer: Int32Array;
  /** The outer hash's one block: inner digest, padding, length 672 bits. */
  #block = new Uint8Array(64);
  #state = new Int32Array(5);

  /**
   * @param key The HMAC key (at most 64 bytes; SRTP uses 20).
   * @throws {RangeError} When the key is longer than one SHA-1 block.
   */
  constructor(key: Uint8Array) {
    if (key.length > 64) {
      throw new RangeError(
        `Expected an HMAC-SHA1 key of at most 64 bytes, received ${key.length}`,
      );
    }
    const ipad = new Uint8Array(64).fill(0x36);
    const opad = new Uint8Array(64).fill(0x5c);
    for (let i = 0; i < key.length; i++) {
      ipad[i] ^= key[i];
      opad[i] ^= key[i];
    }
    this.#native = libcrypto();
    if (this.#native) {
      this.#ctx0 = new Uint8Array(SHA_CTX_SIZE);
      this.#ctx = new Uint8Array(SHA_CTX_SIZE);
      this.#native.SHA1_Init(this.#ctx0);
      this.#native.SHA1_Update(this.#ctx0, ipad, 64n);
      this.#octx0 = new Uint8Array(SHA_CTX_SIZE);
      this.#native.SHA1_Init(this.#octx0);
      this.#native.SHA1_Update(this.#octx0, opad, 64n);
    } else {
      this.#inner = createHash("sha1").update(ipad);
    }
    this.#outer = Int32Array.from(SHA1_INIT);
    sha1Compress(this.#outer, opad, 0, 1);
    this.#block[20] = 0x80;
    this.#block[62] = (64 + 20) * 8 >>> 8; // bit length of opad block + digest
    this.#block[63] = ((64 + 20) * 8) & 0xff;
  }

  /** Which SHA-1 does the inner hash: `libcrypto` (FFI) or `node:crypto`. */
  get backend(): "libcrypto" | "node:crypto" {
    return this.#native ? "libcrypto" : "node:crypto";
  }

  /**
   * HMAC of `data`.
   *
   * @param data The message.
   * @returns The 20-byte MAC.
   */
  digest(data: Uint8Array): Uint8Array {
    const out = new Uint8Array(20);
    this.digestInto(data, out);
    return out;
  }

  /**
   * HMAC of `data`, written into `out[0…20)`.
   *
   * @param data The message.
   * @param out At least 20 bytes.
   */
  digestInto(data: Uint8Array, out: Uint8Array): void {
    if (out.length < SHA1_LENGTH) {
      throw new RangeError(
        `Expected at least 20 bytes for the HMAC, received ${out.length}`,
      );
    }
    let inner: Uint8Array;
    const native = this.#native;
    if (native) {
      this.#ctx.set(this.#ctx0);
      native.SHA1_Update(this.#ctx, data, BigInt(data.length));
      native.SHA1_Final(this.#innerMd, this.#ctx);
      // The outer hash: the same work copy, restarted from the opad state.
      this.#ctx.set(this.#octx0);
      native.SHA1_Update(this.#ctx, this.#innerMd, 20n);
      native.SHA1_Final(out, this.#ctx);
      return;
    } else {
      inner = this.#inner!.copy().update(data).digest();
    }
    const block = this.#block;
    for (let i = 0; i < 20; i++) block[i] = inner[i];
    const st = this.#state;
    st.set(this.#outer);
    sha1Compress(st, block, 0, 1);
    for (let i = 0; i < 5; i++) {
      const w = st[i];
      out[4 * i] = w >>> 24;
      out[4 * i + 1] = (w >>> 16) & 0xff;
      out[4 * i + 2] = (w >>> 8) & 0xff;
      out[4 * i + 3] = w & 0xff;
    }
  }
}
