/**
 * Serving players over HTTP: HTTP-FLV / WebSocket-FLV playback of a hub's
 * streams ({@linkcode FlvHttpServer}), the bounded per-player queue, and a small
 * `Deno.serve` wrapper every HTTP listener of both roles uses.
 *
 * @module
 */
export {
  FlvHttpServer,
  type FlvHttpServerOptions,
  type FlvHttpStats,
} from "./flv_server.ts";
export { decodePath, isStreamKey, streamKeyFromPath } from "./stream_path.ts";
export { PlayerQueue, type PlayerQueueOptions } from "./player_queue.ts";
export { type BudgetedPlayer, PlayerBudget } from "./player_budget.ts";
export {
  listenHttp,
  type ListenHttpOptions,
  type RunningHttpServer,
} from "./listen.ts";
