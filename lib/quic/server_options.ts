/**
 * The options, counters and default limits of the cloud's retransmission
 * server ({@linkcode RtxServer} in `server.ts`).
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { RtcpApp } from "../rtcp/mod.ts";
import type { QuicImpl } from "./transport.ts";

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
   * one second of burst); the excess gets NAVL. Default
   * `RTX_MAX_REQUESTS_PER_SECOND` (10,000: twice an edge's
   * default repair budget, what that budget can ask within one second).
   */
  maxRequestsPerSecond?: number;
  /**
   * Sequence numbers all connections together may ask for per second (token
   * bucket, one second of burst), so repair cannot starve the node; the
   * excess gets NAVL. Default `RTX_MAX_REQUESTS_PER_SECOND_TOTAL`
   * (100,000: about half a core).
   */
  maxRequestsPerSecondTotal?: number;
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
  /**
   * Sequence numbers answered with NAVL because of a rate limit (the
   * connection's or, in `refusedServerLimit` too, the server's).
   */
  refused: number;
  /** Of `refused`: those refused by the server-wide limit. */
  refusedServerLimit: number;
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
