/**
 * A thin wrapper over `Deno.serve`: port 0 support, the actual port, a clear
 * error when the address cannot be bound, handler errors logged and answered
 * with 500 instead of crashing the server.
 *
 * @module
 */
import { type Logger, nullLogger } from "../log/mod.ts";

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
    }, options.handler);
  } catch (err) {
    throw new Error(
      `${name}: cannot listen on ${hostname}:${options.port}: ${
        (err as Error).message
      }`,
      { cause: err },
    );
  }
  let stopped: Promise<void> | undefined;
  return {
    hostname,
    port: server.addr.port,
    shutdown() {
      stopped ??= server.shutdown();
      return stopped;
    },
  };
}
