/**
 * HTTP-FLV and WebSocket-FLV playback (SPEC §7): `GET /live/NAME.flv` streams
 * the FLV header, onMetaData, sequence headers, the cached GOP and then live
 * tags of the stream `live/NAME` from a {@linkcode StreamHub}; the same path
 * with a WebSocket upgrade sends the same bytes as binary messages (flv.js
 * `ws://`). Each player has a bounded queue and is cut off when it overflows.
 *
 * @module
 */
import { encodeFlvHeader, fileTagBytes as fileTag } from "../flv/mod.ts";
import { type Logger, nullLogger } from "../log/mod.ts";
import { listenHttp, type RunningHttpServer } from "./listen.ts";
import { PlayerQueue } from "./player_queue.ts";
import type { HubStream, HubSubscription, StreamHub } from "../hub/mod.ts";

/** Options for {@linkcode FlvHttpServer}. */
export interface FlvHttpServerOptions {
  /** Where streams are looked up. */
  hub: StreamHub;
  /** Address to bind; default `0.0.0.0`. */
  hostname?: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** Logger for player events. */
  logger?: Logger;
  /** Bytes of live data a player may fall behind before it is cut off
   * (on top of its start-up burst). Default 8 MiB. */
  maxQueueBytes?: number;
  /** Serve a small HTML page listing the streams at `/`. Default true. */
  statusPage?: boolean;
  /**
   * Asked first for every request (e.g. the web page of `lib/web`); a
   * Response answers it, `undefined` lets the FLV routes go on.
   */
  handler?: (req: Request) => Response | Promise<Response> | undefined;
}

/** Counters of a {@linkcode FlvHttpServer}. */
export interface FlvHttpStats {
  /** HTTP-FLV players connected now. */
  httpPlayers: number;
  /** WebSocket-FLV players connected now. */
  wsPlayers: number;
  /** Players accepted since start. */
  playersTotal: number;
  /** Players cut off because their queue overflowed. */
  slowDisconnects: number;
  /** Requests for a stream that does not exist. */
  notFound: number;
}

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, HEAD, OPTIONS",
  "access-control-allow-headers": "*",
};

const FLV_HEADERS = {
  ...CORS,
  "content-type": "video/x-flv",
  "cache-control": "no-cache, no-store",
};

const FLV_HEADER = encodeFlvHeader();

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Stream key for a request path: `/live/movie.flv` → `live/movie`; undefined
 * when the path does not name an FLV stream.
 */
export function streamKeyFromPath(pathname: string): string | undefined {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (!path.startsWith("/") || !path.endsWith(".flv")) return undefined;
  const key = path.slice(1, -4);
  if (key === "" || key.split("/").some((p) => p === "" || p === "..")) {
    return undefined;
  }
  return key;
}

/** A connected player, as seen by {@linkcode FlvHttpServer.stop}. */
interface Player {
  close(): void;
}

/**
 * The player-facing HTTP server of an edge (or any node with a hub).
 *
 * @example Usage
 * ```ts ignore
 * const hub = new StreamHub();
 * const server = new FlvHttpServer({ hub, hostname: "127.0.0.1", port: 0 });
 * await server.start();
 * // players: http://127.0.0.1:${server.port}/live/movie.flv
 * await server.stop();
 * ```
 */
