/**
 * Incremental RTMP chunk stream decoder (no I/O): bytes in, whole messages
 * out. Handles all four chunk header types (fmt 0–3), 1/2/3-byte basic
 * headers, extended timestamps (also on type-3 continuation chunks),
 * interleaved chunk streams, Set Chunk Size and Abort (applied at once, so a
 * chunk-size change takes effect for the very next chunk of the same read).
 *
 * Memory is bounded: at most one chunk header (≤ 18 bytes) is buffered
 * between reads; a message's buffer grows with the bytes that actually
 * arrive (never allocated at the announced length up front, so a header
 * announcing 8 MiB costs nothing until 8 MiB are sent); the sum of the
 * declared lengths of unfinished messages and the number of chunk streams
 * are capped.
 *
 * @module
 */
import { RtmpProtocolError } from "./errors.ts";
import {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_MAX_MESSAGE_SIZE,
  MAX_CHUNK_SIZE,
  MSG_ABORT,
  MSG_SET_CHUNK_SIZE,
} from "./protocol.ts";

/** One reassembled RTMP message. */
export interface ChunkMessage {
  /** Chunk stream id it arrived on (2..65599). */
  csid: number;
  /** Message type id. */
  type: number;
  /** Message stream id. */
  streamId: number;
  /** Absolute timestamp in ms, u32 (wraps). */
  timestamp: number;
  /** The payload; a fresh buffer owned by the receiver. */
  data: Uint8Array;
}

/** Options for {@linkcode ChunkDecoder}. */
export interface ChunkDecoderOptions {
  /** Largest message accepted; default 8 MiB. Must be < 16 MiB. */
  maxMessageSize?: number;
  /**
   * Largest sum of declared lengths of messages being reassembled at once;
   * default 2 × `maxMessageSize`.
   */
  maxPendingBytes?: number;
  /** Most distinct chunk stream ids tracked; default 64. */
  maxChunkStreams?: number;
}

interface StreamState {
  // Header fields of the last chunk of this chunk stream.
  type: number;
  length: number;
  streamId: number;
  timestamp: number; // absolute
  tsField: number; // last timestamp or delta field (after extension)
  extended: boolean; // last header used an extended timestamp
  hasHeader: boolean;
  // Message being assembled: `buffer` holds `filled` bytes so far and grows
  // (doubling, capped at `length`) as payload arrives.
  buffer: Uint8Array | undefined;
  filled: number;
}

/** First allocation for a message longer than this grows as bytes arrive. */
const INITIAL_BUFFER = 64 * 1024;
const EMPTY = new Uint8Array(0);

const MAX_HEADER = 3 + 11 + 4;

/**
 * Validates a Set Chunk Size value.
 *
 * @throws {RtmpProtocolError} For 0, for values with the top bit set
 *   (≥ 2^31, forbidden by the spec) and for values above 16 MiB.
 */
export function checkChunkSize(size: number): number {
  if (!Number.isInteger(size) || size < 1 || size > MAX_CHUNK_SIZE) {
    throw new RtmpProtocolError(
      `chunk size: expected 1..${MAX_CHUNK_SIZE}, received ${size}`,
    );
  }
  return size;
}

/**
 * Reassembles RTMP messages from a chunk stream.
 *
 * @example Usage
 * ```ts
 * import { ChunkDecoder } from "./chunk_decoder.ts";
 * const dec = new ChunkDecoder();
 * // fmt 0, csid 3, ts 0, length 1, type 20, stream 0, payload 0x05
 * const msgs = dec.push(new Uint8Array([3, 0, 0, 0, 0, 0, 1, 20, 0, 0, 0, 0, 5]));
 * console.log(msgs[0].type); // 20
 * ```
 */
export class ChunkDecoder {
  #chunkSize = DEFAULT_CHUNK_SIZE;
  #maxMessageSize: number;
  #maxPending: number;
  #maxStreams: number;
  #pendingBytes = 0;
  #streams = new Map<number, StreamState>();
  #head = new Uint8Array(MAX_HEADER); // partial header between reads
  #headLen = 0;
  // The chunk whose payload is being read.
  #cur: StreamState | undefined;
  #curCsid = 0;
  #curLeft = 0;
  #bytesIn = 0;

  /** Creates a decoder in the initial state (chunk size 128). */
  constructor(options: ChunkDecoderOptions = {}) {
    this.#maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.#maxPending = options.maxPendingBytes ?? 2 * this.#maxMessageSize;
    this.#maxStreams = options.maxChunkStreams ?? 64;
  }

  /** The peer's current chunk size. */
  get chunkSize(): number {
    return this.#chunkSize;
  }

