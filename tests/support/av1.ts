/**
 * Test helper: an AV1 low-overhead OBU stream (as `ffmpeg -f obu` writes
 * it) → Enhanced RTMP FLV tags (`av01` SequenceStart with an av1C record,
 * then one CodedFrames tag per temporal unit, temporal delimiters removed),
 * for publishing paths ffmpeg 5's FLV muxer cannot produce.
 *
 * @module
 */
import type { FlvTag } from "../../lib/flv/mod.ts";

interface Obu {
  type: number;
  bytes: Uint8Array;
}

/** Splits a low-overhead OBU stream (every OBU with a size field). */
export function splitObus(data: Uint8Array): Obu[] {
  const out: Obu[] = [];
  let o = 0;
  while (o < data.length) {
    const h = data[o];
    const ext = (h >> 2) & 1;
    let p = o + 1 + ext;
    let size = 0;
    for (let i = 0; i < 8; i++) {
      const b = data[p++];
      size += (b & 0x7f) * 2 ** (7 * i);
      if (b < 0x80) break;
    }
    out.push({ type: (h >> 3) & 0x0f, bytes: data.subarray(o, p + size) });
    o = p + size;
  }
  return out;
}

/**
 * Enhanced RTMP tags of an 8-bit 4:2:0 AV1 stream: one SequenceStart (av1C
 * with the first sequence header OBU), then one CodedFrames tag per temporal
 * unit (`frameMs` apart; a keyframe when it carries a sequence header).
 */
export function av1Tags(data: Uint8Array, frameMs = 40): FlvTag[] {
  const obus = splitObus(data);
  const seq = obus.find((x) => x.type === 1)!;
  const cc = [0x61, 0x76, 0x30, 0x31]; // "av01"
  const av1c = [0x81, 0x08, 0x0c, 0x00, ...seq.bytes];
  const tags: FlvTag[] = [{
    type: 9,
    timestamp: 0,
    data: Uint8Array.from([0x90, ...cc, ...av1c]),
  }];
  const units: Obu[][] = [];
  for (const x of obus) {
    if (x.type === 2) units.push([]);
    else units.at(-1)?.push(x);
  }
  units.forEach((tu, i) => {
    const key = tu.some((x) => x.type === 1);
    const body = Uint8Array.from([
      key ? 0x91 : 0xa1,
      ...cc,
      ...tu.flatMap((x) => [...x.bytes]),
    ]);
    tags.push({ type: 9, timestamp: i * frameMs, data: body });
  });
  return tags;
}
