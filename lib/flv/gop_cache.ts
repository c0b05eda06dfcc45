/**
 * Per-stream start-up cache: the latest `onMetaData`, the latest video and
 * audio sequence headers, and the tags since the last video keyframe, so a
 * late joiner can start decoding at once (pure data, no I/O).
 *
 * @module
 */

import {
  isKeyframe,
  isMetadata,
  isSequenceEnd,
  isSequenceHeader,
} from "./codec.ts";
import { type FlvTag, TAG_AUDIO, TAG_HEADER_SIZE, TAG_VIDEO } from "./tag.ts";

/** Options for {@linkcode GopCache}. */
export interface GopCacheOptions {
  /** Most tags kept in the cached GOP (default 10000); beyond it the GOP is dropped. */
  maxTags?: number;
  /** Most bytes (11 + body per tag) kept in the cached GOP (default 32 MiB). */
  maxBytes?: number;
  /**
   * For streams with no video (so far): keep the audio/script tags of the
   * last `audioWindowMs` milliseconds (default 1000), also bounded by
   * `maxTags`/`maxBytes`.
   */
  audioWindowMs?: number;
}

const DEFAULT_MAX_TAGS = 10_000;
const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
const DEFAULT_AUDIO_WINDOW_MS = 1000;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function positiveInt(name: string, v: number | undefined, d: number): number {
  if (v === undefined) return d;
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(
      `GopCache ${name}: expected a positive integer, got ${v}`,
    );
  }
  return v;
}

/**
 * Keeps what a late joiner needs first, bounded in tags and bytes.
 *
 * - `onMetaData` script tags (optionally `@setDataFrame`-wrapped): the latest
 *   one is kept; other script tags flow with the GOP.
 * - Video/audio sequence headers: the latest of each is kept. A video
 *   sequence header with different bytes (a new configuration) drops the
 *   cached GOP, since its frames belong to the old configuration.
 * - A video keyframe starts a new GOP; following tags (video, audio, other
 *   script) are appended. Video before the first keyframe is not cached;
 *   audio and script tags between the first video tag and the first
 *   keyframe are kept with the first GOP, so a player that joins in a
 *   stream's first moments (as one waiting for it does) gets all of it.
 *   Sequence-end tags are not cached.
 * - If appending would exceed `maxTags` or `maxBytes`, the cached GOP is
 *   dropped (not grown) and caching resumes at the next keyframe.
 * - Until a video tag is seen the stream is treated as audio-only and a
 *   short recent window (`audioWindowMs`) of audio/script tags is kept.
 *
 * Tags are stored by reference: callers must not mutate their bytes later.
 */
export class GopCache {
  #maxTags: number;
  #maxBytes: number;
  #audioWindowMs: number;
  #metadata: FlvTag | undefined;
  #videoSeq: FlvTag | undefined;
  #audioSeq: FlvTag | undefined;
  #gop: FlvTag[] = [];
  #head = 0; // first live index in #gop (audio-only window trimming)
  #bytes = 0;
  #inGop = false;
  #seenVideo = false;
  #keyframeSeen = false;
  #dropped = 0;

  /** Creates an empty cache; see {@linkcode GopCacheOptions} for the bounds. */
  constructor(opts: GopCacheOptions = {}) {
    this.#maxTags = positiveInt("maxTags", opts.maxTags, DEFAULT_MAX_TAGS);
    this.#maxBytes = positiveInt("maxBytes", opts.maxBytes, DEFAULT_MAX_BYTES);
    const w = opts.audioWindowMs ?? DEFAULT_AUDIO_WINDOW_MS;
    if (!Number.isFinite(w) || w < 0) {
      throw new RangeError(
        `GopCache audioWindowMs: expected a number >= 0, got ${w}`,
      );
    }
    this.#audioWindowMs = w;
  }

