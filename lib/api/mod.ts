/**
 * What the cloud and edge HTTP APIs share.
 *
 * @module
 */
export {
  apiHandler,
  type ApiHandlerOptions,
  jsonResponse,
  snakeKeys,
} from "./handler.ts";
