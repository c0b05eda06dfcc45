/**
 * Joining byte arrays: the one `concat` of flvcast.
 *
 * @module
 */

/**
 * Concatenates `parts` into one new array (one allocation, one copy each).
 *
 * @example Usage
 * ```ts
 * import { concatBytes } from "./concat.ts";
 * concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])]); // [1, 2, 3]
 * ```
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
