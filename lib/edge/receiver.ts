/**
 * The edge's receiver core (pure: no sockets, no timers, no files). The shell
 * ({@linkcode EdgeNode}) hands it every datagram through
 * {@linkcode EdgeReceiver.receive}, every repair answer through
 * {@linkcode EdgeReceiver.repaired}, and calls {@linkcode EdgeReceiver.tick}
 * at {@linkcode EdgeReceiver.nextEventAt}; every call takes the current time
 * `now` (ms, any monotonic clock), so tests drive it with fake time.
 *
 * What it owns: the SSRC table (RTCP SDES names an SSRC as a stream key;
 * packets of an SSRC not named yet are held, bounded), republish (a new SSRC
 * takes a key over), stream end (BYE after the repair budget, or silence),
 * one `JitterBuffer` per stream (reorder, NACK schedule, deadline,
 * keyframe gate), the repair budget (one {@linkcode TokenBucket} over all
 * streams), the node counters, and one {@linkcode HubStream} per stream: the
 * tags it releases go to the hub, where players and recordings subscribe.
 *
 * @module
 */
import type { FlvTag } from "../flv/mod.ts";
import { type Logger, nullLogger } from "../log/mod.ts";
import { DEFAULT_REPAIR_MAX_PPS, type RtxResult } from "../quic/mod.ts";
import {
  type KeysAnswer,
  ntpToUnixMs,
  parseRtcp,
  type RtcpPacket,
} from "../rtcp/mod.ts";
import {
  encodeRtp,
  FEC_PAYLOAD_TYPE,
  FecDecoder,
  isRtcp,
  type Parity,
  parseParity,
  parseRtp,
  RTP_PAYLOAD_TYPE,
  type RtpPacket,
  rtpSequence,
  seqDiff,
} from "../rtp/mod.ts";
import type { EdgeStreamInfo, EndedStreamInfo } from "./edge_api.ts";
import { datagramSsrc, SrtpGate } from "./srtp_gate.ts";
import { UnnamedSsrcs } from "./unnamed_ssrcs.ts";
import { StreamTable } from "./stream_table.ts";
import { type KnownStart, startOf, stateTags } from "./stream_start.ts";
import { RepairRequests } from "./repair_requests.ts";
import { logLoss, type ReceiverStream, streamInfo } from "./receiver_stream.ts";
import {
  type BudgetBasis,
  type EdgeNodeStats,
  type EdgeReceiverOptions,
  emptyNodeStats,
  type LinkRepairInfo,
  type PeerAddress,
  type RepairRequest,
} from "./receiver_types.ts";

/**
 * The receiver core of an edge.
 *
 * @example Usage
 * ```ts ignore
 * const hub = new StreamHub();
 * const rx = new EdgeReceiver({ hub, onRepair: (r) => askCloud(r) });
 * rx.receive(datagram, { hostname: "10.0.0.1", port: 5220 }, performance.now());
 * // at rx.nextEventAt():
 * rx.tick(performance.now());
 * ```
 */
export class EdgeReceiver {
  #log: Logger;
  #timeout: number;
  #packLoss: number;
  #random: () => number;
  #wall: () => number;
  #repairs: RepairRequests;
  #linkState: (source: PeerAddress) => Record<string, unknown>;
  #linkRepair: (source: PeerAddress) => LinkRepairInfo;
  #table: StreamTable;
  #unnamed: UnnamedSsrcs;
  /** SRTP: every datagram authenticates here first (`srtp: true`). */
  #gate: SrtpGate<PeerAddress> | undefined;
  #wakeAt = Infinity;
  #stallMs: number;
  /** The latest `now` of any call. */
  #seenAt = -Infinity;
  #stats: EdgeNodeStats = emptyNodeStats();

