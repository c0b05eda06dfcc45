/**
 * A bounded byte queue between a stream's fan-out (synchronous pushes) and one
 * player's socket (asynchronous pulls). Overflow fails the queue instead of
 * growing it: a player that cannot keep up is cut off, never slows the others.
 *
 * @module
 */
import { ChunkQueue } from "../bytes/mod.ts";

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
  #queue = new ChunkQueue();
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
    return this.#queue.bytes;
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
    if (!force && this.#queue.bytes + chunk.length > this.#max) {
      this.fail(
        new Error(`player too slow: more than ${this.#max} bytes queued`),
      );
      return false;
    }
    this.#queue.push(chunk);
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
    this.#queue.clear();
    this.#notify();
  }

  /** The next bytes to send (several queued chunks joined), or null once
   * closed and drained. Rejects after {@linkcode fail}. One consumer only. */
  async next(): Promise<Uint8Array | null> {
    while (true) {
      if (this.#failed) throw this.#failed;
      const chunk = this.#queue.take(this.#maxChunk);
      if (chunk) return chunk;
      if (this.#closed) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
