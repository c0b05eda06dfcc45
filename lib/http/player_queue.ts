/**
 * A bounded byte queue between a stream's fan-out (synchronous pushes) and one
 * player's socket (asynchronous pulls). Overflow fails the queue instead of
 * growing it: a player that cannot keep up is cut off, never slows the others.
 *
 * @module
 */

/** Options for {@linkcode PlayerQueue}. */
export interface PlayerQueueOptions {
  /** Most bytes queued before the player counts as too slow. */
  maxBytes: number;
  /** Largest chunk {@linkcode PlayerQueue.next} returns (small chunks queued
   * together are joined up to this size). Default 256 KiB. */
  maxChunk?: number;
}

/**
 * Bounded FIFO of byte chunks with an async consumer.
 *
 * @example Usage
 * ```ts
 * import { PlayerQueue } from "./player_queue.ts";
 * const q = new PlayerQueue({ maxBytes: 1024 });
 * q.push(new Uint8Array([1, 2]));
 * q.close();
 * await q.next(); // Uint8Array [1, 2]
 * await q.next(); // null: closed and drained
 * ```
 */
export class PlayerQueue {
  #chunks: Uint8Array[] = [];
  #head = 0;
  #bytes = 0;
  #max: number;
  #maxChunk: number;
  #closed = false;
  #failed: Error | undefined;
  #wake: (() => void) | undefined;

  /** Creates an empty queue. */
  constructor(options: PlayerQueueOptions) {
    if (!(options.maxBytes > 0)) {
      throw new RangeError(
        `PlayerQueue maxBytes: expected a positive number, got ${options.maxBytes}`,
      );
    }
    this.#max = options.maxBytes;
    this.#maxChunk = options.maxChunk ?? 256 * 1024;
  }

  /** Bytes waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether the queue was closed or failed. */
  get done(): boolean {
    return this.#closed || this.#failed !== undefined;
  }

  /**
   * Appends a chunk (kept by reference). Returns false — and fails the queue —
   * when this would exceed `maxBytes`, unless `force` (used for the start-up
   * burst, which a player always gets whole). No-op after close/fail.
   */
  push(chunk: Uint8Array, force = false): boolean {
    if (this.done) return false;
    if (!force && this.#bytes + chunk.length > this.#max) {
      this.fail(
        new Error(`player too slow: more than ${this.#max} bytes queued`),
      );
      return false;
    }
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    this.#notify();
    return true;
  }

  /** No more data: {@linkcode next} drains what is queued, then gives null. */
  close(): void {
    this.#closed = true;
    this.#notify();
  }

  /** Aborts: queued data is discarded and {@linkcode next} rejects. */
  fail(error: Error): void {
    if (this.#failed) return;
    this.#failed = error;
    this.#chunks = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#notify();
  }

  /** The next bytes to send (several queued chunks joined), or null once
   * closed and drained. Rejects after {@linkcode fail}. One consumer only. */
  async next(): Promise<Uint8Array | null> {
    while (true) {
      if (this.#failed) throw this.#failed;
      if (this.#head < this.#chunks.length) return this.#take();
      if (this.#closed) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #take(): Uint8Array {
    const first = this.#chunks[this.#head];
    let n = 1;
    let size = first.length;
    while (
      this.#head + n < this.#chunks.length &&
      size + this.#chunks[this.#head + n].length <= this.#maxChunk
    ) {
      size += this.#chunks[this.#head + n].length;
      n++;
    }
    let out = first;
    if (n > 1) {
      out = new Uint8Array(size);
      let off = 0;
      for (let i = 0; i < n; i++) {
        const c = this.#chunks[this.#head + i];
        out.set(c, off);
        off += c.length;
      }
    }
    for (let i = 0; i < n; i++) this.#chunks[this.#head + i] = EMPTY;
    this.#head += n;
    this.#bytes -= size;
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
    return out;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

const EMPTY = new Uint8Array(0);
