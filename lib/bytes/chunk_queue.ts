/**
 * A FIFO of byte chunks with a running byte count: the storage of every
 * bounded queue between a producer and a socket (an RTMP connection's write
 * queue, an HTTP player's queue, the cloud's RTP send queue). Chunks are kept
 * by reference; {@linkcode ChunkQueue.take} joins small ones (one copy) so a
 * socket gets few large writes. The bound and what happens past it are the
 * owner's. O(1) push and take (a head index, compacted now and then).
 *
 * @module
 */

const EMPTY = new Uint8Array(0);

/**
 * Chunks in arrival order.
 *
 * @example Usage
 * ```ts
 * import { ChunkQueue } from "./chunk_queue.ts";
 * const q = new ChunkQueue();
 * q.push(new Uint8Array([1, 2]));
 * q.push(new Uint8Array([3]));
 * q.bytes; // 3
 * q.take(1024); // Uint8Array [1, 2, 3]: joined
 * ```
 */
export class ChunkQueue {
  #chunks: Uint8Array[] = [];
  #head = 0;
  #bytes = 0;

  /** Bytes queued. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Chunks queued. */
  get length(): number {
    return this.#chunks.length - this.#head;
  }

  /** Appends a chunk (by reference). */
  push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
  }

  /**
   * Removes the first chunk and as many following ones as fit in `maxBytes`
   * with it, joined into one array (the first chunk alone is returned as is,
   * even when larger). Undefined when empty.
   */
  take(maxBytes: number): Uint8Array | undefined {
    if (this.#head >= this.#chunks.length) return undefined;
    const first = this.#chunks[this.#head];
    let n = 1;
    let size = first.length;
    while (
      this.#head + n < this.#chunks.length &&
      size + this.#chunks[this.#head + n].length <= maxBytes
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
    this.#drop(n, size);
    return out;
  }

  /** Removes and returns up to `max` chunks, unjoined. */
  takeMany(max: number): Uint8Array[] {
    const end = Math.min(this.#chunks.length, this.#head + max);
    const out = this.#chunks.slice(this.#head, end);
    let size = 0;
    for (const c of out) size += c.length;
    this.#drop(out.length, size);
    return out;
  }

  /** Forgets everything. */
  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#bytes = 0;
  }

  #drop(n: number, size: number): void {
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
  }
}
