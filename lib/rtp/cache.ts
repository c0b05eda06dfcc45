/**
 * One stream's RTP retransmission cache (SPEC §6), pure data.
 *
 * @module
 */

/** Options for {@linkcode RtpCache}. */
export interface RtpCacheOptions {
  /** Most packets kept: an integer in 1..65536 (`rtp_cache_size`). */
  maxPackets: number;
  /** Most bytes kept (sum of packet lengths); default unlimited. */
  maxBytes?: number;
}

/** Largest `maxPackets`: one packet per 16-bit sequence number. */
export const MAX_RTP_CACHE_PACKETS = 65536;

/**
 * The last packets of one stream, by 16-bit sequence number.
 *
 * - A FIFO ring of `maxPackets` slots (insertion order) plus a 65536-entry
 *   index from sequence number to slot: put, get and eviction are O(1).
 * - Bounded by `maxPackets` AND `maxBytes`: the oldest packets are evicted
 *   first until the new one fits.
 * - Wrap-around safe: a slot is found only through the index entry of its
 *   exact sequence number, and an evicted packet's index entry is cleared,
 *   so `get` never returns a stale packet whose sequence number aliases a
 *   newer one. Putting a sequence number again replaces the old packet.
 * - Stores and returns the exact `Uint8Array` given (no copy): callers must
 *   not mutate a packet after `put`.
 */
export class RtpCache {
  #cap: number;
  #maxBytes: number;
  #ring: (Uint8Array | undefined)[];
  #ringSeq: Int32Array;
  #index = new Int32Array(65536).fill(-1);
  #head = 0; // oldest slot
  #used = 0; // occupied slots, including holes left by replaced packets
  #size = 0;
  #bytes = 0;
  #evicted = 0;

  /** Throws RangeError on a bad bound. */
  constructor(opts: RtpCacheOptions) {
    const { maxPackets } = opts;
    if (
      !Number.isInteger(maxPackets) || maxPackets < 1 ||
      maxPackets > MAX_RTP_CACHE_PACKETS
    ) {
      throw new RangeError(
        `RtpCache maxPackets: expected an integer in 1..${MAX_RTP_CACHE_PACKETS}, got ${maxPackets}`,
      );
    }
    const maxBytes = opts.maxBytes ?? Infinity;
    if (!(maxBytes >= 1)) {
      throw new RangeError(
        `RtpCache maxBytes: expected a number >= 1, got ${maxBytes}`,
      );
    }
    this.#cap = maxPackets;
    this.#maxBytes = maxBytes;
    this.#ring = new Array(maxPackets).fill(undefined);
    this.#ringSeq = new Int32Array(maxPackets);
  }

  /** Packets currently cached. */
  get size(): number {
    return this.#size;
  }
  /** Bytes currently cached (sum of packet lengths). */
  get bytes(): number {
    return this.#bytes;
  }
  /** The `maxPackets` bound. */
  get maxPackets(): number {
    return this.#cap;
  }
  /** The `maxBytes` bound (Infinity when unlimited). */
  get maxBytes(): number {
    return this.#maxBytes;
  }
  /** Packets evicted by the bounds so far. */
  get evicted(): number {
    return this.#evicted;
  }

  /**
   * Caches `packet` under `sequence` (0..65535), evicting the oldest packets
   * as needed. Returns false (and caches nothing) when the packet alone is
   * larger than `maxBytes`. Throws RangeError on a bad sequence number.
   */
  put(sequence: number, packet: Uint8Array): boolean {
    if (!Number.isInteger(sequence) || sequence < 0 || sequence > 0xffff) {
      throw new RangeError(
        `RtpCache sequence: expected an integer in 0..65535, got ${sequence}`,
      );
    }
    const len = packet.length;
    if (len > this.#maxBytes) return false;
    const old = this.#index[sequence];
    if (old >= 0) {
      // Same sequence again (retransmit or wrap): leave a hole.
      this.#bytes -= this.#ring[old]!.length;
      this.#ring[old] = undefined;
      this.#index[sequence] = -1;
      this.#size--;
    }
    while (
      this.#used === this.#cap ||
      (this.#bytes + len > this.#maxBytes && this.#used > 0)
    ) {
      this.#evictOldest();
    }
    const slot = (this.#head + this.#used) % this.#cap;
    this.#ring[slot] = packet;
    this.#ringSeq[slot] = sequence;
    this.#index[sequence] = slot;
    this.#used++;
    this.#size++;
    this.#bytes += len;
    return true;
  }

  /** The exact bytes cached under `sequence`, or undefined. */
  get(sequence: number): Uint8Array | undefined {
    if (!Number.isInteger(sequence) || sequence < 0 || sequence > 0xffff) {
      return undefined;
    }
    const slot = this.#index[sequence];
    return slot >= 0 ? this.#ring[slot] : undefined;
  }

  /** True when `sequence` is cached. */
  has(sequence: number): boolean {
    return this.get(sequence) !== undefined;
  }

  /** Drops everything. */
  clear(): void {
    this.#ring.fill(undefined);
    this.#index.fill(-1);
    this.#head = 0;
    this.#used = 0;
    this.#size = 0;
    this.#bytes = 0;
  }

  #evictOldest(): void {
    const slot = this.#head;
    const p = this.#ring[slot];
    if (p !== undefined) {
      this.#ring[slot] = undefined;
      const seq = this.#ringSeq[slot];
      if (this.#index[seq] === slot) this.#index[seq] = -1;
      this.#bytes -= p.length;
      this.#size--;
      this.#evicted++;
    }
    this.#head = (slot + 1) % this.#cap;
    this.#used--;
  }
}
