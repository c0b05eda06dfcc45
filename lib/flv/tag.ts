/**
 * FLV tags and the FLV file header (pure bytes, no I/O).
 *
 * A tag is `type(1) dataSize(3) timestamp(3) timestampExtended(1) streamId(3)=0`
 * followed by `dataSize` bytes of body. A file (or HTTP-FLV body) is the 13-byte
 * header (9-byte header + PreviousTagSize0) followed by `tag, PreviousTagSize`
 * pairs where PreviousTagSize = 11 + dataSize.
 *
 * @module
 */

/** Tag type of an audio tag. */
export const TAG_AUDIO = 8;
/** Tag type of a video tag. */
export const TAG_VIDEO = 9;
/** Tag type of a script-data tag (AMF0, e.g. `onMetaData`). */
export const TAG_SCRIPT = 18;

/** The tag types flvcast carries. */
export type FlvTagType = 8 | 9 | 18;

/** Size of a tag header in bytes. */
export const TAG_HEADER_SIZE = 11;
/** Size of the FLV file header including PreviousTagSize0 (9 + 4). */
export const FLV_HEADER_SIZE = 13;
/** Size of a PreviousTagSize field. */
export const PREVIOUS_TAG_SIZE_SIZE = 4;
/** Largest body a tag can carry (the 24-bit dataSize field). */
export const MAX_TAG_DATA_SIZE = 0xffffff;

/** One FLV tag: what an RTMP audio/video/data message becomes. */
export interface FlvTag {
  /** 8 audio, 9 video, 18 script data. */
  type: FlvTagType;
  /** Presentation/decode timestamp in milliseconds, unsigned 32-bit. */
  timestamp: number;
  /** The tag body (without the 11-byte header). */
  data: Uint8Array;
}

/** The fields of an 11-byte tag header. */
export interface FlvTagHeader {
  /** The raw tag type byte with reserved and filter bits masked off (low 5 bits). */
  type: number;
  /** Body length in bytes. */
  dataSize: number;
  /** Timestamp in ms (24 bits + 8 extended bits). */
  timestamp: number;
  /** The 24-bit stream id (always 0 in valid files). */
  streamId: number;
  /** True when the filter (encryption) bit 0x20 is set. */
  filtered: boolean;
}

/** Parsed 9-byte FLV file header. */
export interface FlvFileHeader {
  /** Version byte (1). */
  version: number;
  /** TypeFlagsAudio. */
  audio: boolean;
  /** TypeFlagsVideo. */
  video: boolean;
  /** DataOffset: size of this header (9 for version 1). */
  headerSize: number;
}

/** True for 8, 9 and 18. */
export function isFlvTagType(type: number): type is FlvTagType {
  return type === TAG_AUDIO || type === TAG_VIDEO || type === TAG_SCRIPT;
}

function checkTag(tag: FlvTag): void {
  if (!isFlvTagType(tag.type)) {
    throw new RangeError(
      `FLV tag type: expected 8, 9 or 18, got ${String(tag.type)}`,
    );
  }
  const ts = tag.timestamp;
  if (!Number.isInteger(ts) || ts < 0 || ts > 0xffffffff) {
    throw new RangeError(
      `FLV tag timestamp: expected an integer in 0..4294967295 ms, got ${ts}`,
    );
  }
  if (tag.data.length > MAX_TAG_DATA_SIZE) {
    throw new RangeError(
      `FLV tag body: expected at most ${MAX_TAG_DATA_SIZE} bytes, got ${tag.data.length}`,
    );
  }
}

/**
 * Writes the 11-byte header of `tag` into `target` at `offset` (no body).
 * Validates type, timestamp and body size; throws RangeError otherwise.
 *
 * Useful to build a tag straight into a larger buffer (e.g. an RTP datagram)
 * without an intermediate copy.
 */
