/**
 * RTMP chunk stream encoder and protocol control message builders (no I/O).
 *
 * The encoder picks the smallest header type the previous message of the same
 * chunk stream allows (fmt 0 for the first message, a new message stream or a
 * timestamp going back; fmt 1 when length or type change; fmt 2 when only the
 * delta changes; fmt 3 when all repeat) and writes extended timestamps on
 * every chunk of a message whose timestamp (or delta) is ≥ 0xFFFFFF,
 * including the type-3 continuation chunks.
 *
 * @module
 */
import { checkChunkSize } from "./chunk_decoder.ts";
import {
  CSID_PROTOCOL,
  DEFAULT_CHUNK_SIZE,
  MAX_MESSAGE_LENGTH_FIELD,
  MSG_ABORT,
  MSG_ACK,
  MSG_SET_CHUNK_SIZE,
  MSG_SET_PEER_BANDWIDTH,
  MSG_USER_CONTROL,
  MSG_WINDOW_ACK_SIZE,
} from "./protocol.ts";

/** A message to encode. */
export interface OutgoingMessage {
  /** Chunk stream id, 2..65599. */
  csid: number;
  /** Message type id. */
  type: number;
  /** Message stream id. */
  streamId: number;
  /** Absolute timestamp in ms (taken mod 2^32). */
  timestamp: number;
  /** Payload, at most 16 MiB − 1 bytes. */
  data: Uint8Array;
}

interface Prev {
  type: number;
  length: number;
  streamId: number;
  timestamp: number;
  delta: number;
}

function basicHeaderSize(csid: number): number {
  return csid < 64 ? 1 : csid < 320 ? 2 : 3;
}

function writeBasic(
  out: Uint8Array,
  p: number,
  fmt: number,
  csid: number,
): number {
  if (csid < 64) {
    out[p] = (fmt << 6) | csid;
    return p + 1;
  }
  if (csid < 320) {
    out[p] = fmt << 6;
    out[p + 1] = csid - 64;
    return p + 2;
  }
  out[p] = (fmt << 6) | 1;
  out[p + 1] = (csid - 64) & 0xff;
  out[p + 2] = (csid - 64) >> 8;
  return p + 3;
}

/**
 * Splits messages into chunks.
 *
 * @example Usage
 * ```ts
 * import { ChunkEncoder } from "./chunk_encoder.ts";
 * const enc = new ChunkEncoder();
 * const bytes = enc.encode({ csid: 3, type: 20, streamId: 0, timestamp: 0, data: new Uint8Array([5]) });
 * console.log(bytes.length); // 13: 12-byte header + 1 byte
 * ```
 */
export class ChunkEncoder {
  #chunkSize = DEFAULT_CHUNK_SIZE;
  #prev = new Map<number, Prev>();

  /** The chunk size used for outgoing chunks. */
  get chunkSize(): number {
    return this.#chunkSize;
  }

  /**
   * Changes the outgoing chunk size; call right after encoding the
   * {@linkcode setChunkSizeMessage} that tells the peer.
   */
  setChunkSize(size: number): void {
    this.#chunkSize = checkChunkSize(size);
  }

  /** Forgets the header state of `csid` (after sending an Abort for it). */
  reset(csid: number): void {
    this.#prev.delete(csid);
  }

