/**
 * The HLS / LL-HLS media model of one stream (pure, no I/O, no timers):
 * FLV tags in; CMAF parts (one `moof`+`mdat` each, ~`partMs` long),
 * segments starting at video keyframes (at least `minSegmentMs`), a bounded
 * window of `windowSegments` complete segments, init segments, discontinuities
 * (new decoder configuration or {@linkcode HlsSegmenter.discontinue}) and the
 * end of the stream out. {@linkcode renderPlaylist} turns it into text.
 *
 * Numbering: media sequence numbers (MSN) count segments from 0; parts are
 * numbered by one counter across segments (so a preload hint always names
 * the part that will come next, whichever segment it opens); inits count
 * from 1.
 *
 * @module
 */
import type { FlvTag } from "../flv/mod.ts";
import { concatBytes, FlvFragmenter, readFlvMedia } from "../fmp4/mod.ts";

/** A part is cut once its samples reach this many bytes, whatever their
 * duration (memory bound: a publisher's timestamps may stand still). */
export const MAX_PART_BYTES = 4 * 1024 * 1024;
/** A segment is cut once its parts reach this many bytes (the GOP cache's
 * bound), keyframe or not. */
export const MAX_SEGMENT_BYTES = 32 * 1024 * 1024;

/** Options for {@linkcode HlsSegmenter}. */
export interface HlsSegmenterOptions {
  /** LL-HLS part target in ms (default 200). */
  partMs?: number;
  /** Complete segments kept in the live window (default 6). */
  windowSegments?: number;
  /** A segment is cut at the first keyframe at least this long after its start (default 1000). */
  minSegmentMs?: number;
  /** A segment is cut here even without a keyframe (memory bound, default 10000). */
  maxSegmentMs?: number;
}

/** One LL-HLS partial segment. */
export interface HlsPart {
  /** Global part number (names it: `p<id>.m4s`). */
  id: number;
  /** MSN of the segment it belongs to. */
  msn: number;
  /** Index within its segment (0-based). */
  index: number;
  /** Media duration in ms. */
  durationMs: number;
  /** Starts with a keyframe (or is audio only). */
  independent: boolean;
  /** `moof` + `mdat`. */
  bytes: Uint8Array;
  /** `now` when it was produced. */
  createdAt: number;
}

/** One media segment (complete or being built). */
export interface HlsSegment {
  /** Media sequence number (names it: `s<msn>.m4s`). */
  msn: number;
  /** The init segment it needs (`init<id>.mp4`). */
  initId: number;
  /** Preceded by `#EXT-X-DISCONTINUITY`. */
  discontinuity: boolean;
  /** Its parts so far. */
  parts: HlsPart[];
  /** Media duration in ms (sum of parts). */
  durationMs: number;
  /** Starts with a keyframe. */
  independent: boolean;
  /** Media time (ms, FLV timestamps) of its first sample. */
  startDts: number;
  /** Wall clock (ms) at media time 0 for this publish (shared, refined as
   * live samples come): `clock.value + startDts` is the wall-clock time of
   * the first sample (`#EXT-X-PROGRAM-DATE-TIME`). */
  clock: { value: number };
  /** The whole segment, once complete. */
  bytes?: Uint8Array;
}

/** Counters of a {@linkcode HlsSegmenter}. */
export interface HlsSegmenterStats {
  /** Segments completed. */
  segments: number;
  /** Parts produced. */
  parts: number;
  /** Tags that could not be read (malformed sequence header or frame). */
  malformed: number;
  /** Samples dropped before the first keyframe / configuration. */
  skipped: number;
}

function positive(name: string, v: number | undefined, d: number): number {
  if (v === undefined) return d;
  if (!Number.isInteger(v) || v < 1) {
    throw new RangeError(
      `HlsSegmenter ${name}: expected a positive integer, got ${v}`,
    );
  }
  return v;
}

/**
 * Segments one stream.
 *
 * @example Usage
 * ```ts ignore
 * const seg = new HlsSegmenter({ partMs: 200 });
 * for (const tag of tags) seg.push(tag, Date.now());
 * seg.end(Date.now());
 * console.log(renderPlaylist(seg.view()));
 * ```
 */
