/**
 * Hex for byte vectors in tests: {@linkcode fromHex} (white space ignored)
 * and {@linkcode toHex}.
 *
 * @module
 */

/** Bytes from hex text; white space between digits is ignored. */
export function fromHex(s: string): Uint8Array {
  return new Uint8Array(
    s.replace(/\s+/g, "").match(/../g)?.map((h) => parseInt(h, 16)) ?? [],
  );
}

/** Lower-case hex of `b`, bytes joined by `sep` (default none). */
export function toHex(b: Uint8Array, sep = ""): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(sep);
}
