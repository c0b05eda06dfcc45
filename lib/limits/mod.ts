/**
 * Bounding what remote peers can make the process hold: refusal counting
 * with rate-limited logging ({@linkcode Refusals}) and per-address
 * connection counting ({@linkcode ConnectionCaps}; an IPv6 address counts
 * with its /64, {@linkcode ipCapKey}).
 *
 * @module
 */
export { Refusals, type RefusalsOptions } from "./refusals.ts";
export {
  type CapRefusal,
  ConnectionCaps,
  type ConnectionCapsOptions,
} from "./connection_caps.ts";
export { ipCapKey } from "./ip_key.ts";
export {
  ConnectionTracker,
  type ConnectionTrackerOptions,
} from "./connection_tracker.ts";
