/**
 * Real-peer helpers for tests and the bench: ffmpeg as RTMP publisher (or
 * clip maker) and as player, ffprobe as decoder, and the one builder of
 * ffmpeg's test-source arguments. Every process is killed by PID on dispose.
 *
 * @module
 */

/** Options for {@linkcode publishLavfi}. */
export interface PublishOptions {
  /** Where to publish: an RTMP URL, or a file path (with `-f flv`). */
  url: string;
  /** Clip length in seconds. */
  seconds: number;
  /** Frames per second of the test video (default 25). */
  fps?: number;
  /** Keyframe interval in frames (default = fps). */
  gop?: number;
  /** Publish in real time (`-re`, default true). */
  realtime?: boolean;
  /** Video size (default 320x240). */
  size?: string;
  /** Video bitrate, e.g. `"1M"`; default lets x264 pick. */
  videoBitrate?: string;
  /** Constant video bitrate (kbit/s, x264 NAL-HRD CBR, fixed GOP): the
   * bench's paced clip. Overrides `videoBitrate`. */
  cbrKbps?: number;
  /** x264 preset (default `ultrafast`). */
  preset?: string;
  /** Audio sample rate (default 44100). */
  sampleRate?: number;
  /** Audio bitrate (default `64k`). */
  audioBitrate?: string;
}

/** A running child process that is killed on dispose. */
export interface RunningProcess extends AsyncDisposable {
  /** The child. */
  child: Deno.ChildProcess;
  /** Resolves with the exit status and stderr text. */
  done: Promise<{ code: number; stderr: string }>;
  /** Kills the process (idempotent). */
  kill(): void;
}

/**
 * Runs `cmd args` (stdin and stdout closed), collecting stderr; `kill()`
 * ends it by PID.
 */
export function spawnProcess(cmd: string, args: string[]): RunningProcess {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let exited = false;
  const done = (async () => {
    const chunks: Uint8Array[] = [];
    for await (const c of child.stderr) chunks.push(c);
    const status = await child.status;
    exited = true;
    const text = new TextDecoder().decode(
      chunks.length
        ? new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer())
        : new Uint8Array(),
    );
    return { code: status.code, stderr: text };
  })();
  const kill = () => {
    if (exited) return;
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  };
  return {
    child,
    done,
    kill,
    async [Symbol.asyncDispose]() {
      kill();
      await done;
    },
  };
}

/**
 * Publishes a lavfi test clip (testsrc2 + sine, H.264 + AAC) with ffmpeg.
 *
 * @example Usage
 * ```ts ignore
 * await using pub = publishLavfi({ url: "rtmp://127.0.0.1:1935/live/t", seconds: 5 });
 * const { code } = await pub.done;
 * ```
 */
export function publishLavfi(options: PublishOptions): RunningProcess {
  return spawnProcess("ffmpeg", lavfiPublishArgs(options));
}

/**
 * The ffmpeg arguments {@linkcode publishLavfi} runs: a lavfi test clip
 * (testsrc2 + sine, H.264 + AAC) published as FLV to `options.url`. For
 * running ffmpeg some other way (e.g. inside a network namespace).
 *
 * @example Usage
 * ```ts ignore
 * const args = lavfiPublishArgs({ url: "rtmp://127.0.0.1:1935/live/t", seconds: 5 });
 * ```
 */
