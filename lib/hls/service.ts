/**
 * HLS / LL-HLS over HTTP (the thin shell around {@linkcode HlsSegmenter}):
 * `GET /KEY.m3u8` (blocking reload with `_HLS_msn`/`_HLS_part`, delta
 * updates with `_HLS_skip=YES`), `/KEY/init<N>.mp4`, `/KEY/s<MSN>.m4s`,
 * `/KEY/p<ID>.m4s` (a preload-hinted part is answered as soon as it is
 * written), CORS `*`. A stream is segmented from the first HLS request for
 * it (one more subscriber of its {@linkcode HubStream}: the cached GOP, then
 * live tags) until no HLS request came for `idleMs`. A republish (the hub
 * stream ends as `replaced`) continues the same playlist after a
 * discontinuity; any other end completes it with `#EXT-X-ENDLIST`, kept for
 * `lingerMs`.
 *
 * @module
 */
import type { MetricFamily } from "../metrics/mod.ts";
import { listenHttp, type RunningHttpServer } from "../http/mod.ts";
import { type Logger, nullLogger } from "../log/mod.ts";
import type { HubStream, HubSubscription, StreamHub } from "../hub/mod.ts";
import {
  HlsSegmenter,
  type HlsSegmenterStats,
  renderPlaylist,
} from "./segmenter.ts";
import { HeldRequests, type HoldTarget } from "./held_requests.ts";
import { hlsMetrics, type HlsStats } from "./metrics.ts";
import {
  HLS_CORS as CORS,
  type HlsRoute,
  hlsText as text,
  parseHlsPath,
} from "./route.ts";
export { type HlsRoute, type HlsStats, parseHlsPath };

/** Options for {@linkcode HlsService}. */
export interface HlsServiceOptions {
  /** Where live streams are found. */
  hub: StreamHub;
  /** LL-HLS part target in ms (default 200). */
  partMs?: number;
  /** Segments in the live window (default 6). */
  windowSegments?: number;
  /** Stop segmenting a stream this long after its last HLS request (default 30000). */
  idleMs?: number;
  /** Keep an ended playlist this long (default 30000). */
  lingerMs?: number;
  /** Requests held at once (blocking reloads, hinted parts) across all streams (default 10000). */
  maxHeld?: number;
  /**
   * Requests held at once for one client address (default 64; the edge
   * passes `edge.max_connections_per_ip`), so one address cannot take the
   * whole `maxHeld` from every other viewer.
   */
  maxHeldPerClient?: number;
  /** Logger. */
  logger?: Logger;
  /** Wall clock in ms (tests). */
  now?: () => number;
  /**
   * Play access (e.g. `auth.play`), asked for every HLS request before it
   * is served: a Response refuses it (sent as is), undefined lets it go on.
   * The playlist's own query parameters (other than `_HLS_*`, e.g. a
   * `sign=`) are added to every URI in it, so the media requests carry them.
   */
  authorize?: (
    req: Request,
    route: HlsRoute,
    remote?: Deno.NetAddr,
  ) => Response | undefined | Promise<Response | undefined>;
}

const PLAYLIST_TYPE = "application/vnd.apple.mpegurl";
/** Longest query (other than `_HLS_*`) a playlist carries onto its URIs. */
export const MAX_CARRIED_QUERY = 2048;

interface Session {
  key: string;
  seg: HlsSegmenter;
  sub: HubSubscription | undefined;
  /** Held requests wait on this (woken on every segmenter change). */
  hold: HoldTarget;
  lastRequestAt: number;
  endedAt: number | undefined;
}

/**
 * Serves HLS and LL-HLS for the streams of a hub.
 *
 * @example Usage
 * ```ts ignore
 * const hls = new HlsService({ hub });
 * Deno.serve((req) => hls.handle(req) ?? new Response("no", { status: 404 }));
 * ```
 */
