/**
 * HTTP-FLV and WebSocket-FLV playback (SPEC §7): `GET /live/NAME.flv` streams
 * the FLV header, onMetaData, sequence headers, the cached GOP and then live
 * tags of the stream `live/NAME` from a {@linkcode StreamHub}; the same path
 * with a WebSocket upgrade sends the same bytes as binary messages (flv.js
 * `ws://`). Each player has a bounded queue and is cut off when it overflows.
 *
 * @module
 */
import {
  type AccessControl,
  type AccessRequest,
  httpAccessRequest,
} from "../auth/mod.ts";
import { ConnectionCaps, Refusals } from "../limits/mod.ts";
import { abortTcp, FreedMemoryReleaser } from "../net/mod.ts";
import { type Logger, nullLogger } from "../log/mod.ts";
import type { HubStream, StreamHub } from "../hub/mod.ts";
import {
  FLV_HEADERS,
  PLAYER_CORS as CORS,
  serveHttpPlayer,
} from "./http_player.ts";
import { type BudgetedPlayer, PlayerBudget } from "./player_budget.ts";
import type { FlvHttpStats, Player, PlayerHost } from "./player_host.ts";
import { listenHttp, type RunningHttpServer } from "./listen.ts";
import { serveWsPlayer } from "./ws_player.ts";
import { streamKeyFromPath } from "./stream_path.ts";
export type { FlvHttpStats };

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
  handler?: (
    req: Request,
    remote?: Deno.NetAddr,
  ) => Response | Promise<Response> | undefined;
  /** Publish/play access (`auth.play`, `hooks.on_play`/`on_stop`). */
  access?: AccessControl;
  /** Most players at once (`edge.max_players`); default 10000. */
  maxPlayers?: number;
  /** Most players from one IP (`edge.max_connections_per_ip`); default 64. */
  maxPlayersPerIp?: number;
  /**
   * All players' unsent bytes together (`edge.player_buffer_bytes`); past
   * it the players holding the most are cut. Default 256 MiB.
   */
  playerBufferBytes?: number;
  /** Refusal counters shared with the node; default a private one. */
  refusals?: Refusals;
  /** Also serve the same routes over TLS (HTTPS/WSS). */
  tls?: { hostname?: string; port: number; certPem: string; keyPem: string };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Answers 403 with the refusal reason. */
