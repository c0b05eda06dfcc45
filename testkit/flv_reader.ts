/**
 * The one HTTP-FLV player of tests and the bench: `fetch` + lib/flv's
 * `FlvDemuxer`. It requests the URL again every `retryMs` while the stream is
 * not there yet (404, connection refused), so it can be started before the
 * publish; then it reads the body in the background, reporting each tag with
 * the time its bytes were read ({@linkcode FlvReader}) and optionally saving
 * the raw body to a file ({@linkcode readFlvToFile}, for ffprobe).
 *
 * It is also a program, typically run inside a network namespace by the
 * netns harness (the test process cannot reach namespace addresses):
 *
 * ```sh
 * deno run -A testkit/flv_reader.ts \
 *   --url http://127.0.0.1:7001/live/movie.flv --out /tmp/movie.flv --wait-ms 20000
 * ```
 *
 * The program prints JSON lines on stdout: `{"event":"waiting"}` at once,
 * `{"event":"connected",...}` when the `200` response headers are in, and one
 * `{"event":"end",...}` ({@linkcode ReadFlvResult}) at the end. It exits 0
 * after `end` (also after SIGTERM), 1 when the stream never appeared or the
 * read failed, 2 on bad arguments.
 *
 * @module
 */
import { FlvDemuxer, type FlvTag } from "../lib/flv/mod.ts";
import { parseFlagPairs, runProgram } from "./cli.ts";

/** Options for {@linkcode FlvReader.open}. */
export interface FlvReaderOptions {
  /** Called for every tag with `performance.now()` of the read. */
  onTag?: (tag: FlvTag, readAt: number) => void;
  /** Save the body to this file (created or truncated before connecting). */
  saveTo?: string;
  /** Give up when no `200` came within this many ms; default 20,000. */
  waitMs?: number;
  /** Delay between attempts while the stream is unknown; default 10 ms. */
  retryMs?: number;
  /** Aborting stops reading (result reason `"terminated"`). */
  signal?: AbortSignal;
}

/** How a read ended ({@linkcode FlvReader.done}). */
export interface ReadFlvResult {
  /** Always `"end"` (JSON-lines event name). */
  event: "end";
  /** `"eof"`: the server ended the body; `"terminated"`: aborted; `"error"`. */
  reason: "eof" | "terminated" | "error";
  /** Body bytes received. */
  bytes: number;
  /** Complete FLV tags in the body. */
  tags: number;
  /** Requests made until the `200`. */
  attempts: number;
  /** What went wrong (reason `"error"`). */
  error?: string;
}

/** One HTTP-FLV player connection. */
export class FlvReader {
  #abort = new AbortController();
  #done!: Promise<ReadFlvResult>;
  #result?: ReadFlvResult;
  #bytes = 0;
  #tags = 0;
  #attempts = 0;
  #connected = false;
  #file?: Deno.FsFile;
  #reader?: ReadableStreamDefaultReader<Uint8Array>;

  private constructor() {}

  /** Requests made until the `200` once it came; undefined before. */
  get connectedAfter(): number | undefined {
    return this.#connected ? this.#attempts : undefined;
  }

  /** How the read ended (its `error`, if it failed); undefined while reading. */
  get result(): ReadFlvResult | undefined {
    return this.#result;
  }

  /** Resolves when reading stopped, with how it ended. */
  wait(): Promise<ReadFlvResult> {
    return this.#done;
  }

