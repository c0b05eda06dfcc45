/**
 * The RTMP TCP server (I/O): accepts connections and runs one
 * {@linkcode RtmpSession} each.
 *
 * @module
 */
import { Refusals } from "../limits/mod.ts";
import { type Logger, nullLogger } from "../log/mod.ts";
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  MAX_CHUNK_SIZE,
  MAX_MESSAGE_LENGTH_FIELD,
} from "./protocol.ts";
import { RtmpSession } from "./session.ts";
import type { RtmpHandler } from "./types.ts";

/** Options for {@linkcode RtmpServer}. */
export interface RtmpServerOptions {
  /** Address to bind; default `0.0.0.0`. */
  hostname?: string;
  /** TCP port; 0 picks a free one (read it back from `port`). */
  port: number;
  /** The application callbacks. */
  handler: RtmpHandler;
  /** Logger; default discards. */
  logger?: Logger;
  /** Outgoing chunk size announced to clients; default 4096. */
  chunkSize?: number;
  /**
   * Close a connection that sends nothing for this long (handshake,
   * mid-message, idle publisher or idle unbound client; a player waiting for
   * data is exempt); default 10000 ms.
   */
  idleTimeoutMs?: number;
  /** Largest incoming message in bytes; default 8 MiB, at most 16 MiB − 2. */
  maxMessageSize?: number;
  /**
   * Bytes that may queue towards one connection (a player that cannot keep
   * up, or a client that does not read its replies) before it is
   * disconnected; default 8 MiB.
   */
  maxQueueBytes?: number;
  /** Window Acknowledgement Size / Set Peer Bandwidth sent; default 2500000. */
  windowAckSize?: number;
  /**
   * Most connections open at once (plain and TLS together); past it a new
   * connection is closed at once and counted. Default 1000.
   */
  maxConnections?: number;
  /** RTMPS: also accept RTMP over TLS on this listener (`tls.port` 0 = any). */
  tls?: RtmpTlsOptions;
  /** Refusal counters shared with the owner; default a private one. */
  refusals?: Refusals;
}

/** The TLS listener of an {@linkcode RtmpServer} (RTMPS). */
export interface RtmpTlsOptions {
  /** Address to bind; default the plain listener's. */
  hostname?: string;
  /** TCP port; 0 picks a free one (read it back from `tlsPort`). */
  port: number;
  /** PEM certificate chain. */
  certPem: string;
  /** PEM private key. */
  keyPem: string;
}

/**
 * Accepts RTMP publishers and players and hands them to an
 * {@linkcode RtmpHandler}.
 *
 * @example Usage
 * ```ts ignore
 * import { RtmpServer } from "./server.ts";
 * const server = new RtmpServer({ port: 1935, handler });
 * await server.start();
 * // ...
 * await server.stop();
 * ```
 */
export class RtmpServer {
  #opts: RtmpServerOptions;
  #log: Logger;
  #listener: Deno.TcpListener | undefined;
  #tlsListener: Deno.TlsListener | undefined;
  #sessions = new Map<RtmpSession, Promise<void>>();
  #accepting: Promise<void>[] = [];
  #loops = new Map<Deno.Listener, Promise<void>>();
  #nextId = 1;
  #port = 0;
  #tlsPort = 0;
  #refusals: Refusals;