export class FlvHttpServer {
  #hub: StreamHub;
  #hostname: string;
  #port: number;
  #log: Logger;
  #maxQueue: number;
  #statusPage: boolean;
  #extra:
    | ((req: Request) => Response | Promise<Response> | undefined)
    | undefined;
  #server: RunningHttpServer | undefined;
  #players = new Set<Player>();
  #stats: FlvHttpStats = {
    httpPlayers: 0,
    wsPlayers: 0,
    playersTotal: 0,
    slowDisconnects: 0,
    notFound: 0,
  };

  /** Creates the server; {@linkcode start} binds it. */
  constructor(options: FlvHttpServerOptions) {
    this.#hub = options.hub;
    this.#hostname = options.hostname || "0.0.0.0";
    this.#port = options.port;
    this.#log = options.logger ?? nullLogger;
    this.#maxQueue = options.maxQueueBytes ?? 8 * 1024 * 1024;
    this.#statusPage = options.statusPage ?? true;
    this.#extra = options.handler;
  }

  /** The bound port (after {@linkcode start}). */
  get port(): number {
    return this.#server?.port ?? this.#port;
  }

  /** Counters (a live object). */
  get stats(): Readonly<FlvHttpStats> {
    return this.#stats;
  }

  /** Binds the port; throws naming the address when it cannot. */
  start(): Promise<void> {
    if (this.#server) return Promise.resolve();
    this.#server = listenHttp({
      hostname: this.#hostname,
      port: this.#port,
      handler: (req, info) => this.handle(req, info.remoteAddr),
      logger: this.#log,
      name: "flv http",
    });
    this.#log.info("http-flv listening", {
      addr: `${this.#hostname}:${this.#server.port}`,
    });
    return Promise.resolve();
  }

  /** Ends every player's body / socket and stops the server. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    for (const p of [...this.#players]) p.close();
    this.#players.clear();
    await server.shutdown();
  }

  /** Answers one request (exposed so another server can embed playback). */
  handle(req: Request, remote?: Deno.NetAddr): Response | Promise<Response> {
    const extra = this.#extra?.(req);
    if (extra) return extra;
    if (req.method === "OPTIONS") {
      return new Response(null, { status: 204, headers: CORS });
    }
    const url = new URL(req.url);
    if (url.pathname === "/" && this.#statusPage && req.method === "GET") {
      return this.#status();
    }
    const key = streamKeyFromPath(url.pathname);
    const stream = key === undefined ? undefined : this.#hub.get(key);
    if (stream === undefined) {
      this.#stats.notFound++;
      return new Response(`stream not found: ${url.pathname}\n`, {
        status: 404,
        headers: { ...CORS, "content-type": "text/plain; charset=utf-8" },
      });
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response(`method not allowed: ${req.method}\n`, {
        status: 405,
        headers: { ...CORS, allow: "GET, HEAD, OPTIONS" },
      });
    }
    const who = remote ? `${remote.hostname}:${remote.port}` : "?";
    if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
      return this.#serveWebSocket(req, stream, who);
    }
    if (req.method === "HEAD") {
      return new Response(null, { status: 200, headers: FLV_HEADERS });
    }
    return this.#serveHttp(stream, who);
  }

  #serveHttp(stream: HubStream, who: string): Response {
    const queue = new PlayerQueue({
      maxBytes: this.#maxQueue,
    });
    let open = true;
    const player: Player = { close: () => queue.close() };
    const done = () => {
      if (!open) return;
      open = false;
      sub.unsubscribe();
      this.#players.delete(player);
      this.#stats.httpPlayers--;
      this.#log.info("player left", { key: stream.key, remote: who });
    };
    const sub: HubSubscription = stream.subscribe({
      onTag: (tag) => {
        if (!queue.push(fileTag(tag)) && open) {
          this.#slow(stream, who, "http");
          done();
        }
      },
      onEnd: () => queue.close(),
    });
    queue.push(FLV_HEADER, true);
    for (const tag of sub.startTags) queue.push(fileTag(tag), true);
    this.#players.add(player);
    this.#stats.httpPlayers++;
    this.#stats.playersTotal++;
    this.#log.info("player joined", {
      key: stream.key,
      remote: who,
      proto: "http",
      startTags: sub.startTags.length,
    });
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const chunk = await queue.next();
          if (chunk === null) {
            controller.close();
            done();
          } else {
            controller.enqueue(chunk);
          }
        } catch (err) {
          controller.error(err);
          done();
        }
      },
      cancel() {
        queue.close();
        done();
      },
    }, { highWaterMark: 0 });
    return new Response(body, { status: 200, headers: FLV_HEADERS });
  }

  #serveWebSocket(req: Request, stream: HubStream, who: string): Response {
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(req);
    } catch (err) {
      return new Response(
        `bad websocket upgrade: ${(err as Error).message}\n`,
        {
          status: 400,
          headers: CORS,
        },
      );
    }
    const { socket, response } = upgraded;
    socket.binaryType = "arraybuffer";
    let sub: HubSubscription | undefined;
    let open = false;
    const player: Player = {
      close: () => {
        try {
          socket.close(1000, "server stopping");
        } catch { /* already closed */ }
      },
    };
    const done = () => {
      if (!open) return;
      open = false;
      sub?.unsubscribe();
      this.#players.delete(player);
      this.#stats.wsPlayers--;
      this.#log.info("player left", { key: stream.key, remote: who });
    };
    socket.onopen = () => {
      if (stream.ended !== undefined) {
        socket.close(1000, "stream ended");
        return;
      }
      open = true;
      this.#players.add(player);
      this.#stats.wsPlayers++;
      this.#stats.playersTotal++;
      sub = stream.subscribe({
        onTag: (tag) => {
          if (!open) return;
          if (socket.bufferedAmount > this.#maxQueue) {
            this.#slow(stream, who, "ws");
            done();
            try {
              socket.close(1008, "player too slow");
            } catch { /* already closing */ }
            return;
          }
          socket.send(fileTag(tag));
        },
        onEnd: () => {
          try {
            socket.close(1000, "stream ended");
          } catch { /* already closing */ }
        },
      });
      socket.send(concat([FLV_HEADER, ...sub.startTags.map(fileTag)]));
      this.#log.info("player joined", {
        key: stream.key,
        remote: who,
        proto: "ws",
        startTags: sub.startTags.length,
      });
    };
    socket.onclose = done;
    socket.onerror = () => {};
    return response;
  }

  #slow(stream: HubStream, who: string, proto: string): void {
    this.#stats.slowDisconnects++;
    stream.recordSlowPlayer();
    this.#log.warn("player too slow, disconnected", {
      key: stream.key,
      remote: who,
      proto,
    });
  }

  #status(): Response {
    const rows = this.#hub.streams().map((s) => {
      const i = s.info();
      const href = `/${i.key.split("/").map(encodeURIComponent).join("/")}.flv`;
      return `<tr><td><a href="${escapeHtml(href)}">${
        escapeHtml(i.key)
      }</a></td><td>${i.players}</td><td>${i.tagsIn}</td><td>${i.startedAt.toISOString()}</td></tr>`;
    }).join("\n");
    const html = `<!doctype html><meta charset="utf-8"><title>flvcast</title>
<h1>flvcast streams</h1>
<table border="1" cellpadding="4"><tr><th>stream (HTTP-FLV)</th><th>players</th><th>tags</th><th>started</th></tr>
${rows || '<tr><td colspan="4">no live streams</td></tr>'}
</table>`;
    return new Response(html, {
      headers: { ...CORS, "content-type": "text/html; charset=utf-8" },
    });
  }
}
