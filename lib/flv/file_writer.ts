/**
 * FLV recording to a file (I/O). Kept apart from the pure byte modules.
 *
 * @module
 */

import { encodeFlvHeader, fileTagBytes, type FlvTag } from "./tag.ts";

/** Options for {@linkcode FlvFileWriter.open}. */
export interface FlvFileWriterOptions {
  /** Directory to write into; created (recursively) if missing. */
  dir: string;
  /**
   * File name inside `dir`. Default: {@linkcode recordFileName} of `key`
   * (or `"stream"`) and the current time.
   */
  fileName?: string;
  /** Stream key used for the default file name (e.g. `live/movie`). */
  key?: string;
  /** FLV header TypeFlagsAudio (default true). */
  audio?: boolean;
  /** FLV header TypeFlagsVideo (default true). */
  video?: boolean;
  /**
   * Most bytes accepted but not yet on disk (default 64 MiB). A `write`
   * beyond it rejects with an error and fails the writer, rather than
   * queueing without bound when the disk cannot keep up.
   */
  maxPendingBytes?: number;
  /**
   * Called once when the writer fails (disk error, too many pending bytes),
   * for callers that do not await each `write`.
   */
  onError?: (error: Error) => void;
}

/** Options for {@linkcode FlvFileWriter.create}. */
export type FlvFileWriterCreateOptions = Pick<
  FlvFileWriterOptions,
  "audio" | "video" | "maxPendingBytes" | "onError"
>;

/**
 * A safe file name for a recording of stream `key` started at `date`:
 * characters other than `[A-Za-z0-9._-]` become `_`, then `-` and an ISO-8601
 * UTC time without colons, e.g. `live_movie-20240102T030405Z.flv`.
 */
export function recordFileName(key: string, date: Date = new Date()): string {
  const safe = key.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_") ||
    "stream";
  const iso = date.toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
  return `${safe}-${iso}.flv`;
}

function rejected(e: unknown): Promise<never> {
  const p = Promise.reject(e);
  p.catch(() => {}); // fire-and-forget callers must not crash the process
  return p;
}

function checkMaxPending(v: number | undefined): number {
  const max = v ?? 64 * 1024 * 1024;
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(
      `FlvFileWriter maxPendingBytes: expected a positive integer, got ${max}`,
    );
  }
  return max;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    off += await file.write(bytes.subarray(off));
  }
}

/**
 * Writes an FLV file: the 13-byte header at open, then each tag with its
 * PreviousTagSize as a single buffer in a single write (in call order), so a
 * process killed mid-stream leaves a file that ends on a tag boundary (or at
 * worst one partial tag that players ignore) and plays.
 *
 * `write` may be called without awaiting (its promise never causes an
 * unhandled rejection); writes are serialized internally and bounded by
 * `maxPendingBytes`. After any error the writer is failed, `error` is set,
 * `onError` is called once, and every later `write` rejects with that error.
 *
 * Two ways to open: `await FlvFileWriter.open({ dir, key })` (creates the
 * directory, names the file) or `FlvFileWriter.create(path)` (synchronous,
 * exact path, parent directory must exist).
 */
export class FlvFileWriter {
  #file: Deno.FsFile;
  #path: string;
  #chain: Promise<void> = Promise.resolve();
  #pending = 0;
  #maxPending: number;
  #bytes = 0;
  #tags = 0;
  #error: Error | undefined;
  #closed = false;
  #onError: ((error: Error) => void) | undefined;

  private constructor(
    file: Deno.FsFile,
    path: string,
    opts: FlvFileWriterCreateOptions,
  ) {
    this.#file = file;
    this.#path = path;
    this.#maxPending = checkMaxPending(opts.maxPendingBytes);
    this.#onError = opts.onError;
  }

