/**
 * RTP packets → FLV tags (the inverse of the packetizer), pure bytes.
 *
 * @module
 */

import {
  decodeTag,
  type FlvTag,
  MAX_TAG_DATA_SIZE,
  TAG_HEADER_SIZE,
} from "../flv/mod.ts";
import { type RtpPacket, rtpTimestampFromMs } from "./packet.ts";

/** Most packets one tag may span (one per 16-bit sequence number). */
export const MAX_FRAGMENTS = 65536;

/** Options for {@linkcode TagAssembler}. */
export interface TagAssemblerOptions {
  /**
   * Largest tag (11 + body) accepted, in bytes (default 16 MiB + 10, the FLV
   * maximum). Fragments beyond it (or beyond {@linkcode MAX_FRAGMENTS}
   * packets, e.g. a flood of empty payloads) are discarded up to the next
   * marker and the tag is counted as dropped (`oversize`).
   */
  maxTagBytes?: number;
}

/** Why the last tag was dropped (see {@linkcode TagAssembler.lastDropReason}). */
export type TagDropReason =
  | "gap"
  | "reset"
  | "ssrc"
  | "timestamp"
  | "oversize"
  | "invalid";

/**
 * Rebuilds the FLV tags of ONE SSRC from its RTP packets, given in sequence
 * order. A tag is the packets from the one after a marker up to and including
 * the next marker (M=1). The assembled bytes must decode as exactly one tag
 * ({@linkcode decodeTag}) whose timestamp × 90 mod 2^32 equals the RTP
 * timestamp; otherwise the tag is dropped and counted, never emitted broken.
 *
 * Gaps: a packet whose sequence is not the previous one + 1 (mod 2^16), or
 * whose SSRC / RTP timestamp differs from the tag in progress, discards the
 * partial tag and starts a new one with that packet (which then fails
 * validation if it was not a tag start). Call {@linkcode TagAssembler.reset}
 * after a known unrecoverable gap: the next packet is taken as a tag start.
 *
 * A single-packet tag's `data` is a subarray of the packet's payload (no
 * copy); a fragmented tag is copied once into a fresh buffer.
 */
export class TagAssembler {
  #maxTagBytes: number;
  #frags: Uint8Array[] = [];
  #bytes = 0;
  #expectSeq = -1;
  #ssrc = -1;
  #rtpTs = 0;
  #discarding = false; // oversize: drop until the next marker
  #tags = 0;
  #dropped = 0;
  #lastDrop: TagDropReason | undefined;

  /** Creates an assembler; see {@linkcode TagAssemblerOptions}. */
  constructor(opts: TagAssemblerOptions = {}) {
    const max = opts.maxTagBytes ?? TAG_HEADER_SIZE + MAX_TAG_DATA_SIZE;
    if (!Number.isInteger(max) || max < TAG_HEADER_SIZE) {
      throw new RangeError(
        `TagAssembler maxTagBytes: expected an integer >= 11, got ${max}`,
      );
    }
    this.#maxTagBytes = max;
  }

  /** Tags emitted so far. */
  get tagsAssembled(): number {
    return this.#tags;
  }
  /** Partial or invalid tags dropped so far (gaps, resets, bad bytes). */
  get tagsDropped(): number {
    return this.#dropped;
  }
  /** Why the most recent drop happened (undefined before any drop). */
  get lastDropReason(): TagDropReason | undefined {
    return this.#lastDrop;
  }
  /** Payload bytes held for the tag in progress. */
  get pendingBytes(): number {
    return this.#bytes;
  }
  /** True when a tag is partly assembled. */
  get inProgress(): boolean {
    return this.#frags.length > 0 || this.#discarding;
  }

  /**
   * Discards any partial tag (counted as dropped with reason `reset` if one
   * was in progress); the next packet is taken as the start of a tag.
   */
  reset(): void {
    if (this.#frags.length > 0) this.#drop("reset");
    this.#clear();
    this.#expectSeq = -1;
  }

  /**
   * Feeds the next packet in sequence order. Returns the completed tag when
   * `p` carries the marker and the assembled bytes are valid, else
   * undefined. Never throws on bad packet contents.
   */
  push(p: RtpPacket): FlvTag | undefined {
    if (this.inProgress) {
      let reason: TagDropReason | undefined;
      if (p.ssrc !== this.#ssrc) reason = "ssrc";
      else if (p.sequence !== this.#expectSeq) reason = "gap";
      else if (!this.#discarding && p.timestamp !== this.#rtpTs) {
        reason = "timestamp";
      }
      if (reason !== undefined) {
        if (!this.#discarding) this.#drop(reason); // oversize: counted already
        this.#clear();
      }
    }
    this.#expectSeq = (p.sequence + 1) & 0xffff;
    if (!this.inProgress) {
      this.#ssrc = p.ssrc;
      this.#rtpTs = p.timestamp;
    }
    if (!this.#discarding) {
      if (
        this.#bytes + p.payload.length > this.#maxTagBytes ||
        this.#frags.length >= MAX_FRAGMENTS
      ) {
        this.#drop("oversize");
        this.#frags = [];
        this.#bytes = 0;
        this.#discarding = true;
      } else {
        this.#frags.push(p.payload);
        this.#bytes += p.payload.length;
      }
    }
    if (!p.marker) return undefined;
    if (this.#discarding) {
      this.#clear();
      return undefined;
    }
    const frags = this.#frags;
    let bytes: Uint8Array;
    if (frags.length === 1) {
      bytes = frags[0];
    } else {
      bytes = new Uint8Array(this.#bytes);
      let o = 0;
      for (const f of frags) {
        bytes.set(f, o);
        o += f.length;
      }
    }
    const rtpTs = this.#rtpTs;
    this.#clear();
    let tag: FlvTag;
    try {
      tag = decodeTag(bytes);
    } catch {
      this.#drop("invalid");
      return undefined;
    }
    if (rtpTimestampFromMs(tag.timestamp) !== rtpTs) {
      this.#drop("invalid");
      return undefined;
    }
    this.#tags++;
    return tag;
  }

  #drop(reason: TagDropReason): void {
    this.#dropped++;
    this.#lastDrop = reason;
  }

  #clear(): void {
    this.#frags = [];
    this.#bytes = 0;
    this.#discarding = false;
  }
}
