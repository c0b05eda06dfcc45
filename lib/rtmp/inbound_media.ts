/**
 * A publisher's script data and aggregate messages made into what a
 * publish sink gets (pure): data bodies as AMF0 with `@setDataFrame`
 * stripped, aggregates split into their sub-messages.
 *
 * @module
 */
import { Amf0Reader, encodeAmf0 } from "./amf0.ts";
import type { ChunkMessage } from "./chunk_decoder.ts";
import { errorText, RtmpProtocolError } from "./errors.ts";
import { MSG_DATA_AMF3 } from "./protocol.ts";

/** One sub-message of an aggregate message, its timestamp made absolute. */
export interface AggregatePart {
  /** Message type id of the sub-message. */
  type: number;
  /** The aggregate's timestamp plus this part's offset from the first. */
  timestamp: number;
  /** The sub-message body (a view into the aggregate). */
  data: Uint8Array;
}

/**
 * The body a sink gets for a script data message (type 15 or 18): AMF0,
 * `@setDataFrame` stripped. An AMF3 message whose values AMF0 cannot carry
 * gives `undefined` and `onDrop(reason)`; a body that does not start with
 * a handler name throws {@linkcode RtmpProtocolError}.
 */
export function scriptDataBody(
  m: ChunkMessage,
  onDrop: (reason: string) => void,
): Uint8Array | undefined {
  let body = m.data;
  if (m.type === MSG_DATA_AMF3 && body.length > 0 && body[0] === 0) {
    body = body.subarray(1);
  }
  const r = new Amf0Reader(body);
  const first = r.read();
  if (typeof first !== "string") {
    throw new RtmpProtocolError(
      `data message: expected a string handler name first, received ${typeof first}`,
    );
  }
  if (first === "@setDataFrame") body = body.subarray(r.offset);
  const values = new Amf0Reader(body).readAll();
  if (m.type !== MSG_DATA_AMF3) return body;
  try {
    return encodeAmf0(...values);
  } catch (err) {
    onDrop(errorText(err));
    return undefined;
  }
}

/**
 * The sub-messages of an aggregate message (type 22), lazily in order; a
 * truncated sub-message throws {@linkcode RtmpProtocolError} when reached.
 */
export function* aggregateParts(m: ChunkMessage): Generator<AggregatePart> {
  const d = m.data;
  let p = 0;
  let base = -1;
  while (p < d.length) {
    if (d.length - p < 11) {
      throw new RtmpProtocolError(
        `aggregate: expected an 11-byte sub-message header at ${p}, ${
          d.length - p
        } bytes left`,
      );
    }
    const type = d[p];
    const size = (d[p + 1] << 16) | (d[p + 2] << 8) | d[p + 3];
    const ts = ((d[p + 7] << 24) | (d[p + 4] << 16) | (d[p + 5] << 8) |
      d[p + 6]) >>> 0;
    p += 11;
    if (d.length - p < size) {
      throw new RtmpProtocolError(
        `aggregate: sub-message of ${size} bytes exceeds the ${
          d.length - p
        } left`,
      );
    }
    if (base < 0) base = ts;
    const data = d.subarray(p, p + size);
    p += size + 4; // back pointer
    yield { type, timestamp: (m.timestamp + ts - base) >>> 0, data };
  }
}
