/**
 * The SHA-1 compression function (FIPS 180-4 §6.1.2) on 64-byte blocks, in
 * plain 32-bit integer arithmetic. HMAC's outer hash is one block after the
 * precomputed key pad: doing that block here costs a fraction of a native
 * hash object's copy/update/digest calls.
 *
 * @module
 */

/** SHA-1 initial hash value H(0). */
export const SHA1_INIT: readonly number[] = [
  0x67452301,
  0xefcdab89,
  0x98badcfe,
  0x10325476,
  0xc3d2e1f0,
];

const W = new Int32Array(80);

/**
 * Runs the compression function over `blocks` 64-byte blocks of `data`
 * from `offset`, updating `state` (five 32-bit words) in place.
 *
 * @example Usage
 * ```ts
 * import { SHA1_INIT, sha1Compress } from "./sha1_block.ts";
 * const st = Int32Array.from(SHA1_INIT);
 * sha1Compress(st, new Uint8Array(64), 0, 1);
 * ```
 *
 * @param state Five words, big-endian H0..H4 as signed 32-bit values.
 * @param data The message bytes.
 * @param offset Where the first block starts.
 * @param blocks How many 64-byte blocks.
 */
export function sha1Compress(
  state: Int32Array,
  data: Uint8Array,
  offset: number,
  blocks: number,
): void {
  let h0 = state[0], h1 = state[1], h2 = state[2], h3 = state[3], h4 = state[4];
  const w = W;
  for (let blk = 0; blk < blocks; blk++) {
    let p = offset + blk * 64;
    for (let i = 0; i < 16; i++, p += 4) {
      w[i] = (data[p] << 24) | (data[p + 1] << 16) | (data[p + 2] << 8) |
        data[p + 3];
    }
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4;
    let i = 0;
    for (; i < 20; i++) {
      const t = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + w[i] +
        0x5a827999) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (; i < 40; i++) {
      const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w[i] +
        0x6ed9eba1) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (; i < 60; i++) {
      const t = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e +
        w[i] - 0x70e44324) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (; i < 80; i++) {
      const t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + w[i] -
        0x359d3e2a) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  state[0] = h0;
  state[1] = h1;
  state[2] = h2;
  state[3] = h3;
  state[4] = h4;
}
