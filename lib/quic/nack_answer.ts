/**
 * How the retransmission server answers one Generic NACK (SPEC §6): clip it
 * to the cache, take its sequence numbers from the connection's rate
 * limit, look each one up, and queue the cached packets (on the stream, or
 * as UDP datagrams after an `RMOD`) and one `NAVL` per 256 sequence numbers
 * that are missing or refused. {@linkcode AnswerBatch} frames queued
 * messages into few large stream writes.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { RateLimitedLog } from "../log/mod.ts";
import type { TokenBucket } from "../rate/mod.ts";
import { encodeNavl, MAX_NAVL_SEQS, type RtcpPacket } from "../rtcp/mod.ts";
import { frameMessages, MAX_FRAME_SIZE } from "./framing.ts";
import type { RtxServerStats } from "./server_options.ts";
import type { UdpAnswerSender, UdpAnswerTarget } from "./udp_answers.ts";

/** Largest write handed to the QUIC stream at once. */
export const WRITE_BATCH_BYTES = 64 * 1024;

/** Messages waiting to be framed into one write. */
export class AnswerBatch {
  #msgs: Uint8Array[] = [];
  #bytes = 0;

  /** Adds a message; returns true when the batch should be written now. */
  push(m: Uint8Array): boolean {
    this.#msgs.push(m);
    this.#bytes += 2 + m.length;
    return this.#bytes >= WRITE_BATCH_BYTES;
  }

  /** Frames and removes everything queued; `undefined` when empty. */
  take(): Uint8Array | undefined {
    if (this.#msgs.length === 0) return undefined;
    const buf = frameMessages(this.#msgs);
    this.#msgs = [];
    this.#bytes = 0;
    return buf;
  }
}

/** What the answerer needs to know of one connection. */
export interface AnswerConnection {
  /** Connection id, for logs. */
  id: number;
  /** Peer `host:port`, for logs. */
  remote: string;
  /** The connection's rate limit (sequence numbers per second). */
  bucket: TokenBucket;
  /** Where the rate-limit refusals are logged, once per interval. */
  limitLog: RateLimitedLog;
  /** Set after an `RMOD` asking for UDP answers. */
  udp?: UdpAnswerTarget;
}

/** Options for {@linkcode NackAnswerer}. */
export interface NackAnswererOptions {
  /** The cache: the exact RTP bytes of `(ssrc, seq)`, or `undefined`. */
  lookup: (ssrc: number, seq: number) => Uint8Array | undefined;
  /** Whether a stream with this SSRC exists (for counting and logging). */
  knownSsrc?: (ssrc: number) => boolean;
  /** Most sequence numbers one NACK may ask for; the rest is clipped. */
  maxSeqsPerNack: number;
  /** The per-connection rate, for the refusal log line. */
  maxRequestsPerSecond: number;
  /** The server-wide rate limit, shared by every connection. */
  total: TokenBucket;
  /** The server's counters, updated in place. */
  stats: RtxServerStats;
  /** The UDP answer socket. */
  udp: UdpAnswerSender;
  /** Logger. */
  logger: Logger;
}

/** Answers Generic NACKs from the cache; one per server. */
export class NackAnswerer {
  #opts: NackAnswererOptions;
  #log: Logger;
  #unknownLog: RateLimitedLog;

  /** Creates the answerer. */
  constructor(opts: NackAnswererOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.#unknownLog = new RateLimitedLog(this.#log, { intervalMs: 5000 });
  }

  /**
   * Answers `nack` for `conn`: packets and NAVLs go to `batch`, which is
   * written with `flush` whenever it is full.
   */
  async answer(
    conn: AnswerConnection,
    nack: Extract<RtcpPacket, { type: "nack" }>,
    batch: AnswerBatch,
    flush: () => Promise<void>,
  ): Promise<void> {
    const { mediaSsrc } = nack;
    const opts = this.#opts;
    const stats = opts.stats;
    let seqs = nack.seqs;
    if (seqs.length > opts.maxSeqsPerNack) {
      stats.nackSeqsClipped += seqs.length - opts.maxSeqsPerNack;
      seqs = seqs.slice(0, opts.maxSeqsPerNack);
    }
    stats.nacksReceived++;
    stats.packetsRequested += seqs.length;
    if (opts.knownSsrc && !opts.knownSsrc(mediaSsrc)) {
      stats.unknownSsrc++;
      this.#unknownLog.log(
        performance.now(),
        "retransmission request for unknown SSRC",
        { conn: conn.id, remote: conn.remote, ssrc: mediaSsrc },
      );
    }
    const now = performance.now();
    const own = conn.bucket.available(now);
    const granted = Math.min(seqs.length, own, opts.total.available(now));
    conn.bucket.take(granted, now);
    opts.total.take(granted, now);
    if (granted < seqs.length && granted < own) {
      stats.refusedServerLimit += Math.min(seqs.length, own) - granted;
    }
    const missing: number[] = [];
    const udp: Uint8Array[] = [];
    for (let i = 0; i < granted; i++) {
      let pkt: Uint8Array | undefined;
      try {
        pkt = opts.lookup(mediaSsrc, seqs[i]);
      } catch (e) {
        this.#log.error("retransmission cache lookup failed", { error: e });
      }
      if (pkt && pkt.length <= MAX_FRAME_SIZE) {
        stats.packetsServed++;
        stats.bytesServed += pkt.length;
        if (conn.udp) udp.push(pkt);
        else if (batch.push(pkt)) await flush();
      } else {
        stats.packetsUnavailable++;
        missing.push(seqs[i]);
      }
    }
    if (granted < seqs.length) {
      const n = seqs.length - granted;
      stats.refused += n;
      for (let i = granted; i < seqs.length; i++) missing.push(seqs[i]);
      conn.limitLog.log(
        performance.now(),
        "retransmission requests over the rate limit refused",
        {
          conn: conn.id,
          remote: conn.remote,
          refused: n,
          limit: opts.maxRequestsPerSecond,
          serverLimit: opts.total.rate,
        },
      );
    }
    if (conn.udp && udp.length > 0) {
      stats.udpAnswers += udp.length;
      opts.udp.send(udp, conn.udp);
    }
    for (let i = 0; i < missing.length; i += MAX_NAVL_SEQS) {
      stats.navlSent++;
      const navl = encodeNavl(mediaSsrc, missing.slice(i, i + MAX_NAVL_SEQS));
      if (batch.push(navl)) await flush();
    }
  }
}
