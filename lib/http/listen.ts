/**
 * A thin wrapper over `Deno.serve`: port 0 support, the actual port, a clear
 * error when the address cannot be bound, handler errors logged and answered
 * with 500 instead of crashing the server.
 *
 * @module
 */
import { ConnectionTracker } from "../limits/mod.ts";
import { type Logger, nullLogger } from "../log/mod.ts";
import {
  abortTcpPeers,
  establishedPeers,
  listeningSockets,
  peerKey,
  stopListening,
} from "../net/mod.ts";

/** Options for {@linkcode listenHttp}. */
export interface ListenHttpOptions {
  /** Address to bind; default `0.0.0.0`. */
  hostname?: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** Answers each request. */
  handler: (
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ) => Response | Promise<Response>;
  /** Where handler errors go. */
  logger?: Logger;
  /** Name used in errors and logs, e.g. `edge flv`. */
  name?: string;
  /** Serve HTTPS with this PEM certificate chain and key. */
  tls?: { cert: string; key: string };
  /** SO_REUSEPORT (needed by {@linkcode RunningHttpServer.reloadTls}). */
  reusePort?: boolean;
  /**
   * End connections that hold no request: no complete request head (or
   * no next one on a keep-alive connection) within `idleMs` — Deno.serve
   * has no header timeout — and, past `maxPerIp`, an address's newest idle
   * ones. Checked every `sweepMs` (default 1000) from the kernel's TCP
   * table; Linux + FFI only (elsewhere off, said once in the log).
   * Default: `idleMs` 10000.
   */
  guard?: { idleMs?: number; maxPerIp?: number; sweepMs?: number } | false;
  /** Called with how many connections each sweep ended (for counters). */
  onGuardEnded?: (count: number, reason: "idle") => void;
}

/** A listening HTTP server. */
export interface RunningHttpServer {
  /** Bound address. */
  readonly hostname: string;
  /** Bound port (the real one when 0 was asked). */
  readonly port: number;
  /** Stops accepting and waits for open requests to finish. */
  shutdown(): Promise<void>;
  /**
   * Serves new connections with another certificate (SIGHUP), keeping the
   * open ones — HTTP bodies and WebSockets — on theirs: a new listener
   * with the new PEMs binds the same port (needs `tls` and `reusePort`),
   * then the old listening socket stops accepting (Linux + FFI; elsewhere
   * the old server shuts down, which closes its WebSockets, said in the
   * log). One connection guard covers them all.
   *
   * @throws {Error} When the new certificate/key is not accepted (the old
   *   listener goes on).
   */
  reloadTls(cert: string, key: string): void;
}

/**
 * Starts an HTTP server; throws an Error naming the address when it cannot
 * be bound (port in use, bad address).
 *
 * @example Usage
 * ```ts
 * import { listenHttp } from "./listen.ts";
 * const server = listenHttp({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   handler: () => new Response("ok"),
 * });
 * const res = await fetch(`http://127.0.0.1:${server.port}/`);
 * await res.text(); // "ok"
 * await server.shutdown();
 * ```
 */
export function listenHttp(options: ListenHttpOptions): RunningHttpServer {
  const hostname = options.hostname || "0.0.0.0";
  const log = options.logger ?? nullLogger;
  const name = options.name ?? "http";
  const guard = options.guard === false ? undefined : {
    idleMs: options.guard?.idleMs ?? 10_000,
    maxPerIp: options.guard?.maxPerIp,
    sweepMs: options.guard?.sweepMs ?? 1000,
  };
  const tracker = guard && new ConnectionTracker(guard);
  const handler = tracker
    ? (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => {
      const peer = peerKey(info.remoteAddr.hostname, info.remoteAddr.port);
      const upgrade = req.headers.get("upgrade") !== null;
      tracker.begin(peer, performance.now(), upgrade);
      // `completed` rejects when the response could not be sent: end either way.
      const end = () => tracker.end(peer, performance.now());
      info.completed.then(end, end);
      return options.handler(req, info);
    }
    : options.handler;
  const serve = (
    tls: { cert: string; key: string } | undefined,
    port: number,
  ) => {
    try {
      return Deno.serve({
        hostname,
        port,
        ...(tls ?? {}),
        ...(options.reusePort ? { reusePort: true } : {}),
        onListen() {},
        onError(err) {
          log.error(`${name}: request handler failed`, { error: err });
          return new Response("internal error\n", { status: 500 });
        },
      }, handler);
    } catch (err) {
      throw new Error(
        `${name}: cannot listen on ${hostname}:${port}: ${
          (err as Error).message
        }`,
        { cause: err },
      );
    }
  };
  const reloadable = Boolean(options.tls && options.reusePort);
  // This server's own listening socket: the ones on the port after it
  // started that were not there before (another listener of this process
  // may share the port number on another address).
  const others = reloadable && options.port !== 0
    ? listeningSockets(options.port)
    : [];
  let server = serve(options.tls, options.port);
  const port = server.addr.port;
  /** Servers whose listener a reload stopped; their connections go on. */
  const retired: Deno.HttpServer<Deno.NetAddr>[] = [];
  let inodes = reloadable
    ? listeningSockets(port).filter((i) => !others.includes(i))
    : [];
  let stopped: Promise<void> | undefined;
  let sweeper: ReturnType<typeof setInterval> | undefined;
  if (tracker && guard) {
    sweeper = setInterval(() => {
      const victims = tracker.sweep(
        establishedPeers(port, hostname),
        performance.now(),
      );
      if (victims.length === 0) return;
      const ended = abortTcpPeers(port, victims);
      if (ended > 0) options.onGuardEnded?.(ended, "idle");
    }, guard.sweepMs);
    Deno.unrefTimer(sweeper);
  }
  return {
    hostname,
    port,
    shutdown() {
      clearInterval(sweeper);
      stopped ??= Promise.allSettled(
        [server, ...retired].map((s) => s.shutdown()),
      ).then(() => {});
      return stopped;
    },
    reloadTls(cert, key) {
      if (!reloadable) {
        throw new Error(`${name}: reloadTls needs tls and reusePort`);
      }
      if (stopped) throw new Error(`${name}: reloadTls after shutdown`);
      const before = listeningSockets(port);
      const next = serve({ cert, key }, port);
      const old = server;
      const oldInodes = inodes;
      server = next;
      inodes = listeningSockets(port).filter((i) => !before.includes(i));
      retired.push(old);
      // The stopped listener ends its accept loop with an error; its
      // accepted connections are served on.
      old.finished.catch(() => {});
      if (stopListening(port, oldInodes) === 0) {
        log.warn(
          `${name}: cannot stop only the old listener (no FFI); it shuts down and its WebSocket players are closed`,
        );
        void old.shutdown();
      }
    },
  };
}
