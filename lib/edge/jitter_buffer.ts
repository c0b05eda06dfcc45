/**
 * The edge's per-stream reorder and repair buffer (SPEC §5): RTP packets of
 * one stream go in (in any order, with duplicates and gaps), complete FLV tags
 * come out in order. Pure logic: no timers, no sockets — every call takes the
 * current time `now` (milliseconds, any monotonic clock).
 *
 * A tag is the packets after one M=1 packet up to and including the next M=1
 * packet. Gaps are detected by sequence number (wrap-safe); a missing packet is
 * reported by {@linkcode JitterBuffer.nacks} once it has been missing longer
 * than a small reorder grace, then again every retry interval while its
 * deadline (`latencyMs` after the gap was seen) has not passed. At the deadline
 * the tag that needed it is dropped whole, and video output resumes at the
 * next keyframe (audio and script at the next complete tag), so a player never
 * gets a broken GOP.
 *
 * @module
 */
import {
  type FlvTag,
  isKeyframe,
  isSequenceHeader,
  TAG_AUDIO,
  TAG_SCRIPT,
  TAG_VIDEO,
} from "../flv/mod.ts";
import {
  assembleTag,
  looksLikeTagStart,
  type RtpPacket,
  seqDiff,
} from "../rtp/mod.ts";
import { MissingPackets } from "./missing_packets.ts";
import { PacketRing, ringSize } from "./packet_ring.ts";
import { ParityTiming } from "./parity_timing.ts";
import {
  emptyJitterStats,
  type JitterBufferOptions,
  type JitterStats,
  type PacketSource,
} from "./jitter_types.ts";

type SyncState = "unknown" | "start" | "discard";

const RECENT_SSRCS = 4;

/**
 * Reorder buffer with a latency budget for one stream.
 *
 * The buffer keeps a reference to each pushed packet (and its payload) until
 * the packet's tag is released: callers that receive into a reused buffer must
 * copy the datagram before parsing it.
 *
 * @example Usage
 * ```ts ignore
 * const jb = new JitterBuffer({ latencyMs: 200 });
 * for (const tag of jb.push(parseRtp(datagram.slice()), performance.now())) send(tag);
 * // every few milliseconds:
 * const lost = jb.nacks(performance.now()); // ask the cloud for these
 * for (const tag of jb.poll(performance.now())) send(tag);
 * ```
 */
export class JitterBuffer {
  #grace: number;
  #rtt: number;
  #rttSampled = false;
  #size: number;
  #maxBytes: number;
  #maxDropout: number;

  #ring: PacketRing;
  #missing: MissingPackets;

  #ssrc: number | undefined;
  #oldSsrcs: number[] = [];
  #started = false;
  #advancedAny = false;
  #startAt = 0;
  #afterGap = true;
  #head = 0;
  #high = 0;
  #sync: SyncState = "unknown";
  #needKeyframe = true;
  #candidate: RtpPacket | undefined;
  #anchor: number | undefined;
  /** The anchor is the sender's first packet, known exactly ({@linkcode
   * JitterBuffer.startAt}): Sender Reports do not move it. */
  #anchorKnown = false;
  /** The first sequence number received since the start (or a resync). */
  #firstSeq = 0;
  #probeStart = 0;
  /** Latest `now` of a drain: deadlines up to it are applied. */
  #drainedAt = -Infinity;
  #fecHold = new ParityTiming();

  #stats: JitterStats = emptyJitterStats();

