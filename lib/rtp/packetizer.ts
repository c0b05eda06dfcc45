/**
 * FLV tag → RTP datagrams (SPEC §5), pure bytes.
 *
 * @module
 */

import { type FlvTag, TAG_HEADER_SIZE, writeTagHeader } from "../flv/mod.ts";
import {
  DEFAULT_RTP_PAYLOAD_SIZE,
  randomSequence,
  RTP_HEADER_SIZE,
  RTP_PAYLOAD_TYPE,
  rtpTimestampFromMs,
  writeRtpHeader,
} from "./packet.ts";

/** Largest payload a UDP datagram can carry after the 12-byte RTP header. */
export const MAX_RTP_PAYLOAD_SIZE = 65507 - RTP_HEADER_SIZE;

/** Options for {@linkcode RtpPacketizer}. */
export interface RtpPacketizerOptions {
  /** SSRC of the stream: an integer in 1..2^32-1. */
  ssrc: number;
  /** Max payload bytes per packet (default 1180, at most 65495). */
  payloadSize?: number;
  /** First sequence number (default random). */
  initialSequence?: number;
  /** Payload type (default 100). */
  payloadType?: number;
  /**
   * Spare bytes left after each datagram in the tag's buffer (default 0),
   * e.g. for the SRTP authentication tag to be appended in place.
   */
  tailroom?: number;
}

/**
 * Turns the FLV tags of one stream into RTP datagrams: payload = the tag's
 * 11-byte header + body (no PreviousTagSize), split into ⌈len/payloadSize⌉
 * packets of consecutive sequence numbers (wrapping at 2^16), marker set on
 * the last one only, all with timestamp = tag ms × 90 mod 2^32.
 *
 * Each datagram is one contiguous `Uint8Array` (RTP header + payload); all
 * datagrams of a tag are views into a single buffer allocated once per tag
 * (so `byteOffset` may be non-zero: send the view, do not use `.buffer`).
 * The tag body is copied into it with `Uint8Array.set` only, once.
 */
export class RtpPacketizer {
  #ssrc: number;
  #payloadSize: number;
  #payloadType: number;
  #tailroom: number;
  #seq: number;
  #packets = 0;
  #octets = 0;
  #lastRtpTs = 0;
  #lastTagTs = 0;
  #tagHeader = new Uint8Array(TAG_HEADER_SIZE);
  #rtpHeader = new Uint8Array(RTP_HEADER_SIZE);

  /** Validates the options; throws RangeError naming a bad one. */
  constructor(opts: RtpPacketizerOptions) {
    const { ssrc } = opts;
    if (!Number.isInteger(ssrc) || ssrc < 1 || ssrc > 0xffffffff) {
      throw new RangeError(
        `RtpPacketizer ssrc: expected an integer in 1..4294967295, got ${ssrc}`,
      );
    }
    const size = opts.payloadSize ?? DEFAULT_RTP_PAYLOAD_SIZE;
    if (!Number.isInteger(size) || size < 1 || size > MAX_RTP_PAYLOAD_SIZE) {
      throw new RangeError(
        `RtpPacketizer payloadSize: expected an integer in 1..${MAX_RTP_PAYLOAD_SIZE}, got ${size}`,
      );
    }
    const pt = opts.payloadType ?? RTP_PAYLOAD_TYPE;
    if (!Number.isInteger(pt) || pt < 0 || pt > 127) {
      throw new RangeError(
        `RtpPacketizer payloadType: expected an integer in 0..127, got ${pt}`,
      );
    }
    const seq = opts.initialSequence ?? randomSequence();
    if (!Number.isInteger(seq) || seq < 0 || seq > 0xffff) {
      throw new RangeError(
        `RtpPacketizer initialSequence: expected an integer in 0..65535, got ${seq}`,
      );
    }
    this.#ssrc = ssrc;
    this.#payloadSize = size;
    this.#payloadType = pt;
    this.#seq = seq;
    this.#tailroom = Math.max(0, Math.floor(opts.tailroom ?? 0));
  }

  /** The stream's SSRC. */
  get ssrc(): number {
    return this.#ssrc;
  }
  /** Sequence number the next packet will carry. */
  get nextSequence(): number {
    return this.#seq;
  }
  /** Max payload bytes per packet. */
  get payloadSize(): number {
    return this.#payloadSize;
  }
  /** Packets produced so far (RTCP SR sender's packet count). */
  get packetsSent(): number {
    return this.#packets;
  }
  /** Payload bytes produced so far (RTCP SR sender's octet count). */
  get octetsSent(): number {
    return this.#octets;
  }
  /** RTP timestamp of the last tag packetized (0 before the first). */
  get lastRtpTimestamp(): number {
    return this.#lastRtpTs;
  }
  /** FLV timestamp (ms) of the last tag packetized (0 before the first). */
  get lastTagTimestamp(): number {
    return this.#lastTagTs;
  }

  /**
   * Packetizes one tag into whole RTP datagrams (ready to send), advancing
   * the sequence number and counters. Throws RangeError on an invalid tag
   * (type, timestamp, body over 16 MiB-1) without advancing anything.
   */
  packetize(tag: FlvTag): Uint8Array[] {
    const th = this.#tagHeader;
    writeTagHeader(th, 0, tag);
    const data = tag.data;
    const total = TAG_HEADER_SIZE + data.length;
    const limit = this.#payloadSize;
    const count = Math.ceil(total / limit);
    const ts = rtpTimestampFromMs(tag.timestamp);
    const out = new Array<Uint8Array>(count);
    let seq = this.#seq;
    let pos = 0; // position within the tag bytes (header + body)
    // Header template: validated once per tag, then patched per packet.
    const rtpHeader = this.#rtpHeader;
    writeRtpHeader(rtpHeader, 0, {
      marker: false,
      payloadType: this.#payloadType,
      sequence: seq,
      timestamp: ts,
      ssrc: this.#ssrc,
    });
    // One backing buffer per tag; each datagram is a contiguous view of it
    // (followed by the tailroom, if any).
    const room = this.#tailroom;
    const backing = new Uint8Array(count * (RTP_HEADER_SIZE + room) + total);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const size = Math.min(limit, total - pos);
      const dgram = backing.subarray(at, at + RTP_HEADER_SIZE + size);
      at += RTP_HEADER_SIZE + size + room;
      dgram.set(rtpHeader);
      if (i === count - 1) dgram[1] |= 0x80;
      dgram[2] = seq >>> 8;
      dgram[3] = seq & 0xff;
      let w = RTP_HEADER_SIZE;
      const end = pos + size;
      if (pos < TAG_HEADER_SIZE) {
        const hEnd = Math.min(end, TAG_HEADER_SIZE);
        dgram.set(th.subarray(pos, hEnd), w);
        w += hEnd - pos;
        pos = hEnd;
      }
      if (pos < end) {
        dgram.set(
          data.subarray(pos - TAG_HEADER_SIZE, end - TAG_HEADER_SIZE),
          w,
        );
        pos = end;
      }
      out[i] = dgram;
      seq = (seq + 1) & 0xffff;
    }
    this.#seq = seq;
    this.#packets += count;
    this.#octets += total;
    this.#lastRtpTs = ts;
    this.#lastTagTs = tag.timestamp;
    return out;
  }
}