export function writeTagHeader(
  target: Uint8Array,
  offset: number,
  tag: FlvTag,
): void {
  checkTag(tag);
  if (offset < 0 || offset + TAG_HEADER_SIZE > target.length) {
    throw new RangeError(
      `FLV tag header: expected 11 bytes of room at offset ${offset}, buffer has ${target.length}`,
    );
  }
  const size = tag.data.length;
  const ts = tag.timestamp;
  target[offset] = tag.type;
  target[offset + 1] = (size >>> 16) & 0xff;
  target[offset + 2] = (size >>> 8) & 0xff;
  target[offset + 3] = size & 0xff;
  target[offset + 4] = (ts >>> 16) & 0xff;
  target[offset + 5] = (ts >>> 8) & 0xff;
  target[offset + 6] = ts & 0xff;
  target[offset + 7] = (ts >>> 24) & 0xff;
  target[offset + 8] = 0;
  target[offset + 9] = 0;
  target[offset + 10] = 0;
}

/**
 * Encodes `tag` as 11-byte header + body (no PreviousTagSize): exactly the
 * bytes an RTP payload carries. Throws RangeError on an invalid type,
 * timestamp (not an integer in 0..2^32-1) or a body over 16 MiB-1.
 */
export function encodeTag(tag: FlvTag): Uint8Array {
  const out = new Uint8Array(TAG_HEADER_SIZE + tag.data.length);
  writeTagHeader(out, 0, tag);
  out.set(tag.data, TAG_HEADER_SIZE);
  return out;
}

/**
 * Reads an 11-byte tag header at `offset` of `bytes`.
 * Throws RangeError if fewer than 11 bytes are available.
 */
export function decodeTagHeader(bytes: Uint8Array, offset = 0): FlvTagHeader {
  if (offset < 0 || bytes.length - offset < TAG_HEADER_SIZE) {
    throw new RangeError(
      `FLV tag header: expected 11 bytes, got ${
        Math.max(0, bytes.length - offset)
      }`,
    );
  }
  const b = bytes;
  const o = offset;
  return {
    type: b[o] & 0x1f,
    filtered: (b[o] & 0x20) !== 0,
    dataSize: (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3],
    timestamp: ((b[o + 7] << 24) | (b[o + 4] << 16) | (b[o + 5] << 8) |
      b[o + 6]) >>> 0,
    streamId: (b[o + 8] << 16) | (b[o + 9] << 8) | b[o + 10],
  };
}

/**
 * Decodes exactly one tag (11-byte header + body, no PreviousTagSize); the
 * inverse of {@linkcode encodeTag}. `data` is a subarray of `bytes` (no copy).
 *
 * Throws RangeError when the input is shorter than a header, the type is not
 * 8/9/18 (or the reserved/filter bits are set), or the length is not exactly
 * 11 + dataSize (truncated or trailing bytes).
 */
export function decodeTag(bytes: Uint8Array): FlvTag {
  const h = decodeTagHeader(bytes, 0);
  if (bytes[0] !== h.type || !isFlvTagType(h.type)) {
    throw new RangeError(
      `FLV tag type: expected 8, 9 or 18, got 0x${
        bytes[0].toString(16).padStart(2, "0")
      }`,
    );
  }
  const expected = TAG_HEADER_SIZE + h.dataSize;
  if (bytes.length !== expected) {
    throw new RangeError(
      `FLV tag length: header says ${expected} bytes (11 + dataSize ${h.dataSize}), got ${bytes.length}`,
    );
  }
  return {
    type: h.type,
    timestamp: h.timestamp,
    data: bytes.subarray(TAG_HEADER_SIZE),
  };
}

/**
 * The 13-byte FLV header: `FLV`, version 1, flags (audio 0x04 | video 0x01),
 * DataOffset 9, then PreviousTagSize0 = 0. Both flags default to true.
 */
export function encodeFlvHeader(
  opts: { audio?: boolean; video?: boolean } = {},
): Uint8Array {
  const audio = opts.audio ?? true;
  const video = opts.video ?? true;
  return new Uint8Array([
    0x46, // F
    0x4c, // L
    0x56, // V
    1,
    (audio ? 0x04 : 0) | (video ? 0x01 : 0),
    0,
    0,
    0,
    9,
    0,
    0,
    0,
    0,
  ]);
}

/**
 * Parses the 9-byte FLV file header at the start of `bytes` (the
 * PreviousTagSize0 that follows is not read). Throws RangeError on a short
 * input, a wrong signature, or a DataOffset below 9.
 */
