/**
 * The QUIC transport the retransmission service needs, and nothing more:
 * listen, connect, one long-lived bidirectional stream per connection,
 * read/write through web streams, close with an application code. Two
 * implementations: Deno's built-in QUIC (`native`, the default) and
 * `@matrixai/quic` (`matrixai`). They interoperate on the wire.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";

/** Names of the QUIC implementations (`quic_impl`). */
export const QUIC_IMPLS = ["native", "matrixai"] as const;

/** A QUIC implementation name. */
export type QuicImpl = typeof QUIC_IMPLS[number];

/** One bidirectional stream: bytes in, bytes out. */
export interface QuicDuplex {
  /** Bytes from the peer (chunk boundaries are arbitrary). */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer; `write` resolves when the transport took them. */
  readonly writable: WritableStream<Uint8Array>;
}

/**
 * How a connection ended: the peer's (or our) application close code and
 * reason, or `code: -1` and a description for anything else (idle timeout,
 * handshake failure, endpoint gone).
 */
export interface QuicCloseInfo {
  /** Application close code, or -1 when the connection did not end with one. */
  code: number;
  /** Reason text. */
  reason: string;
}

/** What both ends of a connection can do. */
export interface QuicConnection {
  /** `host:port` of the peer. */
  readonly remote: string;
  /** Resolves once the connection is gone (never rejects). */
  readonly closed: Promise<QuicCloseInfo>;
  /** Closes with an application code and reason; never throws. */
  close(code: number, reason: string): Promise<void>;
}

/** A connection a listener accepted. */
export interface QuicServerConnection extends QuicConnection {
  /** Bidirectional streams the peer opens, in order; ends with the connection. */
  readonly streams: ReadableStream<QuicDuplex>;
}

/** A connection this side opened. */
export interface QuicClientConnection extends QuicConnection {
  /** Opens a bidirectional stream. */
  openStream(): Promise<QuicDuplex>;
}

/** Options of {@linkcode QuicTransport.listen}. */
export interface QuicListenOptions {
  /** Address to bind. */
  hostname: string;
  /** UDP port; 0 picks one. */
  port: number;
  /** Certificate (chain) PEM. */
  certPem: string;
  /** Private key PEM. */
  keyPem: string;
  /** ALPN protocol id. */
  alpn: string;
  /** Idle timeout (the smaller of both peers' applies). */
  idleTimeoutMs: number;
  /** Called once per accepted connection (after the handshake). */
  onConnection: (conn: QuicServerConnection) => void;
  /** Logger for the library's own chatter (debug). */
  logger: Logger;
}

/** A bound listener. */
export interface QuicListener {
  /** The bound UDP port. */
  readonly port: number;
  /**
   * Closes every connection (code 0) and refuses new ones, keeping the port
   * (Deno's QUIC frees a closed endpoint's socket only when garbage
   * collected, so an in-process restart must reuse it).
   */
  pause(): Promise<void>;
  /** Accepts connections again after {@linkcode QuicListener.pause}. */
  resume(): Promise<void>;
  /** Closes every connection (code 0) and the socket. */
  close(): Promise<void>;
}

/**
 * How a client checks the server's certificate: signed by a CA in `caPem`
 * (`ca`), exactly the certificate with this SHA-256 fingerprint (`pin`), or
 * not at all (`none`).
 */
export type QuicVerify =
  | { kind: "ca"; caPem: string }
  | { kind: "pin"; fingerprint: string }
  | { kind: "none" };

/** Options of {@linkcode QuicTransport.connect}. */
export interface QuicConnectOptions {
  /** Server address (IP literal or name). */
  host: string;
  /** Server UDP port. */
  port: number;
  /** ALPN protocol id. */
  alpn: string;
  /** Certificate check. */
  verify: QuicVerify;
  /** Idle timeout. */
  idleTimeoutMs: number;
  /** Keep-alive interval (below the idle timeout). */
  keepAliveMs: number;
  /** Handshake deadline. */
  timeoutMs: number;
  /** Aborts a connection attempt. */
  signal: AbortSignal;
  /** Logger for the library's own chatter (debug). */
  logger: Logger;
}

/** A QUIC implementation. */
export interface QuicTransport {
  /** Which one. */
  readonly impl: QuicImpl;
  /** Binds and accepts connections. */
  listen(opts: QuicListenOptions): Promise<QuicListener>;
  /**
   * Connects and completes the handshake.
   *
   * @throws {Error} Whose message says why (unreachable, refused, or
   *   `certificate fingerprint mismatch: expected …, received …`).
   */
  connect(opts: QuicConnectOptions): Promise<QuicClientConnection>;
}

/** Describes an error for a log line or a close reason. */
export function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/**
 * Resolves after `ms` or when `p` settles, whichever comes first, with `p`'s
 * value or `undefined`; clears its timer.
 */
export async function within<T>(
  p: Promise<T>,
  ms: number,
): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
