/**
 * The cloud side of retransmission: a QUIC server answering Generic NACKs
 * with the cached RTP packets (SPEC §6).
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { nullLogger, RateLimitedLog } from "../log/mod.ts";
import { TokenBucket } from "../rate/mod.ts";
import {
  APP_RMOD,
  encodeNavl,
  MAX_NAVL_SEQS,
  parseAuth,
  parseRepairMode,
  parseRtcp,
  type RepairMode,
  type RtcpApp,
  type RtcpPacket,
} from "../rtcp/mod.ts";
import { fingerprintOf } from "./cert.ts";
import { FrameDecoder, frameMessages, MAX_FRAME_SIZE } from "./framing.ts";
import { UdpAnswerSender, type UdpAnswerTarget } from "./udp_answers.ts";
import { quicTransport } from "./impls.ts";
import { CLOSE_CODES, RTX_ALPN, safeEqual } from "./protocol.ts";
import type {
  QuicDuplex,
  QuicImpl,
  QuicListener,
  QuicServerConnection,
} from "./transport.ts";

/**
 * Answers one kind of request (an RTCP APP message by name) after AUTH:
 * `answer` queues a message (RFC 4571-framed on the stream, batched with
 * the other answers of the same read). Throwing closes the connection as a
 * protocol error.
 */
export type RtxRequestHandler = (
  request: RtcpApp,
  answer: (msg: Uint8Array) => void,
) => void;

/** Options for {@linkcode RtxServer}. */
export interface RtxServerOptions {
  /** Address to bind; default `0.0.0.0`. */
  hostname?: string;
  /** UDP port; 0 picks a free one (see {@linkcode RtxServer.port}). */
  port: number;
  /** Certificate (chain) PEM. */
  certPem: string;
  /** Private key PEM. */
  keyPem: string;
  /**
   * Shared secret edges must send in an `AUTH` first message. Empty or
   * absent: no AUTH needed (an AUTH message is still accepted).
   */
  secret?: string;
  /** The cache: the exact RTP bytes of `(ssrc, seq)`, or `undefined`. */
  lookup: (ssrc: number, seq: number) => Uint8Array | undefined;
  /**
   * Optional: whether a stream with this SSRC exists, to count and log
   * requests for unknown streams (they get NAVL either way).
   */
  knownSsrc?: (ssrc: number) => boolean;
  /** Logger; default silent. */
  logger?: Logger;
  /**
   * Sequence numbers one connection may ask for per second (token bucket,
   * one second of burst); the excess gets NAVL. Default 20000.
   */
  maxRequestsPerSecond?: number;
  /** Concurrent authenticated connections; more are closed at once. Default 256. */
  maxConnections?: number;
  /**
   * Concurrent connections that have not authenticated yet (a separate,
   * small pool: unauthenticated peers cannot crowd out edges). Default 32.
   */
  maxUnauthenticated?: number;
  /** A connection that has not authenticated by then is closed. Default 2000 ms. */
  authTimeoutMs?: number;
  /**
   * AUTH failures (wrong secret, no AUTH, timeout) one address may have
   * before its connections are refused at once for a back-off that doubles
   * (1 s up to 60 s) with each further failure. Default 5.
   */
  maxAuthFailuresPerAddress?: number;
  /**
   * Most sequence numbers one NACK may ask for (the cache size: more can
   * never be served); the rest is ignored and counted. Default 65536.
   */
  maxSeqsPerNack?: number;
  /** QUIC idle timeout (the smaller of both peers' applies). Default 30000 ms. */
  idleTimeoutMs?: number;
  /** QUIC implementation; default `native` (Deno's built-in QUIC). */
  impl?: QuicImpl;
  /**
   * More request types, by RTCP APP name (e.g. `KEYS`), answered on the same
   * stream. Generic NACK and AUTH are built in.
   */
  requests?: Readonly<Record<string, RtxRequestHandler>>;
}

