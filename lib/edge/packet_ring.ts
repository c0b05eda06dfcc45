/**
 * The slots of the edge's {@linkcode JitterBuffer}: the packets held, by
 * sequence number modulo the window (a power of two), with their payload
 * bytes, and what became of each sequence number that left (delivered or
 * given up), so a late copy is told from a duplicate. Pure data structure.
 *
 * @module
 */
import type { RtpPacket } from "../rtp/mod.ts";

/**
 * The ring size for a window of `maxPackets` (2..16384): the power of two
 * at or above it.
 *
 * @throws {RangeError} outside 2..16384.
 */
export function ringSize(maxPackets: number): number {
  if (!(maxPackets >= 2 && maxPackets <= 16384)) {
    throw new RangeError(
      `maxPackets must be in 2..16384, received ${maxPackets}`,
    );
  }
  return 2 ** Math.ceil(Math.log2(maxPackets));
}

const DELIVERED = 1;
const GIVEN_UP = 2;

/**
 * A ring of `size` packet slots (a power of two).
 *
 * @example Usage
 * ```ts ignore
 * const ring = new PacketRing(2048);
 * ring.put(7, packet);
 * ring.take(7); // the packet; 7 is now "delivered"
 * ring.wasDelivered(7); // true
 * ```
 */
export class PacketRing {
  #mask: number;
  #slots: (RtpPacket | undefined)[];
  #slotSeq: Int32Array;
  #hist: Uint8Array;
  #histSeq: Int32Array;
  /** Packets held. */
  count = 0;
  /** Payload bytes held. */
  bytes = 0;

  /** An empty ring; `size` must be a power of two. */
  constructor(size: number) {
    this.#mask = size - 1;
    this.#slots = new Array(size).fill(undefined);
    this.#slotSeq = new Int32Array(size).fill(-1);
    this.#hist = new Uint8Array(size);
    this.#histSeq = new Int32Array(size).fill(-1);
  }

  /** The packet held for `seq`, if any. */
  get(seq: number): RtpPacket | undefined {
    const slot = seq & this.#mask;
    return this.#slotSeq[slot] === seq ? this.#slots[slot] : undefined;
  }

  /** Holds `packet` as `seq` (the caller checked the slot is free). */
  put(seq: number, packet: RtpPacket): void {
    const slot = seq & this.#mask;
    this.#slots[slot] = packet;
    this.#slotSeq[slot] = seq;
    this.bytes += packet.payload.length;
    this.count++;
  }

  /** `seq` leaves: returns its packet (then it counts as delivered) or
   * undefined (given up). */
  take(seq: number): RtpPacket | undefined {
    const slot = seq & this.#mask;
    let p: RtpPacket | undefined;
    if (this.#slotSeq[slot] === seq) {
      p = this.#slots[slot];
      this.#slots[slot] = undefined;
      this.#slotSeq[slot] = -1;
    }
    if (p) {
      this.bytes -= p.payload.length;
      this.count--;
    }
    this.#hist[slot] = p ? DELIVERED : GIVEN_UP;
    this.#histSeq[slot] = seq;
    return p;
  }

  /** Whether `seq` left the ring delivered (a copy now is a duplicate). */
  wasDelivered(seq: number): boolean {
    const slot = seq & this.#mask;
    return this.#histSeq[slot] === seq && this.#hist[slot] === DELIVERED;
  }

  /** Forgets every packet and what became of them. */
  clear(): void {
    this.#slots.fill(undefined);
    this.#slotSeq.fill(-1);
    this.#hist.fill(0);
    this.#histSeq.fill(-1);
    this.count = 0;
    this.bytes = 0;
  }
}
