/**
 * The options and counters of the edge's {@linkcode JitterBuffer}.
 *
 * @module
 */

/** Options for `JitterBuffer`. */
export interface JitterBufferOptions {
  /** Reorder + repair budget: how long after a gap is seen the buffer waits
   * for the missing packet before dropping its tag. Default 200. */
  latencyMs?: number;
  /** A gap younger than this is assumed to be reordering and is not NACKed
   * yet. Default `min(20, latencyMs / 10)`. */
  reorderGraceMs?: number;
  /** Round-trip time to the retransmission server until
   * `JitterBuffer.updateRtt` says otherwise. Default 30. */
  initialRttMs?: number;
  /** Lower bound of the interval between two NACKs of one packet. Default 20. */
  minRetryMs?: number;
  /** At most this many NACKs per missing packet. Default 8. */
  maxNacksPerPacket?: number;
  /** Window in packets (rounded up to a power of two). Default 2048. */
  maxPackets?: number;
  /** Window in payload bytes; past it the oldest incomplete tag is given up.
   * Default 8 MiB. */
  maxBytes?: number;
  /** A sequence jump this large (either way) is only believed when the next
   * packet follows it (RFC 3550 A.1 probation). Default 3000. */
  maxDropout?: number;
}

/** Where a pushed packet came from. */
export type PacketSource = "udp" | "rtx";

/** Counters of one `JitterBuffer`; all only ever grow. */
export interface JitterStats {
  /** Distinct packets accepted from the primary (UDP) path. */
  received: number;
  /** Packets from UDP that filled a gap (arrived after a later packet). */
  reordered: number;
  /** Packets already buffered or already delivered. */
  duplicates: number;
  /** Packets behind the window or for a sequence already given up. */
  late: number;
  /** Distinct sequence numbers that were NACKed at least once. */
  lost: number;
  /** NACK requests issued (retries included). */
  nacked: number;
  /** Distinct packets accepted from retransmission. */
  recovered: number;
  /** Sequence numbers given up (never received in time). */
  unrecoverable: number;
  /** Incomplete or corrupt tags dropped whole. */
  tagsDropped: number;
  /** Video tags withheld while waiting for a keyframe after a drop or at
   * start. */
  tagsSkipped: number;
  /** Tags released in order. */
  tagsOut: number;
  /** Packets far outside the window (held on probation, then discarded). */
  outOfWindow: number;
  /** Sender Reports not believed: their packet count put the sender's
   * first packet after the first one received. */
  reportsIgnored: number;
  /** Times the stream's SSRC changed (republish) or its sequence jumped. */
  resyncs: number;
}

/** All-zero {@linkcode JitterStats}. */
export function emptyJitterStats(): JitterStats {
  return {
    received: 0,
    reordered: 0,
    duplicates: 0,
    late: 0,
    lost: 0,
    nacked: 0,
    recovered: 0,
    unrecoverable: 0,
    tagsDropped: 0,
    tagsSkipped: 0,
    tagsOut: 0,
    outOfWindow: 0,
    reportsIgnored: 0,
    resyncs: 0,
  };
}
