/**
 * RFC 4571 framing: every message is preceded by its length as a 16-bit
 * big-endian integer. Pure bytes, no I/O.
 *
 * @module
 */

/** Largest message a 16-bit length prefix can describe. */
export const MAX_FRAME_SIZE = 0xffff;

/**
 * Prefixes `msg` with its length (u16 BE).
 *
 * @example Usage
 * ```ts
 * import { frameMessage } from "./framing.ts";
 * frameMessage(new Uint8Array([7, 8])); // Uint8Array [0, 2, 7, 8]
 * ```
 *
 * @param msg The message, at most 65535 bytes.
 * @returns A new buffer holding length and message.
 * @throws {RangeError} When the message is longer than 65535 bytes.
 */
export function frameMessage(msg: Uint8Array): Uint8Array {
  if (msg.length > MAX_FRAME_SIZE) {
    throw new RangeError(
      `Expected a message of at most ${MAX_FRAME_SIZE} bytes, received ${msg.length}`,
    );
  }
  const out = new Uint8Array(2 + msg.length);
  out[0] = msg.length >> 8;
  out[1] = msg.length & 0xff;
  out.set(msg, 2);
  return out;
}

/**
 * Frames several messages into one buffer (one write instead of many).
 *
 * @example Usage
 * ```ts
 * import { frameMessages } from "./framing.ts";
 * frameMessages([new Uint8Array([1]), new Uint8Array([2, 3])]); // [0,1,1,0,2,2,3]
 * ```
 *
 * @param msgs Messages, each at most 65535 bytes.
 * @returns One buffer with every message framed, in order.
 * @throws {RangeError} When a message is longer than 65535 bytes.
 */
export function frameMessages(msgs: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const m of msgs) {
    if (m.length > MAX_FRAME_SIZE) {
      throw new RangeError(
        `Expected a message of at most ${MAX_FRAME_SIZE} bytes, received ${m.length}`,
      );
    }
    n += 2 + m.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const m of msgs) {
    out[o] = m.length >> 8;
    out[o + 1] = m.length & 0xff;
    out.set(m, o + 2);
    o += 2 + m.length;
  }
  return out;
}

/** Options for {@linkcode FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Largest accepted message; a longer length prefix throws. Default 65535. */
  maxFrameSize?: number;
  /** Refuse zero-length messages (throw). Default false. */
  rejectEmpty?: boolean;
}

/**
 * Splits a byte stream into RFC 4571 messages, whatever the read boundaries.
 * The internal buffer never holds more than one incomplete frame (at most
 * `2 + maxFrameSize` bytes), so memory is bounded.
 *
 * @example Usage
 * ```ts
 * import { FrameDecoder } from "./framing.ts";
 * const d = new FrameDecoder();
 * d.push(new Uint8Array([0, 2, 7])); // []
 * d.push(new Uint8Array([8, 0])); // [Uint8Array [7, 8]]
 * ```
 */
export class FrameDecoder {
  #max: number;
  #rejectEmpty: boolean;
  #buf: Uint8Array;
  #len = 0;

  /**
   * Creates a decoder.
   *
   * @param opts Size limit and empty-frame policy.
   */
  constructor(opts: FrameDecoderOptions = {}) {
    this.#max = opts.maxFrameSize ?? MAX_FRAME_SIZE;
    if (
      !Number.isInteger(this.#max) || this.#max < 1 ||
      this.#max > MAX_FRAME_SIZE
    ) {
      throw new RangeError(
        `Expected maxFrameSize in 1..${MAX_FRAME_SIZE}, received ${this.#max}`,
      );
    }
    this.#rejectEmpty = opts.rejectEmpty ?? false;
    this.#buf = new Uint8Array(0);
  }

  /** Bytes held of an incomplete frame. */
  get buffered(): number {
    return this.#len;
  }

  /**
   * Feeds bytes; returns every message completed by them. Messages that lie
   * wholly inside `chunk` are views into it (no copy), others are copies.
   *
   * @param chunk The next bytes read.
   * @returns The completed messages in order (possibly none).
   * @throws {RangeError} When a length prefix exceeds `maxFrameSize` (or is 0
   *   with `rejectEmpty`); the decoder is then unusable (close the stream).
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let pos = 0;
    // Finish the frame carried over from previous reads.
    if (this.#len > 0) {
      if (this.#len < 2) {
        this.#append(chunk.subarray(0, 1));
        pos = 1;
        if (this.#len < 2) return out;
      }
      const need = this.#frameLength(this.#buf[0], this.#buf[1]);
      const missing = 2 + need - this.#len;
      const take = Math.min(missing, chunk.length - pos);
      this.#append(chunk.subarray(pos, pos + take));
      pos += take;
      if (this.#len < 2 + need) return out;
      out.push(this.#buf.slice(2, 2 + need));
      this.#len = 0;
    }
    while (pos + 2 <= chunk.length) {
      const need = this.#frameLength(chunk[pos], chunk[pos + 1]);
      if (pos + 2 + need > chunk.length) break;
      out.push(chunk.subarray(pos + 2, pos + 2 + need));
      pos += 2 + need;
    }
    if (pos < chunk.length) {
      if (chunk.length - pos >= 2) {
        this.#frameLength(chunk[pos], chunk[pos + 1]);
      }
      this.#append(chunk.subarray(pos));
    }
    return out;
  }

  #frameLength(hi: number, lo: number): number {
    const n = (hi << 8) | lo;
    if (n > this.#max) {
      throw new RangeError(
        `Expected a frame of at most ${this.#max} bytes, received a length prefix of ${n}`,
      );
    }
    if (n === 0 && this.#rejectEmpty) {
      throw new RangeError("Expected a non-empty frame, received length 0");
    }
    return n;
  }

  #append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const need = this.#len + bytes.length;
    if (need > this.#buf.length) {
      const grown = new Uint8Array(
        Math.min(2 + this.#max, Math.max(need, this.#buf.length * 2, 64)),
      );
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(bytes, this.#len);
    this.#len = need;
  }
}
