/**
 * Where an edge starts a stream it learns through the cloud's `KEYS` answer
 * (pure): from the publish's first packet when what the edge holds begins
 * there ("fresh": only the stream's first report and packets may be lost),
 * else — joined mid-stream, after a restart or a late start — at the first
 * tag boundary it holds, with the answer's state tags (onMetaData and
 * sequence headers) first.
 *
 * @module
 */
import { decodeTag, type FlvTag } from "../flv/mod.ts";
import type { KeysAnswer } from "../rtcp/mod.ts";
import { isRtcp, rtpSequence, seqDiff } from "../rtp/mod.ts";

/** A stream whose first held RTP packet is within this many of the
 * publish's first sequence number is received from its start. */
export const FRESH_WINDOW = 64;

/** Where a stream named by a `KEYS` answer starts (see
 * `JitterBuffer.startAt`). */
export interface KnownStart {
  /** Received from the publish's first packet (no state tags needed). */
  fresh: boolean;
  /** The first sequence number wanted. */
  seq: number;
  /** Whether a tag begins at `seq`. */
  tagStart: boolean;
  /** The publish's first sequence number (anchors Sender Report counts). */
  firstSeq: number;
}

/**
 * The start of the stream `answer` describes, given the datagrams held for
 * it until the answer came (plain RTP/RTCP, in arrival order).
 *
 * @example Usage
 * ```ts ignore
 * const start = startOf(answer, released);
 * jb.startAt(start.seq, now, start);
 * ```
 */
export function startOf(
  answer: KeysAnswer,
  held: readonly { bytes: Uint8Array }[],
): KnownStart {
  const seqs: number[] = [];
  const markers: number[] = [];
  for (const { bytes } of held) {
    if (isRtcp(bytes)) continue;
    const seq = rtpSequence(bytes);
    seqs.push(seq);
    if ((bytes[1] & 0x80) !== 0) markers.push(seq);
  }
  const firstSeq = answer.firstSeq & 0xffff;
  // Nothing held yet: the next packet sent is the first one to come.
  const next = answer.highestSeq === undefined
    ? firstSeq
    : (answer.highestSeq + 1) & 0xffff;
  const lowest = (list: number[]) =>
    list.reduce((a, b) => seqDiff(b, a) < 0 ? b : a);
  const first = seqs.length > 0 ? lowest(seqs) : next;
  // Packets the publish sent before `first` (ROC-aware: a start near 65535
  // wraps within its first packets).
  const from0 = answer.highestSeq === undefined
    ? seqDiff(first, firstSeq)
    : answer.roc * 0x10000 + answer.highestSeq - firstSeq -
      seqDiff(answer.highestSeq, first);
  if (from0 >= 0 && from0 < FRESH_WINDOW) {
    return { fresh: true, seq: firstSeq, tagStart: true, firstSeq };
  }
  // Joined mid-stream: after the first marker held (M=1 ends a tag), else
  // after everything held and sent so far (inside one tag: not a start).
  if (markers.length > 0) {
    const seq = (lowest(markers) + 1) & 0xffff;
    return { fresh: false, seq, tagStart: true, firstSeq };
  }
  const highest = seqs.reduce(
    (a, b) => seqDiff(b, a) > 0 ? b : a,
    (next - 1) & 0xffff,
  );
  return {
    fresh: false,
    seq: (highest + 1) & 0xffff,
    tagStart: false,
    firstSeq,
  };
}

/** The answer's state tags (onMetaData, sequence headers), decoded; one
 * that does not decode is left out and reported to `bad`. */
export function stateTags(answer: KeysAnswer, bad: () => void): FlvTag[] {
  const tags: FlvTag[] = [];
  for (const t of answer.stateTags) {
    try {
      tags.push(decodeTag(t));
    } catch {
      bad();
    }
  }
  return tags;
}
