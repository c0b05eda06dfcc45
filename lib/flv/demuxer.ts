/**
 * Incremental FLV demuxer for files and HTTP-FLV bodies (pure bytes).
 *
 * @module
 */

import {
  type FlvFileHeader,
  type FlvTag,
  type FlvTagType,
  isFlvTagType,
  MAX_TAG_DATA_SIZE,
  parseFlvHeader,
  TAG_HEADER_SIZE,
} from "./tag.ts";

/** Options for {@linkcode FlvDemuxer}. */
export interface FlvDemuxerOptions {
  /**
   * Largest tag body accepted, in bytes (default 8 MiB, at most 16 MiB-1).
   * A larger dataSize is an error, which bounds the demuxer's buffering.
   */
  maxTagSize?: number;
  /**
   * Check that each PreviousTagSize equals 11 + dataSize of the tag before it
   * (default true); a mismatch means the input is not FLV or lost sync.
   */
  checkPreviousTagSize?: boolean;
}

const DEFAULT_MAX_TAG_SIZE = 8 * 1024 * 1024;

const enum Phase {
  Header,
  Skip,
  PreviousTagSize0,
  TagHeader,
  Body,
  PreviousTagSize,
}

/**
 * Parses an FLV byte stream (13-byte header, then `tag, PreviousTagSize`
 * pairs) fed in chunks of any size, e.g. `fetch` body chunks or file reads.
 *
 * - Each returned tag owns its `data` (copied once out of the input), so the
 *   caller may reuse its read buffers.
 * - Buffering is bounded: at most one tag body (≤ `maxTagSize`) plus 11
 *   bytes are held between pushes.
 * - Errors (bad signature, unknown tag type, oversized tag,
 *   PreviousTagSize mismatch) throw a RangeError naming what was expected and
 *   what was received; after an error every later `push` throws it again.
 * - Call {@linkcode FlvDemuxer.end} at end of input to detect truncation.
 */
export class FlvDemuxer {
  #maxTagSize: number;
  #checkPts: boolean;
  #phase: Phase = Phase.Header;
  #small = new Uint8Array(TAG_HEADER_SIZE);
  #smallLen = 0;
  #skip = 0;
  #header: FlvFileHeader | undefined;
  #tagType: FlvTagType = 8;
  #tagTimestamp = 0;
  #dataSize = 0;
  #body: Uint8Array = new Uint8Array(0);
  #bodyLen = 0;
  #offset = 0;
  #tags = 0;
  #error: Error | undefined;

  /** Creates a demuxer expecting the FLV file header first. */
  constructor(opts: FlvDemuxerOptions = {}) {
    const max = opts.maxTagSize ?? DEFAULT_MAX_TAG_SIZE;
    if (!Number.isInteger(max) || max < 0 || max > MAX_TAG_DATA_SIZE) {
      throw new RangeError(
        `FlvDemuxer maxTagSize: expected an integer in 0..${MAX_TAG_DATA_SIZE}, got ${max}`,
      );
    }
    this.#maxTagSize = max;
    this.#checkPts = opts.checkPreviousTagSize ?? true;
  }

  /** The parsed file header, once its 9 bytes have arrived. */
  get header(): FlvFileHeader | undefined {
    return this.#header;
  }

  /** Bytes consumed so far (the stream offset of the next byte). */
  get offset(): number {
    return this.#offset;
  }

  /** Tags returned so far. */
  get tagCount(): number {
    return this.#tags;
  }

  /** Bytes of an incomplete header/tag currently held. */
  get bufferedBytes(): number {
    return this.#phase === Phase.Body ? this.#bodyLen : this.#smallLen;
  }

