/**
 * Process wiring: starts the configured roles from a config.
 *
 * @module
 */
export { type RunningNodes, startNodes } from "./run.ts";
export { V8_FLAGS } from "./v8_flags.ts";