  /**
   * Connects (retrying 404s and refused connections every `retryMs` until
   * `waitMs`), then reads in the background.
   *
   * @throws {Error} when no `200` arrived within `waitMs`, or on a status
   * other than 200 and 404.
   */
  static async open(
    url: string,
    opts: FlvReaderOptions = {},
  ): Promise<FlvReader> {
    const r = new FlvReader();
    const onAbort = () => r.#abort.abort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (opts.saveTo) {
        r.#file = await Deno.open(opts.saveTo, {
          write: true,
          create: true,
          truncate: true,
        });
      }
      const res = await r.#connect(url, opts);
      r.#done = r.#read(res, opts).finally(() => {
        opts.signal?.removeEventListener("abort", onAbort);
        r.#file?.close();
      });
      return r;
    } catch (e) {
      opts.signal?.removeEventListener("abort", onAbort);
      r.#file?.close();
      throw e;
    }
  }

  async #connect(
    url: string,
    opts: FlvReaderOptions,
  ): Promise<Response | undefined> {
    const waitMs = opts.waitMs ?? 20_000;
    const deadline = performance.now() + waitMs;
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      this.#attempts++;
      // The deadline also bounds a server that never sends its headers.
      const late = AbortSignal.timeout(
        Math.max(1, deadline - performance.now()),
      );
      try {
        const res = await fetch(url, {
          signal: AbortSignal.any([signal, late]),
        });
        if (res.status === 200 && res.body) {
          this.#connected = true;
          return res;
        }
        await res.body?.cancel();
        if (res.status !== 404) {
          throw new Error(
            `expected 200 or 404 from ${url}, received ${res.status}`,
          );
        }
      } catch (err) {
        if (signal.aborted) break;
        // refused etc. are TypeErrors
        if (!(err instanceof TypeError) && !late.aborted) throw err;
      }
      if (performance.now() > deadline) {
        throw new Error(
          `expected ${url} to answer 200 within ${waitMs} ms, received none after ${this.#attempts} attempts`,
        );
      }
      await new Promise((r) => setTimeout(r, opts.retryMs ?? 10));
    }
    return undefined;
  }

  async #read(
    res: Response | undefined,
    opts: FlvReaderOptions,
  ): Promise<ReadFlvResult> {
    const end = (reason: ReadFlvResult["reason"], error?: string) =>
      this.#result = {
        event: "end",
        reason,
        bytes: this.#bytes,
        tags: this.#tags,
        attempts: this.#attempts,
        ...(error === undefined ? {} : { error }),
      };
    if (!res) return end("terminated");
    const demuxer = new FlvDemuxer();
    const reader = res.body!.getReader();
    this.#reader = reader;
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        const t = performance.now();
        this.#bytes += value.length;
        const tags = demuxer.push(value);
        this.#tags += tags.length;
        if (this.#file) {
          let off = 0;
          while (off < value.length) {
            off += await this.#file.write(value.subarray(off));
          }
        }
        if (opts.onTag) { for (const tag of tags) opts.onTag(tag, t); }
      }
    } catch (err) {
      if (this.#abort.signal.aborted) return end("terminated");
      return end("error", (err as Error).message);
    } finally {
      reader.releaseLock();
    }
    return end(this.#abort.signal.aborted ? "terminated" : "eof");
  }

  /** Stops reading and waits for the reader to finish. */
  async close(): Promise<ReadFlvResult> {
    this.#abort.abort();
    // Aborting the fetch does not always end a body read in progress.
    await this.#reader?.cancel().catch(() => {});
    return await this.#done;
  }
}

/** Options for {@linkcode readFlvToFile}. */
export interface ReadFlvOptions
  extends Omit<FlvReaderOptions, "saveTo" | "onTag"> {
  /** HTTP-FLV URL. */
  url: string;
  /** File the body is written to (created or truncated). */
  out: string;
  /** Called once the `200` response headers are in. */
  onConnected?: (info: { status: number; attempts: number }) => void;
}

/**
 * Fetches `url` (retrying 404 and refused connections) and writes the body to
 * `out` until it ends.
 *
 * @throws {Error} when no `200` arrived within `waitMs`, or on another status.
 */
export async function readFlvToFile(
  opts: ReadFlvOptions,
): Promise<ReadFlvResult> {
  const { url, out, onConnected, ...rest } = opts;
  const reader = await FlvReader.open(url, { ...rest, saveTo: out });
  const attempts = reader.connectedAfter;
  if (attempts !== undefined) onConnected?.({ status: 200, attempts });
  return await reader.wait();
}

/**
 * Parses the program's arguments:
 * `--url URL --out FILE [--wait-ms MS] [--retry-ms MS]`.
 *
 * @throws {TypeError} naming the bad or missing argument.
 */
export function parseReaderArgs(args: string[]): ReadFlvOptions {
  const flags = parseFlagPairs(args);
  const take = flags.take;
  const num = (name: string) => {
    const raw = take(name);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n) || n < 0) {
      throw new TypeError(
        `--${name}: expected a number >= 0, received "${raw}"`,
      );
    }
    return n;
  };
  const url = take("url");
  const out = take("out");
  if (url === undefined) throw new TypeError("missing required --url URL");
  if (out === undefined) throw new TypeError("missing required --out FILE");
  const opts = { url, out, waitMs: num("wait-ms"), retryMs: num("retry-ms") };
  flags.rejectUnknown();
  return opts;
}

/**
 * Runs the reader program with `args`, writing JSON lines to stdout.
 *
 * @returns the exit code (0 ok, 1 error, 2 bad arguments).
 */
export function runReader(args: string[]): Promise<number> {
  return runProgram(args, {
    name: "flv_reader",
    parse: parseReaderArgs,
    async body(opts, { print, signal }) {
      print({ event: "waiting", url: opts.url });
      const result = await readFlvToFile({
        ...opts,
        signal,
        onConnected: (info) => print({ event: "connected", ...info }),
      });
      print(result);
      return result.reason === "error" ? 1 : 0;
    },
  });
}

if (import.meta.main) {
  Deno.exit(await runReader(Deno.args));
}