  /**
   * Validates the options; nothing is bound until {@linkcode start}.
   *
   * @throws {RangeError} On a bad chunk size or message size.
   */
  constructor(options: RtmpServerOptions) {
    const chunkSize = options.chunkSize ?? 4096;
    if (
      !Number.isInteger(chunkSize) || chunkSize < 1 ||
      chunkSize > MAX_CHUNK_SIZE
    ) {
      throw new RangeError(
        `chunkSize: expected 1..${MAX_CHUNK_SIZE}, got ${chunkSize}`,
      );
    }
    const max = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    if (!(max >= 1 && max < MAX_MESSAGE_LENGTH_FIELD)) {
      throw new RangeError(
        `maxMessageSize: expected 1..${
          MAX_MESSAGE_LENGTH_FIELD - 1
        }, got ${max}`,
      );
    }
    this.#opts = options;
    this.#log = (options.logger ?? nullLogger).child("rtmp");
    this.#refusals = options.refusals ?? new Refusals({
      logger: this.#log,
      metric: "flvcast_rtmp_refusals_total",
    });
  }

  /** The bound RTMPS port (after {@linkcode start}; 0 without TLS). */
  get tlsPort(): number {
    return this.#tlsPort;
  }

  /** The bound port (after {@linkcode start}). */
  get port(): number {
    return this.#port;
  }

  /** Open connections. */
  get connections(): number {
    return this.#sessions.size;
  }

  /**
   * Binds and starts accepting.
   *
   * @throws {Deno.errors.AddrInUse} When the port is taken (rejects).
   */
  // deno-lint-ignore require-await
  async start(): Promise<void> {
    if (this.#listener) throw new Error("RtmpServer already started");
    const listener = Deno.listen({
      hostname: this.#opts.hostname ?? "0.0.0.0",
      port: this.#opts.port,
      transport: "tcp",
    });
    this.#listener = listener;
    this.#port = (listener.addr as Deno.NetAddr).port;
    this.#log.info("rtmp listening", {
      addr: `${this.#opts.hostname ?? "0.0.0.0"}:${this.#port}`,
    });
    this.#accepting.push(this.#acceptLoop(listener));
    const tls = this.#opts.tls;
    if (tls) {
      try {
        this.#openTls(tls.certPem, tls.keyPem);
      } catch (err) {
        listener.close();
        this.#listener = undefined;
        throw err;
      }
    }
  }

  #openTls(certPem: string, keyPem: string): Deno.TlsListener {
    const tls = this.#opts.tls!;
    const hostname = tls.hostname ?? this.#opts.hostname ?? "0.0.0.0";
    const listener = Deno.listenTls({
      hostname,
      // A reload binds the port it already has, beside the old listener
      // (SO_REUSEPORT; same user only), which then closes.
      port: this.#tlsPort || tls.port,
      cert: certPem,
      key: keyPem,
      transport: "tcp",
      reusePort: true,
    });
    this.#tlsListener = listener;
    this.#tlsPort = (listener.addr as Deno.NetAddr).port;
    this.#log.info("rtmps listening", { addr: `${hostname}:${this.#tlsPort}` });
    const loop = this.#acceptLoop(listener);
    this.#accepting.push(loop);
    this.#loops.set(listener, loop);
    return listener;
  }

  /**
   * Replaces the RTMPS certificate: a new TLS listener with the new PEMs
   * opens on the same port, then the old one closes. Established
   * connections (and the plain listener) are untouched. On failure the old
   * listener stays.
   *
   * @throws {Error} When the new certificate/key is not accepted (rejects).
   */
  async reloadTls(certPem: string, keyPem: string): Promise<void> {
    const old = this.#tlsListener;
    if (!old || !this.#opts.tls) {
      throw new Error("reloadTls: this server has no RTMPS listener");
    }
    try {
      this.#openTls(certPem, keyPem);
    } catch (err) {
      this.#tlsListener = old;
      throw err;
    }
    old.close();
    // The old socket leaves the port's group once its accept loop ends;
    // until then the kernel may still queue a new connection on it.
    await this.#loops.get(old);
    this.#loops.delete(old);
  }

  /** Refusal counters (for `/metrics`). */
  get refusals(): Refusals {
    return this.#refusals;
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    const o = this.#opts;
    const max = o.maxConnections ?? 1000;
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.#listener !== listener && this.#tlsListener !== listener) {
          return; // stopped (or replaced by a reload)
        }
        if (err instanceof Deno.errors.BadResource) return;
        this.#log.warn("accept failed", { error: String(err) });
        continue;
      }
      if (this.#sessions.size >= max) {
        const a = conn.remoteAddr as Deno.NetAddr;
        this.#refusals.refuse(
          "max_connections",
          "rtmp connection refused: limits.max_connections reached",
          { remote: `${a.hostname}:${a.port}`, limit: max },
        );
        try {
          conn.close();
        } catch { /* gone */ }
        continue;
      }
      const session = new RtmpSession({
        conn,
        connId: this.#nextId++,
        handler: o.handler,
        logger: this.#log,
        chunkSize: o.chunkSize ?? 4096,
        idleTimeoutMs: o.idleTimeoutMs ?? 10_000,
        maxMessageSize: o.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
        maxQueueBytes: o.maxQueueBytes ?? 8 * 1024 * 1024,
        windowAckSize: o.windowAckSize ?? 2_500_000,
        refusals: this.#refusals,
      });
      this.#log.debug("rtmp connection", { remote: session.remoteAddr });
      const done = session.run().finally(() => this.#sessions.delete(session));
      this.#sessions.set(session, done);
    }
  }

  /** Stops accepting, closes every session and waits for them to end. */
  async stop(): Promise<void> {
    const listener = this.#listener;
    if (!listener) return;
    const tlsListener = this.#tlsListener;
    this.#listener = undefined;
    this.#tlsListener = undefined;
    for (const l of [listener, tlsListener]) {
      try {
        l?.close();
      } catch {
        // already closed
      }
    }
    await Promise.all(this.#accepting);
    for (const s of this.#sessions.keys()) s.close("server stopping");
    await Promise.all(this.#sessions.values());
    this.#log.info("rtmp stopped", { port: this.#port });
  }
}
