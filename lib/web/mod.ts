/**
 * The edge's built-in web page: a list of the live streams with live
 * counters, and a player (mpegts.js, served by the edge itself from the npm
 * package) over HTTP-FLV or WebSocket-FLV, and hls.js over LL-HLS. Mount {@linkcode webHandler} in
 * front of the FLV routes.
 *
 * @module
 */
export {
  type WebHandler,
  webHandler,
  type WebHandlerOptions,
} from "./handler.ts";
export {
  HLS_PACKAGE,
  HLS_VERSION,
  loadHlsScript,
  loadPlayerScript,
  PLAYER_PACKAGE,
  PLAYER_VERSION,
  type PlayerScript,
} from "./assets.ts";
export {
  APP_JS,
  APP_PATH,
  HLS_PLAYER_PATH,
  pageHtml,
  PLAYER_PATH,
  STREAMS_PATH,
} from "./page.ts";