  /**
   * Encodes one message as chunk bytes (headers and payload in one buffer).
   *
   * @throws {RangeError} On a bad chunk stream id or an over-long payload.
   */
  encode(msg: OutgoingMessage): Uint8Array {
    const { csid, type, streamId, data } = msg;
    if (!Number.isInteger(csid) || csid < 2 || csid > 65599) {
      throw new RangeError(`chunk stream id: expected 2..65599, got ${csid}`);
    }
    if (data.length > MAX_MESSAGE_LENGTH_FIELD) {
      throw new RangeError(
        `message length: expected <= ${MAX_MESSAGE_LENGTH_FIELD}, got ${data.length}`,
      );
    }
    const timestamp = msg.timestamp >>> 0;
    const prev = this.#prev.get(csid);
    let fmt: number;
    let field: number; // timestamp (fmt 0) or delta
    if (
      !prev || prev.streamId !== streamId || timestamp < prev.timestamp
    ) {
      fmt = 0;
      field = timestamp;
    } else {
      field = timestamp - prev.timestamp;
      if (prev.length !== data.length || prev.type !== type) fmt = 1;
      else if (prev.delta !== field) fmt = 2;
      else fmt = 3;
    }
    this.#prev.set(csid, {
      type,
      length: data.length,
      streamId,
      timestamp,
      // A type-3 header right after a type-0 one is read differently by
      // different peers (delta = the absolute timestamp, or 0); never send it.
      delta: fmt === 0 ? NaN : field,
    });
    const extended = field >= 0xffffff;
    const basic = basicHeaderSize(csid);
    const ext = extended ? 4 : 0;
    const first = basic + [11, 7, 3, 0][fmt] + ext;
    const chunks = Math.max(1, Math.ceil(data.length / this.#chunkSize));
    const out = new Uint8Array(
      first + (chunks - 1) * (basic + ext) + data.length,
    );
    let p = writeBasic(out, 0, fmt, csid);
    if (fmt <= 2) {
      const f = extended ? 0xffffff : field;
      out[p] = f >> 16;
      out[p + 1] = f >> 8;
      out[p + 2] = f;
      p += 3;
      if (fmt <= 1) {
        out[p] = data.length >> 16;
        out[p + 1] = data.length >> 8;
        out[p + 2] = data.length;
        out[p + 3] = type;
        p += 4;
        if (fmt === 0) {
          out[p] = streamId;
          out[p + 1] = streamId >> 8;
          out[p + 2] = streamId >> 16;
          out[p + 3] = streamId >>> 24;
          p += 4;
        }
      }
    }
    const writeExt = () => {
      out[p] = field >>> 24;
      out[p + 1] = field >> 16;
      out[p + 2] = field >> 8;
      out[p + 3] = field;
      p += 4;
    };
    if (extended) writeExt();
    let off = 0;
    while (true) {
      const n = Math.min(this.#chunkSize, data.length - off);
      out.set(data.subarray(off, off + n), p);
      p += n;
      off += n;
      if (off >= data.length) break;
      p = writeBasic(out, p, 3, csid);
      if (extended) writeExt();
    }
    return out;
  }
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return b;
}

function control(type: number, data: Uint8Array): OutgoingMessage {
  return { csid: CSID_PROTOCOL, type, streamId: 0, timestamp: 0, data };
}

/** Set Chunk Size (type 1) announcing `size`. */
export function setChunkSizeMessage(size: number): OutgoingMessage {
  return control(MSG_SET_CHUNK_SIZE, u32(checkChunkSize(size) & 0x7fffffff));
}

/** Abort Message (type 2) for chunk stream `csid`. */
export function abortMessage(csid: number): OutgoingMessage {
  return control(MSG_ABORT, u32(csid));
}

/** Acknowledgement (type 3) of `bytesReceived` (mod 2^32). */
export function ackMessage(bytesReceived: number): OutgoingMessage {
  return control(MSG_ACK, u32(bytesReceived % 0x100000000));
}

/** Window Acknowledgement Size (type 5). */
export function windowAckSizeMessage(size: number): OutgoingMessage {
  return control(MSG_WINDOW_ACK_SIZE, u32(size));
}

/** Set Peer Bandwidth (type 6); limit type 0 hard, 1 soft, 2 dynamic. */
export function setPeerBandwidthMessage(
  size: number,
  limitType: 0 | 1 | 2,
): OutgoingMessage {
  const b = new Uint8Array(5);
  new DataView(b.buffer).setUint32(0, size >>> 0);
  b[4] = limitType;
  return control(MSG_SET_PEER_BANDWIDTH, b);
}

/** User Control (type 4): event type u16 then one u32 (stream id or time). */
export function userControlMessage(
  event: number,
  value: number,
): OutgoingMessage {
  const b = new Uint8Array(6);
  const v = new DataView(b.buffer);
  v.setUint16(0, event);
  v.setUint32(2, value >>> 0);
  return control(MSG_USER_CONTROL, b);
}
