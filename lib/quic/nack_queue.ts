/**
 * Sequence numbers waiting to be NACKed, per SSRC: requests made in the same
 * tick are coalesced and sent as one Generic NACK (PID+BLP) per SSRC, in
 * order, at most 4,096 sequence numbers a message.
 *
 * @module
 */
import { encodeNack, orderSeqs } from "../rtcp/mod.ts";
import { keyOf } from "./pending_packets.ts";

/** Most sequence numbers put in one NACK message. */
export const SEQS_PER_NACK = 4096;

/**
 * The queue.
 *
 * @example Usage
 * ```ts
 * import { NackQueue } from "./nack_queue.ts";
 * const q = new NackQueue(16_384, () => true);
 * q.add(0x1234, [7, 8, 9]);
 * const msgs = q.drain(1, () => {}); // one NACK message
 * ```
 */
export class NackQueue {
  #toSend = new Map<number, Set<number>>();
  #count = 0;
  #max: number;
  #wanted: (key: number) => boolean;

  /**
   * @param maxOutstanding Past twice this many queued, sequence numbers
   *   nobody waits for any more are dropped.
   * @param wanted Whether someone still waits for a key ({@linkcode keyOf}).
   */
  constructor(maxOutstanding: number, wanted: (key: number) => boolean) {
    this.#max = maxOutstanding;
    this.#wanted = wanted;
  }

  /** Whether anything is queued. */
  get empty(): boolean {
    return this.#toSend.size === 0;
  }

  /** Queues `seqs` of `ssrc`. */
  add(ssrc: number, seqs: readonly number[]): void {
    let set = this.#toSend.get(ssrc);
    if (!set) this.#toSend.set(ssrc, set = new Set());
    for (const s of seqs) set.add(s);
    this.#count += seqs.length;
    if (this.#count > 2 * this.#max) this.#prune();
  }

  /** Replaces the queue with every key given (e.g. all still waiting). */
  reset(keys: Iterable<number>): void {
    this.clear();
    for (const key of keys) this.add(Math.floor(key / 0x10000), [key & 0xffff]);
  }

  /** Empties the queue. */
  clear(): void {
    this.#toSend.clear();
    this.#count = 0;
  }

  /**
   * Empties the queue into NACK messages, leaving out what nobody waits for.
   *
   * @param senderSsrc The NACKs' packet sender SSRC.
   * @param asked Told which sequence numbers of which SSRC go out.
   */
  drain(
    senderSsrc: number,
    asked: (ssrc: number, seqs: number[]) => void,
  ): Uint8Array[] {
    const msgs: Uint8Array[] = [];
    for (const [ssrc, set] of this.#toSend) {
      const seqs = orderSeqs(
        [...set].filter((s) => this.#wanted(keyOf(ssrc, s))),
      );
      asked(ssrc, seqs);
      for (let i = 0; i < seqs.length; i += SEQS_PER_NACK) {
        msgs.push(
          encodeNack(senderSsrc, ssrc, seqs.slice(i, i + SEQS_PER_NACK)),
        );
      }
    }
    this.clear();
    return msgs;
  }

  #prune(): void {
    let n = 0;
    for (const [ssrc, set] of this.#toSend) {
      for (const s of set) if (!this.#wanted(keyOf(ssrc, s))) set.delete(s);
      if (set.size === 0) this.#toSend.delete(ssrc);
      n += set.size;
    }
    this.#count = n;
  }
}
