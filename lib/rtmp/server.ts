/**
 * The RTMP TCP server (I/O): accepts connections and runs one
 * {@linkcode RtmpSession} each.
 *
 * @module
 */
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
  #sessions = new Map<RtmpSession, Promise<void>>();
  #accepting: Promise<void> | undefined;
  #nextId = 1;
  #port = 0;

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
    this.#accepting = this.#acceptLoop(listener);
  }

  async #acceptLoop(listener: Deno.TcpListener): Promise<void> {
    while (true) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.#listener !== listener) return; // stopped
        if (err instanceof Deno.errors.BadResource) return;
        this.#log.warn("accept failed", { error: String(err) });
        continue;
      }
      const o = this.#opts;
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
    this.#listener = undefined;
    try {
      listener.close();
    } catch {
      // already closed
    }
    await this.#accepting;
    for (const s of this.#sessions.keys()) s.close("server stopping");
    await Promise.all(this.#sessions.values());
    this.#log.info("rtmp stopped", { port: this.#port });
  }
}
