/**
 * Recording as a hub subscriber, the one implementation both roles use: every
 * stream the {@linkcode StreamHub} opens is written to its own FLV file in
 * `dir` (named by {@linkcode recordFileName}, `-1`, `-2`… on a clash), from
 * its first tag to its end. The file is opened with
 * {@linkcode FlvFileWriter.open}; tags that arrive while it opens wait in a
 * bounded list. A failing disk stops that one recording, logged once.
 *
 * @module
 */
import { FlvFileWriter, type FlvTag, recordFileName } from "../flv/mod.ts";
import { type Logger, nullLogger } from "../log/mod.ts";
import type { HubStream, StreamHub } from "./stream_hub.ts";

/** Options for {@linkcode HubRecorder}. */
export interface HubRecorderOptions {
  /** The hub whose streams are recorded. */
  hub: StreamHub;
  /** Directory of the recordings (created if missing). */
  dir: string;
  /** Logger for recording events and errors. */
  logger?: Logger;
  /** Most bytes that may wait for the disk, per recording. Default 64 MiB. */
  maxPendingBytes?: number;
}

/** One stream being recorded. */
interface Recording {
  key: string;
  path: string | undefined;
  writer: FlvFileWriter | undefined;
  /** Tags that arrived while the file was being opened. */
  early: FlvTag[] | undefined;
  earlyBytes: number;
  stopped: boolean;
  unsubscribe(): void;
}

/** Attempts at a free file name before giving up. */
const MAX_NAME_TRIES = 20;

/**
 * Records every stream of a hub.
 *
 * @example Usage
 * ```ts ignore
 * const hub = new StreamHub();
 * const recorder = new HubRecorder({ hub, dir: "./record" });
 * const s = hub.open("live/movie"); // → ./record/live_movie-<time>.flv
 * s.push(tag);
 * s.end("bye");
 * await recorder.close();
 * ```
 */
export class HubRecorder {
  #dir: string;
  #log: Logger;
  #maxPending: number;
  #live = new Map<string, Recording>();
  #closing = new Set<Promise<void>>();
  #closed = false;

  /** Starts following `options.hub`: every stream opened from now on is
   * recorded. */
  constructor(options: HubRecorderOptions) {
    this.#dir = options.dir.replace(/\/+$/, "") || "/";
    this.#log = options.logger ?? nullLogger;
    this.#maxPending = options.maxPendingBytes ?? 64 * 1024 * 1024;
    options.hub.onOpen((stream) => this.#start(stream));
  }

  /** The file a live stream is being recorded to, or null. */
  pathOf(key: string): string | null {
    return this.#live.get(key)?.path ?? null;
  }

  /** Resolves when every recording that has ended is closed on disk. */
  async flushed(): Promise<void> {
    while (this.#closing.size > 0) {
      await Promise.allSettled([...this.#closing]);
    }
  }

  /** Stops recording new streams, ends the live recordings, waits for the
   * files to be closed. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const rec of [...this.#live.values()]) this.#stop(rec);
    await this.flushed();
  }

  #start(stream: HubStream): void {
    if (this.#closed) return;
    const rec: Recording = {
      key: stream.key,
      path: undefined,
      writer: undefined,
      early: [],
      earlyBytes: 0,
      stopped: false,
      unsubscribe: () => {},
    };
    const sub = stream.subscribe({
      onTag: (tag) => this.#write(rec, tag),
      onEnd: () => this.#stop(rec),
    });
    rec.unsubscribe = sub.unsubscribe;
    this.#live.set(rec.key, rec);
    for (const tag of sub.startTags) this.#write(rec, tag);
    const opening = this.#open(rec).finally(() =>
      this.#closing.delete(opening)
    );
    this.#closing.add(opening);
  }

  async #open(rec: Recording): Promise<void> {
    const base = recordFileName(rec.key).replace(/\.flv$/, "");
    let writer: FlvFileWriter | undefined;
    for (let i = 0; writer === undefined; i++) {
      try {
        writer = await FlvFileWriter.open({
          dir: this.#dir,
          fileName: `${base}${i ? `-${i}` : ""}.flv`,
          maxPendingBytes: this.#maxPending,
          onError: (err) => {
            this.#log.error("recording failed; stopped", {
              key: rec.key,
              path: rec.path,
              error: err,
            });
            this.#stop(rec);
          },
        });
      } catch (err) {
        const exists = (err as Error).cause instanceof
          Deno.errors.AlreadyExists;
        if (!exists || i + 1 >= MAX_NAME_TRIES) {
          this.#log.error("cannot record stream", {
            key: rec.key,
            dir: this.#dir,
            error: err,
          });
          this.#stop(rec);
          return;
        }
      }
    }
    rec.writer = writer;
    rec.path = writer.path;
    this.#log.info("recording", { key: rec.key, path: writer.path });
    const early = rec.early ?? [];
    rec.early = undefined;
    for (const tag of early) writer.write(tag).catch(() => {});
    if (rec.stopped) this.#closeWriter(rec);
  }

  #write(rec: Recording, tag: FlvTag): void {
    if (rec.writer) {
      // Errors reach onError once; the rejected promise is handled there.
      rec.writer.write(tag).catch(() => {});
      return;
    }
    if (rec.early === undefined) return;
    rec.earlyBytes += 15 + tag.data.length;
    if (rec.earlyBytes > this.#maxPending) {
      this.#log.error("recording stopped: the file did not open in time", {
        key: rec.key,
        pendingBytes: rec.earlyBytes,
      });
      rec.early = [];
      this.#stop(rec);
      return;
    }
    rec.early.push(tag);
  }

  #stop(rec: Recording): void {
    if (rec.stopped) return;
    rec.stopped = true;
    rec.unsubscribe();
    if (this.#live.get(rec.key) === rec) this.#live.delete(rec.key);
    // Still opening: #open writes the early tags, then closes the file.
    if (rec.writer) this.#closeWriter(rec);
  }

  #closeWriter(rec: Recording): void {
    const writer = rec.writer!;
    const closing: Promise<void> = writer.close().finally(() =>
      this.#closing.delete(closing)
    );
    this.#closing.add(closing);
  }
}