export class HlsSegmenter {
  #partMs: number;
  #window: number;
  #minSegMs: number;
  #maxSegMs: number;
  #frag = new FlvFragmenter();
  #segments: HlsSegment[] = [];
  #current: HlsSegment | undefined;
  #inits = new Map<number, Uint8Array>();
  #initId = 0;
  #initBytes: Uint8Array | undefined; // what #initId stands for
  #nextMsn = 0;
  #nextPartId = 0;
  #discontinuitySeq = 0;
  #pendingDiscontinuity = false;
  #started = false;
  /** Wall clock at media time 0: the least `now − dts` seen since the last
   * discontinuity (a burst of cached tags arrives late; live tags on time). */
  #clock: { value: number } | undefined;
  #segStart = 0;
  #partStart = 0;
  #partIndependent = true;
  #lastMainDts = 0;
  #lastDelta = 0;
  /** Sample bytes since the last cut, and in the current segment's parts. */
  #partBytes = 0;
  #segBytes = 0;
  #targetS: number | undefined;
  #ended = false;
  #stats: HlsSegmenterStats = {
    segments: 0,
    parts: 0,
    malformed: 0,
    skipped: 0,
  };
  #onChange: (() => void) | undefined;

  /** Creates an empty segmenter; `onChange` is called after every new part and at the end. */
  constructor(options: HlsSegmenterOptions = {}, onChange?: () => void) {
    this.#partMs = positive("partMs", options.partMs, 200);
    this.#window = positive("windowSegments", options.windowSegments, 6);
    this.#minSegMs = positive("minSegmentMs", options.minSegmentMs, 1000);
    this.#maxSegMs = positive("maxSegmentMs", options.maxSegmentMs, 10_000);
    this.#onChange = onChange;
  }

  /** Counters (a live object). */
  get stats(): Readonly<HlsSegmenterStats> {
    return this.#stats;
  }

  /** Whether {@linkcode end} was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Target duration in whole seconds, known once the first segment is complete. */
  get targetDuration(): number | undefined {
    return this.#targetS;
  }

  /** The part target in ms. */
  get partMs(): number {
    return this.#partMs;
  }

  /** MSN the segment being built has (or the next one will have). */
  get nextMsn(): number {
    return this.#current?.msn ?? this.#nextMsn;
  }

  /** Number the next part will have (the preload hint). */
  get nextPartId(): number {
    return this.#nextPartId;
  }

  /** A snapshot for {@linkcode renderPlaylist} (arrays are copies). */
  view(): PlaylistModel {
    return {
      targetDuration: this.#targetS ?? 1,
      partTargetMs: this.#partMs,
      firstMsn: this.#segments[0]?.msn ?? this.nextMsn,
      discontinuitySequence: this.#discontinuitySeq,
      segments: [...this.#segments],
      current: this.#current
        ? { ...this.#current, parts: [...this.#current.parts] }
        : undefined,
      nextPartId: this.#nextPartId,
      ended: this.#ended,
    };
  }

  /** The init segment with this number, while a segment in the window uses it. */
  init(id: number): Uint8Array | undefined {
    return this.#inits.get(id);
  }

  /** A complete segment in the window. */
  segment(msn: number): HlsSegment | undefined {
    const first = this.#segments[0]?.msn;
    if (first === undefined) return undefined;
    const s = this.#segments[msn - first];
    return s?.msn === msn ? s : undefined;
  }

  /** A part of a segment in the window or of the one being built. */
  part(id: number): HlsPart | undefined {
    const cur = this.#current?.parts;
    if (cur?.length && id >= cur[0].id) return cur[id - cur[0].id];
    for (let i = this.#segments.length - 1; i >= 0; i--) {
      const ps = this.#segments[i].parts;
      if (ps.length && id >= ps[0].id) return ps[id - ps[0].id];
    }
    return undefined;
  }

  /**
   * True once the playlist holds part `part` of segment `msn` or anything
   * later (without `part`: once segment `msn` is complete) — the condition
   * of an LL-HLS blocking playlist reload (`_HLS_msn`, `_HLS_part`).
   */
  has(msn: number, part?: number): boolean {
    if (this.#ended) return true;
    const done = this.#segments.at(-1)?.msn ?? -1;
    if (msn <= done) return true;
    const cur = this.#current;
    if (cur === undefined) return false;
    if (part === undefined) return msn < cur.msn;
    return msn < cur.msn || (msn === cur.msn && part < cur.parts.length);
  }

  /** Feeds the next tag of the stream; `now` is the wall clock in ms. */
  push(tag: FlvTag, now: number): void {
    if (this.#ended) return;
    let m;
    try {
      m = readFlvMedia(tag);
    } catch {
      this.#stats.malformed++;
      return;
    }
    if (m === undefined) return;
    if (m.kind === "video-config" || m.kind === "audio-config") {
      if (this.#frag.changes(m)) this.discontinue(now, false);
      this.#frag.configure(m);
      return;
    }
    const video = this.#frag.hasVideo;
    const main = video ? m.kind === "video" : m.kind === "audio";
    const sync = m.kind === "audio" || m.sync;
    if (main) {
      if (this.#clock === undefined) this.#clock = { value: now - m.dts };
      else if (now - m.dts < this.#clock.value) {
        this.#clock.value = now - m.dts;
      }
    }
    if (!this.#started) {
      if (!main || (video && !sync)) {
        this.#stats.skipped++;
        return;
      }
      if (!this.#frag.add(m).accepted) {
        this.#stats.skipped++;
        return;
      }
      this.#started = true;
      this.#openSegment(m.dts, true);
      this.#partBytes = m.data.length;
      this.#partStart = m.dts;
      this.#partIndependent = true;
      this.#lastMainDts = m.dts;
      return;
    }
    if (!main) {
      if (!this.#frag.add(m).accepted) this.#stats.skipped++;
      else this.#partBytes += m.data.length;
      return;
    }
    const delta = m.dts - this.#lastMainDts;
    if (delta > 0) this.#lastDelta = delta;
    this.#lastMainDts = m.dts;
    const segMs = m.dts - this.#segStart;
    const targetMs = this.#targetS === undefined
      ? this.#maxSegMs
      : Math.min(this.#maxSegMs, this.#targetS * 1000 + 499);
    const size = m.data.length;
    const newSeg = (sync && segMs >= this.#minSegMs) ||
      segMs + this.#lastDelta > targetMs ||
      this.#segBytes + this.#partBytes + size > MAX_SEGMENT_BYTES;
    const newPart = newSeg ||
      m.dts + this.#lastDelta - this.#partStart > this.#partMs ||
      this.#partBytes + size > MAX_PART_BYTES;
    const r = this.#frag.add(m, newPart);
    if (r.fragment) this.#partBytes = 0;
    this.#partBytes += size;
    if (r.fragment) {
      this.#addPart(r.fragment, m.dts - this.#partStart, now);
      if (newSeg) {
        this.#closeSegment();
        this.#openSegment(m.dts, sync);
      }
      this.#partStart = m.dts;
      this.#partIndependent = sync;
      this.#onChange?.();
    }
  }

  /**
   * Ends the current segment here; the next one starts at the next keyframe
   * after `#EXT-X-DISCONTINUITY` with a new init segment (a republish, a new
   * decoder configuration). `forgetConfig` (default true: a new publish)
   * drops the decoder configurations seen so far.
   */
  discontinue(now: number, forgetConfig = true): void {
    if (this.#ended) return;
    this.#flush(now);
    if (forgetConfig) this.#frag = new FlvFragmenter();
    this.#pendingDiscontinuity ||= this.#nextMsn > 0;
    this.#clock = undefined;
    this.#onChange?.();
  }

  /** The stream ended: the last part and segment are completed, the playlist gets `#EXT-X-ENDLIST`. */
  end(now: number): void {
    if (this.#ended) return;
    this.#flush(now);
    this.#ended = true;
    this.#onChange?.();
  }

  #flush(now: number): void {
    const last = this.#frag.end();
    if (last && this.#current) {
      this.#addPart(
        last,
        this.#lastMainDts + this.#lastDelta - this.#partStart,
        now,
      );
    }
    if (this.#current) this.#closeSegment();
    this.#started = false;
  }

  #openSegment(dts: number, independent: boolean): void {
    const init = this.#frag.init!;
    if (init !== this.#initBytes) {
      this.#initBytes = init;
      this.#initId++;
      this.#inits.set(this.#initId, init);
    }
    this.#current = {
      msn: this.#nextMsn++,
      initId: this.#initId,
      discontinuity: this.#pendingDiscontinuity,
      parts: [],
      durationMs: 0,
      independent,
      startDts: dts,
      clock: this.#clock ?? { value: 0 },
    };
    this.#pendingDiscontinuity = false;
    this.#segStart = dts;
    this.#segBytes = 0;
  }

  #addPart(bytes: Uint8Array, durationMs: number, now: number): void {
    const seg = this.#current!;
    const d = Math.max(0, durationMs);
    seg.parts.push({
      id: this.#nextPartId++,
      msn: seg.msn,
      index: seg.parts.length,
      durationMs: d,
      independent: this.#partIndependent,
      bytes,
      createdAt: now,
    });
    seg.durationMs += d;
    this.#segBytes += bytes.length;
    this.#stats.parts++;
  }

  #closeSegment(): void {
    const seg = this.#current!;
    this.#current = undefined;
    if (seg.parts.length === 0) {
      this.#nextMsn--; // nothing was produced under this number
      return;
    }
    seg.bytes = concatBytes(seg.parts.map((p) => p.bytes));
    let o = 0;
    for (const p of seg.parts) {
      p.bytes = seg.bytes.subarray(o, o + p.bytes.length);
      o += p.bytes.length;
    }
    this.#targetS ??= Math.max(1, Math.round(seg.durationMs / 1000));
    this.#segments.push(seg);
    this.#stats.segments++;
    while (this.#segments.length > this.#window) {
      const gone = this.#segments.shift()!;
      if (gone.discontinuity) this.#discontinuitySeq++;
      if (
        !this.#segments.some((s) => s.initId === gone.initId) &&
        this.#initId !== gone.initId
      ) {
        this.#inits.delete(gone.initId);
      }
    }
  }
}

/** What {@linkcode renderPlaylist} needs (from {@linkcode HlsSegmenter.view}). */
export interface PlaylistModel {
  /** EXT-X-TARGETDURATION (s). */
  targetDuration: number;
  /** PART-TARGET (ms). */
  partTargetMs: number;
  /** EXT-X-MEDIA-SEQUENCE. */
  firstMsn: number;
  /** EXT-X-DISCONTINUITY-SEQUENCE. */
  discontinuitySequence: number;
  /** Complete segments, oldest first. */
  segments: HlsSegment[];
  /** The segment being built. */
  current: HlsSegment | undefined;
  /** The part the preload hint names. */
  nextPartId: number;
  /** Stream ended (ENDLIST). */
  ended: boolean;
}

const sec = (ms: number) => (ms / 1000).toFixed(3);

/** Options for {@linkcode renderPlaylist}. */
export interface RenderOptions {
  /** `_HLS_skip=YES`: replace old segments by `#EXT-X-SKIP`. */
  skip?: boolean;
  /** Prefix of every URI (e.g. `movie/`). */
  prefix?: string;
  /** Query string (without `?`) added to every URI, e.g. a play signature. */
  query?: string;
}

/**
 * The media playlist text (each segment with `#EXT-X-PROGRAM-DATE-TIME`,
 * the wall clock its first sample reached this node): LL-HLS tags (`EXT-X-SERVER-CONTROL`,
 * `EXT-X-PART-INF`, `EXT-X-PART` for the last three target durations,
 * `EXT-X-PRELOAD-HINT`) around a classic segment list that players without
 * LL-HLS play as is; with `skip`, a delta update (`EXT-X-SKIP`).
 */
export function renderPlaylist(
  m: PlaylistModel,
  options: RenderOptions = {},
): string {
  const pre = options.prefix ?? "";
  const q = options.query ? `?${options.query}` : "";
  const target = m.targetDuration;
  const skipUntil = 6 * target;
  const lines = [
    "#EXTM3U",
    "#EXT-X-VERSION:9",
    `#EXT-X-TARGETDURATION:${target}`,
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${
      sec(3 * m.partTargetMs)
    },CAN-SKIP-UNTIL=${skipUntil.toFixed(1)}`,
    `#EXT-X-PART-INF:PART-TARGET=${sec(m.partTargetMs)}`,
    `#EXT-X-MEDIA-SEQUENCE:${m.firstMsn}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${m.discontinuitySequence}`,
  ];
  const all = m.current && m.current.parts.length > 0
    ? [...m.segments, m.current]
    : m.segments;
  // Media time from each segment's start to the end of the playlist.
  const untilEnd: number[] = [];
  let acc = 0;
  for (let i = all.length - 1; i >= 0; i--) {
    acc += all[i].durationMs;
    untilEnd[i] = acc;
  }
  let skipped = 0;
  if (options.skip) {
    while (
      skipped < m.segments.length && untilEnd[skipped] > skipUntil * 1000
    ) skipped++;
  }
  if (skipped > 0) lines.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);
  let initId = -1;
  for (let i = skipped; i < all.length; i++) {
    const s = all[i];
    if (s.discontinuity) lines.push("#EXT-X-DISCONTINUITY");
    if (s.initId !== initId) {
      lines.push(`#EXT-X-MAP:URI="${pre}init${s.initId}.mp4${q}"`);
      initId = s.initId;
    }
    lines.push(
      `#EXT-X-PROGRAM-DATE-TIME:${
        new Date(s.clock.value + s.startDts).toISOString()
      }`,
    );
    if (untilEnd[i] <= 3 * target * 1000 || s === m.current) {
      for (const p of s.parts) {
        lines.push(
          `#EXT-X-PART:DURATION=${
            sec(p.durationMs)
          },URI="${pre}p${p.id}.m4s${q}"${
            p.independent ? ",INDEPENDENT=YES" : ""
          }`,
        );
      }
    }
    if (s !== m.current) {
      lines.push(`#EXTINF:${sec(s.durationMs)},`, `${pre}s${s.msn}.m4s${q}`);
    }
  }
  if (m.ended) lines.push("#EXT-X-ENDLIST");
  else {
    lines.push(
      `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${pre}p${m.nextPartId}.m4s${q}"`,
    );
  }
  return lines.join("\n") + "\n";
}
