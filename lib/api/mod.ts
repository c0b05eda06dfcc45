/**
 * What the cloud and edge HTTP APIs share.
 *
 * @module
 */
export {
  apiHandler,
  type ApiHandlerOptions,
  hasBearer,
  jsonResponse,
  snakeKeys,
} from "./handler.ts";
