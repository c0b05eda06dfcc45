/**
 * What the cloud and edge HTTP APIs share.
 *
 * @module
 */
export { apiHandler, type ApiHandlerOptions, jsonResponse } from "./handler.ts";
