/**
 * Publish/play access: node-media-server-compatible signed URLs
 * ({@linkcode checkSign}, {@linkcode makeSign}), SRS-style HTTP hooks
 * ({@linkcode HookClient}) and the one decision every route calls
 * ({@linkcode AccessControl}: `checkPublish`, `checkPlay`, `ended`).
 *
 * @module
 */
export {
  checkSign,
  type CheckSignOptions,
  makeSign,
  signHash,
} from "./sign.ts";
export {
  HookClient,
  type HookClientOptions,
  type HookVerdict,
  verdictOf,
} from "./hooks.ts";
export {
  AccessControl,
  type AccessOptions,
  type AccessRequest,
  type AccessUsage,
  httpAccessRequest,
} from "./access.ts";
