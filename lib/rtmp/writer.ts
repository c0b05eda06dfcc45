/**
 * Ordered, bounded write queue for one socket: callers enqueue synchronously,
 * one pump writes in order, coalescing small buffers.
 *
 * @module
 */
import { ChunkQueue } from "../bytes/mod.ts";

/** The write side of a connection. */
export interface ByteSink {
  /** Writes some bytes; returns how many were written. */
  write(p: Uint8Array): Promise<number>;
}

const COALESCE = 64 * 1024;

/** A FIFO of byte buffers written to a {@linkcode ByteSink} in order. */
export class WriteQueue {
  #sink: ByteSink;
  #onError: (err: unknown) => void;
  #queue = new ChunkQueue();
  /** Bytes of the chunk being written. */
  #unwritten = 0;
  #writing = false;
  #failed = false;
  #idle: (() => void)[] = [];

  /**
   * @param sink Where bytes go.
   * @param onError Called once when a write fails; the queue then drops
   *   everything.
   */
  constructor(sink: ByteSink, onError: (err: unknown) => void) {
    this.#sink = sink;
    this.#onError = onError;
  }

  /** Bytes queued and not yet written. */
  get bytes(): number {
    return this.#queue.bytes + this.#unwritten;
  }

  /** Appends `b`; writing starts at once if idle. */
  push(b: Uint8Array): void {
    if (this.#failed || b.length === 0) return;
    this.#queue.push(b);
    if (!this.#writing) this.#pump();
  }

  /** Resolves when everything queued so far is written (or writing failed). */
  drained(): Promise<void> {
    if (!this.#writing && this.bytes === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    try {
      // Counted until written: `bytes` is what the socket has not taken.
      let chunk: Uint8Array | undefined;
      while ((chunk = this.#queue.take(COALESCE)) !== undefined) {
        this.#unwritten = chunk.length;
        let off = 0;
        while (off < chunk.length) {
          off += await this.#sink.write(chunk.subarray(off));
        }
        this.#unwritten = 0;
      }
    } catch (err) {
      this.#failed = true;
      this.#queue.clear();
      this.#unwritten = 0;
      this.#onError(err);
    } finally {
      this.#writing = false;
      const waiters = this.#idle;
      this.#idle = [];
      for (const w of waiters) w();
    }
  }
}