  /** Creates an empty buffer; the first packet pushed sets the SSRC. */
  constructor(options: JitterBufferOptions = {}) {
    const latency = options.latencyMs ?? 200;
    if (!(latency >= 0)) {
      throw new RangeError(
        `latencyMs must be >= 0, received ${options.latencyMs}`,
      );
    }
    this.#grace = options.reorderGraceMs ?? Math.min(20, latency / 10);
    this.#rtt = options.initialRttMs ?? 30;
    this.#missing = new MissingPackets({
      latencyMs: latency,
      graceMs: this.#grace,
      minRetryMs: options.minRetryMs ?? 20,
      maxNacks: options.maxNacksPerPacket ?? 8,
    });
    this.#size = ringSize(options.maxPackets ?? 2048);
    this.#maxBytes = options.maxBytes ?? 8 * 1024 * 1024;
    this.#maxDropout = Math.max(options.maxDropout ?? 3000, this.#size);
    this.#ring = new PacketRing(this.#size);
  }

  /** Counters (a live object; copy it to snapshot). */
  get stats(): Readonly<JitterStats> {
    return this.#stats;
  }

  /** The SSRC currently accepted, once a packet has been pushed. */
  get ssrc(): number | undefined {
    return this.#ssrc;
  }

  /** Packets held in the buffer. */
  get bufferedPackets(): number {
    return this.#ring.count;
  }

  /** Payload bytes held in the buffer. */
  get bufferedBytes(): number {
    return this.#ring.bytes;
  }

  /** Sequence numbers currently missing (waiting for repair). */
  get pending(): number {
    return this.#missing.size;
  }

  /** The reorder + repair budget in force (ms). */
  get latencyMs(): number {
    return this.#missing.latencyMs;
  }

  /** Changes the budget (e.g. as the measured round trip changes); gaps
   * already waiting get the new deadline too. */
  set latencyMs(ms: number) {
    if (!(ms >= 0)) {
      throw new RangeError(`latencyMs must be >= 0, received ${ms}`);
    }
    this.#missing.latencyMs = ms;
  }

  /** Current round-trip estimate in milliseconds. */
  get rttMs(): number {
    return this.#rtt;
  }

  /** Feeds one round-trip sample (request → retransmitted packet). */
  updateRtt(sampleMs: number): void {
    if (!(sampleMs >= 0) || !Number.isFinite(sampleMs)) return;
    // RFC 6298: the first measurement replaces the initial guess.
    if (!this.#rttSampled) this.#rtt = sampleMs;
    else this.#rtt += (sampleMs - this.#rtt) / 8;
    this.#rttSampled = true;
  }

  /**
   * Adds one packet; returns the tags it completed, in order. A packet of a
   * new SSRC (republish) discards the old stream's state first.
   */
  push(packet: RtpPacket, now: number, source: PacketSource = "udp"): FlvTag[] {
    if (this.#ssrc === undefined) {
      this.#ssrc = packet.ssrc;
    } else if (packet.ssrc !== this.#ssrc) {
      if (this.#oldSsrcs.includes(packet.ssrc) || source === "rtx") {
        this.#stats.late++;
        return [];
      }
      this.#oldSsrcs.push(this.#ssrc);
      if (this.#oldSsrcs.length > RECENT_SSRCS) this.#oldSsrcs.shift();
      this.#resync();
      this.#ssrc = packet.ssrc;
    }
    const seq = packet.sequence & 0xffff;
    if (!this.#started) {
      this.#started = true;
      this.#startAt = now;
      this.#firstSeq = seq;
      this.#head = seq;
      this.#high = (seq - 1) & 0xffff;
      // A fresh stream: the packets just before the first one received may
      // have been lost; ask for a few (the server says which never existed).
      const k = Math.min(this.#probeStart, this.#size - 1);
      this.#probeStart = 0;
      for (let i = k; i >= 1; i--) {
        this.#missing.add((seq - i) & 0xffff, now, true);
      }
      this.#head = (seq - k) & 0xffff;
    }
    const d = seqDiff(seq, this.#head);
    if (d < 0) {
      if (!this.#advancedAny && -d + this.#count() <= this.#size) {
        // Nothing has left the buffer yet: an earlier packet extends the window
        // backwards (reordering at the very start of reception).
        for (
          let s = (seq + 1) & 0xffff;
          s !== this.#head;
          s = (s + 1) & 0xffff
        ) {
          this.#missing.add(s, now);
        }
        this.#head = seq;
        this.#sync = "unknown";
        return this.#store(packet, seq, now, source);
      }
      if (-d > this.#size) return this.#probation(packet, now, source);
      if (this.#ring.wasDelivered(seq)) {
        this.#stats.duplicates++;
      } else {
        this.#stats.late++;
      }
      return [];
    }
    if (d >= this.#size) {
      if (d >= this.#maxDropout) return this.#probation(packet, now, source);
      while (seqDiff(seq, this.#head) >= this.#size) this.#forceOne();
    }
    this.#candidate = undefined;
    if (this.#ring.get(seq) !== undefined) {
      this.#stats.duplicates++;
      return [];
    }
    return this.#store(packet, seq, now, source);
  }

  /**
   * The server said these packets are gone (RTCP APP `NAVL`): stop waiting for
   * them now. Returns the tags this releases.
   */
  markUnavailable(seqs: Iterable<number>, now: number): FlvTag[] {
    for (const seq of seqs) this.#missing.markUnavailable(seq & 0xffff);
    return this.#drain(now);
  }

  /**
   * Sequence numbers to request from the retransmission server now: gaps
   * older than the reorder grace not yet requested, and earlier requests due
   * for a retry (spaced by the RTT estimate) whose deadline can still be met.
   * Each returned number counts as one NACK.
   */
  nacks(now: number): number[] {
    return this.#missing.due(now, this.#rtt, this.#stats);
  }

  /**
   * A FEC parity packet of this stream arrived for the block `base` ..
   * `base + count - 1` (after whatever it rebuilt was pushed). From now on a
   * gap's first NACK waits until its block's parity has arrived or could
   * have (the block's remaining packets at the measured spacing plus the
   * reorder grace, at most a quarter of the budget); the packets of this
   * block still missing now are ones parity cannot rebuild: NACKed at once.
   */
  parityArrived(base: number, count: number): void {
    this.#fecHold.parity(base, count);
    for (let i = 0; i < count; i++) this.#missing.release((base + i) & 0xffff);
  }

  /**
   * A Sender Report of this stream said the sender has sent `packetCount`
   * packets. Loss at the tail (the last packets before a pause or the end of
   * the stream, which no later packet reveals) is detected here: the count
   * anchors the sender's first sequence number (taking the highest anchor
   * seen, since tail loss only makes it look lower), and any packet up to
   * anchor + count - 1 not received becomes missing (and is NACKed).
   * Returns the tags this releases (none, normally).
   */
  senderReport(ssrc: number, packetCount: number, now: number): FlvTag[] {
    if (!this.#started || packetCount <= 0) return [];
    if (ssrc !== (this.#ssrc ?? ssrc)) return [];
    if (!this.#anchorKnown && !this.#guessAnchor(packetCount, now)) return [];
    const expected = (this.#anchor! + packetCount - 1) & 0xffff;
    const d = seqDiff(expected, this.#high);
    if (d <= 0 || seqDiff(expected, this.#head) >= this.#size) return [];
    for (let i = 1; i <= d; i++) {
      this.#missing.add((this.#high + i) & 0xffff, now);
    }
    this.#high = expected;
    return this.#drain(now);
  }

  /** The anchor from a report's count when the start is not known exactly;
   * false when the report is not believed. */
  #guessAnchor(packetCount: number, now: number): boolean {
    const anchor = (this.#high - ((packetCount - 1) & 0xffff)) & 0xffff;
    // The sender's first packet cannot come after the first one received:
    // such a report (a count too small for what arrived) is not believed,
    // so it can never move the anchor — and with it the expected tail —
    // ahead of the packets actually received.
    if (seqDiff(anchor, this.#firstSeq) > 0) {
      this.#stats.reportsIgnored++;
      return false;
    }
    if (this.#anchor === undefined || seqDiff(anchor, this.#anchor) > 0) {
      this.#anchor = anchor;
    }
    // Before anything left the buffer, packets sent before the first one
    // received are still wanted: the start of the stream was lost.
    const back = seqDiff(this.#head, this.#anchor);
    if (
      !this.#advancedAny && back > 0 && back + this.#count() < this.#size &&
      packetCount <= this.#size
    ) {
      for (let s = this.#anchor; s !== this.#head; s = (s + 1) & 0xffff) {
        if (!this.#missing.has(s)) this.#missing.add(s, now);
      }
      this.#head = this.#anchor;
      this.#sync = "unknown";
      this.#afterGap = true;
    }
    return true;
  }

  /**
   * The stream has just begun (its Sender Report counted 0 packets): before
   * releasing anything, the `count` sequence numbers just before the first
   * packet received are asked for at once, so a start lost on the way is
   * repaired too; the server's "unavailable" for the ones that never existed
   * ends the wait (or the latency budget does). Call before the first packet.
   */
  expectStreamStart(count = 16): void {
    if (!this.#started) this.#probeStart = count;
  }

  /**
   * Where the stream starts, known exactly (from the cloud's `KEYS` answer):
   * `seq` is the first packet wanted — nothing before it is (an earlier
   * packet counts as late) — and a tag begins there unless `tagStart` is
   * false; `firstSeq` (default `seq`) is the sender's first packet, which
   * anchors every Sender Report's count. Packets from `seq` up to the first
   * one received are missing (NACKed, and counted if never repaired). Call
   * before the first packet; later calls change nothing.
   */
  startAt(
    seq: number,
    now: number,
    opts: { firstSeq?: number; tagStart?: boolean } = {},
  ): void {
    if (this.#started) return;
    seq &= 0xffff;
    this.#started = true;
    // As if everything before `seq` had left: no guess extends it back.
    this.#advancedAny = true;
    this.#startAt = now;
    this.#firstSeq = seq;
    this.#head = seq;
    this.#high = (seq - 1) & 0xffff;
    this.#anchor = (opts.firstSeq ?? seq) & 0xffff;
    this.#anchorKnown = true;
    this.#probeStart = 0;
    this.#afterGap = true;
    this.#sync = opts.tagStart === false ? "unknown" : "start";
  }

  /** Moves every waiting gap's deadline `ms` later: the process was not
   * scheduled for that long (a loaded machine), so no answer could arrive. */
  postpone(ms: number): void {
    this.#missing.postpone(ms);
  }

  /** Applies deadlines; returns tags released by giving up on lost packets. */
  poll(now: number): FlvTag[] {
    return this.#drain(now);
  }

  /**
   * The earliest time at which {@linkcode poll} or {@linkcode nacks} has
   * something to do, or `undefined` when it only waits for packets: what an
   * event-driven shell arms its timer with. Deadlines already applied (by a
   * call at a later `now`) and NACKs that can no longer arrive in time are
   * not events, so a shell that calls `poll` then `nacks` at the returned
   * time never spins.
   */
  nextEventAt(): number | undefined {
    let next = this.#missing.nextEventAt(this.#drainedAt, this.#rtt);
    if (this.#started && !this.#advancedAny && this.#count() > 0) {
      const t = this.#startAt + this.#grace;
      if (t > this.#drainedAt && t < next) next = t;
    }
    return next === Infinity ? undefined : next;
  }

  /** Forgets everything buffered (counters are kept); the next packet starts
   * a new sequence space, and video waits for a keyframe again. */
  reset(): void {
    this.#resync(false);
  }

  #count(): number {
    return this.#started ? seqDiff(this.#high, this.#head) + 1 : 0;
  }

  #store(
    packet: RtpPacket,
    seq: number,
    now: number,
    source: PacketSource,
  ): FlvTag[] {
    this.#ring.put(seq, packet);
    if (source === "rtx") this.#stats.recovered++;
    else this.#stats.received++;
    if (this.#missing.delete(seq) !== undefined) {
      if (source === "udp") this.#stats.reordered++;
    } else if (seqDiff(seq, this.#high) > 0) {
      for (let s = (this.#high + 1) & 0xffff; s !== seq; s = (s + 1) & 0xffff) {
        const hold = this.#fecHold.holdUntil(
          s,
          seq,
          now,
          this.#grace,
          this.#missing.latencyMs,
        );
        this.#missing.add(s, now, false, hold);
      }
      this.#high = seq;
    }
    if (source === "udp") this.#fecHold.arrived(seq, now);
    while (this.#ring.bytes > this.#maxBytes && this.#count() > 0) {
      this.#forceOne();
    }
    return this.#drain(now);
  }

  /** A packet far from the window: believed only if the next one follows. */
  #probation(packet: RtpPacket, now: number, source: PacketSource): FlvTag[] {
    const c = this.#candidate;
    if (
      source === "udp" && c !== undefined &&
      ((c.sequence + 1) & 0xffff) === (packet.sequence & 0xffff)
    ) {
      this.#candidate = undefined;
      this.#resync();
      const out = this.push(c, now, "udp");
      return out.concat(this.push(packet, now, "udp"));
    }
    this.#stats.outOfWindow++;
    if (source === "udp") this.#candidate = packet;
    return [];
  }

  /** Drops all buffered state for a new sequence space (counted). */
  #resync(count = true): void {
    if (count) this.#stats.resyncs++;
    if (this.#sync === "start" && this.#ring.count > 0) {
      this.#stats.tagsDropped++;
    }
    this.#ring.clear();
    this.#missing.clear();
    this.#fecHold.reset();
    this.#started = false;
    this.#advancedAny = false;
    this.#afterGap = true;
    this.#sync = "unknown";
    this.#needKeyframe = true;
    this.#candidate = undefined;
    this.#anchor = undefined;
    this.#anchorKnown = false;
    this.#probeStart = 0;
  }

  /** Moves the head by one sequence number, recording what happened to it. */
  #advance(): RtpPacket | undefined {
    const seq = this.#head;
    const p = this.#ring.take(seq);
    this.#afterGap = p === undefined;
    if (!p && this.#missing.delete(seq) === "miss") {
      this.#stats.unrecoverable++;
    }
    this.#head = (seq + 1) & 0xffff;
    this.#advancedAny = true;
    // Forced past everything received: the window is empty at the new head.
    if (seqDiff(this.#high, this.#head) < -1) {
      this.#high = (this.#head - 1) & 0xffff;
    }
    return p;
  }

  #enterDiscard(head: RtpPacket | undefined): void {
    this.#stats.tagsDropped++;
    const type = head && head.payload.length > 0 ? head.payload[0] & 0x1f : 0;
    if (type !== TAG_AUDIO && type !== TAG_SCRIPT) this.#needKeyframe = true;
    this.#sync = "discard";
    // The head belongs to the broken tag: it must not be taken for the start
    // of the next one.
    this.#afterGap = false;
  }

  /** Gives up on whatever blocks the head (window or byte cap overflow). */
  #forceOne(): void {
    if (this.#sync === "start") this.#enterDiscard(this.#ring.get(this.#head));
    const p = this.#advance();
    if (p?.marker) this.#sync = "start";
  }

  #drain(now: number): FlvTag[] {
    if (now > this.#drainedAt) this.#drainedAt = now;
    const out: FlvTag[] = [];
    // Hold the very first packets for the reorder grace, so an earlier packet
    // arriving just after them still counts as the start.
    if (!this.#advancedAny && now < this.#startAt + this.#grace) return out;
    // Each pass advances the head or changes state; the bound is a safety net
    // so that no input can ever spin the event loop.
    for (
      let pass = 0;
      this.#count() > 0 && pass < 4 * this.#size + 16;
      pass++
    ) {
      const head = this.#ring.get(this.#head);
      if (this.#sync === "start") {
        const n = this.#count();
        let k = 0;
        let blocked = -1;
        let complete = false;
        for (let s = this.#head; k < n; s = (s + 1) & 0xffff, k++) {
          const q = this.#ring.get(s);
          if (q === undefined) {
            blocked = s;
            break;
          }
          if (q.marker) {
            complete = true;
            break;
          }
        }
        if (complete) {
          this.#emit(k + 1, out);
          continue;
        }
        if (blocked >= 0 && this.#missing.expired(blocked, now)) {
          this.#enterDiscard(head);
          continue;
        }
        break;
      }
      // "unknown" (joining mid-stream) or "discard" (inside a broken tag).
      if (head === undefined) {
        if (!this.#missing.expired(this.#head, now)) break;
        this.#advance();
        continue;
      }
      // Tags are contiguous: only after a hole (or at the very start) can a
      // packet begin a tag without an M=1 packet right before it. A wrong
      // guess is caught by the exact size check in #emit.
      if (
        this.#afterGap && looksLikeTagStart(head.payload, head.marker)
      ) {
        this.#sync = "start";
        continue;
      }
      this.#advance();
      if (head.marker) this.#sync = "start";
    }
    return out;
  }

  /** Releases the `n` packets at the head as one tag (or drops it if bad). */
  #emit(n: number, out: FlvTag[]): void {
    const payloads: Uint8Array[] = [];
    for (let i = 0; i < n; i++) payloads.push(this.#advance()!.payload);
    let tag: FlvTag;
    try {
      tag = assembleTag(payloads);
    } catch {
      this.#stats.tagsDropped++;
      if ((payloads[0][0] & 0x1f) !== TAG_AUDIO) this.#needKeyframe = true;
      return;
    }
    if (tag.type === TAG_VIDEO && this.#needKeyframe) {
      if (!isSequenceHeader(tag)) {
        if (!isKeyframe(tag)) {
          this.#stats.tagsSkipped++;
          return;
        }
        this.#needKeyframe = false;
      }
    }
    this.#stats.tagsOut++;
    out.push(tag);
  }
}
