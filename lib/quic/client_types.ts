/**
 * What the retransmission client ({@linkcode RtxClient} in `client.ts`)
 * takes and tells: its options, the outcome of one request, its counters.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { QuicImpl } from "./transport.ts";

/** The outcome of asking for one packet. */
export type RtxResult =
  | {
    status: "ok";
    packet: Uint8Array;
    /**
     * Request → answer time, when this packet was asked for exactly once
     * (Karn's rule: an answer to a repeated request is ambiguous), or from
     * the first request when the link has no estimate yet.
     */
    rttMs?: number;
  }
  | { status: "unavailable" }
  | { status: "timeout" };

/** Options for {@linkcode RtxClient}. */
export interface RtxClientOptions {
  /** Cloud address (IP literal or name). */
  host: string;
  /** Cloud QUIC port. */
  port: number;
  /** Shared secret sent in the `AUTH` first message; empty/absent: no AUTH. */
  secret?: string;
  /**
   * Pinned SHA-256 fingerprint of the cloud certificate (hex, colons
   * allowed). Takes precedence over `caPem`.
   */
  fingerprint?: string;
  /** CA certificate(s) PEM to verify the cloud with (host name checked too). */
  caPem?: string;
  /** Skip verification; an explicit, logged choice. */
  insecureSkipVerify?: boolean;
  /** Logger; default silent. */
  logger?: Logger;
  /** Most sequence numbers awaiting an answer; beyond, the oldest time out. Default 16384. */
  maxOutstanding?: number;
  /** QUIC idle timeout: a dead cloud is noticed after this. Default 5000 ms. */
  idleTimeoutMs?: number;
  /** Keep-alive PING interval (below `idleTimeoutMs`). Default 1000 ms. */
  keepAliveMs?: number;
  /** Handshake deadline (below `idleTimeoutMs`). Default 3000 ms. */
  connectTimeoutMs?: number;
  /**
   * Delay before the next connection attempt while the link is down;
   * doubles per attempt (reset once the cloud answers). Attempts overlap:
   * the next one starts after this delay even while earlier handshakes are
   * still waiting (at most `maxAttemptsInFlight`), so a cloud that comes up
   * a moment after the edge is reached within ~this delay, not after a
   * handshake timeout. Default 50 ms.
   */
  backoffInitialMs?: number;
  /** Reconnect delay cap. Default 2000 ms. */
  backoffMaxMs?: number;
  /** Connection attempts (handshakes) waiting at once. Default 4. */
  maxAttemptsInFlight?: number;
  /** SSRC put in NACKs as packet sender; default random. */
  senderSsrc?: number;
  /**
   * Ask the cloud (`RMOD`, after `AUTH`) to send answers as UDP datagrams to
   * a socket of ours instead of on the stream: no head-of-line blocking and
   * no congestion window between answers, and `copies` of each answer so a
   * lossy path rarely loses all. Absent: answers on the stream (SPEC §6).
   */
  udpAnswers?: {
    /** Local address of the answer socket (default `0.0.0.0`). */
    hostname?: string;
    /** Its port (default 0 = any free one). */
    port?: number;
    /** Copies of each answer, 1..8 (default 1; see `setAnswerCopies`). */
    copies?: number;
    /** Milliseconds between copies (default 5). */
    spacingMs?: number;
  };
  /** QUIC implementation; default `native` (Deno's built-in QUIC). */
  impl?: QuicImpl;
}

/** Counters for `/metrics`. */
export interface RtxClientStats {
  /** Successful connections (incl. reconnects). */
  connects: number;
  /** Established connections that dropped. */
  disconnects: number;
  /** Connection attempts started (handshakes, overlapping while down). */
  connectAttempts: number;
  /** Connection attempts that failed (unreachable, TLS refused, …). */
  connectFailures: number;
  /** NACK messages sent. */
  nacksSent: number;
  /** Sequence numbers asked for through {@linkcode RtxClient.request}. */
  packetsRequested: number;
  /** Answered with the packet. */
  packetsOk: number;
  /** Answered with NAVL. */
  packetsUnavailable: number;
  /** Timed out (deadline, eviction or close). */
  packetsTimeout: number;
  /** Packets or NAVL entries nobody waited for (late or duplicate). */
  unsolicited: number;
  /** Messages from the cloud that could not be parsed. */
  malformed: number;
  /** Answers received as UDP datagrams (every copy). */
  udpAnswers: number;
  /** UDP datagrams on the answer socket from another address (dropped). */
  udpForeign: number;
  /** `RMOD` messages sent. */
  modeMessages: number;
}
