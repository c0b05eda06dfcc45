/**
 * An HTTP-FLV reader for the bench: `fetch` + lib/flv's `FlvDemuxer`,
 * reporting each tag with the time its bytes were read; optionally saving
 * the raw body to a file (for ffprobe).
 *
 * @module
 */
import { FlvDemuxer, type FlvTag } from "../../lib/flv/mod.ts";

/** Options for {@linkcode FlvReader.open}. */
export interface FlvReaderOptions {
  /** Called for every tag with `performance.now()` of the read. */
  onTag: (tag: FlvTag, readAt: number) => void;
  /** Save the body to this file. */
  saveTo?: string;
  /** Give up connecting (404 / refused) after this long; default 15 s. */
  connectTimeoutMs?: number;
}

/** One HTTP-FLV player connection. */
export class FlvReader {
  #abort = new AbortController();
  #done: Promise<void> = Promise.resolve();
  #bytes = 0;
  #error?: string;
  #ended = false;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;

  private constructor() {}

  /** Bytes of body received. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Why reading stopped early, if it did. */
  get error(): string | undefined {
    return this.#error;
  }

  /** True once the body ended (or failed). */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Connects (retrying 404s and refused connections every 100 ms until
   * `connectTimeoutMs`), then reads in the background.
   */
  static async open(url: string, opts: FlvReaderOptions): Promise<FlvReader> {
    const r = new FlvReader();
    const end = performance.now() + (opts.connectTimeoutMs ?? 15_000);
    let res: Response | undefined;
    let last = "";
    while (performance.now() < end) {
      try {
        // Headers must come within 10 s (a stalled server fails the run).
        const headers = setTimeout(() => r.#abort.abort(), 10_000);
        try {
          res = await fetch(url, { signal: r.#abort.signal });
        } finally {
          clearTimeout(headers);
        }
        if (res.ok) break;
        last = `HTTP ${res.status}`;
        await res.body?.cancel();
        res = undefined;
      } catch (e) {
        last = (e as Error).message;
        if (r.#abort.signal.aborted) {
          throw new Error(
            `GET ${url}: expected response headers within 10 s, received none`,
          );
        }
      }
      await new Promise((ok) => setTimeout(ok, 100));
    }
    if (!res?.body) {
      throw new Error(`GET ${url}: expected 200 with a body, received ${last}`);
    }
    r.#done = r.#read(res.body, opts);
    return r;
  }

  async #read(body: ReadableStream<Uint8Array>, opts: FlvReaderOptions) {
    const demux = new FlvDemuxer();
    const file = opts.saveTo
      ? await Deno.open(opts.saveTo, {
        write: true,
        create: true,
        truncate: true,
      })
      : undefined;
    const reader = body.getReader();
    this.#reader = reader;
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        const t = performance.now();
        this.#bytes += value.length;
        if (file) await file.write(value);
        for (const tag of demux.push(value)) opts.onTag(tag, t);
      }
    } catch (e) {
      if (!this.#abort.signal.aborted) this.#error = (e as Error).message;
    } finally {
      this.#ended = true;
      file?.close();
      reader.releaseLock();
    }
  }

  /** Stops reading and waits for the reader to finish. */
  async close(): Promise<void> {
    this.#abort.abort();
    // Aborting the fetch does not always end a body read in progress.
    await this.#reader?.cancel().catch(() => {});
    await this.#done;
  }
}
