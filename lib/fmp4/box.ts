/**
 * ISO BMFF (MP4) box building and walking, pure bytes: a growable
 * big-endian writer, `box`/`fullBox` builders and a box walker used by the
 * tests and by anything that inspects what the muxer made.
 *
 * @module
 */
import { concatBytes } from "../bytes/mod.ts";

const textEncoder = new TextEncoder();

/** A growable big-endian byte writer (one buffer, doubled on demand). */
export class ByteWriter {
  #buf: Uint8Array;
  #view: DataView;
  #len = 0;

  /** Creates a writer with `capacity` bytes reserved. */
  constructor(capacity = 256) {
    this.#buf = new Uint8Array(Math.max(16, capacity));
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#len;
  }

  #room(n: number): number {
    const at = this.#len;
    if (at + n > this.#buf.length) {
      let size = this.#buf.length * 2;
      while (size < at + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.#buf.subarray(0, at));
      this.#buf = next;
      this.#view = new DataView(next.buffer);
    }
    this.#len += n;
    return at;
  }

  /** Appends one byte. */
  u8(v: number): this {
    this.#buf[this.#room(1)] = v & 0xff;
    return this;
  }

  /** Appends a big-endian u16. */
  u16(v: number): this {
    this.#view.setUint16(this.#room(2), v & 0xffff);
    return this;
  }

  /** Appends a big-endian u24. */
  u24(v: number): this {
    const at = this.#room(3);
    this.#buf[at] = (v >>> 16) & 0xff;
    this.#buf[at + 1] = (v >>> 8) & 0xff;
    this.#buf[at + 2] = v & 0xff;
    return this;
  }

  /** Appends a big-endian u32 (negative values are written as two's complement). */
  u32(v: number): this {
    this.#view.setUint32(this.#room(4), v >>> 0);
    return this;
  }

  /** Appends a big-endian u64 from a non-negative safe integer. */
  u64(v: number): this {
    const at = this.#room(8);
    this.#view.setUint32(at, Math.floor(v / 0x1_0000_0000));
    this.#view.setUint32(at + 4, v >>> 0);
    return this;
  }

  /** Appends bytes. */
  bytes(b: Uint8Array): this {
    this.#buf.set(b, this.#room(b.length));
    return this;
  }

  /** Appends `n` zero bytes. */
  zeros(n: number): this {
    const at = this.#room(n);
    this.#buf.fill(0, at, at + n);
    return this;
  }

  /** Appends a four-character code. */
  fourCC(s: string): this {
    if (s.length !== 4) {
      throw new RangeError(`FourCC: expected 4 characters, got "${s}"`);
    }
    for (let i = 0; i < 4; i++) this.u8(s.charCodeAt(i));
    return this;
  }

  /** Overwrites a big-endian u32 at `offset` (for sizes and offsets). */
  setU32(offset: number, v: number): void {
    this.#view.setUint32(offset, v >>> 0);
  }

  /** The bytes written so far (a copy, exactly `length` long). */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** Total byte length of `parts`. */
function byteLength(parts: Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

/** Concatenates byte arrays into one new array (`lib/bytes`). */
export { concatBytes };

/**
 * A box: `size(u32) type(4)` then the payloads. Throws on a type that is not
 * four characters.
 */
export function box(type: string, ...payload: Uint8Array[]): Uint8Array {
  const size = 8 + byteLength(payload);
  const w = new ByteWriter(size);
  w.u32(size).fourCC(type);
  for (const p of payload) w.bytes(p);
  return w.finish();
}

/** A full box: a box whose payload starts with `version(u8) flags(u24)`. */
export function fullBox(
  type: string,
  version: number,
  flags: number,
  ...payload: Uint8Array[]
): Uint8Array {
  const head = new Uint8Array([
    version,
    (flags >>> 16) & 0xff,
    (flags >>> 8) & 0xff,
    flags & 0xff,
  ]);
  return box(type, head, ...payload);
}

/** A NUL-terminated UTF-8 string (e.g. a handler name). */
export function cString(s: string): Uint8Array {
  const b = textEncoder.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** One box found by {@linkcode readBoxes}. */
export interface BoxView {
  /** Four-character type. */
  type: string;
  /** Offset of the box's first byte within the walked bytes. */
  offset: number;
  /** Whole box size in bytes (header included). */
  size: number;
  /** The payload after the 8-byte (or 16-byte large-size) header. */
  payload: Uint8Array;
}

/**
 * Walks the boxes laid end to end in `bytes` (one level). Throws a
 * RangeError naming the offset when a size is below the header or runs past
 * the end.
 */
export function readBoxes(bytes: Uint8Array): BoxView[] {
  const out: BoxView[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = 0;
  while (o < bytes.length) {
    if (bytes.length - o < 8) {
      throw new RangeError(
        `box at ${o}: expected an 8-byte header, got ${bytes.length - o} bytes`,
      );
    }
    let size = view.getUint32(o);
    const type = String.fromCharCode(...bytes.subarray(o + 4, o + 8));
    let head = 8;
    if (size === 1) {
      if (bytes.length - o < 16) {
        throw new RangeError(`box "${type}" at ${o}: truncated large size`);
      }
      size = view.getUint32(o + 8) * 0x1_0000_0000 + view.getUint32(o + 12);
      head = 16;
    } else if (size === 0) {
      size = bytes.length - o;
    }
    if (size < head || o + size > bytes.length) {
      throw new RangeError(
        `box "${type}" at ${o}: expected a size in ${head}..${
          bytes.length - o
        }, got ${size}`,
      );
    }
    out.push({
      type,
      offset: o,
      size,
      payload: bytes.subarray(o + head, o + size),
    });
    o += size;
  }
  return out;
}

/**
 * The first box at `path` (types separated by `/`, e.g. `moov/trak/mdia`),
 * descending through container boxes; undefined if absent. `skip` gives,
 * per type, how many payload bytes come before its child boxes (e.g.
 * `stsd: 8`, `avc1: 78`); the usual containers need none.
 */
export function findBox(
  bytes: Uint8Array,
  path: string,
  skip: Record<string, number> = CHILD_OFFSETS,
): BoxView | undefined {
  let level = bytes;
  let found: BoxView | undefined;
  for (const type of path.split("/")) {
    found = readBoxes(level).find((b) => b.type === type);
    if (found === undefined) return undefined;
    level = found.payload.subarray(skip[type] ?? 0);
  }
  return found;
}

/** Payload bytes before the children of the sample-entry style boxes. */
export const CHILD_OFFSETS: Record<string, number> = {
  stsd: 8,
  dref: 8,
  avc1: 78,
  hvc1: 78,
  av01: 78,
  mp4a: 28,
};
