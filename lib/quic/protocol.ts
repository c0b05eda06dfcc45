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
