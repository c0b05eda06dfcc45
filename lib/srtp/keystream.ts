/**
 * Per-SSRC SRTP keystream (RFC 3711 §4.1.1): the IV of packet index i is
 * `(k_s << 16) XOR (SSRC << 64) XOR (i << 16)`. Packets of consecutive
 * indices are the common case, so the keystream of the next `batch`
 * indices is made in one AES call and served from there; any other index
 * is made on demand. With libcrypto through FFI each packet's keystream is
 * made and XORed natively instead (no batch needed).
 *
 * @module
 */
import { AES_BLOCK, AesCm, fillCounterBlocks } from "./aes_cm.ts";

/**
 * Writes the AES-CM IV of `index` for `ssrc` under `salt` into `iv`.
 *
 * @param iv 16-byte destination.
 * @param salt 14-byte session salt.
 * @param ssrc The SSRC.
 * @param index SRTP packet index (48 bits) or SRTCP index (31 bits).
 */
export function writeIv(
  iv: Uint8Array,
  salt: Uint8Array,
  ssrc: number,
  index: number,
): void {
  iv.set(salt, 0);
  iv[14] = 0;
  iv[15] = 0;
  iv[4] ^= ssrc >>> 24;
  iv[5] ^= (ssrc >>> 16) & 0xff;
  iv[6] ^= (ssrc >>> 8) & 0xff;
  iv[7] ^= ssrc & 0xff;
  const hi = Math.floor(index / 0x1_0000_0000) & 0xffff;
  const lo = index >>> 0;
  iv[8] ^= hi >>> 8;
  iv[9] ^= hi & 0xff;
  iv[10] ^= lo >>> 24;
  iv[11] ^= (lo >>> 16) & 0xff;
  iv[12] ^= (lo >>> 8) & 0xff;
  iv[13] ^= lo & 0xff;
}

/** XORs `ks[ksOff…]` into `data[off…off+len)`. */
function xorInto(
  data: Uint8Array,
  off: number,
  len: number,
  ks: Uint8Array,
  ksOff: number,
): void {
  let i = 0;
  // Word-wise when both views are 4-byte aligned (the common case: RTP
  // payloads start at offset 12 of a fresh buffer).
  if (
    ((data.byteOffset + off) & 3) === 0 && ((ks.byteOffset + ksOff) & 3) === 0
  ) {
    const n = len >>> 2;
    const d32 = new Int32Array(data.buffer, data.byteOffset + off, n);
    const k32 = new Int32Array(ks.buffer, ks.byteOffset + ksOff, n);
    for (let w = 0; w < n; w++) d32[w] ^= k32[w];
    i = n << 2;
  }
  for (; i < len; i++) data[off + i] ^= ks[ksOff + i];
}

/**
 * The keystream of one SSRC under one session key and salt.
 *
 * @example Usage
 * ```ts
 * import { AesCm } from "./aes_cm.ts";
 * import { SsrcKeystream } from "./keystream.ts";
 * const ks = new SsrcKeystream(new AesCm(new Uint8Array(16)), new Uint8Array(14), 0x1234);
 * const payload = new Uint8Array(100);
 * ks.xor(7, payload, 0, payload.length); // encrypts (or decrypts) in place
 * ```
 */
export class SsrcKeystream {
  readonly #aes: AesCm;
  readonly #salt: Uint8Array;
  readonly #ssrc: number;
  readonly #batch: number;
  readonly #iv = new Uint8Array(16);
  #base = -1;
  #stride = 0; // blocks per index in #ks
  #ks: Uint8Array = new Uint8Array(0);

  /**
   * @param aes AES keyed with the session encryption key.
   * @param salt 14-byte session salt.
   * @param ssrc The SSRC.
   * @param batch Indices made per AES call when serving consecutive
   *   indices; 1 = every packet on its own.
   */
  constructor(aes: AesCm, salt: Uint8Array, ssrc: number, batch = 32) {
    this.#aes = aes;
    this.#salt = salt;
    this.#ssrc = ssrc >>> 0;
    this.#batch = Math.max(1, batch);
  }

  /**
   * XORs the keystream of packet `index` into `data[off…off+len)`.
   *
   * @param index The packet index.
   * @param data Bytes to encrypt or decrypt in place.
   * @param off Start offset.
   * @param len Length (at most 2^20 bytes).
   */
  xor(index: number, data: Uint8Array, off: number, len: number): void {
    if (len <= 0) return;
    if (this.#aes.native) {
      writeIv(this.#iv, this.#salt, this.#ssrc, index);
      this.#aes.xorKeystream(this.#iv, data, off, len);
      return;
    }
    const blocks = Math.ceil(len / AES_BLOCK);
    if (this.#batch > 1) {
      const ahead = this.#base < 0 || index >= this.#base;
      const inBatch = this.#base >= 0 && index >= this.#base &&
        index < this.#base + this.#batch && blocks <= this.#stride;
      if (!inBatch && ahead) {
        this.#refill(index, Math.max(blocks, this.#stride));
      }
      if (inBatch || ahead) {
        const at = (index - this.#base) * this.#stride * AES_BLOCK;
        xorInto(data, off, len, this.#ks, at);
        return;
      }
    }
    writeIv(this.#iv, this.#salt, this.#ssrc, index);
    xorInto(data, off, len, this.#aes.keystream(this.#iv, blocks), 0);
  }

  #refill(from: number, stride: number): void {
    const n = this.#batch;
    const ctr = new Uint8Array(n * stride * AES_BLOCK);
    for (let k = 0; k < n; k++) {
      writeIv(this.#iv, this.#salt, this.#ssrc, from + k);
      fillCounterBlocks(ctr, k * stride * AES_BLOCK, this.#iv, stride);
    }
    this.#ks = this.#aes.encryptBlocks(ctr);
    this.#base = from;
    this.#stride = stride;
  }
}
