/**
 * Turns the media of an FLV stream into fMP4 (pure, no I/O): keeps the
 * decoder configurations, builds the init segment when the first sample
 * comes, converts FLV millisecond timestamps to track ticks (video 90 kHz,
 * audio at its sample rate), gives each sample the duration up to the next
 * one of its track (the last one of a stream repeats the previous
 * duration), and cuts fragments where its caller asks.
 *
 * @module
 */
import type { AudioConfig, FlvMedia, VideoConfig } from "./flv_media.ts";
import { mediaFragment, type Sample, type TrackRun } from "./fragment.ts";
import { initSegment, type Track } from "./init.ts";

/** Track ID of the video track. */
export const VIDEO_TRACK_ID = 1;
/** Track ID of the audio track. */
export const AUDIO_TRACK_ID = 2;
/** Ticks per second of the video track. */
export const VIDEO_TIMESCALE = 90_000;

interface Pending {
  dts: number; // ticks
  cts: number; // ticks
  sync: boolean;
  data: Uint8Array;
}

class TrackState {
  readonly id: number;
  readonly timescale: number;
  #defaultDuration: number;
  #lastDuration: number;
  #pending: Pending | undefined;
  #run: Sample[] = [];
  #runStart = 0;
  #lastDts = -1;

  constructor(id: number, timescale: number, defaultDuration: number) {
    this.id = id;
    this.timescale = timescale;
    this.#defaultDuration = defaultDuration;
    this.#lastDuration = defaultDuration;
  }

  ticks(ms: number): number {
    return Math.round(ms * this.timescale / 1000);
  }