/** Counters for `/metrics`; all monotonic except `activeConnections`. */
export interface RtxServerStats {
  /** Connections accepted in total. */
  connections: number;
  /** Connections open now. */
  activeConnections: number;
  /** Connections closed for a missing or wrong AUTH (incl. auth timeout). */
  authFailures: number;
  /** Connections closed for malformed frames or disallowed messages. */
  protocolErrors: number;
  /** Connections refused because `maxConnections` was reached. */
  connectionsRejected: number;
  /** Generic NACK messages received. */
  nacksReceived: number;
  /** Sequence numbers asked for. */
  packetsRequested: number;
  /** RTP packets sent back. */
  packetsServed: number;
  /** Payload bytes of those packets. */
  bytesServed: number;
  /** Sequence numbers answered with NAVL because not cached (incl. unknown SSRC). */
  packetsUnavailable: number;
  /** Sequence numbers answered with NAVL because of the rate limit. */
  refused: number;
  /** NACKs for an SSRC `knownSsrc` does not know. */
  unknownSsrc: number;
  /** NAVL messages sent. */
  navlSent: number;
  /** Connections refused because `maxUnauthenticated` were waiting for AUTH. */
  unauthenticatedRejected: number;
  /** Connections refused at once: their address is backing off after AUTH failures. */
  authBackoffRejected: number;
  /** Sequence numbers ignored because a NACK asked for more than `maxSeqsPerNack`. */
  nackSeqsClipped: number;
  /** `RMOD` messages accepted (an edge chose or changed its answer mode). */
  modeChanges: number;
  /** Answers sent as UDP datagrams (first copies; also in `packetsServed`). */
  udpAnswers: number;
  /** Extra UDP copies of answers sent (beyond the first). */
  answerCopies: number;
  /** Extra copies shed because too many were scheduled. */
  answerCopiesShed: number;
}

/** AUTH failures of one address and until when it is refused. */
interface AddressRecord {
  failures: number;
  blockedUntil: number;
  backoffMs: number;
}

/** Addresses whose AUTH failures are remembered, at most. */
const MAX_ADDRESS_RECORDS = 4096;

interface ConnState {
  id: number;
  conn: QuicServerConnection;
  remote: string;
  authed: boolean;
  streams: number;
  bucket: TokenBucket;
  limitLog: RateLimitedLog;
  authTimer?: ReturnType<typeof setTimeout>;
  closing: boolean;
  /** Set by an `RMOD` asking for UDP answers. */
  udp?: UdpAnswerTarget;
}

/** Largest write handed to the QUIC stream at once. */
const WRITE_BATCH_BYTES = 64 * 1024;

/** Messages waiting to be framed into one write. */
class Batch {
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

/**
 * QUIC retransmission server (ALPN `flvcast-rtx/1`). Each connection uses
 * one bidirectional stream of RFC 4571-framed messages: an optional `AUTH`
 * APP first, then Generic NACKs; answers are the cached RTP packets and one
 * `NAVL` per NACK for what is missing or refused. A misbehaving connection
 * is closed alone. Responses are written with stream backpressure: a
 * connection's next read waits until its previous answers were accepted by
 * the transport, so nothing queues without bound.
 *
 * @example Usage
 * ```ts ignore
 * import { generateSelfSigned, RtxServer } from "./mod.ts";
 * const tls = await generateSelfSigned();
 * const server = new RtxServer({ port: 0, ...tls, secret: "s", lookup: () => undefined });
 * await server.start();
 * console.log(server.port, server.fingerprint);
 * await server.stop();
 * ```
 */
export class RtxServer {
  #opts: RtxServerOptions;
  #log: Logger;
  #secret: Uint8Array;
  #listener?: QuicListener;
  #paused = false;
  #port: number;
  #fingerprint = "";
  #conns = new Set<ConnState>();
  #tasks = new Set<Promise<void>>();
  #nextId = 1;
  #unknownLog: RateLimitedLog;
  #stats: RtxServerStats = {
    connections: 0,
    activeConnections: 0,
    authFailures: 0,
    protocolErrors: 0,
    connectionsRejected: 0,
    nacksReceived: 0,
    packetsRequested: 0,
    packetsServed: 0,
    bytesServed: 0,
    packetsUnavailable: 0,
    refused: 0,
    unknownSsrc: 0,
    navlSent: 0,
    unauthenticatedRejected: 0,
    authBackoffRejected: 0,
    nackSeqsClipped: 0,
    modeChanges: 0,
    udpAnswers: 0,
    answerCopies: 0,
    answerCopiesShed: 0,
  };
  #addresses = new Map<string, AddressRecord>();
  #refuseLog: RateLimitedLog;
  #udp: UdpAnswerSender;

