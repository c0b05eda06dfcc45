/**
 * The edge's SRTP gate: every datagram from the network passes here before
 * anything else looks at it. A datagram of an SSRC whose keys the edge has
 * is authenticated, replay-checked and decrypted; one that fails is dropped
 * and counted, so it never touches stream state. A datagram of an SSRC
 * without keys is held (bounded) while the keys are asked for over the
 * authenticated repair link (`KEYS`); the answer releases what was held.
 * FEC parity under SRTP is its own stream (the SSRC and SRTP context a
 * `KEYS` answer names): authenticated with that context, then handed on
 * under its media stream's SSRC, as plain parity is; parity of an SSRC
 * without keys is dropped, never held or asked about.
 * Pure: no sockets, no timers; every call takes `now`.
 *
 * @module
 */
import { TokenBucket } from "../rate/mod.ts";
import type { KeysAnswer } from "../rtcp/mod.ts";
import { type SrtpFailure, SrtpReceiver } from "../srtp/mod.ts";

/**
 * The SSRC of an RTP (bytes 8–11) or RTCP (bytes 4–7, by RFC 5761's
 * payload-type rule) datagram, or -1 when it is too short.
 *
 * @param d The datagram.
 */
export function datagramSsrc(d: Uint8Array): number {
  const rtcp = d.length >= 2 && d[1] >= 192 && d[1] <= 223;
  const at = rtcp ? 4 : 8;
  if (d.length < at + 4) return -1;
  return ((d[at] << 24) | (d[at + 1] << 16) | (d[at + 2] << 8) | d[at + 3]) >>>
    0;
}

function writeSsrc(b: Uint8Array, ssrc: number): void {
  b[8] = ssrc >>> 24;
  b[9] = (ssrc >>> 16) & 0xff;
  b[10] = (ssrc >>> 8) & 0xff;
  b[11] = ssrc & 0xff;
}

/** Options for {@linkcode SrtpGate}. */
export interface SrtpGateOptions {
  /** Ask the cloud for the keys of `ssrc` (whose datagrams came from
   * `from`); the answer comes back through {@linkcode SrtpGate.keys}. */
  requestKeys: (ssrc: number, from: unknown) => void;
  /** SSRCs waiting for keys at once (the oldest is dropped). Default 16. */
  maxPendingSsrcs?: number;
  /** Datagrams held per SSRC waiting for keys (oldest dropped). Default 512. */
  maxHeldPerSsrc?: number;
  /** Ask again after this long without an answer (ms). Default 500. */
  retryMs?: number;
  /** Give up on an SSRC without keys after this long (ms). Default 5000. */
  pendingTimeoutMs?: number;
  /** An SSRC the cloud does not know is not asked about again for this long (ms). Default 10 000. */
  unknownMs?: number;
  /** Replay window per SSRC (packets); it must cover the repair budget. Default 4096. */
  replayWindow?: number;
  /** `KEYS` requests per second at most (all SSRCs). Default 50. */
  maxRequestsPerSecond?: number;
}

/** Counters of the gate (monotonic). */
export interface SrtpGateStats {
  /** SRTP/SRTCP packets that failed authentication (forged, corrupted, wrong key). */
  authFailures: number;
  /** Packets refused as replays (already received, or older than the window). */
  replays: number;
  /** Datagrams too short or not RTP/RTCP v2 for SRTP. */
  malformed: number;
  /** Datagrams held for an SSRC without keys that were discarded. */
  heldDropped: number;
  /** `KEYS` requests sent. */
  keysRequested: number;
  /** `KEYS` answers with keys. */
  keysReceived: number;
  /** `KEYS` answers saying the SSRC is not a live stream. */
  keysUnknown: number;
  /** `KEYS` answers whose profile this edge does not accept. */
  keysRefused: number;
}

interface Pending<F> {
  held: { bytes: Uint8Array; from: F; at: number }[];
  firstAt: number;
  askedAt: number;
}

/** What {@linkcode SrtpGate.inbound} made of a datagram. */
export type GateVerdict =
  | { pass: true; bytes: Uint8Array }
  | { pass: false; failure: SrtpFailure | "held" | "unknown" | "no_keys" };

/** RTP payload type of FEC parity (`lib/rtp` FEC_PAYLOAD_TYPE). */
const PARITY_PT = 101;

/**
 * SRTP receive contexts by SSRC, plus the SSRCs waiting for their keys.
 *
 * @example Usage
 * ```ts ignore
 * const gate = new SrtpGate({ requestKeys: (ssrc) => askCloud(ssrc) });
 * const v = gate.inbound(datagram, from, now);
 * if (v.pass) receiver.receive(v.bytes, from, now);
 * ```
 */
