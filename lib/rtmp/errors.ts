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
  /** The refusal it is counted as (`/metrics` reason label). */
  readonly refusal: string;

  /**
   * Creates the error.
   *
   * @param message What was expected and what was received.
   * @param refusal The reason it is counted under; default `rtmp_protocol`.
   */
  constructor(message: string, refusal = "rtmp_protocol") {
    super(message);
    this.name = "RtmpProtocolError";
    this.refusal = refusal;
  }
}

/** The text a session logs for `err`: its message, else its string form. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
