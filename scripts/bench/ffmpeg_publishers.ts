/**
 * The bench's ffmpeg-publisher variant: real `ffmpeg -re -stream_loop -1
 * -i CLIP -c copy -f flv URL` processes instead of the in-process paced
 * replayer, so pipeline numbers compare with runs outside the bench.
 *
 * ffmpeg's send times are unknown, so no latency; losses are found by
 * order instead: with `-c copy` every loop repeats the clip's tag bodies
 * exactly, and within a track (audio, video) they arrive in clip order, so
 * a reader that sees body k and then body k + 1 + j lost j tags
 * ({@linkcode TrackContinuity}).
 *
 * @module
 */
import type { FlvTag } from "../../lib/flv/mod.ts";
import type { Clip } from "./media.ts";

/** FNV-1a (32-bit) of a tag body. */
export function fnv(data: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) {
    h = Math.imul(h ^ data[i], 0x01000193);
  }
  return h >>> 0;
}

/** Running ffmpeg publishers; stopped by their own PIDs. */
export class FfmpegPublishers {
  #procs: Deno.ChildProcess[] = [];
  #exited = 0;

  #clipFile: string;

  /**
   * Publishers of `clipFile`; none runs until {@linkcode start}. They are
   * killed (by PID) when this process exits or gets SIGTERM, too.
   */
  constructor(clipFile: string) {
    this.#clipFile = clipFile;
    const killAll = () => {
      for (const p of this.#procs) {
        try {
          p.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }
    };
    globalThis.addEventListener("unload", killAll);
    Deno.addSignalListener("SIGTERM", () => {
      killAll();
      Deno.exit(143);
    });
  }

  /** Starts one ffmpeg publishing the clip to `url` in a loop at its pace. */
  start(url: string): void {
    const p = new Deno.Command("ffmpeg", {
      args: [
        "-hide_banner",
        "-loglevel",
        "error",
        "-re",
        "-stream_loop",
        "-1",
        "-i",
        this.#clipFile,
        "-c",
        "copy",
        "-f",
        "flv",
        url,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    p.status.then(() => this.#exited++);
    this.#procs.push(p);
  }

  /** Publishers that exited (a publish refused or cut). */
  get exited(): number {
    return this.#exited;
  }

  /** SIGTERM each (SIGKILL after 2 s) and waits for them. */
  async stop(): Promise<void> {
    await Promise.all(this.#procs.map(async (p) => {
      const kill = (s: Deno.Signal) => {
        try {
          p.kill(s);
        } catch {
          // Already gone.
        }
      };
      kill("SIGTERM");
      const t = setTimeout(() => kill("SIGKILL"), 2000);
      await p.status;
      clearTimeout(t);
    }));
  }
}

/** One reader's view of a clip-looping stream: tags seen and lost, by track. */
export class TrackContinuity {
  #index: Map<number, Map<number, number>>;
  #length: Map<number, number>;
  #next = new Map<number, number>();
  #headers = new Set<number>();
  /** Media tags recognised. */
  seen = 0;
  /** Tags skipped between two recognised ones of the same track. */
  lost = 0;
  /** Media tags whose body is not in the clip. */
  unknown = 0;

  /** Indexes the clip's media tags by track and body hash. */
  constructor(clip: Clip) {
    this.#index = new Map();
    this.#length = new Map();
    for (const t of clip.headers) this.#headers.add(fnv(t.data));
    for (const t of clip.media) {
      let m = this.#index.get(t.type);
      if (!m) this.#index.set(t.type, m = new Map());
      m.set(fnv(t.data), m.size);
      this.#length.set(t.type, m.size);
    }
  }

  /**
   * Takes a delivered tag; returns the tags lost just before it (0 when in
   * order), or -1 when it is not a media tag of the clip (headers, meta).
   */
  push(tag: FlvTag): number {
    const track = this.#index.get(tag.type);
    if (!track) return -1;
    const h = fnv(tag.data);
    const i = track.get(h);
    if (i === undefined) {
      if (!this.#headers.has(h)) this.unknown++;
      return -1;
    }
    this.seen++;
    const next = this.#next.get(tag.type);
    this.#next.set(tag.type, (i + 1) % this.#length.get(tag.type)!);
    if (next === undefined) return 0;
    const gap = (i - next + this.#length.get(tag.type)!) %
      this.#length.get(tag.type)!;
    this.lost += gap;
    return gap;
  }
}
