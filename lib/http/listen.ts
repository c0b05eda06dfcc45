/**
 * A thin wrapper over `Deno.serve`: port 0 support, the actual port, a clear
 * error when the address cannot be bound, handler errors logged and answered
 * with 500 instead of crashing the server.
 *
 * @module
 */
import { ConnectionTracker } from "../limits/mod.ts";
import { type Logger, nullLogger } from "../log/mod.ts";
import { abortTcpPeers, establishedPeers, peerKey } from "../net/mod.ts";

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
  /** SO_REUSEPORT (a replacement listener may bind the same port). */
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
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname,
      port: options.port,
      ...(options.tls ?? {}),
      ...(options.reusePort ? { reusePort: true } : {}),
      onListen() {},
      onError(err) {
        log.error(`${name}: request handler failed`, { error: err });
        return new Response("internal error\n", { status: 500 });
      },
    }, handler);
  } catch (err) {
    throw new Error(
      `${name}: cannot listen on ${hostname}:${options.port}: ${
        (err as Error).message
      }`,
      { cause: err },
    );
  }
  let stopped: Promise<void> | undefined;
  let sweeper: ReturnType<typeof setInterval> | undefined;
  if (tracker && guard) {
    const port = server.addr.port;
    sweeper = setInterval(() => {
      const victims = tracker.sweep(establishedPeers(port), performance.now());
      if (victims.length === 0) return;
      const ended = abortTcpPeers(port, victims);
      if (ended > 0) options.onGuardEnded?.(ended, "idle");
    }, guard.sweepMs);
    Deno.unrefTimer(sweeper);
  }
  return {
    hostname,
    port: server.addr.port,
    shutdown() {
      clearInterval(sweeper);
      stopped ??= server.shutdown();
      return stopped;
    },
  };
}