export function parseFlvHeader(bytes: Uint8Array): FlvFileHeader {
  if (bytes.length < 9) {
    throw new RangeError(
      `FLV header: expected 9 bytes, got ${bytes.length}`,
    );
  }
  if (bytes[0] !== 0x46 || bytes[1] !== 0x4c || bytes[2] !== 0x56) {
    const got = Array.from(
      bytes.subarray(0, 3),
      (b) => b.toString(16).padStart(2, "0"),
    ).join(" ");
    throw new RangeError(
      `FLV header: expected signature "FLV" (46 4c 56), got ${got}`,
    );
  }
  const headerSize = ((bytes[5] << 24) | (bytes[6] << 16) | (bytes[7] << 8) |
    bytes[8]) >>> 0;
  if (headerSize < 9) {
    throw new RangeError(
      `FLV header: expected DataOffset >= 9, got ${headerSize}`,
    );
  }
  return {
    version: bytes[3],
    audio: (bytes[4] & 0x04) !== 0,
    video: (bytes[4] & 0x01) !== 0,
    headerSize,
  };
}

/**
 * Encodes `tag` as it appears in a file or HTTP-FLV body: 11-byte header,
 * body, then PreviousTagSize (u32 BE = 11 + dataSize). One allocation.
 */
export function encodeFileTag(tag: FlvTag): Uint8Array {
  const size = TAG_HEADER_SIZE + tag.data.length;
  const out = new Uint8Array(size + PREVIOUS_TAG_SIZE_SIZE);
  writeTagHeader(out, 0, tag);
  out.set(tag.data, TAG_HEADER_SIZE);
  out[size] = (size >>> 24) & 0xff;
  out[size + 1] = (size >>> 16) & 0xff;
  out[size + 2] = (size >>> 8) & 0xff;
  out[size + 3] = size & 0xff;
  return out;
}

/** The file framing of each tag that has been framed (tags are immutable). */
const framed = new WeakMap<FlvTag, Uint8Array>();

/**
 * The file/HTTP framing of `tag` (as {@linkcode encodeFileTag}), built at most
 * once per tag and remembered, so every consumer of a tag (players of both
 * protocols, recordings) shares one buffer.
 *
 * @example Usage
 * ```ts
 * import { fileTagBytes } from "./tag.ts";
 * const tag = { type: 8 as const, timestamp: 0, data: new Uint8Array(2) };
 * fileTagBytes(tag) === fileTagBytes(tag); // true: encoded once
 * ```
 */
export function fileTagBytes(tag: FlvTag): Uint8Array {
  let bytes = framed.get(tag);
  if (bytes === undefined) {
    bytes = encodeFileTag(tag);
    framed.set(tag, bytes);
  }
  return bytes;
}

/**
 * Decodes a tag from its file framing (11-byte header, body, PreviousTagSize)
 * without copying: `data` is a view into `bytes`, and
 * {@linkcode fileTagBytes} returns `bytes` itself. For whoever builds the
 * framed bytes anyway (the edge's reassembly). Throws a RangeError when the
 * header, the length or the PreviousTagSize do not match.
 *
 * @example Usage
 * ```ts
 * import { decodeFileTag, encodeFileTag, fileTagBytes } from "./tag.ts";
 * const bytes = encodeFileTag({ type: 9, timestamp: 40, data: new Uint8Array(3) });
 * const tag = decodeFileTag(bytes);
 * fileTagBytes(tag) === bytes; // true
 * ```
 */
export function decodeFileTag(bytes: Uint8Array): FlvTag {
  const size = bytes.length - PREVIOUS_TAG_SIZE_SIZE;
  if (size < TAG_HEADER_SIZE) {
    throw new RangeError(
      `FLV file tag: expected at least 15 bytes, got ${bytes.length}`,
    );
  }
  const tag = decodeTag(bytes.subarray(0, size));
  const prev = ((bytes[size] << 24) | (bytes[size + 1] << 16) |
    (bytes[size + 2] << 8) | bytes[size + 3]) >>> 0;
  if (prev !== size) {
    throw new RangeError(
      `FLV PreviousTagSize: expected ${size}, got ${prev}`,
    );
  }
  framed.set(tag, bytes);
  return tag;
}

/** Number of bytes {@linkcode encodeTag} produces for `tag` (11 + body). */
export function tagSize(tag: FlvTag): number {
  return TAG_HEADER_SIZE + tag.data.length;
}