  /**
   * Creates a stopped server; call {@linkcode RtxServer.start}.
   *
   * @param opts Address, TLS material, secret, cache lookup and limits.
   */
  constructor(opts: RtxServerOptions) {
    this.#opts = opts;
    this.#log = opts.logger ?? nullLogger;
    this.#unknownLog = new RateLimitedLog(this.#log, { intervalMs: 5000 });
    this.#refuseLog = new RateLimitedLog(this.#log, { intervalMs: 5000 });
    this.#secret = new TextEncoder().encode(opts.secret ?? "");
    this.#port = opts.port;
    this.#udp = new UdpAnswerSender({
      hostname: opts.hostname,
      logger: this.#log,
    });
  }

  /** The bound UDP port (the chosen one after starting with port 0). */
  get port(): number {
    return this.#port;
  }

  /** SHA-256 of the certificate, lowercase hex (set by `start`). */
  get fingerprint(): string {
    return this.#fingerprint;
  }

  /** Live counters (the same object every time). */
  get stats(): Readonly<RtxServerStats> {
    this.#stats.activeConnections = this.#conns.size;
    const u = this.#udp.stats;
    this.#stats.answerCopies = u.copiesSent;
    this.#stats.answerCopiesShed = u.copiesShed;
    return this.#stats;
  }

  /** Whether the server is listening. */
  get listening(): boolean {
    return this.#listener !== undefined && !this.#paused;
  }

  /** The QUIC implementation in use. */
  get impl(): QuicImpl {
    return this.#opts.impl ?? "native";
  }

  /**
   * Binds and starts accepting. May be called again after
   * {@linkcode RtxServer.stop} (it rebinds the same port).
   */
  async start(): Promise<void> {
    if (this.#paused && this.#listener) {
      await this.#listener.resume();
      this.#paused = false;
      this.#log.info("retransmission server resumed", { port: this.#port });
      return;
    }
    if (this.#listener) throw new Error("RtxServer is already started");
    this.#fingerprint = await fingerprintOf(this.#opts.certPem);
    const hostname = this.#opts.hostname ?? "0.0.0.0";
    this.#listener = await quicTransport(this.#opts.impl).listen({
      hostname,
      port: this.#port,
      certPem: this.#opts.certPem,
      keyPem: this.#opts.keyPem,
      alpn: RTX_ALPN,
      idleTimeoutMs: this.#opts.idleTimeoutMs ?? 30_000,
      onConnection: (conn) => this.#onConnection(conn),
      logger: this.#log.child("quic"),
    });
    this.#port = this.#listener.port;
    this.#log.info("retransmission server listening", {
      addr: `${hostname}:${this.#port}`,
      impl: this.impl,
      fingerprint: this.#fingerprint,
      auth: this.#secret.length > 0 ? "secret" : "none",
    });
  }

  /**
   * Closes every connection and refuses new ones but keeps the port, so
   * {@linkcode RtxServer.start} can resume in this process (a restart as
   * clients see it). Waits for all handlers to end.
   */
  async pause(): Promise<void> {
    const listener = this.#listener;
    if (!listener || this.#paused) return;
    this.#paused = true;
    this.#closeAll();
    await listener.pause();
    await Promise.allSettled([...this.#tasks]);
    this.#log.info("retransmission server paused", { port: this.#port });
  }

  #closeAll(): void {
    for (const st of this.#conns) {
      st.closing = true;
      clearTimeout(st.authTimer);
    }
  }

  /** Closes every connection and the socket; waits for all handlers to end. */
  async stop(): Promise<void> {
    const listener = this.#listener;
    if (!listener) return;
    this.#listener = undefined;
    this.#paused = false;
    for (const st of this.#conns) {
      st.closing = true;
      clearTimeout(st.authTimer);
    }
    try {
      await listener.close();
    } catch (e) {
      this.#log.warn("QUIC server stop failed", { error: e });
    }
    await Promise.allSettled([...this.#tasks]);
    this.#udp.close();
    this.#conns.clear();
    this.#log.info("retransmission server stopped", { port: this.#port });
  }

  #track(p: Promise<void>): void {
    this.#tasks.add(p);
    p.finally(() => this.#tasks.delete(p));
  }

  /** Registers a connection and serves its first stream. */
  #onConnection(conn: QuicServerConnection): void {
    const remote = conn.remote;
    const host = hostOf(remote);
    const needsAuth = this.#secret.length > 0;
    const rec = this.#addresses.get(host);
    if (needsAuth && rec && rec.blockedUntil > Date.now()) {
      this.#stats.authBackoffRejected++;
      this.#refuse(conn, remote, "address backing off after AUTH failures");
      return;
    }
    const maxUnauth = this.#opts.maxUnauthenticated ?? 32;
    const max = this.#opts.maxConnections ?? 256;
    let unauth = 0;
    if (needsAuth) { for (const c of this.#conns) if (!c.authed) unauth++; }
    if (needsAuth && unauth >= maxUnauth && this.listening) {
      this.#stats.unauthenticatedRejected++;
      this.#refuse(conn, remote, "too many connections waiting for AUTH");
      return;
    }
    if (this.#conns.size - unauth >= max || !this.listening) {
      this.#stats.connectionsRejected++;
      this.#refuse(conn, remote, "too many connections");
      return;
    }
    const rate = this.#opts.maxRequestsPerSecond ?? 20_000;
    const st: ConnState = {
      id: this.#nextId++,
      conn,
      remote,
      authed: this.#secret.length === 0,
      streams: 0,
      bucket: new TokenBucket({ rate, full: true }),
      limitLog: new RateLimitedLog(this.#log, { intervalMs: 5000 }),
      closing: false,
    };
    this.#conns.add(st);
    this.#stats.connections++;
    this.#log.debug("retransmission connection", { conn: st.id, remote });
    this.#track(conn.closed.then(() => {
      clearTimeout(st.authTimer);
      this.#conns.delete(st);
      this.#log.debug("retransmission connection closed", {
        conn: st.id,
        remote,
      });
    }));
    if (!st.authed) {
      st.authTimer = setTimeout(() => {
        if (st.authed || st.closing) return;
        this.#stats.authFailures++;
        this.#authFailed(st.remote);
        this.#log.warn("retransmission connection closed: no AUTH in time", {
          conn: st.id,
          remote,
        });
        this.#track(
          this.#closeState(st, CLOSE_CODES.authTimeout, "auth timeout"),
        );
      }, this.#opts.authTimeoutMs ?? 2000);
    }
    this.#track(this.#acceptStreams(st));
  }

  /** Serves the first stream; a second one closes the connection. */
  async #acceptStreams(st: ConnState): Promise<void> {
    const reader = st.conn.streams.getReader();
    try {
      for (;;) {
        const { value: stream, done } = await reader.read();
        if (done || st.closing) break;
        st.streams++;
        if (st.streams > 1) {
          this.#stats.protocolErrors++;
          this.#log.warn("retransmission connection closed: second stream", {
            conn: st.id,
            remote: st.remote,
          });
          await this.#closeState(
            st,
            CLOSE_CODES.tooManyStreams,
            "one stream only",
          );
          break;
        }
        this.#track(this.#serve(st, stream));
      }
    } catch {
      // The connection ended.
    } finally {
      reader.releaseLock();
    }
  }

  async #closeState(st: ConnState, code: number, reason: string) {
    if (st.closing) return;
    st.closing = true;
    clearTimeout(st.authTimer);
    await st.conn.close(code, reason);
  }

  async #serve(st: ConnState, stream: QuicDuplex): Promise<void> {
    const reader = stream.readable.getReader();
    const writer = stream.writable.getWriter();
    const decoder = new FrameDecoder({ rejectEmpty: true });
    const batch = new Batch();
    const flush = async () => {
      const buf = batch.take();
      if (buf) await writer.write(buf);
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || st.closing) break;
        let msgs: Uint8Array[];
        try {
          msgs = decoder.push(value);
        } catch (e) {
          this.#protocolError(st, `bad frame: ${(e as Error).message}`);
          break;
        }
        for (const msg of msgs) {
          let pkts: RtcpPacket[];
          try {
            pkts = parseRtcp(msg);
          } catch (e) {
            this.#protocolError(st, (e as Error).message);
            break;
          }
          for (const p of pkts) {
            if (!this.#handle(st, p) || st.closing) break;
            await this.#dispatch(st, p, batch, flush);
            if (st.closing) break;
          }
          if (st.closing) break;
        }
        if (st.closing) break;
        await flush();
      }
    } catch (e) {
      if (!st.closing) {
        this.#log.debug("retransmission stream ended", {
          conn: st.id,
          error: e,
        });
      }
    } finally {
      reader.releaseLock();
      writer.releaseLock();
    }
  }

  /** Access control; returns false when the connection is being closed. */
  #handle(st: ConnState, p: RtcpPacket): boolean {
    const secret = parseAuth(p);
    if (secret !== undefined) {
      if (
        this.#secret.length > 0 &&
        !safeEqual(new TextEncoder().encode(secret), this.#secret)
      ) {
        this.#stats.authFailures++;
        this.#authFailed(st.remote);
        this.#log.warn("retransmission connection closed: wrong secret", {
          conn: st.id,
          remote: st.remote,
        });
        this.#track(
          this.#closeState(st, CLOSE_CODES.authFailed, "authentication failed"),
        );
        return false;
      }
      if (!st.authed) {
        let authed = 0;
        for (const c of this.#conns) if (c.authed) authed++;
        if (authed >= (this.#opts.maxConnections ?? 256)) {
          this.#stats.connectionsRejected++;
          this.#track(
            this.#closeState(
              st,
              CLOSE_CODES.tooManyConnections,
              "too many connections",
            ),
          );
          return false;
        }
        st.authed = true;
        clearTimeout(st.authTimer);
        this.#addresses.delete(hostOf(st.remote));
        this.#log.debug("retransmission connection authenticated", {
          conn: st.id,
          remote: st.remote,
        });
      }
      return true;
    }
    if (!st.authed) {
      this.#stats.authFailures++;
      this.#authFailed(st.remote);
      this.#log.warn("retransmission connection closed: expected AUTH first", {
        conn: st.id,
        remote: st.remote,
        received: p.type,
      });
      this.#track(
        this.#closeState(st, CLOSE_CODES.authFailed, "AUTH expected first"),
      );
      return false;
    }
    return true;
  }

  /**
   * The one place requests are told apart: Generic NACK, then the APP
   * messages of `requests`; anything else is a protocol error.
   */
  async #dispatch(
    st: ConnState,
    p: RtcpPacket,
    batch: Batch,
    flush: () => Promise<void>,
  ): Promise<void> {
    if (p.type === "nack") return await this.#answer(st, p, batch, flush);
    if (p.type === "app" && p.name === "AUTH") return;
    if (p.type === "app" && p.name === APP_RMOD) {
      let mode: RepairMode;
      try {
        mode = parseRepairMode(p)!;
      } catch (e) {
        this.#protocolError(st, (e as Error).message);
        return;
      }
      this.#setMode(st, mode);
      return;
    }
    const handler = p.type === "app"
      ? this.#opts.requests?.[p.name]
      : undefined;
    if (!handler) {
      this.#protocolError(
        st,
        `unexpected RTCP ${p.type}${
          p.type === "app" ? ` ${JSON.stringify(p.name)}` : ""
        } message`,
      );
      return;
    }
    let full = false;
    try {
      handler(p as RtcpApp, (msg) => {
        if (msg.length > MAX_FRAME_SIZE) {
          throw new RangeError(
            `Expected an answer of at most ${MAX_FRAME_SIZE} bytes, received ${msg.length}`,
          );
        }
        full = batch.push(msg) || full;
      });
    } catch (e) {
      this.#protocolError(st, (e as Error).message);
      return;
    }
    if (full) await flush();
  }

  #refuse(conn: QuicServerConnection, remote: string, why: string): void {
    this.#refuseLog.log(
      performance.now(),
      "retransmission connection refused",
      { remote, reason: why },
    );
    this.#track(conn.close(CLOSE_CODES.tooManyConnections, why));
  }

  /** Counts an AUTH failure of `remote`'s address; past the limit it backs off. */
  #authFailed(remote: string): void {
    const host = hostOf(remote);
    let rec = this.#addresses.get(host);
    if (!rec) {
      if (this.#addresses.size >= MAX_ADDRESS_RECORDS) {
        this.#addresses.delete(this.#addresses.keys().next().value!);
      }
      rec = { failures: 0, blockedUntil: 0, backoffMs: 0 };
      this.#addresses.set(host, rec);
    }
    rec.failures++;
    if (rec.failures >= (this.#opts.maxAuthFailuresPerAddress ?? 5)) {
      rec.backoffMs = Math.min(60_000, Math.max(1000, rec.backoffMs * 2));
      rec.blockedUntil = Date.now() + rec.backoffMs;
    }
  }

  /** Applies an `RMOD`: answers to this connection go on the stream or by UDP. */
  #setMode(st: ConnState, mode: RepairMode): void {
    this.#stats.modeChanges++;
    const before = st.udp;
    st.udp = mode.mode === "udp"
      ? {
        hostname: hostOf(st.remote),
        port: mode.port,
        copies: mode.copies,
        spacingMs: mode.spacingMs,
      }
      : undefined;
    if (before?.port !== st.udp?.port) {
      this.#log.info("retransmission answer mode", {
        conn: st.id,
        remote: st.remote,
        mode: mode.mode,
        port: st.udp?.port,
        copies: st.udp?.copies,
      });
    }
  }

  #protocolError(st: ConnState, why: string): void {
    if (st.closing) return;
    this.#stats.protocolErrors++;
    this.#log.warn("retransmission connection closed: protocol error", {
      conn: st.id,
      remote: st.remote,
      error: why,
    });
    this.#track(this.#closeState(st, CLOSE_CODES.protocolError, why));
  }

  async #answer(
    st: ConnState,
    nack: Extract<RtcpPacket, { type: "nack" }>,
    batch: Batch,
    flush: () => Promise<void>,
  ): Promise<void> {
    const { mediaSsrc } = nack;
    let seqs = nack.seqs;
    const stats = this.#stats;
    const maxSeqs = this.#opts.maxSeqsPerNack ?? 65536;
    if (seqs.length > maxSeqs) {
      stats.nackSeqsClipped += seqs.length - maxSeqs;
      seqs = seqs.slice(0, maxSeqs);
    }
    stats.nacksReceived++;
    stats.packetsRequested += seqs.length;
    if (this.#opts.knownSsrc && !this.#opts.knownSsrc(mediaSsrc)) {
      stats.unknownSsrc++;
      this.#unknownLog.log(
        performance.now(),
        "retransmission request for unknown SSRC",
        { conn: st.id, remote: st.remote, ssrc: mediaSsrc },
      );
    }
    const granted = st.bucket.take(seqs.length, performance.now());
    const missing: number[] = [];
    const udp: Uint8Array[] = [];
    for (let i = 0; i < granted; i++) {
      let pkt: Uint8Array | undefined;
      try {
        pkt = this.#opts.lookup(mediaSsrc, seqs[i]);
      } catch (e) {
        this.#log.error("retransmission cache lookup failed", { error: e });
      }
      if (pkt && pkt.length <= MAX_FRAME_SIZE) {
        stats.packetsServed++;
        stats.bytesServed += pkt.length;
        if (st.udp) udp.push(pkt);
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
      st.limitLog.log(
        performance.now(),
        "retransmission requests over the rate limit refused",
        {
          conn: st.id,
          remote: st.remote,
          refused: n,
          limit: this.#opts.maxRequestsPerSecond ?? 20_000,
        },
      );
    }
    if (st.udp && udp.length > 0) {
      stats.udpAnswers += udp.length;
      this.#udp.send(udp, st.udp);
    }
    for (let i = 0; i < missing.length; i += MAX_NAVL_SEQS) {
      stats.navlSent++;
      const navl = encodeNavl(mediaSsrc, missing.slice(i, i + MAX_NAVL_SEQS));
      if (batch.push(navl)) await flush();
    }
  }
}

/** The address part of `host:port` / `[v6]:port`. */
function hostOf(remote: string): string {
  const i = remote.lastIndexOf(":");
  const h = i > 0 ? remote.slice(0, i) : remote;
  return h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
}
