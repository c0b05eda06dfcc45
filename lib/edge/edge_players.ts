/**
 * The player side of an edge, assembled from its options: HTTP-FLV /
 * WebSocket-FLV (and HTTPS/WSS) on the FLV port, HLS / LL-HLS, the web page,
 * play access control (signed URLs, hooks) and the refusal counters. The
 * shell starts and stops what this returns.
 *
 * @module
 */
import { AccessControl } from "../auth/mod.ts";
import { HlsService } from "../hls/mod.ts";
import { FlvHttpServer } from "../http/mod.ts";
import type { StreamHub } from "../hub/mod.ts";
import { Refusals } from "../limits/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { HistoryDocument } from "../metrics/mod.ts";
import { VERSION } from "../version/mod.ts";
import { webHandler } from "../web/mod.ts";
import type { PublicStreamInfo } from "./edge_api.ts";
import type { EdgeNodeOptions } from "./edge_options.ts";
import { HlsPlayGate } from "./hls_gate.ts";

/** What the web page reads from the node. */
export interface EdgePageSource {
  /** The public stream list. */
  streams(): PublicStreamInfo[];
  /** The charts' history of some streams. */
  history(keys?: readonly string[]): HistoryDocument;
}

/** The player side of an edge (see the module doc). */
export interface EdgePlayers {
  /** HTTP-FLV / WebSocket-FLV (+ HTTPS/WSS) server, also serving HLS and the page. */
  flv: FlvHttpServer;
  /** HLS / LL-HLS, unless turned off. */
  hls: HlsService | undefined;
  /** HLS play access: the sign on every request, hooks once per viewer. */
  hlsGate: HlsPlayGate;
  /** Refusal counters (logged once per interval). */
  refusals: Refusals;
}

/**
 * Builds the player side of an edge on `hub`.
 *
 * @example Usage
 * ```ts ignore
 * const { flv, hls } = edgePlayers(options, hub, log, { streams, history });
 * await flv.start();
 * ```
 */
export function edgePlayers(
  options: EdgeNodeOptions,
  hub: StreamHub,
  log: Logger,
  page: EdgePageSource,
): EdgePlayers {
  const refusals = new Refusals({
    logger: log.child("flv"),
    metric: "flvcast_edge_refusals_total",
  });
  const access = options.auth || options.hooks
    ? new AccessControl({
      secret: options.auth?.secret ?? "",
      publish: false,
      play: options.auth?.play ?? false,
      hooks: options.hooks ?? {
        on_publish: "",
        on_unpublish: "",
        on_play: "",
        on_stop: "",
        timeout_ms: 3000,
      },
      role: "edge",
      refusals,
      logger: log,
    })
    : undefined;
  const hlsGate = new HlsPlayGate({
    access,
    hooks: Boolean(options.hooks?.on_play || options.hooks?.on_stop),
    maxSessionsPerIp: options.maxPlayersPerIp,
    refusals,
  });
  const hls = options.hls ?? {};
  const hlsService = hls === false ? undefined : new HlsService({
    hub,
    partMs: hls.partMs,
    windowSegments: hls.segments,
    maxHeldPerClient: options.maxPlayersPerIp,
    logger: log.child("hls"),
    authorize: (req, route, remote) => hlsGate.check(req, route.key, remote),
  });
  const web = options.webPage === false ? undefined : webHandler({
    // The public list: nothing that identifies the publisher.
    streams: page.streams,
    history: page.history,
    version: VERSION,
  });
  const flv = new FlvHttpServer({
    hub,
    hostname: options.flv.hostname,
    port: options.flv.port,
    logger: log.child("flv"),
    maxQueueBytes: options.playerQueueBytes,
    handler: (req, remote) => hlsService?.handle(req, remote) ?? web?.(req),
    access,
    maxPlayers: options.maxPlayers,
    maxPlayersPerIp: options.maxPlayersPerIp,
    playerBufferBytes: options.playerBufferBytes,
    refusals,
    tls: options.https && {
      hostname: options.https.address.hostname,
      port: options.https.address.port,
      certPem: options.https.certPem,
      keyPem: options.https.keyPem,
    },
  });
  return { flv, hls: hlsService, hlsGate, refusals };
}