export class SrtpGate<F = unknown> {
  #opts: SrtpGateOptions;
  #contexts = new Map<number, SrtpReceiver>();
  /** FEC repair stream SSRC → its media SSRC. */
  #mediaOf = new Map<number, number>();
  /** Where {@linkcode SrtpGate.inbound} writes plain RTP (a UDP datagram's most). */
  #scratch = new Uint8Array(65536);
  #pending = new Map<number, Pending<F>>();
  #unknown = new Map<number, number>();
  #perSsrc = new Map<number, { authFailures: number; replays: number }>();
  #keysBudget: TokenBucket;
  #stats: SrtpGateStats = {
    authFailures: 0,
    replays: 0,
    malformed: 0,
    heldDropped: 0,
    keysRequested: 0,
    keysReceived: 0,
    keysUnknown: 0,
    keysRefused: 0,
  };

  /** Creates an empty gate. */
  constructor(options: SrtpGateOptions) {
    this.#opts = options;
    this.#keysBudget = new TokenBucket({
      rate: options.maxRequestsPerSecond ?? 50,
      full: true,
    });
  }

  /** Counters (a live object). */
  get stats(): Readonly<SrtpGateStats> {
    return this.#stats;
  }

  /** SSRCs waiting for keys now. */
  get pendingSsrcs(): number {
    return this.#pending.size;
  }

  /** Whether the gate has keys for `ssrc`. */
  has(ssrc: number): boolean {
    return this.#contexts.has(ssrc);
  }

  /** Authentication failures and replays seen for one SSRC. */
  countsOf(ssrc: number): { authFailures: number; replays: number } {
    return this.#perSsrc.get(ssrc) ?? { authFailures: 0, replays: 0 };
  }

  /**
   * A datagram from the network: the plain RTP/RTCP when it authenticates,
   * else why not (`held`: waiting for keys; `unknown`: the cloud said this
   * SSRC is not a live stream).
   *
   * @param datagram SRTP or SRTCP (not modified).
   * @param from Where it came from (kept with held datagrams).
   * @param now Current time (ms).
   * @returns The plain packet: a plain RTP packet is a view of the gate's
   *   scratch buffer, valid until the next call (copy what you keep; the
   *   caller's contract for a reused receive buffer), which spares an
   *   allocation per packet; RTCP is a new buffer.
   */
  inbound(datagram: Uint8Array, from: F, now: number): GateVerdict {
    const rtcp = datagram.length >= 2 && datagram[1] >= 192 &&
      datagram[1] <= 223;
    const at = rtcp ? 4 : 8;
    if (datagram.length < at + 4 || datagram[0] >>> 6 !== 2) {
      this.#stats.malformed++;
      return { pass: false, failure: "malformed" };
    }
    const ssrc = datagramSsrc(datagram);
    const ctx = this.#contexts.get(ssrc);
    if (ctx) {
      const v = this.#unprotect(ctx, datagram, rtcp, true, true);
      const media = this.#mediaOf.get(ssrc);
      if (v.pass && media !== undefined) writeSsrc(v.bytes, media);
      return v;
    }
    if (!rtcp && (datagram[1] & 0x7f) === PARITY_PT) {
      // Parity before its stream's keys: not worth holding or asking.
      this.#stats.heldDropped++;
      return { pass: false, failure: "no_keys" };
    }
    const until = this.#unknown.get(ssrc);
    if (until !== undefined) {
      if (now < until) return { pass: false, failure: "unknown" };
      this.#unknown.delete(ssrc);
    }
    this.#hold(ssrc, datagram.slice(), from, now);
    return { pass: false, failure: "held" };
  }

  /**
   * A packet that came back over the repair link (SRTP as first sent).
   *
   * @param packet The SRTP packet.
   * @returns The plain RTP packet, or undefined (counted) when it fails.
   */
  repaired(packet: Uint8Array): Uint8Array | undefined {
    if (packet.length < 12) {
      this.#stats.malformed++;
      return undefined;
    }
    const ssrc = ((packet[8] << 24) | (packet[9] << 16) | (packet[10] << 8) |
      packet[11]) >>> 0;
    const ctx = this.#contexts.get(ssrc);
    if (!ctx) return undefined;
    // A repair may come twice (answer copies, or the original arriving
    // late): a replay here is benign and not counted as one.
    const v = this.#unprotect(ctx, packet, false, false);
    return v.pass ? v.bytes : undefined;
  }

  /**
   * The cloud's `KEYS` answer for `ssrc` (`null`: not a live stream;
   * `undefined`: no answer in time). Keys of another profile than
   * AES_CM_128_HMAC_SHA1_80 are refused (this edge accepts SRTP only).
   *
   * @returns The held datagrams, decrypted, in arrival order (the failures
   *   counted and left out), to be handed on as if they arrived now.
   */
  keys(
    ssrc: number,
    answer: KeysAnswer | null | undefined,
    now: number,
  ): { bytes: Uint8Array; from: F }[] {
    const pending = this.#pending.get(ssrc);
    if (answer === undefined) return []; // retried by tick()
    if (answer === null || answer.profile !== 1) {
      if (answer === null) this.#stats.keysUnknown++;
      else this.#stats.keysRefused++;
      this.#pending.delete(ssrc);
      if (pending) this.#stats.heldDropped += pending.held.length;
      this.#markUnknown(ssrc, now);
      return [];
    }
    this.#stats.keysReceived++;
    const fec = answer.fec;
    if (fec && fec.ssrc !== ssrc && !this.#contexts.has(fec.ssrc)) {
      this.#contexts.set(
        fec.ssrc,
        new SrtpReceiver({
          masterKey: answer.masterKey,
          masterSalt: answer.masterSalt,
          ssrc: fec.ssrc,
          roc: fec.roc,
          seq: fec.highestSeq,
          replayWindow: this.#opts.replayWindow ?? 4096,
        }),
      );
      this.#mediaOf.set(fec.ssrc, ssrc);
    }
    if (!this.#contexts.has(ssrc)) {
      this.#contexts.set(
        ssrc,
        new SrtpReceiver({
          masterKey: answer.masterKey,
          masterSalt: answer.masterSalt,
          ssrc,
          roc: answer.roc,
          seq: answer.highestSeq,
          replayWindow: this.#opts.replayWindow ?? 4096,
        }),
      );
    }
    this.#pending.delete(ssrc);
    if (!pending) return [];
    const ctx = this.#contexts.get(ssrc)!;
    const out: { bytes: Uint8Array; from: F }[] = [];
    for (const h of pending.held) {
      const rtcp = h.bytes[1] >= 192 && h.bytes[1] <= 223;
      const v = this.#unprotect(ctx, h.bytes, rtcp);
      if (v.pass) out.push({ bytes: v.bytes, from: h.from });
    }
    return out;
  }

  /** Asks again for keys not answered in time; drops SSRCs waiting too long. */
  tick(now: number): void {
    const retry = this.#opts.retryMs ?? 500;
    const timeout = this.#opts.pendingTimeoutMs ?? 5000;
    for (const [ssrc, p] of this.#pending) {
      if (now - p.firstAt >= timeout) {
        this.#pending.delete(ssrc);
        this.#stats.heldDropped += p.held.length;
      } else if (now - p.askedAt >= retry) {
        this.#ask(ssrc, p, now);
      }
    }
    for (const [ssrc, until] of this.#unknown) {
      if (now >= until) this.#unknown.delete(ssrc);
    }
  }

  /** When {@linkcode tick} has something to do, or Infinity. */
  nextEventAt(): number {
    let next = Infinity;
    const retry = this.#opts.retryMs ?? 500;
    for (const p of this.#pending.values()) {
      next = Math.min(next, p.askedAt + retry);
    }
    return next;
  }

  /** The stream of `ssrc` ended: forget its keys (and its FEC stream's). */
  forget(ssrc: number): void {
    this.#contexts.delete(ssrc);
    this.#perSsrc.delete(ssrc);
    for (const [fec, media] of this.#mediaOf) {
      if (media !== ssrc) continue;
      this.#mediaOf.delete(fec);
      this.#contexts.delete(fec);
    }
  }

  #unprotect(
    ctx: SrtpReceiver,
    bytes: Uint8Array,
    rtcp: boolean,
    countReplays = true,
    scratch = false,
  ): GateVerdict {
    const r = rtcp
      ? ctx.unprotectRtcp(bytes)
      : ctx.unprotectRtp(bytes, scratch ? this.#scratch : undefined);
    if (r.ok) return { pass: true, bytes: r.packet };
    // Counted under the media stream (a FEC stream's too).
    const key = this.#mediaOf.get(ctx.ssrc) ?? ctx.ssrc;
    let c = this.#perSsrc.get(key);
    if (!c) this.#perSsrc.set(key, c = { authFailures: 0, replays: 0 });
    if (r.failure === "auth") {
      this.#stats.authFailures++;
      c.authFailures++;
    } else if (r.failure === "replay") {
      if (countReplays) {
        this.#stats.replays++;
        c.replays++;
      }
    } else {
      this.#stats.malformed++;
    }
    return { pass: false, failure: r.failure };
  }

  #hold(ssrc: number, bytes: Uint8Array, from: F, now: number): void {
    let p = this.#pending.get(ssrc);
    if (!p) {
      if (this.#pending.size >= (this.#opts.maxPendingSsrcs ?? 16)) {
        const [oldest, o] = this.#pending.entries().next().value!;
        this.#pending.delete(oldest);
        this.#stats.heldDropped += o.held.length;
      }
      p = { held: [], firstAt: now, askedAt: -Infinity };
      this.#pending.set(ssrc, p);
    }
    p.held.push({ bytes, from, at: now });
    if (p.askedAt === -Infinity) this.#ask(ssrc, p, now);
    if (p.held.length > (this.#opts.maxHeldPerSsrc ?? 512)) {
      p.held.shift();
      this.#stats.heldDropped++;
    }
  }

  #ask(ssrc: number, p: Pending<F>, now: number): void {
    p.askedAt = now;
    // Over the budget: asked again by tick() after retryMs.
    if (!this.#keysBudget.tryTake(now)) return;
    this.#stats.keysRequested++;
    this.#opts.requestKeys(ssrc, p.held[0]?.from);
  }

  #markUnknown(ssrc: number, now: number): void {
    if (this.#unknown.size >= 4096) {
      this.#unknown.delete(this.#unknown.keys().next().value!);
    }
    this.#unknown.set(ssrc, now + (this.#opts.unknownMs ?? 10_000));
  }
}