export function lavfiPublishArgs(options: PublishOptions): string[] {
  const fps = options.fps ?? 25;
  return [
    "-hide_banner",
    "-loglevel",
    "error",
    "-nostdin",
    "-y",
    ...(options.realtime === false ? [] : ["-re"]),
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=${options.size ?? "320x240"}:rate=${fps}`,
    "-f",
    "lavfi",
    "-i",
    `sine=frequency=440:sample_rate=${options.sampleRate ?? 44100}`,
    "-t",
    String(options.seconds),
    "-c:v",
    "libx264",
    "-preset",
    options.preset ?? "ultrafast",
    "-tune",
    "zerolatency",
    "-pix_fmt",
    "yuv420p",
    "-g",
    String(options.gop ?? fps),
    ...(options.cbrKbps ? cbrArgs(options.cbrKbps, options.gop ?? fps) : []),
    ...(!options.cbrKbps && options.videoBitrate
      ? ["-b:v", options.videoBitrate]
      : []),
    "-c:a",
    "aac",
    "-b:a",
    options.audioBitrate ?? "64k",
    "-f",
    "flv",
    options.url,
  ];
}

/** x264 constant bitrate with a fixed GOP (what a paced replay needs). */
function cbrArgs(kbps: number, gop: number): string[] {
  const rate = `${kbps}k`;
  return [
    "-keyint_min",
    String(gop),
    "-sc_threshold",
    "0",
    "-b:v",
    rate,
    "-minrate",
    rate,
    "-maxrate",
    rate,
    "-bufsize",
    rate,
    "-x264-params",
    "nal-hrd=cbr:force-cfr=1",
  ];
}

/** Runs ffmpeg with arbitrary arguments (e.g. to read RTMP into a file). */
export function ffmpeg(args: string[]): RunningProcess {
  return spawnProcess("ffmpeg", [
    "-hide_banner",
    "-loglevel",
    "error",
    "-nostdin",
    ...args,
  ]);
}

/**
 * Runs ffmpeg as a player of `input` (e.g. an RTMP URL) copying its streams
 * into the FLV file `out`; for `seconds` when given, else to the end.
 */
export function recordFlv(
  input: string,
  out: string,
  seconds?: number,
): RunningProcess {
  return ffmpeg([
    "-i",
    input,
    ...(seconds === undefined ? [] : ["-t", String(seconds)]),
    "-c",
    "copy",
    "-f",
    "flv",
    "-y",
    out,
  ]);
}

/** What ffprobe decoded. */
export interface ProbeResult {
  /** Decoded video frames. */
  videoFrames: number;
  /** Decoded audio frames. */
  audioFrames: number;
  /** ffprobe's error lines (empty = clean decode). */
  errors: string[];
}

/**
 * Decodes every frame of a file or URL with ffprobe and counts them.
 *
 * @example Usage
 * ```ts ignore
 * const { videoFrames, errors } = await probe("/tmp/out.flv");
 * ```
 */
export async function probe(input: string): Promise<ProbeResult> {
  const out = await ffprobeJson(input, "stream=codec_type,nb_read_frames");
  const errors = out.stderr.split("\n").filter((l) => l.trim() !== "");
  if (out.json === undefined) {
    errors.push(`ffprobe printed no JSON: ${out.stdout.slice(0, 200)}`);
  }
  const streams = (out.json?.streams ?? []) as {
    codec_type: string;
    nb_read_frames?: string;
  }[];
  const count = (t: string) =>
    streams.filter((s) => s.codec_type === t).reduce(
      (n, s) => n + Number(s.nb_read_frames ?? 0),
      0,
    );
  if (out.code !== 0) errors.push(`ffprobe exited with ${out.code}`);
  return { videoFrames: count("video"), audioFrames: count("audio"), errors };
}

/** What {@linkcode ffprobeJson} got from ffprobe. */
export interface FfprobeOutput {
  /** Exit code. */
  code: number;
  /** The parsed JSON (undefined when stdout was not JSON). */
  // deno-lint-ignore no-explicit-any
  json?: Record<string, any>;
  /** Raw stdout. */
  stdout: string;
  /** ffprobe's error lines (`-v error`), as text. */
  stderr: string;
}

/**
 * Runs `ffprobe -v error [-count_frames] -show_entries ENTRIES -of json
 * INPUT` (frames are counted unless `countFrames` is false).
 *
 * @example Usage
 * ```ts ignore
 * const { json } = await ffprobeJson("/tmp/a.flv", "packet=pts_time,flags", { countFrames: false });
 * ```
 */
export async function ffprobeJson(
  input: string,
  entries: string,
  options: { countFrames?: boolean } = {},
): Promise<FfprobeOutput> {
  const out = await new Deno.Command("ffprobe", {
    args: [
      "-v",
      "error",
      ...(options.countFrames === false ? [] : ["-count_frames"]),
      "-show_entries",
      entries,
      "-of",
      "json",
      input,
    ],
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  const stdout = dec.decode(out.stdout);
  let json: FfprobeOutput["json"];
  try {
    json = JSON.parse(stdout);
  } catch {
    // reported as json: undefined
  }
  return { code: out.code, json, stdout, stderr: dec.decode(out.stderr) };
}

/**
 * Makes a test media file with ffmpeg: runs `ffmpeg -hide_banner -loglevel
 * error -nostdin -y ARGS OUT` and returns the file's bytes. `args` may be
 * one space-separated string.
 *
 * @example Usage
 * ```ts ignore
 * const flv = await makeMedia("-f lavfi -i testsrc2 -t 2 -c:v libx264 -f flv", "/tmp/a.flv");
 * ```
 *
 * @throws {Error} when ffmpeg exits with another code than 0 (with its stderr).
 */
export async function makeMedia(
  args: string | string[],
  out: string,
): Promise<Uint8Array> {
  const list = typeof args === "string" ? args.split(" ") : args;
  const made = await new Deno.Command("ffmpeg", {
    args: [
      "-hide_banner",
      "-loglevel",
      "error",
      "-nostdin",
      "-y",
      ...list,
      out,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (made.code !== 0) {
    throw new Error(
      `expected ffmpeg making ${out} to exit 0, received ${made.code}: ${
        new TextDecoder().decode(made.stderr)
      }`,
    );
  }
  return await Deno.readFile(out);
}

/**
 * ffmpeg arguments that decode `input` to its end, writing one `framecrc`
 * line per decoded frame to `out` (default stdout); count them with
 * {@linkcode countFramecrc}.
 */
export function framecrcArgs(input: string, out = "-"): string[] {
  return [
    "-hide_banner",
    "-v",
    "error",
    "-nostdin",
    "-i",
    input,
    "-f",
    "framecrc",
    out,
  ];
}

/** Frames per stream in ffmpeg `framecrc` output (stream 0 video, 1 audio). */
export function countFramecrc(text: string): { video: number; audio: number } {
  const lines = text.split("\n");
  return {
    video: lines.filter((l) => l.startsWith("0,")).length,
    audio: lines.filter((l) => l.startsWith("1,")).length,
  };
}