  /** Total bytes pushed so far (for Acknowledgement sequence numbers). */
  get bytesIn(): number {
    return this.#bytesIn;
  }

  /**
   * Bytes allocated for unfinished messages now: grows with what arrived,
   * not with what headers announce.
   */
  get heldBytes(): number {
    let n = 0;
    for (const st of this.#streams.values()) n += st.buffer?.length ?? 0;
    return n;
  }

  /** True while a message is partly received or a header is incomplete. */
  get midMessage(): boolean {
    return this.#headLen > 0 || this.#curLeft > 0 || this.#pendingBytes > 0;
  }

  /** Sets the peer's chunk size (as a received Set Chunk Size does). */
  setChunkSize(size: number): void {
    this.#chunkSize = checkChunkSize(size);
  }

  /** Drops the partly received message of chunk stream `csid` (Abort). */
  abort(csid: number): void {
    const st = this.#streams.get(csid);
    if (!st || !st.buffer) return;
    this.#pendingBytes -= st.length;
    st.buffer = undefined;
    st.filled = 0;
    if (this.#cur === st) {
      // Abort arrived on another chunk stream; the current chunk's payload is
      // finished before any other header, so nothing is mid-chunk here.
      this.#cur = undefined;
      this.#curLeft = 0;
    }
  }

  /**
   * Feeds received bytes; returns the messages they complete, in order.
   * Set Chunk Size and Abort messages are applied and also returned.
   *
   * @throws {RtmpProtocolError} On any protocol violation; the decoder is
   *   then unusable and the connection should be closed.
   */
  push(bytes: Uint8Array): ChunkMessage[] {
    this.#bytesIn += bytes.length;
    const out: ChunkMessage[] = [];
    this.#feed(bytes, out);
    return out;
  }

  #feed(bytes: Uint8Array, out: ChunkMessage[]): void {
    let pos = 0;
    while (pos < bytes.length) {
      if (this.#curLeft > 0) {
        pos = this.#readPayload(bytes, pos, out);
        continue;
      }
      // Header: complete it from the partial bytes plus the new ones.
      let src: Uint8Array;
      let srcPos: number;
      const had = this.#headLen;
      if (had > 0) {
        const take = Math.min(MAX_HEADER - had, bytes.length - pos);
        this.#head.set(bytes.subarray(pos, pos + take), had);
        src = this.#head.subarray(0, had + take);
        srcPos = 0;
      } else {
        src = bytes;
        srcPos = pos;
      }
      const used = this.#parseHeader(src, srcPos);
      if (used < 0) {
        // Incomplete header: keep what we have.
        if (had === 0) {
          this.#head.set(bytes.subarray(pos), 0);
          this.#headLen = bytes.length - pos;
        } else {
          this.#headLen = src.length;
        }
        return;
      }
      this.#headLen = 0;
      if (used < had) {
        // The header ended inside the kept bytes (a type-3 header whose
        // peeked "extended timestamp" was payload): feed the rest again.
        const rest = this.#head.slice(used, had);
        if (this.#curLeft === 0) this.#finish(out);
        this.#feed(rest, out);
        continue;
      }
      pos += used - had;
      if (this.#curLeft === 0) this.#finish(out); // zero-length message
    }
  }

  #readPayload(bytes: Uint8Array, pos: number, out: ChunkMessage[]): number {
    const st = this.#cur!;
    const n = Math.min(this.#curLeft, bytes.length - pos);
    if (st.filled + n > st.buffer!.length) {
      const grown = new Uint8Array(
        Math.min(
          st.length,
          Math.max(st.filled + n, 2 * st.buffer!.length, INITIAL_BUFFER),
        ),
      );
      grown.set(st.buffer!.subarray(0, st.filled));
      st.buffer = grown;
    }
    st.buffer!.set(bytes.subarray(pos, pos + n), st.filled);
    st.filled += n;
    this.#curLeft -= n;
    if (this.#curLeft === 0) this.#finish(out);
    return pos + n;
  }

  /** Parses one chunk header at `src[p]`; returns bytes used or -1. */
  #parseHeader(src: Uint8Array, p: number): number {
    const start = p;
    const avail = src.length - p;
    if (avail < 1) return -1;
    const b0 = src[p++];
    const fmt = b0 >> 6;
    let csid = b0 & 0x3f;
    if (csid === 0) {
      if (avail < 2) return -1;
      csid = 64 + src[p++];
    } else if (csid === 1) {
      if (avail < 3) return -1;
      csid = 64 + src[p] + src[p + 1] * 256;
      p += 2;
    }
    const mhLen = fmt === 0 ? 11 : fmt === 1 ? 7 : fmt === 2 ? 3 : 0;
    if (src.length - p < mhLen) return -1;
    let st = this.#streams.get(csid);
    if (!st) {
      if (fmt !== 0) {
        throw new RtmpProtocolError(
          `chunk: expected a type-0 header to open chunk stream ${csid}, received type ${fmt}`,
        );
      }
      if (this.#streams.size >= this.#maxStreams) {
        throw new RtmpProtocolError(
          `chunk: expected at most ${this.#maxStreams} chunk streams, received chunk stream ${csid}`,
        );
      }
      st = {
        type: 0,
        length: 0,
        streamId: 0,
        timestamp: 0,
        tsField: 0,
        extended: false,
        hasHeader: false,
        buffer: undefined,
        filled: 0,
      };
      this.#streams.set(csid, st);
    }
    const newMessage = st.buffer === undefined;
    let tsField = st.tsField;
    let extended = st.extended;
    let length = st.length;
    let type = st.type;
    let streamId = st.streamId;
    if (fmt <= 2) {
      tsField = (src[p] << 16) | (src[p + 1] << 8) | src[p + 2];
      extended = tsField === 0xffffff;
      if (fmt <= 1) {
        length = (src[p + 3] << 16) | (src[p + 4] << 8) | src[p + 5];
        type = src[p + 6];
        if (fmt === 0) {
          streamId = (src[p + 7] | (src[p + 8] << 8) | (src[p + 9] << 16) |
            (src[p + 10] << 24)) >>> 0;
        }
      }
      p += mhLen;
    }
    if (extended) {
      if (src.length - p < 4) return -1;
      const ext = ((src[p] << 24) | (src[p + 1] << 16) | (src[p + 2] << 8) |
        src[p + 3]) >>> 0;
      if (fmt === 3 && !newMessage && ext !== st.tsField) {
        // Some encoders omit the extended timestamp on continuation chunks;
        // these 4 bytes are payload, not a timestamp.
      } else {
        tsField = ext;
        p += 4;
      }
    }
    if (fmt !== 3 && !newMessage) {
      throw new RtmpProtocolError(
        `chunk: expected a type-3 continuation on chunk stream ${csid} (${st.filled}/${st.length} bytes received), received type ${fmt}`,
      );
    }
    if (fmt === 3 && !st.hasHeader) {
      throw new RtmpProtocolError(
        `chunk: expected a full header before type 3 on chunk stream ${csid}`,
      );
    }
    if (newMessage) {
      if (length > this.#maxMessageSize) {
        throw new RtmpProtocolError(
          `chunk: expected message length <= ${this.#maxMessageSize}, received ${length} (type ${type}, chunk stream ${csid})`,
          "max_message_bytes",
        );
      }
      if (this.#pendingBytes + length > this.#maxPending) {
        throw new RtmpProtocolError(
          `chunk: expected at most ${this.#maxPending} bytes of unfinished messages, received ${
            this.#pendingBytes + length
          }`,
          "max_message_bytes",
        );
      }
      st.timestamp = fmt === 0 ? tsField : (st.timestamp + tsField) >>> 0;
      st.buffer = length <= INITIAL_BUFFER ? new Uint8Array(length) : EMPTY;
      st.filled = 0;
      this.#pendingBytes += length;
    }
    st.type = type;
    st.length = length;
    st.streamId = streamId;
    st.tsField = tsField;
    st.extended = extended;
    st.hasHeader = true;
    this.#cur = st;
    this.#curCsid = csid;
    this.#curLeft = Math.min(this.#chunkSize, length - st.filled);
    return p - start;
  }

  #finish(out: ChunkMessage[]): void {
    const st = this.#cur!;
    if (st.filled < st.length) return; // more chunks to come
    const data = st.buffer!;
    st.buffer = undefined;
    st.filled = 0;
    this.#pendingBytes -= st.length;
    this.#cur = undefined;
    const msg: ChunkMessage = {
      csid: this.#curCsid,
      type: st.type,
      streamId: st.streamId,
      timestamp: st.timestamp,
      data,
    };
    if (msg.type === MSG_SET_CHUNK_SIZE) {
      if (data.length < 4) {
        throw new RtmpProtocolError(
          `Set Chunk Size: expected 4 bytes, received ${data.length}`,
        );
      }
      const size = ((data[0] << 24) | (data[1] << 16) | (data[2] << 8) |
        data[3]) >>> 0;
      this.setChunkSize(size);
    } else if (msg.type === MSG_ABORT) {
      if (data.length < 4) {
        throw new RtmpProtocolError(
          `Abort: expected 4 bytes, received ${data.length}`,
        );
      }
      this.abort(
        ((data[0] << 24) | (data[1] << 16) | (data[2] << 8) | data[3]) >>> 0,
      );
    }
    out.push(msg);
  }
}
