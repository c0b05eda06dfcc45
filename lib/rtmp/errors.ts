/**
 * The error every RTMP parser and session throws for bad peer input, and
 * how a session words any error in its logs.
 *
 * @module
 */

/**
 * A protocol violation by the peer (bad handshake, bad chunk header, AMF that
 * does not parse, a limit exceeded). The session that sees it closes that one
 * connection and logs `message` as the reason.
 */
export class RtmpProtocolError extends Error {
  /**
   * Creates the error.
   *
   * @param message What was expected and what was received.
   */
  constructor(message: string) {
    super(message);
    this.name = "RtmpProtocolError";
  }
}

/** The text a session logs for `err`: its message, else its string form. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
