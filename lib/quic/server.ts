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
  parseAuth,
  parseRepairMode,
  parseRtcp,
  type RepairMode,
  type RtcpApp,
  type RtcpPacket,
} from "../rtcp/mod.ts";
import { Admission, hostOf, REFUSAL_REASONS } from "./admission.ts";
import { fingerprintOf } from "./cert.ts";
import { FrameDecoder, MAX_FRAME_SIZE } from "./framing.ts";
import { quicTransport } from "./impls.ts";
import { AnswerBatch, NackAnswerer } from "./nack_answer.ts";
import {
  CLOSE_CODES,
  RTX_ALPN,
  RTX_MAX_REQUESTS_PER_SECOND,
  RTX_MAX_REQUESTS_PER_SECOND_TOTAL,
  safeEqual,
} from "./protocol.ts";
import type { RtxServerOptions, RtxServerStats } from "./server_options.ts";
import type {
  QuicDuplex,
  QuicImpl,
  QuicListener,
  QuicServerConnection,
} from "./transport.ts";
import { UdpAnswerSender, type UdpAnswerTarget } from "./udp_answers.ts";

export type {
  RtxRequestHandler,
  RtxServerOptions,
  RtxServerStats,
} from "./server_options.ts";

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
    refusedServerLimit: 0,
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
  #admission: Admission;
  #answerer: NackAnswerer;
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
    this.#refuseLog = new RateLimitedLog(this.#log, { intervalMs: 5000 });
    this.#secret = new TextEncoder().encode(opts.secret ?? "");
    this.#port = opts.port;
    this.#udp = new UdpAnswerSender({
      hostname: opts.hostname,
      logger: this.#log,
    });
    this.#admission = new Admission({
      needsAuth: this.#secret.length > 0,
      maxConnections: opts.maxConnections,
      maxUnauthenticated: opts.maxUnauthenticated,
      maxAuthFailuresPerAddress: opts.maxAuthFailuresPerAddress,
    });
    this.#answerer = new NackAnswerer({
      lookup: opts.lookup,
      knownSsrc: opts.knownSsrc,
      maxSeqsPerNack: opts.maxSeqsPerNack ?? 65536,
      maxRequestsPerSecond: this.#rate,
      total: new TokenBucket({
        rate: opts.maxRequestsPerSecondTotal ??
          RTX_MAX_REQUESTS_PER_SECOND_TOTAL,
        full: true,
      }),
      stats: this.#stats,
      udp: this.#udp,
      logger: this.#log,
    });
  }

  get #rate(): number {
    return this.#opts.maxRequestsPerSecond ?? RTX_MAX_REQUESTS_PER_SECOND;
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
    let authed = 0;
    for (const c of this.#conns) if (c.authed) authed++;
    let refusal = this.#admission.check(hostOf(remote), Date.now(), {
      authed,
      unauthenticated: this.#conns.size - authed,
    });
    if (!this.listening && refusal !== "backoff") refusal = "full";
    if (refusal) {
      if (refusal === "backoff") this.#stats.authBackoffRejected++;
      else if (refusal === "unauthenticated") {
        this.#stats.unauthenticatedRejected++;
      } else this.#stats.connectionsRejected++;
      this.#refuse(conn, remote, REFUSAL_REASONS[refusal]);
      return;
    }
    const st: ConnState = {
      id: this.#nextId++,
      conn,
      remote,
      authed: this.#secret.length === 0,
      streams: 0,
      bucket: new TokenBucket({ rate: this.#rate, full: true }),
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
        this.#authFailed(st, CLOSE_CODES.authTimeout, "auth timeout", {
          why: "no AUTH in time",
        });
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
    const batch = new AnswerBatch();
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
    if (secret === undefined && !st.authed) {
      this.#authFailed(st, CLOSE_CODES.authFailed, "AUTH expected first", {
        why: "expected AUTH first",
        received: p.type,
      });
      return false;
    }
    if (secret === undefined || (st.authed && this.#secret.length === 0)) {
      return true;
    }
    if (
      this.#secret.length > 0 &&
      !safeEqual(new TextEncoder().encode(secret), this.#secret)
    ) {
      this.#authFailed(st, CLOSE_CODES.authFailed, "authentication failed", {
        why: "wrong secret",
      });
      return false;
    }
    if (st.authed) return true;
    let authed = 0;
    for (const c of this.#conns) if (c.authed) authed++;
    if (!this.#admission.canAuthenticate(authed)) {
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
    this.#admission.succeeded(hostOf(st.remote));
    this.#log.debug("retransmission connection authenticated", {
      conn: st.id,
      remote: st.remote,
    });
    return true;
  }

  /** Counts, logs and closes a connection that failed AUTH. */
  #authFailed(
    st: ConnState,
    code: number,
    reason: string,
    log: { why: string; received?: string },
  ): void {
    this.#stats.authFailures++;
    this.#admission.failed(hostOf(st.remote), Date.now());
    this.#log.warn(`retransmission connection closed: ${log.why}`, {
      conn: st.id,
      remote: st.remote,
      ...(log.received ? { received: log.received } : {}),
    });
    this.#track(this.#closeState(st, code, reason));
  }

  /**
   * The one place requests are told apart: Generic NACK, then the APP
   * messages of `requests`; anything else is a protocol error.
   */
  async #dispatch(
    st: ConnState,
    p: RtcpPacket,
    batch: AnswerBatch,
    flush: () => Promise<void>,
  ): Promise<void> {
    if (p.type === "nack") {
      return await this.#answerer.answer(st, p, batch, flush);
    }
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
}
