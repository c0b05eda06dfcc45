/**
 * The bench clip: H.264 + AAC at ~2.5 Mbit/s made once with ffmpeg lavfi
 * (testsrc2 + sine, constant bitrate) into a cache folder under /tmp, and
 * loaded as FLV tags for the paced replayer.
 *
 * @module
 */
import { lavfiPublishArgs } from "../../testkit/media.ts";
import {
  demuxFlv,
  type FlvTag,
  isSequenceEnd,
  isSequenceHeader,
} from "../../lib/flv/mod.ts";
import { run } from "./util.ts";

/** Where generated media is cached between runs (never committed). */
export const CACHE_DIR = "/tmp/flvcast-bench-cache";

/** Clip parameters (changing them changes the cache file name). */
export const CLIP = {
  seconds: 10,
  width: 1280,
  height: 720,
  fps: 30,
  gop: 60,
  videoKbps: 2350,
  audioKbps: 128,
} as const;

/** What a bench clip is made of (see {@linkcode CLIP}). */
export type ClipSpec = { readonly [K in keyof typeof CLIP]: number };

/** Path of the cached clip. */
export function clipPath(c: ClipSpec = CLIP): string {
  const gop = c.gop === CLIP.gop ? "" : `_gop${c.gop}`;
  return `${CACHE_DIR}/clip_${c.width}x${c.height}_${c.fps}fps_${c.videoKbps}k_${c.seconds}s${gop}.flv`;
}

/** Makes the clip unless it is cached; returns its path. */
export async function ensureClip(c: ClipSpec = CLIP): Promise<string> {
  const path = clipPath(c);
  try {
    if ((await Deno.stat(path)).size > 100_000) return path;
  } catch {
    // not made yet
  }
  await Deno.mkdir(CACHE_DIR, { recursive: true });
  const tmp = `${path}.part.flv`;
  const r = await run(
    "ffmpeg",
    lavfiPublishArgs({
      url: tmp,
      seconds: c.seconds,
      realtime: false,
      size: `${c.width}x${c.height}`,
      fps: c.fps,
      gop: c.gop,
      preset: "veryfast",
      cbrKbps: c.videoKbps,
      sampleRate: 48000,
      audioBitrate: `${c.audioKbps}k`,
    }),
    { timeoutMs: 300_000 },
  );
  if (r.code !== 0) {
    throw new Error(`ffmpeg could not make the bench clip: ${r.stderr}`);
  }
  await Deno.rename(tmp, path);
  return path;
}

/** A clip ready to replay. */
export interface Clip {
  /** onMetaData body (FLV script tag body), if any. */
  meta?: FlvTag;
  /** AVC/AAC sequence headers (sent once, at the start). */
  headers: FlvTag[];
  /** Media tags in file order, timestamps rebased to start at 0. */
  media: FlvTag[];
  /** Loop length in ms (last timestamp + one frame). */
  durationMs: number;
  /** Average media bitrate (bit/s) over one loop. */
  bitrate: number;
}

/** Loads a clip file into tags (`fps`: its frame rate, for the loop length). */
export async function loadClip(
  path: string,
  fps: number = CLIP.fps,
): Promise<Clip> {
  const tags = demuxFlv(await Deno.readFile(path)).tags;
  let meta: FlvTag | undefined;
  const headers: FlvTag[] = [];
  const media: FlvTag[] = [];
  for (const t of tags) {
    if (t.type === 18) meta ??= t;
    else if (isSequenceHeader(t)) headers.push(t);
    else if (isSequenceEnd(t)) continue; // not replayed in a loop
    else media.push(t);
  }
  if (media.length === 0) {
    throw new Error(`${path}: expected media tags, found none`);
  }
  const t0 = media[0].timestamp;
  for (const t of media) t.timestamp -= t0;
  const last = media[media.length - 1].timestamp;
  const durationMs = last + Math.round(1000 / fps);
  let bytes = 0;
  for (const t of media) bytes += t.data.length + 11;
  return {
    meta,
    headers,
    media,
    durationMs,
    bitrate: bytes * 8 / (durationMs / 1000),
  };
}
