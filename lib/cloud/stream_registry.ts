/**
 * The cloud's streams by key and by SSRC: the live ones, and the ended
 * ones whose RTP caches still answer repairs for a while (bounded), so an
 * edge can mend the end of a stream after its BYE.
 *
 * @module
 */
import { randomSsrc } from "../rtp/mod.ts";
import type { CloudStream } from "./cloud_stream.ts";

/** Settings of a {@linkcode StreamRegistry}. */
export interface StreamRegistryOptions {
  /** How long an ended stream's cache answers repairs (ms). Default 30 s. */
  retireMs?: number;
  /** Ended streams kept at most (the oldest goes first). Default 64. */
  maxRetired?: number;
}

/** Live and recently ended streams; time comes in as `now` (ms). */
export class StreamRegistry {
  #live = new Map<string, CloudStream>();
  #bySsrc = new Map<number, CloudStream>();
  #retired = new Map<number, { stream: CloudStream; until: number }>();
  #retireMs: number;
  #maxRetired: number;

  /** Holds no stream yet. */
  constructor(options: StreamRegistryOptions = {}) {
    this.#retireMs = options.retireMs ?? 30_000;
    this.#maxRetired = options.maxRetired ?? 64;
  }

  /** Live streams by key. */
  get live(): ReadonlyMap<string, CloudStream> {
    return this.#live;
  }

  /**
   * A random SSRC no live or retired stream uses (media or FEC parity),
   * other than `not`.
   */
  freshSsrc(not?: number): number {
    for (;;) {
      const s = randomSsrc();
      if (s === not || this.knows(s)) continue;
      if (![...this.#live.values()].some((x) => x.fecSsrc === s)) return s;
    }
  }

  /** Whether a live or retired stream has `ssrc`. */
  knows(ssrc: number): boolean {
    return this.#bySsrc.has(ssrc) || this.#retired.has(ssrc);
  }

  /** The live stream of `ssrc`. */
  bySsrc(ssrc: number): CloudStream | undefined {
    return this.#bySsrc.get(ssrc);
  }

  /** Registers a new live stream (its key and SSRC must be free). */
  add(stream: CloudStream): void {
    this.#live.set(stream.key, stream);
    this.#bySsrc.set(stream.ssrc, stream);
  }

  /**
   * Moves `stream` from live to retired; false (and nothing changes) when
   * it is not the live stream of its key.
   */
  retire(stream: CloudStream, now: number): boolean {
    if (this.#live.get(stream.key) !== stream) return false;
    this.#live.delete(stream.key);
    this.#bySsrc.delete(stream.ssrc);
    // Only the RTP cache is needed after the end (the hub stream's GOP is
    // freed when it ends); the count is bounded.
    if (this.#retired.size >= this.#maxRetired) {
      this.#retired.delete(this.#retired.keys().next().value!);
    }
    this.#retired.set(stream.ssrc, { stream, until: now + this.#retireMs });
    return true;
  }

  /** Forgets the retired streams whose time is over. */
  expire(now: number): void {
    for (const [ssrc, r] of this.#retired) {
      if (r.until < now) this.#retired.delete(ssrc);
    }
  }

  /** Packet `seq` of `ssrc` from a live or retired cache (counted). */
  lookup(ssrc: number, seq: number): Uint8Array | undefined {
    const stream = this.#bySsrc.get(ssrc) ?? this.#retired.get(ssrc)?.stream;
    const packet = stream?.cache.get(seq);
    if (packet) stream!.retransmissions++;
    return packet;
  }
}