  /**
   * Consumes `chunk` and returns the tags it completed (possibly none).
   * Throws RangeError on malformed input.
   */
  push(chunk: Uint8Array): FlvTag[] {
    if (this.#error) throw this.#error;
    try {
      return this.#push(chunk);
    } catch (e) {
      this.#error = e instanceof Error ? e : new Error(String(e));
      throw this.#error;
    }
  }

  /**
   * Declares end of input. Throws RangeError if the stream stopped inside
   * the header or a tag (a file cut mid-write); a missing final
   * PreviousTagSize is tolerated.
   */
  end(): void {
    if (this.#error) throw this.#error;
    const p = this.#phase;
    if (p === Phase.TagHeader && this.#smallLen === 0) return;
    if (p === Phase.PreviousTagSize && this.#smallLen === 0) return;
    let what: string;
    if (
      p === Phase.Header || p === Phase.Skip || p === Phase.PreviousTagSize0
    ) {
      what = `FLV header (got ${this.#offset} bytes)`;
    } else if (p === Phase.TagHeader) {
      what = `tag header: expected 11 bytes, got ${this.#smallLen}`;
    } else if (p === Phase.Body) {
      what = `tag body: expected ${this.#dataSize} bytes, got ${this.#bodyLen}`;
    } else {
      what = `PreviousTagSize: expected 4 bytes, got ${this.#smallLen}`;
    }
    this.#error = new RangeError(
      `FLV truncated at offset ${this.#offset} in ${what}`,
    );
    throw this.#error;
  }

  /** Fills #small up to `n` bytes from chunk[p..]; returns the new p. */
  #fill(chunk: Uint8Array, p: number, n: number): number {
    const take = Math.min(n - this.#smallLen, chunk.length - p);
    this.#small.set(chunk.subarray(p, p + take), this.#smallLen);
    this.#smallLen += take;
    return p + take;
  }

  #push(chunk: Uint8Array): FlvTag[] {
    const out: FlvTag[] = [];
    let p = 0;
    const n = chunk.length;
    while (p < n) {
      const start = p;
      switch (this.#phase) {
        case Phase.Header: {
          p = this.#fill(chunk, p, 9);
          if (this.#smallLen < 9) break;
          const h = parseFlvHeader(this.#small.subarray(0, 9));
          if (h.version !== 1) {
            throw new RangeError(
              `FLV header: expected version 1, got ${h.version}`,
            );
          }
          this.#header = h;
          this.#smallLen = 0;
          this.#skip = h.headerSize - 9;
          this.#phase = this.#skip > 0 ? Phase.Skip : Phase.PreviousTagSize0;
          break;
        }
        case Phase.Skip: {
          const take = Math.min(this.#skip, n - p);
          p += take;
          this.#skip -= take;
          if (this.#skip === 0) this.#phase = Phase.PreviousTagSize0;
          break;
        }
        case Phase.PreviousTagSize0: {
          p = this.#fill(chunk, p, 4);
          if (this.#smallLen < 4) break;
          this.#smallLen = 0;
          this.#phase = Phase.TagHeader;
          break;
        }
        case Phase.TagHeader: {
          p = this.#fill(chunk, p, TAG_HEADER_SIZE);
          if (this.#smallLen < TAG_HEADER_SIZE) break;
          this.#smallLen = 0;
          const s = this.#small;
          const tagOffset = this.#offset + (p - start) - TAG_HEADER_SIZE;
          if (!isFlvTagType(s[0])) {
            throw new RangeError(
              `FLV tag at offset ${tagOffset}: expected type 8, 9 or 18, got 0x${
                s[0].toString(16).padStart(2, "0")
              }`,
            );
          }
          const size = (s[1] << 16) | (s[2] << 8) | s[3];
          if (size > this.#maxTagSize) {
            throw new RangeError(
              `FLV tag at offset ${tagOffset}: expected dataSize <= ${this.#maxTagSize}, got ${size}`,
            );
          }
          this.#tagType = s[0];
          this.#dataSize = size;
          this.#tagTimestamp = ((s[7] << 24) | (s[4] << 16) | (s[5] << 8) |
            s[6]) >>> 0;
          this.#bodyLen = 0;
          if (n - p >= size) {
            // Whole body available: one copy, no staging buffer.
            const data = chunk.slice(p, p + size);
            p += size;
            out.push(this.#emit(data));
          } else {
            this.#body = new Uint8Array(size);
            this.#phase = Phase.Body;
          }
          break;
        }
        case Phase.Body: {
          const take = Math.min(this.#dataSize - this.#bodyLen, n - p);
          this.#body.set(chunk.subarray(p, p + take), this.#bodyLen);
          this.#bodyLen += take;
          p += take;
          if (this.#bodyLen === this.#dataSize) {
            const data = this.#body;
            this.#body = new Uint8Array(0);
            this.#bodyLen = 0;
            out.push(this.#emit(data));
          }
          break;
        }
        case Phase.PreviousTagSize: {
          p = this.#fill(chunk, p, 4);
          if (this.#smallLen < 4) break;
          this.#smallLen = 0;
          const s = this.#small;
          const pts = ((s[0] << 24) | (s[1] << 16) | (s[2] << 8) | s[3]) >>> 0;
          const expected = TAG_HEADER_SIZE + this.#dataSize;
          if (this.#checkPts && pts !== expected) {
            throw new RangeError(
              `FLV PreviousTagSize at offset ${
                this.#offset + (p - start) - 4
              }: expected ${expected}, got ${pts}`,
            );
          }
          this.#phase = Phase.TagHeader;
          break;
        }
      }
      this.#offset += p - start;
    }
    return out;
  }

  #emit(data: Uint8Array): FlvTag {
    this.#phase = Phase.PreviousTagSize;
    this.#tags++;
    return { type: this.#tagType, timestamp: this.#tagTimestamp, data };
  }
}

/**
 * Demuxes a complete FLV file held in memory; throws RangeError on malformed
 * or truncated input. Tags own their data.
 */
export function demuxFlv(
  bytes: Uint8Array,
  opts: FlvDemuxerOptions = {},
): { header: FlvFileHeader; tags: FlvTag[] } {
  const d = new FlvDemuxer(opts);
  const tags = d.push(bytes);
  d.end();
  return { header: d.header!, tags };
}
