/**
 * An HTTP-FLV test player for end-to-end tests, usable as a library
 * ({@linkcode readFlvToFile}) or as a program, typically run inside a network
 * namespace by the netns harness (the test process cannot reach namespace
 * addresses):
 *
 * ```sh
 * deno run -A tests/support/flv_reader.ts \
 *   --url http://127.0.0.1:7001/live/movie.flv --out /tmp/movie.flv --wait-ms 20000
 * ```
 *
 * It requests the URL again every `--retry-ms` (default 10) while the stream
 * is not there yet (404, connection refused), so it can be started before the
 * publish and connect as soon as the edge knows the stream; then it writes
 * the response body to `--out` until the server ends it (or SIGTERM).
 *
 * The program prints JSON lines on stdout: `{"event":"waiting"}` at once,
 * `{"event":"connected",...}` when the `200` response headers are in, and one
 * `{"event":"end",...}` ({@linkcode ReadFlvResult}) at the end. It exits 0
 * after `end` (also after SIGTERM), 1 when the stream never appeared or the
 * read failed, 2 on bad arguments.
 *
 * @module
 */
import { FlvDemuxer } from "../../lib/flv/mod.ts";
import { parseFlagPairs, runProgram } from "../../testkit/cli.ts";

/** Options for {@linkcode readFlvToFile}. */
export interface ReadFlvOptions {
  /** HTTP-FLV URL. */
  url: string;
  /** File the body is written to (created or truncated). */
  out: string;
  /** Give up when no `200` came within this many ms; default 20,000. */
  waitMs?: number;
  /** Delay between attempts while the stream is unknown; default 10 ms. */
  retryMs?: number;
  /** Called once the `200` response headers are in. */
  onConnected?: (info: { status: number; attempts: number }) => void;
  /** Aborting stops reading (result reason `"terminated"`). */
  signal?: AbortSignal;
}

/** What {@linkcode readFlvToFile} reports. */
export interface ReadFlvResult {
  /** Always `"end"` (JSON-lines event name). */
  event: "end";
  /** `"eof"`: the server ended the body; `"terminated"`: aborted; `"error"`. */
  reason: "eof" | "terminated" | "error";
  /** Body bytes written. */
  bytes: number;
  /** Complete FLV tags in the body. */
  tags: number;
  /** Requests made until the `200`. */
  attempts: number;
  /** What went wrong (reason `"error"`). */
  error?: string;
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
  const waitMs = opts.waitMs ?? 20_000;
  const retryMs = opts.retryMs ?? 10;
  const deadline = performance.now() + waitMs;
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  let attempts = 0;
  let bytes = 0;
  let tags = 0;
  const file = await Deno.open(opts.out, {
    write: true,
    create: true,
    truncate: true,
  });
  try {
    let res: Response | undefined;
    while (res === undefined) {
      if (controller.signal.aborted) {
        return { event: "end", reason: "terminated", bytes, tags, attempts };
      }
      attempts++;
      try {
        const r = await fetch(opts.url, { signal: controller.signal });
        if (r.status === 200 && r.body) {
          res = r;
          break;
        }
        await r.body?.cancel();
        if (r.status !== 404) {
          throw new Error(
            `expected 200 or 404 from ${opts.url}, received ${r.status}`,
          );
        }
      } catch (err) {
        if (controller.signal.aborted) continue;
        if (!(err instanceof TypeError)) throw err; // refused etc. are TypeErrors
      }
      if (performance.now() > deadline) {
        throw new Error(
          `expected ${opts.url} to answer 200 within ${waitMs} ms, received none after ${attempts} attempts`,
        );
      }
      await new Promise((r) => setTimeout(r, retryMs));
    }
    opts.onConnected?.({ status: res.status, attempts });
    const demuxer = new FlvDemuxer();
    try {
      for await (const chunk of res.body!) {
        bytes += chunk.length;
        tags += demuxer.push(chunk).length;
        let off = 0;
        while (off < chunk.length) off += await file.write(chunk.subarray(off));
      }
    } catch (err) {
      if (controller.signal.aborted) {
        return { event: "end", reason: "terminated", bytes, tags, attempts };
      }
      return {
        event: "end",
        reason: "error",
        bytes,
        tags,
        attempts,
        error: (err as Error).message,
      };
    }
    return { event: "end", reason: "eof", bytes, tags, attempts };
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    file.close();
  }
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