export class HlsService {
  #hub: StreamHub;
  #partMs: number;
  #window: number;
  #idleMs: number;
  #lingerMs: number;
  #held: HeldRequests;
  #log: Logger;
  #now: () => number;
  #authorize: HlsServiceOptions["authorize"];
  #sessions = new Map<string, Session>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #retired: HlsSegmenterStats = {
    segments: 0,
    parts: 0,
    malformed: 0,
    skipped: 0,
  };
  #stats: HlsStats = {
    playlistRequests: 0,
    segmentRequests: 0,
    partRequests: 0,
    held: 0,
    heldTimeouts: 0,
    heldRefused: 0,
    heldNow: 0,
    bytesServed: 0,
    notFound: 0,
    badRequests: 0,
  };

  /** Creates the service (no I/O until a request comes). */
  constructor(options: HlsServiceOptions) {
    this.#hub = options.hub;
    this.#partMs = options.partMs ?? 200;
    this.#window = options.windowSegments ?? 6;
    // Validate once, here, with the segmenter's own checks.
    new HlsSegmenter({ partMs: this.#partMs, windowSegments: this.#window });
    this.#idleMs = options.idleMs ?? 30_000;
    this.#lingerMs = options.lingerMs ?? 30_000;
    this.#log = options.logger ?? nullLogger;
    this.#now = options.now ?? Date.now;
    this.#held = new HeldRequests({
      maxHeld: options.maxHeld ?? 10_000,
      maxHeldPerClient: options.maxHeldPerClient ?? 64,
      stats: this.#stats,
      logger: this.#log,
      now: this.#now,
    });
    this.#authorize = options.authorize;
  }

  /** Counters (a live object). */
  get stats(): Readonly<HlsStats> {
    return this.#stats;
  }

  /** Segments and parts produced so far (all streams, live and gone). */
  produced(): { segments: number; parts: number; sessions: number } {
    let segments = this.#retired.segments;
    let parts = this.#retired.parts;
    for (const s of this.#sessions.values()) {
      segments += s.seg.stats.segments;
      parts += s.seg.stats.parts;
    }
    return { segments, parts, sessions: this.#sessions.size };
  }

  /**
   * Answers an HLS request (a Promise when it is held), or undefined when
   * the path is not an HLS route so other handlers can answer it.
   * `remote` (the client's address) bounds what one address may hold.
   */
  handle(
    req: Request,
    remote?: Deno.NetAddr,
  ): Response | Promise<Response> | undefined {
    const url = new URL(req.url);
    const route = parseHlsPath(url.pathname);
    if (route === undefined) return undefined;
    if (req.method === "OPTIONS") {
      return new Response(null, { status: 204, headers: CORS });
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response(`method not allowed: ${req.method}\n`, {
        status: 405,
        headers: { ...CORS, allow: "GET, HEAD, OPTIONS" },
      });
    }
    if (route.kind === "playlist") this.#stats.playlistRequests++;
    else {
      this.#stats.segmentRequests++;
      if (route.kind === "part") this.#stats.partRequests++;
    }
    const refusal = this.#authorize?.(req, route, remote);
    if (refusal instanceof Promise) {
      return refusal.then((r) =>
        r ?? this.#serve(req, url, route, remote?.hostname)
      );
    }
    return refusal ?? this.#serve(req, url, route, remote?.hostname);
  }

  #serve(
    req: Request,
    url: URL,
    route: HlsRoute,
    client: string | undefined,
  ): Response | Promise<Response> {
    const session = this.#session(route.key);
    if (session === undefined) {
      this.#stats.notFound++;
      return text(404, `stream not found: ${url.pathname}`);
    }
    session.lastRequestAt = this.#now();
    const head = req.method === "HEAD";
    switch (route.kind) {
      case "playlist":
        return this.#playlist(session, url, head, client);
      case "init":
        return this.#media(session.seg.init(route.id), "video/mp4", head);
      case "segment":
        return this.#segment(session, route.msn, head, client);
      case "part":
        return this.#part(session, route.id, head, client);
    }
  }

  /** Metric families (`flvcast_edge_hls_*`). */
  metrics(prefix = "flvcast_edge_hls_"): MetricFamily[] {
    return hlsMetrics(this.#stats, this.produced(), prefix);
  }

  /**
   * Serves HLS alone on its own port (the seed's `:7002`): these routes, a
   * 404 for anything else. Throws naming the address when it cannot bind.
   */
  listen(
    addr: { hostname: string; port: number },
    logger?: Logger,
  ): RunningHttpServer {
    return listenHttp({
      hostname: addr.hostname,
      port: addr.port,
      handler: (req, info) =>
        this.handle(req, info.remoteAddr) ??
          new Response("not found: HLS serves /NAME.m3u8\n", {
            status: 404,
            headers: { "access-control-allow-origin": "*" },
          }),
      logger,
      name: "edge hls",
    });
  }

  /** Stops timers, unsubscribes from every stream and releases held requests. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const s of [...this.#sessions.values()]) this.#drop(s);
  }

  #session(key: string): Session | undefined {
    const have = this.#sessions.get(key);
    if (have && (have.endedAt === undefined || !this.#hub.get(key))) {
      return have;
    }
    const stream = this.#hub.get(key);
    if (stream === undefined || stream.ended !== undefined) return have;
    if (have) {
      // Ended earlier, live again: a fresh playlist.
      this.#drop(have);
    }
    const session: Session = {
      key,
      seg: new HlsSegmenter(
        { partMs: this.#partMs, windowSegments: this.#window },
        () => {
          for (const w of [...session.hold.waiters]) w();
        },
      ),
      sub: undefined,
      hold: { waiters: new Set(), ended: () => session.seg.ended },
      lastRequestAt: this.#now(),
      endedAt: undefined,
    };
    this.#sessions.set(key, session);
    this.#attach(session, stream);
    this.#log.info("hls started", { key });
    this.#timer ??= setInterval(() => this.#sweep(), 1000);
    return session;
  }

  #attach(session: Session, stream: HubStream): void {
    const sub = stream.subscribe({
      onTag: (tag) => session.seg.push(tag, this.#now()),
      onEnd: (reason) => {
        session.sub = undefined;
        if (reason === "replaced") {
          session.seg.discontinue(this.#now());
          // StreamHub.open ends the old stream before it registers the new one.
          queueMicrotask(() => {
            const next = this.#hub.get(session.key);
            if (this.#sessions.get(session.key) !== session) return;
            if (next && next.ended === undefined) this.#attach(session, next);
            else this.#finish(session);
          });
          return;
        }
        this.#finish(session);
      },
    });
    session.sub = sub;
    for (const tag of sub.startTags) session.seg.push(tag, this.#now());
  }

  #finish(session: Session): void {
    session.seg.end(this.#now());
    session.endedAt = this.#now();
  }

  #drop(session: Session): void {
    session.sub?.unsubscribe();
    session.sub = undefined;
    if (!session.seg.ended) session.seg.end(this.#now()); // wakes held requests
    const st = session.seg.stats;
    this.#retired.segments += st.segments;
    this.#retired.parts += st.parts;
    if (this.#sessions.get(session.key) === session) {
      this.#sessions.delete(session.key);
    }
    this.#log.info("hls stopped", { key: session.key });
  }

  #sweep(): void {
    const now = this.#now();
    for (const s of [...this.#sessions.values()]) {
      if (s.endedAt !== undefined && now - s.endedAt > this.#lingerMs) {
        this.#drop(s);
      } else if (
        s.endedAt === undefined && s.hold.waiters.size === 0 &&
        now - s.lastRequestAt > this.#idleMs
      ) {
        this.#drop(s);
      }
    }
    if (this.#sessions.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Three target durations (the LL-HLS hold limit); 10 s before the first segment. */
  #holdMs(session: Session): number {
    const t = session.seg.targetDuration;
    return t === undefined ? 10_000 : 3 * t * 1000;
  }

  #playlist(
    session: Session,
    url: URL,
    head: boolean,
    client: string | undefined,
  ): Response | Promise<Response> {
    const q = url.searchParams;
    const msnText = q.get("_HLS_msn");
    const partText = q.get("_HLS_part");
    const skip = q.get("_HLS_skip") === "YES" || q.get("_HLS_skip") === "v2";
    const int = (s: string | null) =>
      s !== null && /^\d{1,9}$/.test(s) ? Number(s) : undefined;
    const msn = int(msnText);
    const part = int(partText);
    if (
      (msnText !== null && msn === undefined) ||
      (partText !== null && (part === undefined || msn === undefined))
    ) {
      this.#stats.badRequests++;
      return text(
        400,
        `bad request: expected _HLS_msn=<integer> [&_HLS_part=<integer>], got ${url.search}`,
      );
    }
    const keep = new URLSearchParams(
      [...q].filter(([k]) => !k.startsWith("_HLS_")),
    ).toString();
    if (keep.length > MAX_CARRIED_QUERY) {
      this.#stats.badRequests++;
      return text(
        414,
        `query too long: a playlist carries at most ${MAX_CARRIED_QUERY} bytes of query onto its URIs, received ${keep.length}`,
      );
    }
    const seg = session.seg;
    if (msn !== undefined && !seg.ended && msn > seg.nextMsn + 2) {
      this.#stats.badRequests++;
      return text(
        400,
        `bad request: _HLS_msn=${msn} is more than two segments ahead of ${seg.nextMsn}`,
      );
    }
    const ready = () =>
      seg.targetDuration !== undefined &&
      (msn === undefined || seg.has(msn, part));
    const answer = (ok: boolean): Response => {
      if (!ok) {
        return text(
          503,
          seg.targetDuration === undefined
            ? "playlist not ready: no complete segment yet"
            : `playlist not ready: segment ${msn} part ${
              part ?? "-"
            } not produced in time`,
        );
      }
      const prefix = session.key.slice(session.key.lastIndexOf("/") + 1) + "/";
      const body = new TextEncoder().encode(
        renderPlaylist(seg.view(), { skip, prefix, query: keep }),
      );
      if (!head) this.#stats.bytesServed += body.length;
      return new Response(head ? null : body, {
        headers: {
          ...CORS,
          "content-type": PLAYLIST_TYPE,
          "cache-control": "no-cache",
        },
      });
    };
    const waited = this.#held.wait(
      session.hold,
      ready,
      this.#holdMs(session),
      client,
    );
    return typeof waited === "boolean" ? answer(waited) : waited.then(answer);
  }

  #media(
    bytes: Uint8Array | undefined,
    type: string,
    head: boolean,
  ): Response {
    if (bytes === undefined) {
      this.#stats.notFound++;
      return text(404, "not in the live window");
    }
    if (!head) this.#stats.bytesServed += bytes.length;
    return new Response(head ? null : bytes as Uint8Array<ArrayBuffer>, {
      headers: {
        ...CORS,
        "content-type": type,
        "content-length": String(bytes.length),
        "cache-control": "max-age=60",
      },
    });
  }

  #segment(
    session: Session,
    msn: number,
    head: boolean,
    client: string | undefined,
  ): Response | Promise<Response> {
    const seg = session.seg;
    const have = seg.segment(msn);
    if (have || msn !== seg.nextMsn) {
      return this.#media(have?.bytes, "video/mp4", head);
    }
    // The segment being built: answer when it is complete.
    const waited = this.#held.wait(
      session.hold,
      () => seg.segment(msn) !== undefined,
      this.#holdMs(session),
      client,
    );
    const answer = () =>
      this.#media(seg.segment(msn)?.bytes, "video/mp4", head);
    return typeof waited === "boolean" ? answer() : waited.then(answer);
  }

  #part(
    session: Session,
    id: number,
    head: boolean,
    client: string | undefined,
  ): Response | Promise<Response> {
    const seg = session.seg;
    const have = seg.part(id);
    // Only the hinted part (and the one after it) may be waited for.
    if (have || id < seg.nextPartId || id > seg.nextPartId + 1) {
      return this.#media(have?.bytes, "video/mp4", head);
    }
    const waited = this.#held.wait(
      session.hold,
      () => seg.part(id) !== undefined,
      this.#holdMs(session),
      client,
    );
    const answer = () => this.#media(seg.part(id)?.bytes, "video/mp4", head);
    return typeof waited === "boolean" ? answer() : waited.then(answer);
  }
}
