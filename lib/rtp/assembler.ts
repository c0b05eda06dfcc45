/**
 * RTP payloads → one FLV tag (the inverse of the packetizer), pure bytes. The
 * edge's reorder buffer ({@linkcode JitterBuffer}) decides which packets make
 * a tag; this joins them.
 *
 * @module
 */
import {
  decodeFileTag,
  type FlvTag,
  PREVIOUS_TAG_SIZE_SIZE,
  TAG_AUDIO,
  TAG_SCRIPT,
  TAG_VIDEO,
} from "../flv/mod.ts";

/**
 * Joins the payloads of one tag's packets (in sequence order) into the tag's
 * file framing — header, body and PreviousTagSize in one new buffer, the only
 * copy on the way to players and recordings (`fileTagBytes` of `lib/flv` returns
 * it as is) — and decodes it. Throws a RangeError when the bytes are not
 * exactly one FLV tag (a wrong start guess, a forged size).
 *
 * @example Usage
 * ```ts
 * import { assembleTag } from "./assembler.ts";
 * import { encodeTag } from "../flv/mod.ts";
 * const bytes = encodeTag({ type: 8, timestamp: 40, data: new Uint8Array(100) });
 * const tag = assembleTag([bytes.subarray(0, 60), bytes.subarray(60)]);
 * tag.timestamp; // 40
 * ```
 */
export function assembleTag(payloads: readonly Uint8Array[]): FlvTag {
  let size = 0;
  for (const p of payloads) size += p.length;
  const bytes = new Uint8Array(size + PREVIOUS_TAG_SIZE_SIZE);
  let off = 0;
  for (const p of payloads) {
    bytes.set(p, off);
    off += p.length;
  }
  bytes[size] = (size >>> 24) & 0xff;
  bytes[size + 1] = (size >>> 16) & 0xff;
  bytes[size + 2] = (size >>> 8) & 0xff;
  bytes[size + 3] = size & 0xff;
  return decodeFileTag(bytes);
}

/**
 * Whether `payload` plausibly begins an FLV tag: a known type, stream id 0,
 * and a data size consistent with the marker bit (a one-packet tag fills the
 * packet exactly; a first fragment is shorter than the tag).
 */
export function looksLikeTagStart(
  payload: Uint8Array,
  marker: boolean,
): boolean {
  if (payload.length < 11) return false;
  const type = payload[0];
  if (type !== TAG_AUDIO && type !== TAG_VIDEO && type !== TAG_SCRIPT) {
    return false;
  }
  if (payload[8] !== 0 || payload[9] !== 0 || payload[10] !== 0) return false;
  const total = 11 + ((payload[1] << 16) | (payload[2] << 8) | payload[3]);
  return marker ? total === payload.length : total > payload.length;
}
