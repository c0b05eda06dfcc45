/**
 * Ordered, bounded write queue for one socket: callers enqueue synchronously,
 * one pump writes in order, coalescing small buffers.
 *
 * @module
 */

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
  #items: Uint8Array[] = [];
  #head = 0;
  #bytes = 0;
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
    return this.#bytes;
  }

  /** Appends `b`; writing starts at once if idle. */
  push(b: Uint8Array): void {
    if (this.#failed || b.length === 0) return;
    this.#items.push(b);
    this.#bytes += b.length;
    if (!this.#writing) this.#pump();
  }

  /** Resolves when everything queued so far is written (or writing failed). */
  drained(): Promise<void> {
    if (!this.#writing && this.#bytes === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  #take(): Uint8Array {
    const first = this.#items[this.#head];
    let n = first.length;
    let end = this.#head + 1;
    while (
      end < this.#items.length && n + this.#items[end].length <= COALESCE
    ) {
      n += this.#items[end].length;
      end++;
    }
    let out: Uint8Array;
    if (end === this.#head + 1) {
      out = first;
    } else {
      out = new Uint8Array(n);
      let p = 0;
      for (let i = this.#head; i < end; i++) {
        out.set(this.#items[i], p);
        p += this.#items[i].length;
      }
    }
    for (let i = this.#head; i < end; i++) {
      this.#items[i] = undefined as unknown as Uint8Array;
    }
    this.#head = end;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return out;
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#head < this.#items.length) {
        const chunk = this.#take();
        let off = 0;
        while (off < chunk.length) {
          off += await this.#sink.write(chunk.subarray(off));
        }
        this.#bytes -= chunk.length;
      }
    } catch (err) {
      this.#failed = true;
      this.#items = [];
      this.#head = 0;
      this.#bytes = 0;
      this.#onError(err);
    } finally {
      this.#writing = false;
      const waiters = this.#idle;
      this.#idle = [];
      for (const w of waiters) w();
    }
  }
}