  /** @throws {RangeError} on a bad latency, timeout or loss rate. */
  constructor(options: EdgeReceiverOptions) {
    this.#log = options.logger ?? nullLogger;
    const latencyMs = options.latencyMs ?? 200;
    this.#timeout = options.streamTimeoutMs ?? 5000;
    this.#packLoss = options.packLoss ?? 0;
    if (!(latencyMs >= 0)) {
      throw new RangeError(
        `EdgeNode latencyMs: expected a number >= 0, got ${options.latencyMs}`,
      );
    }
    if (!(this.#packLoss >= 0 && this.#packLoss <= 1)) {
      throw new RangeError(
        `EdgeNode packLoss: expected a number in 0..1, got ${options.packLoss}`,
      );
    }
    if (!(this.#timeout > 0)) {
      throw new RangeError(
        `EdgeNode streamTimeoutMs: expected a number > 0, got ${options.streamTimeoutMs}`,
      );
    }
    this.#random = options.random ?? Math.random;
    this.#stallMs = options.stallMs ?? 0;
    this.#wall = options.wallClock ?? Date.now;
    this.#unnamed = new UnnamedSsrcs({
      maxPackets: options.maxHeldPackets,
      maxSsrcs: options.maxHeldSsrcs,
      timeoutMs: this.#timeout,
    });
    this.#table = new StreamTable({
      hub: options.hub,
      log: this.#log,
      latencyMs,
      maxStreams: options.maxStreams ?? 1000,
      wall: this.#wall,
      stats: this.#stats,
      streamStart: options.streamStart ?? (() => ({})),
      onStream: options.onStream ?? (() => {}),
    });
    this.#repairs = new RepairRequests({
      rate: options.maxRepairPerSecond ?? DEFAULT_REPAIR_MAX_PPS,
      log: this.#log,
      onRepair: options.onRepair ?? (() => {}),
    });
    if (options.srtp) {
      const onKeys = options.onKeys ?? (() => {});
      this.#gate = new SrtpGate<PeerAddress>({
        requestKeys: (ssrc, from) => onKeys(ssrc, from as PeerAddress),
        pendingTimeoutMs: this.#timeout,
        maxPendingSsrcs: options.maxHeldSsrcs,
        maxHeldPerSsrc: options.maxHeldPackets,
      });
    }
    this.#linkState = options.linkState ?? (() => ({}));
    this.#linkRepair = options.linkRepair ??
      (() => ({ mode: "stream", copies: 1, lossRate: 0 }));
  }

  /** Node-wide counters (a live object). */
  get stats(): Readonly<EdgeNodeStats> {
    this.#stats.unnamedDropped = this.#unnamed.dropped;
    this.#stats.repairShed = this.#repairs.shed;
    const g = this.#gate?.stats;
    if (g) {
      this.#stats.srtpAuthFailures = g.authFailures;
      this.#stats.srtpReplays = g.replays;
      this.#stats.srtpMalformed = g.malformed;
      this.#stats.srtpHeldDropped = g.heldDropped;
      this.#stats.keysRequested = g.keysRequested;
      this.#stats.keysReceived = g.keysReceived;
      this.#stats.keysUnknown = g.keysUnknown;
      this.#stats.keysRefused = g.keysRefused;
    }
    return this.#stats;
  }

  /** Live streams. */
  get size(): number {
    return this.#table.size;
  }

  /**
   * The one way datagrams come in: RTP or RTCP (rtcp-mux) from `from`.
   * `datagram` may be a reused receive buffer: whatever is kept is copied.
   * A datagram that does not parse is counted, never thrown.
   */
  receive(datagram: Uint8Array, from: PeerAddress, now: number): void {
    this.#resume(now);
    this.#stats.datagrams++;
    // Simulated network loss (RTP only), before anything sees the packet.
    if (
      this.#packLoss > 0 && !isRtcp(datagram) &&
      this.#random() < this.#packLoss
    ) {
      this.#stats.simulatedDrops++;
      return;
    }
    if (this.#gate) {
      const ssrc = datagramSsrc(datagram);
      // Late datagrams of an ended stream: not worth a key request.
      if (!this.#gate.has(ssrc) && this.#unnamed.isRetired(ssrc)) return;
      const v = this.#gate.inbound(datagram, from, now);
      if (!v.pass) {
        this.#wake(this.#gate.nextEventAt());
        return;
      }
      datagram = v.bytes;
    }
    this.#dispatch(datagram, from, now);
  }

  /** A plain (authenticated, when SRTP is on) RTP or RTCP datagram. */
  #dispatch(datagram: Uint8Array, from: PeerAddress, now: number): void {
    try {
      if (isRtcp(datagram)) this.#onRtcpCompound(datagram, from, now);
      else this.#onRtp(datagram, from, now);
    } catch (err) {
      // Never let one bad datagram or stream stop the receiver.
      this.#stats.malformed++;
      this.#log.debug("datagram handling failed", { error: err });
    }
  }

  /** The answer to `seq` of an earlier {@linkcode RepairRequest}. */
  repaired(
    request: RepairRequest,
    seq: number,
    result: RtxResult,
    now: number,
  ): void {
    this.#resume(now);
    const s = this.#table.get(request.key);
    if (!s || s.ssrc !== request.ssrc) return;
    if (result.status === "ok") {
      let bytes = result.packet;
      if (this.#gate) {
        // SRTP as first sent: authenticate it like any datagram.
        const plain = this.#gate.repaired(bytes);
        if (!plain) return; // counted by the gate; the deadline handles it
        bytes = plain;
      }
      let packet: RtpPacket;
      try {
        packet = parseRtp(bytes);
      } catch {
        this.#stats.malformed++;
        return;
      }
      if (packet.ssrc !== request.ssrc || packet.sequence !== seq) {
        this.#stats.malformed++;
        return;
      }
      // Only unambiguous samples (Karn's rule; the link decides).
      if (result.rttMs !== undefined) s.jb.updateRtt(result.rttMs);
      this.#push(s, packet, now, "rtx");
    } else if (result.status === "unavailable") {
      this.#deliver(s, s.jb.markUnavailable([seq], now));
      this.#wake(s.jb.nextEventAt());
    }
  }

  /**
   * The cloud's `KEYS` answer for `ssrc` (asked for through `onKeys`):
   * `null` when the cloud has no such live stream, `undefined` when no
   * answer came in time (asked again later). With keys, the datagrams held
   * for `ssrc` are released (decrypted) as if they arrived now, and the
   * stream is named by the answer's stream key if nothing named it; a stream
   * joined after its start gets the answer's onMetaData and sequence headers
   * first, so players can decode from the next keyframe.
   */
  keys(ssrc: number, answer: KeysAnswer | null | undefined, now: number): void {
    if (!this.#gate) return;
    this.#resume(now);
    let released = this.#gate.keys(ssrc, answer, now);
    this.#wake(this.#gate.nextEventAt());
    if (
      answer && released.length > 0 && !this.#table.ofSsrc(ssrc) &&
      !this.#unnamed.isRetired(ssrc)
    ) {
      // Named here, before the held datagrams go on, so an SDES among them
      // (a later report's: its count is not 0) cannot call a stream that is
      // received from its start joined (which would replay its state).
      const start = startOf(answer, released);
      released = released.filter((r) =>
        isRtcp(r.bytes) || seqDiff(rtpSequence(r.bytes), start.seq) >= 0
      );
      this.#name(ssrc, answer.streamKey, released[0].from, now, {
        ...start,
        state: start.fresh
          ? []
          : stateTags(answer, () => this.#stats.malformed++),
      });
    }
    for (const r of released) this.#dispatch(r.bytes, r.from, now);
    this.#wake(now + this.#timeout);
  }

  /**
   * Applies what is due at `now`: deadlines, NACKs (through the repair
   * budget to `onRepair`), stream ends and timeouts, expiry of held and
   * retired SSRCs.
   */
  tick(now: number): void {
    this.#resume(now);
    this.#gate?.tick(now);
    for (const s of this.#table.list()) {
      this.#deliver(s, s.jb.poll(now));
      const seqs = s.jb.nacks(now);
      if (seqs.length > 0) {
        const shed = this.#repairs.request(s, seqs, now);
        if (shed.length > 0) this.#deliver(s, s.jb.markUnavailable(shed, now));
      }
      logLoss(s, now, this.#linkState);
      if (s.endAt !== undefined && now >= s.endAt) {
        this.#endStream(s, "bye");
      } else if (now - s.lastPacketAt >= this.#timeout) {
        this.#endStream(s, "timeout");
      }
    }
    this.#unnamed.expire(now);
    this.#wakeAt = this.#computeNextEvent();
  }

  /**
   * When {@linkcode tick} must run next, or `undefined` when nothing is
   * timed (no stream, nothing held). Exact after a tick; lowered by
   * {@linkcode receive} and {@linkcode repaired} as they create earlier work
   * (never raised before the next tick, so it may be early, never late).
   */
  nextEventAt(): number | undefined {
    return this.#wakeAt === Infinity ? undefined : this.#wakeAt;
  }

  /** Ends every stream (their players get the end of their body). */
  endAll(reason: string): void {
    for (const s of this.#table.list()) this.#endStream(s, reason);
    this.#unnamed.clear();
    this.#wakeAt = Infinity;
  }

  /** Final snapshots of the last streams that ended, oldest first. */
  ended(): EndedStreamInfo[] {
    return this.#table.ended();
  }

  /** Snapshots of the live streams (`recording` is the shell's to fill). */
  streams(): EdgeStreamInfo[] {
    return this.#table.list().map((s) =>
      streamInfo(s, this.#linkRepair(s.source), this.#gate?.countsOf(s.ssrc))
    );
  }

  // --- datagrams ---------------------------------------------------------

  #onRtcpCompound(data: Uint8Array, from: PeerAddress, now: number): void {
    let packets: RtcpPacket[];
    try {
      packets = parseRtcp(data);
    } catch (err) {
      this.#stats.malformed++;
      this.#log.debug("bad rtcp", { from: from.hostname, error: err });
      return;
    }
    this.#stats.rtcpPackets++;
    // Names first (so this compound's SR already finds its stream), then
    // reports, then BYEs.
    const sdes = packets.filter((p) => p.type === "sdes");
    const rest = packets.filter((p) => p.type !== "sdes");
    rest.sort((a, b) => Number(a.type === "bye") - Number(b.type === "bye"));
    for (const p of [...sdes, ...rest]) this.#onRtcp(p, from, now, packets);
  }

  #onRtp(
    data: Uint8Array,
    from: PeerAddress,
    now: number,
    source: "udp" | "fec" = "udp",
  ): void {
    let packet: RtpPacket;
    try {
      // The receive buffer is reused: keep a copy.
      packet = parseRtp(data.slice());
    } catch (err) {
      this.#stats.malformed++;
      this.#log.debug("bad rtp", { from: from.hostname, error: err });
      return;
    }
    if (packet.payloadType === FEC_PAYLOAD_TYPE) {
      // FEC parity (cloud `fec_block`): rebuilds one loss per block.
      const s = this.#table.ofSsrc(packet.ssrc);
      if (!s) return;
      s.bytesIn += data.length;
      s.fec ??= new FecDecoder();
      for (const p of s.fec.parity(packet)) this.#onFec(p, from, now);
      // What the parity left missing in its block is NACKed now; later
      // gaps wait for their block's parity first.
      let block: Parity | undefined;
      try {
        block = parseParity(packet);
      } catch {
        block = undefined; // counted unusable by the decoder
      }
      if (block) {
        s.jb.parityArrived(block.base, block.count);
        this.#wake(s.jb.nextEventAt());
      }
      return;
    }
    if (packet.payloadType !== RTP_PAYLOAD_TYPE) {
      this.#stats.malformed++;
      return;
    }
    const stream = this.#table.ofSsrc(packet.ssrc);
    if (stream) {
      if (source === "udp") stream.bytesIn += data.length;
      this.#push(stream, packet, now, source === "udp" ? "udp" : "rtx");
      return;
    }
    if (this.#unnamed.isRetired(packet.ssrc)) return;
    if (this.#unnamed.hold(packet, data.length, now)) {
      this.#wake(now + this.#timeout);
    }
  }

  #onRtcp(
    p: RtcpPacket,
    from: PeerAddress,
    now: number,
    compound: RtcpPacket[],
  ): void {
    switch (p.type) {
      case "sdes":
        for (const c of p.chunks) {
          if (!c.key) continue;
          const sr = compound.find((q) => q.type === "sr" && q.ssrc === c.ssrc);
          const fresh = sr?.type === "sr" && sr.packetCount === 0;
          this.#name(c.ssrc, c.key, from, now, { fresh });
        }
        break;
      case "sr": {
        const s = this.#table.ofSsrc(p.ssrc);
        if (s && s.ssrc === p.ssrc) {
          const sample = this.#wall() - ntpToUnixMs(p.ntpSec, p.ntpFrac);
          s.delayMs = s.delayMs === null
            ? sample
            : s.delayMs + (sample - s.delayMs) / 8;
          s.lastPacketAt = now;
          this.#deliver(s, s.jb.senderReport(p.ssrc, p.packetCount, now));
          this.#wake(s.jb.nextEventAt());
        }
        break;
      }
      case "bye":
        for (const ssrc of p.ssrcs) {
          this.#wake(this.#unnamed.retire(ssrc, now));
          const s = this.#table.ofSsrc(ssrc);
          if (s && s.ssrc === ssrc && s.endAt === undefined) {
            // Give repairs in flight the budget to finish, then end.
            s.endAt = now + s.jb.latencyMs;
            this.#wake(s.endAt);
            this.#log.info("stream bye", {
              key: s.key,
              ssrc,
              reason: p.reason,
            });
          }
        }
        break;
      default:
        break;
    }
  }

  /** SDES (or a `KEYS` answer) named `ssrc` as stream `key`. `fresh`: the
   * stream has just begun (its SR counted 0 packets), so its very first
   * packets are wanted; `seq`..: where it starts, known exactly (`KEYS`);
   * `state`: tags its players need first (joined mid-stream). */
  #name(
    ssrc: number,
    key: string,
    from: PeerAddress,
    now: number,
    start: { fresh: boolean; state?: FlvTag[] } & Partial<KnownStart>,
  ): void {
    const known = this.#table.ofSsrc(ssrc);
    if (known) {
      if (known.ssrc === ssrc) {
        known.lastPacketAt = Math.max(known.lastPacketAt, now);
      }
      return;
    }
    if (this.#unnamed.isRetired(ssrc)) return;
    const stream = this.#table.open(ssrc, key, from, now);
    if (!stream) return;
    this.#wake(now + this.#timeout);
    if (start.seq !== undefined) stream.jb.startAt(start.seq, now, start);
    else if (start.fresh) stream.jb.expectStreamStart();
    // Joined after the start: the decoder state comes from `KEYS`.
    for (const tag of start.state ?? []) stream.hub.push(tag);
    const held = this.#unnamed.take(ssrc);
    if (held) {
      held.packets.forEach((p, i) => {
        stream.bytesIn += held.sizes[i];
        this.#push(stream, p, now, "udp");
      });
    }
  }

  #push(
    stream: ReceiverStream,
    packet: RtpPacket,
    now: number,
    source: "udp" | "rtx",
  ): void {
    if (packet.ssrc !== stream.ssrc) {
      this.#stats.stalePackets++;
      return;
    }
    if (source === "udp") stream.lastPacketAt = now;
    this.#deliver(stream, stream.jb.push(packet, now, source));
    this.#wake(stream.jb.nextEventAt());
    // A repaired or late packet may let parity rebuild another of its block.
    if (stream.fec) {
      for (const p of stream.fec.media(packet)) {
        this.#onFec(p, stream.source, now);
      }
    }
  }

  /** A packet FEC rebuilt re-enters as a datagram would (counted as
   * recovered, not received). */
  #onFec(p: RtpPacket, from: PeerAddress, now: number): void {
    this.#onRtp(encodeRtp(p), from, now, "fec");
  }

  /**
   * Sets the budget of every stream whose source `budgetOf` answers for
   * (`latency_ms: auto`: the link's round trip and loss changed).
   */
  setBudgets(budgetOf: (source: PeerAddress) => BudgetBasis | undefined): void {
    for (const s of this.#table.list()) {
      const b = budgetOf(s.source);
      if (b === undefined) continue;
      s.budgetBasis = b;
      if (b.budgetMs !== s.jb.latencyMs) {
        s.jb.latencyMs = b.budgetMs;
        this.#wake(s.jb.nextEventAt());
      }
    }
  }

  #deliver(stream: ReceiverStream, tags: FlvTag[]): void {
    for (const tag of tags) stream.hub.push(tag);
  }

  /** A call long after the event the shell was to wake us for: the process
   * stalled (`stallMs`); gaps waiting meanwhile get the time back. */
  #resume(now: number): void {
    const late = now - Math.max(this.#wakeAt, this.#seenAt);
    if (now > this.#seenAt) this.#seenAt = now;
    if (!(this.#stallMs > 0 && late > this.#stallMs)) return;
    this.#stats.stalls++;
    for (const s of this.#table.list()) s.jb.postpone(late);
  }

  #wake(at: number | undefined): void {
    if (at !== undefined && at < this.#wakeAt) this.#wakeAt = at;
  }

  #computeNextEvent(): number {
    let next = Infinity;
    for (const s of this.#table.list()) {
      const t = s.jb.nextEventAt();
      if (t !== undefined && t < next) next = t;
      const end = Math.min(s.endAt ?? Infinity, s.lastPacketAt + this.#timeout);
      if (end < next) next = end;
    }
    return Math.min(
      next,
      this.#unnamed.nextEventAt(),
      this.#gate?.nextEventAt() ?? Infinity,
    );
  }

  // --- repair ------------------------------------------------------------

  #endStream(s: ReceiverStream, reason: string): void {
    if (!this.#table.close(s)) return;
    this.#deliver(s, s.jb.poll(Number.POSITIVE_INFINITY));
    s.hub.end(reason);
    this.#table.recordEnded({
      ...streamInfo(
        s,
        this.#linkRepair(s.source),
        this.#gate?.countsOf(s.ssrc),
      ),
      end_time: new Date(this.#wall()).toISOString(),
      end_reason: reason,
    });
    this.#gate?.forget(s.ssrc);
  }
}
