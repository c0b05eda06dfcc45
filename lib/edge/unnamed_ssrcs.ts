/**
 * The SSRCs an edge has no stream for: packets of an SSRC that no RTCP SDES
 * has named yet are held (bounded per SSRC and in SSRC count) until it is
 * named or times out; an SSRC that said BYE is retired for a while, so its
 * late packets do not start it again. Pure: every call takes `now`.
 *
 * @module
 */
import type { RtpPacket } from "../rtp/mod.ts";

/** Options for {@linkcode UnnamedSsrcs}. */
export interface UnnamedSsrcsOptions {
  /** Packets held per SSRC (oldest dropped first). Default 512. */
  maxPackets?: number;
  /** SSRCs held at once (the one held longest is dropped). Default 16. */
  maxSsrcs?: number;
  /** Held packets older than this are dropped (ms). */
  timeoutMs: number;
  /** How long a retired SSRC is ignored (ms). Default 10 000. */
  retireMs?: number;
  /** Most SSRCs retired at once (a peer may BYE any SSRC). Default 4096. */
  maxRetired?: number;
}

/** Packets of one SSRC waiting for its name, with their datagram sizes. */
export interface HeldPackets {
  /** The packets, in arrival order. */
  packets: RtpPacket[];
  /** Each packet's datagram size (bytes). */
  sizes: number[];
  /** When the first one arrived. */
  firstAt: number;
}

/**
 * Held and retired SSRCs.
 *
 * @example Usage
 * ```ts ignore
 * const unnamed = new UnnamedSsrcs({ timeoutMs: 5000 });
 * unnamed.hold(packet, datagram.length, now);
 * const held = unnamed.take(ssrc); // when SDES names it
 * ```
 */
export class UnnamedSsrcs {
  #held = new Map<number, HeldPackets>();
  #retired = new Map<number, number>();
  #maxPackets: number;
  #maxSsrcs: number;
  #timeout: number;
  #retireMs: number;
  #maxRetired: number;
  /** Held packets discarded (overflow, eviction, timeout, BYE). */
  dropped = 0;

  /** Creates empty tables. */
  constructor(options: UnnamedSsrcsOptions) {
    this.#maxPackets = options.maxPackets ?? 512;
    this.#maxSsrcs = options.maxSsrcs ?? 16;
    this.#timeout = options.timeoutMs;
    this.#retireMs = options.retireMs ?? 10_000;
    this.#maxRetired = options.maxRetired ?? 4096;
  }

  /** SSRCs with packets held now. */
  get heldSsrcs(): number {
    return this.#held.size;
  }

  /** Whether `ssrc` said BYE recently. */
  isRetired(ssrc: number): boolean {
    return this.#retired.has(ssrc);
  }

  /** Holds a packet of an unnamed SSRC; returns true when it was the first
   * of its SSRC (a new timeout to watch). */
  hold(packet: RtpPacket, size: number, now: number): boolean {
    let held = this.#held.get(packet.ssrc);
    const first = held === undefined;
    if (!held) {
      if (this.#held.size >= this.#maxSsrcs) {
        const [oldest, h] = this.#held.entries().next().value!;
        this.#held.delete(oldest);
        this.dropped += h.packets.length;
      }
      held = { packets: [], sizes: [], firstAt: now };
      this.#held.set(packet.ssrc, held);
    }
    held.packets.push(packet);
    held.sizes.push(size);
    if (held.packets.length > this.#maxPackets) {
      held.packets.shift();
      held.sizes.shift();
      this.dropped++;
    }
    return first;
  }

  /** Hands over (and forgets) what is held for `ssrc`. */
  take(ssrc: number): HeldPackets | undefined {
    const held = this.#held.get(ssrc);
    this.#held.delete(ssrc);
    return held;
  }

  /** `ssrc` said BYE: drop what is held, ignore it for `retireMs`. Returns
   * when that ends. */
  retire(ssrc: number, now: number): number {
    const held = this.#held.get(ssrc);
    if (held) {
      this.#held.delete(ssrc);
      this.dropped += held.packets.length;
    }
    this.#retired.delete(ssrc);
    if (this.#retired.size >= this.#maxRetired) {
      this.#retired.delete(this.#retired.keys().next().value!);
    }
    const until = now + this.#retireMs;
    this.#retired.set(ssrc, until);
    return until;
  }

  /** Drops held packets past the timeout and forgets expired retirements. */
  expire(now: number): void {
    for (const [ssrc, h] of this.#held) {
      if (now - h.firstAt >= this.#timeout) {
        this.#held.delete(ssrc);
        this.dropped += h.packets.length;
      }
    }
    for (const [ssrc, until] of this.#retired) {
      if (now < until) break; // in time order
      this.#retired.delete(ssrc);
    }
  }

  /** Forgets everything held (retirements stay). */
  clear(): void {
    for (const h of this.#held.values()) this.dropped += h.packets.length;
    this.#held.clear();
  }

  /** When {@linkcode expire} has something to do, or Infinity. */
  nextEventAt(): number {
    let next = Infinity;
    for (const h of this.#held.values()) {
      next = Math.min(next, h.firstAt + this.#timeout);
    }
    const retired = this.#retired.values().next();
    if (!retired.done) next = Math.min(next, retired.value);
    return next;
  }
}