  /** Adds a sample; the previous one gets its duration and joins the run. */
  add(p: Pending): void {
    this.#resolve(p.dts);
    // Decode times never go backwards inside one init (a duration >= 0).
    if (p.dts < this.#lastDts) p.dts = this.#lastDts;
    this.#lastDts = p.dts;
    this.#pending = p;
  }

  #resolve(nextDts: number | undefined): void {
    const p = this.#pending;
    if (p === undefined) return;
    const duration = nextDts === undefined
      ? this.#lastDuration
      : Math.max(0, nextDts - p.dts);
    if (nextDts !== undefined && duration > 0) this.#lastDuration = duration;
    if (this.#run.length === 0) this.#runStart = p.dts;
    this.#run.push({ data: p.data, duration, cts: p.cts, sync: p.sync });
    this.#pending = undefined;
  }

  /** Takes the committed samples (and, at the end, the pending one). */
  take(final: boolean): TrackRun | undefined {
    if (final) this.#resolve(undefined);
    if (this.#run.length === 0) return undefined;
    const run = {
      trackId: this.id,
      baseDecodeTime: this.#runStart,
      samples: this.#run,
    };
    this.#run = [];
    return run;
  }

  get defaultDuration(): number {
    return this.#defaultDuration;
  }
}

/** What {@linkcode FlvFragmenter.add} did with a sample. */
export interface AddResult {
  /** False when the sample's track has no configuration (dropped). */
  accepted: boolean;
  /** The fragment cut before this sample, when one was asked for and not empty. */
  fragment?: Uint8Array;
}

/**
 * FLV media → init segment + fragments. Feed configurations with
 * {@linkcode configure} and samples with {@linkcode add}; ask for a cut
 * before a sample (`add(media, true)`); {@linkcode end} flushes the rest.
 *
 * @example Usage
 * ```ts ignore
 * const f = new FlvFragmenter();
 * for (const tag of tags) {
 *   const m = readFlvMedia(tag);
 *   if (m?.kind === "video-config" || m?.kind === "audio-config") f.configure(m);
 *   else if (m) out.push(f.add(m, m.kind === "video" && m.sync).fragment);
 * }
 * out.push(f.end());
 * ```
 */
export class FlvFragmenter {
  #video: VideoConfig | undefined;
  #audio: AudioConfig | undefined;
  #tracks: Track[] | undefined;
  #init: Uint8Array | undefined;
  #v: TrackState | undefined;
  #a: TrackState | undefined;
  #sequence = 0;
  #generation = 0;

  /** The current init segment (built at the first sample after a (re)configuration). */
  get init(): Uint8Array | undefined {
    return this.#init;
  }

  /** Counts the init segments built so far (1 after the first). */
  get generation(): number {
    return this.#generation;
  }

  /** The tracks of the current init segment. */
  get tracks(): readonly Track[] {
    return this.#tracks ?? [];
  }

  /** True when the current (or next) init has a video track. */
  get hasVideo(): boolean {
    return this.#tracks
      ? this.#tracks.some((t) => t.kind === "video")
      : this.#video !== undefined;
  }

  /**
   * True when `media` differs from the configuration the current init
   * segment was built from (new codec parameters or a new track): the
   * caller {@linkcode end}s the current fragments first (a discontinuity).
   */
  changes(
    media: FlvMedia & { kind: "video-config" | "audio-config" },
  ): boolean {
    if (this.#tracks === undefined) return false;
    const old = media.kind === "video-config" ? this.#video : this.#audio;
    return old === undefined || !sameBytes(old.config, media.config.config);
  }

  /** Stores a decoder configuration (used by the next init segment). */
  configure(media: FlvMedia & { kind: "video-config" | "audio-config" }): void {
    if (media.kind === "video-config") this.#video = media.config;
    else this.#audio = media.config;
  }

  #start(): void {
    const tracks: Track[] = [];
    this.#v = this.#a = undefined;
    if (this.#video) {
      tracks.push({
        kind: "video",
        id: VIDEO_TRACK_ID,
        timescale: VIDEO_TIMESCALE,
        ...this.#video,
      });
      this.#v = new TrackState(VIDEO_TRACK_ID, VIDEO_TIMESCALE, 3600);
    }
    if (this.#audio) {
      const a = this.#audio;
      tracks.push({
        kind: "audio",
        id: AUDIO_TRACK_ID,
        timescale: a.sampleRate,
        codec: a.codec,
        config: a.config,
        sampleRate: a.sampleRate,
        channels: a.channels,
      });
      this.#a = new TrackState(AUDIO_TRACK_ID, a.sampleRate, a.frameLength);
    }
    this.#tracks = tracks;
    this.#init = initSegment(tracks);
    this.#generation++;
  }

  /**
   * Adds a sample. With `cutBefore`, everything before it becomes one
   * fragment, returned (the sample itself opens the next one).
   */
  add(
    media: FlvMedia & { kind: "video" | "audio" },
    cutBefore = false,
  ): AddResult {
    if (this.#tracks === undefined) {
      if (this.#video === undefined && this.#audio === undefined) {
        return { accepted: false };
      }
      this.#start();
    }
    const track = media.kind === "video" ? this.#v : this.#a;
    if (track === undefined) return { accepted: false };
    const dts = track.ticks(media.dts);
    const p: Pending = media.kind === "video"
      ? {
        dts,
        cts: track.ticks(media.cts),
        sync: media.sync,
        data: media.data,
      }
      : { dts, cts: 0, sync: true, data: media.data };
    // Resolve the previous sample of this track first, so it is in the cut.
    track.add(p);
    const result: AddResult = { accepted: true };
    if (cutBefore) {
      const fragment = this.#cut(false);
      if (fragment) result.fragment = fragment;
    }
    return result;
  }

  #cut(final: boolean): Uint8Array | undefined {
    const runs: TrackRun[] = [];
    for (const t of [this.#v, this.#a]) {
      const run = t?.take(final);
      if (run) runs.push(run);
    }
    if (runs.length === 0) return undefined;
    return mediaFragment(++this.#sequence, runs);
  }

  /**
   * Flushes every sample left (the last of each track repeats its previous
   * duration) as a fragment, or undefined when there is none; the next
   * sample builds a new init segment.
   */
  end(): Uint8Array | undefined {
    if (this.#tracks === undefined) return undefined;
    const fragment = this.#cut(true);
    this.#tracks = undefined;
    this.#init = undefined;
    return fragment;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