  /**
   * Synchronously creates the file at exactly `path` (failing if it exists
   * or its directory is missing) and writes the FLV header. Throws an Error
   * naming the path.
   */
  static create(
    path: string,
    opts: FlvFileWriterCreateOptions = {},
  ): FlvFileWriter {
    checkMaxPending(opts.maxPendingBytes);
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { write: true, createNew: true });
    } catch (e) {
      throw new Error(
        `FlvFileWriter: cannot create ${path}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const w = new FlvFileWriter(file, path, opts);
    try {
      const header = encodeFlvHeader({ audio: opts.audio, video: opts.video });
      let off = 0;
      while (off < header.length) {
        off += file.writeSync(header.subarray(off));
      }
      w.#bytes = header.length;
    } catch (e) {
      file.close();
      throw new Error(
        `FlvFileWriter: cannot write ${path}: ${(e as Error).message}`,
        { cause: e },
      );
    }
    return w;
  }

  /**
   * Creates `dir` if needed, creates the file (failing if it exists) and
   * writes the FLV header. Rejects with the OS error naming the path.
   */
  static async open(opts: FlvFileWriterOptions): Promise<FlvFileWriter> {
    checkMaxPending(opts.maxPendingBytes);
    const name = opts.fileName ?? recordFileName(opts.key ?? "stream");
    if (name.includes("/") || name === "" || name === "." || name === "..") {
      throw new RangeError(
        `FlvFileWriter fileName: expected a plain file name, got "${name}"`,
      );
    }
    await Deno.mkdir(opts.dir, { recursive: true });
    const path = `${opts.dir.replace(/\/+$/, "") || "/"}/${name}`;
    // The header is 13 bytes: one synchronous write is as good as any.
    return FlvFileWriter.create(path, opts);
  }

  /** Full path of the file. */
  get path(): string {
    return this.#path;
  }
  /** Bytes written to the file so far (header included). */
  get bytesWritten(): number {
    return this.#bytes;
  }
  /** Tags written to the file so far. */
  get tagsWritten(): number {
    return this.#tags;
  }
  /** Bytes accepted by `write` but not yet written. */
  get pendingBytes(): number {
    return this.#pending;
  }
  /** The error that failed the writer, if any. */
  get error(): Error | undefined {
    return this.#error;
  }
  /** True once `close` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Appends `tag` (+ PreviousTagSize) with one write. Resolves when it is on
   * its way to disk (written to the OS). Rejects if the writer is closed or
   * failed, the tag is invalid, or too many bytes are pending.
   */
  write(tag: FlvTag): Promise<void> {
    if (this.#error) return rejected(this.#error);
    if (this.#closed) {
      return rejected(
        new Error(`FlvFileWriter: write after close (${this.#path})`),
      );
    }
    let bytes: Uint8Array;
    try {
      bytes = fileTagBytes(tag);
    } catch (e) {
      return rejected(e);
    }
    if (this.#pending + bytes.length > this.#maxPending) {
      return rejected(this.#fail(
        new Error(
          `FlvFileWriter: disk too slow for ${this.#path}: expected at most ${this.#maxPending} pending bytes, got ${
            this.#pending + bytes.length
          }`,
        ),
      ));
    }
    this.#pending += bytes.length;
    const next = this.#chain.then(async () => {
      if (this.#error) throw this.#error;
      try {
        await writeAll(this.#file, bytes);
        this.#bytes += bytes.length;
        this.#tags++;
      } catch (e) {
        throw this.#fail(
          new Error(
            `FlvFileWriter: write to ${this.#path} failed: ${
              (e as Error).message
            }`,
            { cause: e },
          ),
        );
      } finally {
        this.#pending -= bytes.length;
      }
    });
    // Marks `next` handled, so not awaiting it cannot crash the process.
    this.#chain = next.catch(() => {});
    return next;
  }

  #fail(e: Error): Error {
    if (this.#error) return this.#error;
    this.#error = e;
    try {
      this.#onError?.(e);
    } catch {
      // a throwing callback must not break the writer's bookkeeping
    }
    return e;
  }

  /**
   * Waits for pending writes, then closes the file. Idempotent; never
   * rejects (a pending write's error is reported by that write's promise).
   */
  async close(): Promise<void> {
    if (this.#closed) {
      await this.#chain;
      return;
    }
    this.#closed = true;
    await this.#chain;
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }
}
