/**
 * AES in counter mode as SRTP uses it (RFC 3711 §4.1.1): keystream block j
 * of a packet is AES_k(IV + j), the 16-bit block counter in the IV's last
 * two bytes. Counter blocks of many packets go through ONE `aes-128-ecb`
 * cipher object in one call: the per-call cost of node:crypto dominates a
 * packet's worth of AES. When libcrypto is loaded through FFI
 * ({@linkcode libcrypto}), one packet's keystream is made and XORed in C
 * instead ({@linkcode AesCm.xorKeystream}), cheaper than either.
 *
 * @module
 */
import { createCipheriv } from "node:crypto";
import { libcrypto, NativeAesCtr } from "./libcrypto.ts";

/** AES-128 block size in bytes. */
export const AES_BLOCK = 16;

/** Most keystream blocks one SRTP/SRTCP packet can need (2^16 counter values). */
export const MAX_KEYSTREAM_BLOCKS = 0x10000;

/**
 * One AES-128 key; encrypts counter blocks in batches.
 *
 * @example Usage
 * ```ts
 * import { AesCm } from "./aes_cm.ts";
 * const aes = new AesCm(new Uint8Array(16));
 * const ks = aes.keystream(new Uint8Array(16), 2); // 32 bytes
 * ```
 */
export class AesCm {
  #ecb: ReturnType<typeof createCipheriv>;
  #native: NativeAesCtr | undefined;

  /**
   * @param key The 16-byte session (or master) key.
   * @throws {RangeError} When the key is not 16 bytes.
   */
  constructor(key: Uint8Array) {
    if (key.length !== 16) {
      throw new RangeError(
        `Expected a 16-byte AES-128 key, received ${key.length} bytes`,
      );
    }
    this.#ecb = createCipheriv("aes-128-ecb", key, null);
    this.#ecb.setAutoPadding(false);
    const lc = libcrypto();
    if (lc) this.#native = new NativeAesCtr(key, lc);
  }

  /** Whether {@linkcode AesCm.xorKeystream} runs in libcrypto (FFI). */
  get native(): boolean {
    return this.#native !== undefined;
  }

  /**
   * XORs the keystream of `iv` into `data[off…off+len)` (encrypts or
   * decrypts in place).
   *
   * @param iv 16 bytes (counter in bytes 14–15 starting from its value).
   * @param data Bytes to change in place.
   * @param off Start offset.
   * @param len Length (at most 2^20 bytes).
   */
  xorKeystream(iv: Uint8Array, data: Uint8Array, off: number, len: number) {
    if (len <= 0) return;
    if (this.#native) return this.#native.xor(iv, data, off, len);
    const ks = this.keystream(iv, Math.ceil(len / AES_BLOCK));
    for (let i = 0; i < len; i++) data[off + i] ^= ks[i];
  }

  /**
   * Encrypts whole 16-byte blocks (counter blocks) in one call.
   *
   * @param blocks Counter blocks, a multiple of 16 bytes.
   * @returns Their encryption (the keystream), same length.
   */
  encryptBlocks(blocks: Uint8Array): Uint8Array {
    return this.#ecb.update(blocks);
  }

  /**
   * The keystream of one IV: `blocks` blocks, counter in bytes 14–15
   * starting from the IV's own value there.
   *
   * @param iv 16 bytes.
   * @param blocks How many blocks.
   * @returns `16 × blocks` keystream bytes.
   */
  keystream(iv: Uint8Array, blocks: number): Uint8Array {
    const ctr = new Uint8Array(blocks * AES_BLOCK);
    fillCounterBlocks(ctr, 0, iv, blocks);
    return this.encryptBlocks(ctr);
  }
}

/**
 * Writes `blocks` counter blocks for `iv` into `out` at `offset`: the IV
 * with its last 16 bits plus 0, 1, 2, … (mod 2^16, as RFC 3711 allows at
 * most 2^16 blocks per packet).
 *
 * @param out Destination.
 * @param offset Byte offset in `out`.
 * @param iv 16-byte IV.
 * @param blocks Number of blocks.
 */
export function fillCounterBlocks(
  out: Uint8Array,
  offset: number,
  iv: Uint8Array,
  blocks: number,
): void {
  const low = (iv[14] << 8) | iv[15];
  if (blocks <= 0) return;
  // First block by hand, then doubling copies: a few native copies instead
  // of one per block.
  for (let k = 0; k < 14; k++) out[offset + k] = iv[k];
  let done = 1;
  while (done < blocks) {
    const n = Math.min(done, blocks - done);
    out.copyWithin(
      offset + done * AES_BLOCK,
      offset,
      offset + n * AES_BLOCK,
    );
    done += n;
  }
  for (let j = 0; j < blocks; j++) {
    const o = offset + j * AES_BLOCK + 14;
    const c = (low + j) & 0xffff;
    out[o] = c >>> 8;
    out[o + 1] = c & 0xff;
  }
}