  /** The latest `onMetaData` tag, if any. */
  get metadata(): FlvTag | undefined {
    return this.#metadata;
  }
  /** The latest video sequence header, if any. */
  get videoSequenceHeader(): FlvTag | undefined {
    return this.#videoSeq;
  }
  /** The latest audio sequence header, if any. */
  get audioSequenceHeader(): FlvTag | undefined {
    return this.#audioSeq;
  }
  /** Number of tags in the cached GOP / audio window. */
  get size(): number {
    return this.#gop.length - this.#head;
  }
  /** Bytes (11 + body per tag) in the cached GOP / audio window. */
  get bytes(): number {
    return this.#bytes;
  }
  /** True when the cached GOP has a video keyframe (its first video tag). */
  get hasKeyframe(): boolean {
    return this.#keyframeSeen && this.#inGop && this.size > 0;
  }
  /** How many times a GOP was dropped for exceeding maxTags/maxBytes. */
  get droppedGops(): number {
    return this.#dropped;
  }

  /** Feeds the next tag of the stream, in order. */
  push(tag: FlvTag): void {
    const size = TAG_HEADER_SIZE + tag.data.length;
    if (tag.type === TAG_VIDEO) {
      if (!this.#seenVideo) {
        this.#seenVideo = true;
        // The audio-only window goes; the stream's first GOP begins here.
        this.#resetGop(true);
      }
      if (isSequenceHeader(tag)) {
        if (
          this.#videoSeq !== undefined &&
          !sameBytes(this.#videoSeq.data, tag.data)
        ) {
          this.#resetGop(false);
        }
        this.#videoSeq = tag;
        return;
      }
      if (isSequenceEnd(tag)) return;
      if (isKeyframe(tag)) {
        // The first keyframe keeps the audio of the first GOP before it.
        if (this.#keyframeSeen || !this.#inGop) this.#resetGop(true);
        this.#keyframeSeen = true;
        this.#append(tag, size);
        return;
      }
      if (this.#inGop && this.#keyframeSeen) this.#append(tag, size);
      return;
    }
    if (tag.type === TAG_AUDIO) {
      if (isSequenceHeader(tag)) {
        this.#audioSeq = tag;
        return;
      }
      if (isSequenceEnd(tag)) return;
    } else if (isMetadata(tag)) {
      this.#metadata = tag;
      return;
    }
    if (this.#seenVideo) {
      if (this.#inGop) this.#append(tag, size);
      return;
    }
    this.#appendAudioOnly(tag, size);
  }

  /**
   * What a late joiner gets first, in order: metadata, video sequence
   * header, audio sequence header (each if present), then the cached GOP
   * (whose first tag, for a stream with video, is a keyframe) or, for an
   * audio-only stream, the recent audio window. Timestamps are unchanged.
   * Returns a new array each call.
   */
  startTags(): FlvTag[] {
    const out: FlvTag[] = [];
    if (this.#metadata) out.push(this.#metadata);
    if (this.#videoSeq) out.push(this.#videoSeq);
    if (this.#audioSeq) out.push(this.#audioSeq);
    for (let i = this.#head; i < this.#gop.length; i++) out.push(this.#gop[i]);
    return out;
  }

  /** Forgets everything (e.g. when the publisher leaves). */
  clear(): void {
    this.#metadata = undefined;
    this.#videoSeq = undefined;
    this.#audioSeq = undefined;
    this.#seenVideo = false;
    this.#keyframeSeen = false;
    this.#resetGop(false);
  }

  #resetGop(inGop: boolean): void {
    this.#gop = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#inGop = inGop;
  }

  #append(tag: FlvTag, size: number): void {
    if (
      this.size + 1 > this.#maxTags || this.#bytes + size > this.#maxBytes
    ) {
      this.#dropped++;
      this.#resetGop(false);
      return;
    }
    this.#gop.push(tag);
    this.#bytes += size;
  }

  #appendAudioOnly(tag: FlvTag, size: number): void {
    this.#gop.push(tag);
    this.#bytes += size;
    const last = tag.timestamp;
    const gop = this.#gop;
    while (this.#head < gop.length) {
      const first = gop[this.#head];
      const age = last - first.timestamp;
      const over = this.size > this.#maxTags || this.#bytes > this.#maxBytes;
      if (!over && age >= 0 && age <= this.#audioWindowMs) break;
      this.#bytes -= TAG_HEADER_SIZE + first.data.length;
      this.#head++;
    }
    if (this.#head > 64 && this.#head * 2 > gop.length) {
      this.#gop = gop.slice(this.#head);
      this.#head = 0;
    }
  }
}