function forbidden(reason: string): Response {
  return new Response(`${reason}\n`, {
    status: 403,
    headers: { ...CORS, "content-type": "text/plain; charset=utf-8" },
  });
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
  #extra: FlvHttpServerOptions["handler"];
  #server: RunningHttpServer | undefined;
  #tlsServer: RunningHttpServer | undefined;
  #players = new Set<Player>();
  #access: AccessControl | undefined;
  #caps: ConnectionCaps;
  #budget: PlayerBudget;
  #refusals: Refusals;
  #tls: FlvHttpServerOptions["tls"];
  #nextId = 1;
  #maxPerIp: number;
  #releaser = new FreedMemoryReleaser();
  #playerHost: PlayerHost | undefined;
  #stats: FlvHttpStats = {
    httpPlayers: 0,
    wsPlayers: 0,
    playersTotal: 0,
    slowDisconnects: 0,
    notFound: 0,
    budgetCuts: 0,
    unsentBytes: 0,
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
    this.#access = options.access;
    this.#maxPerIp = options.maxPlayersPerIp ?? 64;
    this.#caps = new ConnectionCaps({
      maxTotal: options.maxPlayers ?? 10_000,
      maxPerAddress: this.#maxPerIp,
    });
    this.#budget = new PlayerBudget(
      options.playerBufferBytes ?? 256 * 1024 * 1024,
    );
    this.#refusals = options.refusals ?? new Refusals({
      logger: this.#log,
      metric: "flvcast_http_refusals_total",
    });
    this.#tls = options.tls;
  }

  /**
   * The connection guard of the player ports: 10 s to send a request head
   * (slowloris), idle keep-alive connections ended, at most
   * `maxPlayersPerIp` connections an address; ended ones are counted.
   */
  #guard() {
    return {
      guard: { idleMs: 10_000, maxPerIp: this.#maxPerIp },
      onGuardEnded: (count: number) => {
        for (let i = 0; i < count; i++) {
          this.#refusals.refuse(
            "http_idle_or_per_ip",
            "http connection ended: no request within 10 s, or over edge.max_connections_per_ip",
            { port: this.port },
          );
        }
      },
    };
  }

  /** The bound HTTPS/WSS port (0 without TLS). */
  get tlsPort(): number {
    return this.#tlsServer?.port ?? 0;
  }

  /** Refusal counters (for `/metrics`). */
  get refusals(): Refusals {
    return this.#refusals;
  }

  /** The bound port (after {@linkcode start}). */
  get port(): number {
    return this.#server?.port ?? this.#port;
  }

  /** Counters (a live object). */
  get stats(): Readonly<FlvHttpStats> {
    this.#stats.budgetCuts = this.#budget.cuts;
    this.#stats.unsentBytes = this.#budget.total;
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
      ...this.#guard(),
    });
    this.#log.info("http-flv listening", {
      addr: `${this.#hostname}:${this.#server.port}`,
    });
    if (this.#tls) {
      try {
        this.#tlsServer = this.#listenTls(this.#tls.certPem, this.#tls.keyPem);
      } catch (err) {
        void this.#server.shutdown();
        this.#server = undefined;
        throw err;
      }
    }
    return Promise.resolve();
  }

  #listenTls(certPem: string, keyPem: string) {
    const tls = this.#tls!;
    const server = listenHttp({
      hostname: tls.hostname ?? this.#hostname,
      port: tls.port,
      handler: (req, info) => this.handle(req, info.remoteAddr),
      logger: this.#log,
      name: "https",
      tls: { cert: certPem, key: keyPem },
      reusePort: true,
      ...this.#guard(),
    });
    this.#log.info("https/wss listening", {
      addr: `${tls.hostname ?? this.#hostname}:${server.port}`,
    });
    return server;
  }

  /**
   * Replaces the HTTPS certificate (SIGHUP): new connections get the new
   * PEMs on the same port; players already connected (HTTP-FLV and WSS)
   * keep playing on theirs (see {@linkcode RunningHttpServer.reloadTls}).
   *
   * @throws {Error} When the new certificate/key is not accepted (the old
   *   listener stays).
   */
  reloadTls(certPem: string, keyPem: string): void {
    const server = this.#tlsServer;
    if (!server) {
      throw new Error("reloadTls: this server has no HTTPS listener");
    }
    server.reloadTls(certPem, keyPem);
    this.#log.info("https/wss certificate replaced", { port: server.port });
  }

  /** Ends every player's body / socket and stops the server. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#releaser.stop();
    for (const p of [...this.#players]) p.close();
    this.#players.clear();
    await Promise.all([server.shutdown(), this.#tlsServer?.shutdown()]);
  }

  /** Answers one request (exposed so another server can embed playback). */
  async handle(req: Request, remote?: Deno.NetAddr): Promise<Response> {
    const extra = this.#extra?.(req, remote);
    if (extra) return extra;
    if (req.method === "OPTIONS") {
      return new Response(null, { status: 204, headers: CORS });
    }
    const url = new URL(req.url);
    if (url.pathname === "/" && this.#statusPage && req.method === "GET") {
      return this.#status();
    }
    const key = streamKeyFromPath(url.pathname);
    if (key === undefined || this.#hub.get(key) === undefined) {
      return this.#notFound(url);
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response(`method not allowed: ${req.method}\n`, {
        status: 405,
        headers: { ...CORS, allow: "GET, HEAD, OPTIONS" },
      });
    }
    const ws = req.headers.get("upgrade")?.toLowerCase() === "websocket";
    const ar = httpAccessRequest(
      url,
      key,
      remote,
      ws ? "ws-flv" : "http-flv",
      this.#nextId++,
    );
    // Admission first (cheap), so a refused crowd never reaches a hook.
    const slot = this.#caps.admit(ar.clientIp);
    if (typeof slot === "string") {
      this.#refusals.refuse(
        slot,
        `player refused: ${
          slot === "max_connections"
            ? "edge.max_players"
            : "edge.max_connections_per_ip"
        } reached`,
        { key, remote: ar.remote },
      );
      return new Response(`too many players (${slot})\n`, {
        status: 503,
        headers: { ...CORS, "retry-after": "5" },
      });
    }
    let handedOver = false;
    try {
      if (this.#access) {
        const why = await this.#access.checkPlay(ar);
        if (why !== undefined) return forbidden(why);
      }
      const stream = this.#hub.get(key); // may have ended meanwhile
      if (stream === undefined) return this.#notFound(url);
      if (req.method === "HEAD") {
        return new Response(null, { status: 200, headers: FLV_HEADERS });
      }
      const host = this.#host();
      const res = ws
        ? serveWsPlayer(host, req, stream, ar, slot.release, remote)
        : serveHttpPlayer(host, stream, ar, slot.release);
      handedOver = res.status === 200 || res.status === 101;
      return res;
    } finally {
      if (!handedOver) slot.release();
    }
  }

  #notFound(url: URL): Response {
    this.#stats.notFound++;
    return new Response(`stream not found: ${url.pathname}\n`, {
      status: 404,
      headers: { ...CORS, "content-type": "text/plain; charset=utf-8" },
    });
  }

  /** What a player sees of this server. */
  #host(): PlayerHost {
    return this.#playerHost ??= {
      log: this.#log,
      budget: this.#budget,
      maxQueue: this.#maxQueue,
      stats: this.#stats,
      players: this.#players,
      ended: (ar, release, player, started, bytes) =>
        this.#ended(ar, release, player, started, bytes),
      slow: (stream, who, proto) => this.#slow(stream, who, proto),
      abort: (remote) => this.#abort(remote),
    };
  }

  /** The end of a play: the slot, the budget, `on_stop`. */
  #ended(
    ar: AccessRequest,
    release: () => void,
    player: BudgetedPlayer,
    started: number,
    bytes: number,
  ): void {
    release();
    this.#budget.remove(player);
    this.#access?.ended("play", ar, {
      durationMs: performance.now() - started,
      bytes,
    });
  }

  /**
   * Ends a cut WebSocket player's TCP connection: its unsent frames sit in
   * the runtime until the socket fails, and a peer that never reads never
   * lets it fail — so shut the socket down (the failed writes then free it).
   */
  #abort(remote: Deno.NetAddr | undefined): void {
    if (!remote) return;
    if (!abortTcp(this.port, remote) && this.tlsPort) {
      abortTcp(this.tlsPort, remote);
    }
    // The failed writes free their frames over the next turns of the event
    // loop; trim the allocator until they are done.
    this.#releaser.released();
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
