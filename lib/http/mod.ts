/**
 * Serving players over HTTP: the {@linkcode StreamHub} registry of live
 * streams (reusable by any role), HTTP-FLV / WebSocket-FLV playback
 * ({@linkcode FlvHttpServer}), the bounded per-player queue, and a small
 * `Deno.serve` wrapper every HTTP listener of both roles uses.
 *
 * @module
 */
export {
  HubStream,
  type HubStreamInfo,
  type HubSubscriber,
  type HubSubscription,
  StreamHub,
  type StreamHubOptions,
} from "./stream_hub.ts";
export {
  FlvHttpServer,
  type FlvHttpServerOptions,
  type FlvHttpStats,
  streamKeyFromPath,
} from "./flv_server.ts";
export { PlayerQueue, type PlayerQueueOptions } from "./player_queue.ts";
export {
  listenHttp,
  type ListenHttpOptions,
  type RunningHttpServer,
} from "./listen.ts";
