/**
 * Constants and small pure helpers of the retransmission protocol (SPEC §6),
 * shared by the server and the client.
 *
 * @module
 */

/** ALPN protocol id of the retransmission service. */
export const RTX_ALPN = "flvcast-rtx/1";

/** QUIC application close codes the server uses. */
export const CLOSE_CODES = {
  /** The first message was not a valid AUTH. */
  authFailed: 1,
  /** A frame or RTCP message was malformed or not allowed. */
  protocolError: 2,
  /** No AUTH arrived in time. */
  authTimeout: 3,
  /** The connection opened a second stream. */
  tooManyStreams: 4,
  /** The server has `maxConnections` already. */
  tooManyConnections: 5,
} as const;

/** Human words for the close codes (and 0: a normal shutdown). */
export const CLOSE_REASONS: Readonly<Record<number, string>> = {
  0: "shutting down",
  [CLOSE_CODES.authFailed]: "authentication failed (wrong or missing secret)",
  [CLOSE_CODES.protocolError]: "protocol error",
  [CLOSE_CODES.authTimeout]: "no AUTH in time",
  [CLOSE_CODES.tooManyStreams]: "more than one stream",
  [CLOSE_CODES.tooManyConnections]: "too many connections",
};

/** Returns whether the frame is RTCP by RFC 5761 (second byte 192..223). */
export function looksLikeRtcp(msg: Uint8Array): boolean {
  return msg.length >= 2 && msg[1] >= 192 && msg[1] <= 223;
}

/** Compares two strings' UTF-8 bytes in time independent of where they differ. */
export function safeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/**
 * Packets per second one edge asks for repair by default, over all its
 * streams (`edge.repair_max_pps`): 50 streams × ~300 packets/s × 20 % loss
 * is 3,000/s, plus a third for repeated requests, rounded up; at the
 * measured ~5 µs of cloud CPU per answered packet it costs the cloud at most
 * 2.5 % of a core per edge. README "Repair budget" has the derivation.
 */
export const DEFAULT_REPAIR_MAX_PPS = 5000;

/**
 * Sequence numbers one connection may ask the server for per second by
 * default: an edge's budget is a token bucket with one second of burst, so
 * within one second it can ask twice its rate (the saved burst and the
 * refill); the server grants that and no more.
 */
export const RTX_MAX_REQUESTS_PER_SECOND = 2 * DEFAULT_REPAIR_MAX_PPS;

/**
 * Sequence numbers all connections together may ask the server for per
 * second by default: about half a core at the measured ~5 µs per answered
 * packet, so repair can never starve the cloud's fan-out; ten edges at
 * their full rate fit at once.
 */
export const RTX_MAX_REQUESTS_PER_SECOND_TOTAL = 20 * DEFAULT_REPAIR_MAX_PPS;
