/**
 * Comparing FLV tags for end-to-end tests: a stable key per tag (type,
 * timestamp, size, SHA-256 of the body), reading FLV files and the cloud's
 * recordings, and {@linkcode align}, which lines a player's output up with the
 * recording and counts the tags it lacks.
 *
 * @module
 */
import {
  FlvDemuxer,
  type FlvTag,
  isSequenceHeader,
  TAG_SCRIPT,
} from "../../lib/flv/mod.ts";
import { ok } from "node:assert/strict";

const hex = (b: ArrayBuffer) =>
  Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join(
    "",
  );

/** `type/timestamp/size/sha256(body)` per tag. */
export async function tagKeys(tags: FlvTag[]): Promise<string[]> {
  return await Promise.all(
    tags.map(async (t) =>
      `${t.type}/${t.timestamp}/${t.data.length}/${
        hex(await crypto.subtle.digest("SHA-256", t.data as BufferSource))
      }`
    ),
  );
}

export async function readFlv(file: string): Promise<FlvTag[]> {
  return new FlvDemuxer().push(await Deno.readFile(file));
}

export async function recordingOf(dir: string, key: string): Promise<string> {
  const prefix = key.replaceAll("/", "_") + "-"; // recordFileName()
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(prefix) && e.name.endsWith(".flv")) {
      return `${dir}/${e.name}`;
    }
  }
  throw new Error(`expected a recording of ${key} in ${dir}, found none`);
}

/** RTP packets `tags` make at the cloud's payload limit. */
export function packetsFor(tags: FlvTag[], payloadSize = 1180): number {
  return tags.reduce(
    (n, t) => n + Math.ceil((11 + t.data.length) / payloadSize),
    0,
  );
}

/** How a player's output lines up with the recording. */
export interface Alignment {
  /** Leading metadata / sequence-header tags of the output (its start tags). */
  headers: number;
  /** Index in the recording of the output's first media tag. */
  start: number;
  /** Recording tags the output lacks. */
  missing: number;
  /** Recording tags at the end that all arrived, contiguous. */
  completeTail: number;
  /** Recording index of the first tag the output lacks (-1: none). */
  firstMissing: number;
}

export const isHeader = (t: FlvTag) =>
  t.type === TAG_SCRIPT || isSequenceHeader(t);

/**
 * Lines a player's tags up with the recording. HTTP-FLV starts with the
 * edge's start tags (metadata, sequence headers, then the GOP from its last
 * keyframe), so the output's leading start tags must be recording tags, and
 * from its first media tag on the output must be the recording's tags in
 * order, each exactly equal. `missing` counts the recording tags the output
 * lacks: skipped ones after its first media tag, and start tags before it
 * that the output does not have (0 for a clean stream). Callers also check
 * that the first media tag is not after the recording's first keyframe, i.e.
 * that the player connected in time to get everything.
 */
export function align(
  rec: FlvTag[],
  recKeys: string[],
  out: FlvTag[],
  outKeys: string[],
  who: string,
): Alignment {
  let headers = 0;
  while (headers < out.length && isHeader(out[headers])) {
    ok(
      recKeys.includes(outKeys[headers]),
      `${who}: start tag ${headers} (${
        outKeys[headers]
      }) is not in the recording`,
    );
    headers++;
  }
  ok(headers < out.length, `${who}: expected media tags, received none`);
  const start = recKeys.indexOf(outKeys[headers]);
  ok(
    start >= 0,
    `${who}: first media tag (${outKeys[headers]}) is not in the recording`,
  );
  let r = start;
  let missing = 0;
  let lastMissing = -1;
  let firstMissing = -1;
  for (let o = headers; o < out.length; o++) {
    const at = recKeys.indexOf(outKeys[o], r);
    ok(
      at >= 0,
      `${who}: output tag ${o} (${
        outKeys[o]
      }) does not follow in the recording after index ${r} (expected ${
        recKeys[r]
      })`,
    );
    if (at > r) {
      lastMissing = at - 1;
      if (firstMissing < 0) firstMissing = r;
    }
    missing += at - r;
    r = at + 1;
  }
  if (r < rec.length) {
    lastMissing = rec.length - 1;
    if (firstMissing < 0) firstMissing = r;
  }
  // Recording tags before the output's first media tag: only start tags
  // (metadata, sequence headers) may precede it, and the output must have them.
  const got = new Set(outKeys.slice(0, headers));
  for (let k = start - 1; k >= 0; k--) {
    if (!got.has(recKeys[k])) {
      missing++;
      firstMissing = k;
    }
  }
  missing += rec.length - r;
  return {
    headers,
    start,
    missing,
    completeTail: rec.length - 1 - lastMissing,
    firstMissing,
  };
}
