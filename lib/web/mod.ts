/**
 * The edge's built-in web page: a list of the live streams with live
 * counters and charts of their last 2 minutes, and a player (mpegts.js,
 * served by the edge itself from the npm package) over HTTP-FLV or
 * WebSocket-FLV, and hls.js over LL-HLS. Mount {@linkcode webHandler} in
 * front of the FLV routes. {@linkcode cloudWebHandler} is the cloud API's
 * read-only page of publishers with the same charts.
 *
 * @module
 */
export {
  cloudWebHandler,
  type CloudWebHandlerOptions,
  type WebHandler,
  webHandler,
  type WebHandlerOptions,
} from "./handler.ts";
export { CHARTS_CSS, CHARTS_JS, CHARTS_PATH, HISTORY_PATH } from "./charts.ts";
export { CLOUD_APP_JS, CLOUD_APP_PATH, cloudPageHtml } from "./cloud_page.ts";
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
