/**
 * Test helper: an HEVC Annex B elementary stream (as `ffmpeg -f hevc`
 * writes it) → Enhanced RTMP FLV tags (`hvc1` SequenceStart with an hvcC
 * record, then CodedFrames), for publishing paths ffmpeg 5's FLV muxer
 * cannot produce.
 *
 * @module
 */
import type { FlvTag } from "../../lib/flv/mod.ts";
import { unescapeRbsp } from "../../lib/fmp4/codec_config.ts";

/** Splits an Annex B byte stream into NAL units (start codes removed). */
export function splitAnnexB(bytes: Uint8Array): Uint8Array[] {
  const starts: number[] = [];
  for (let i = 0; i + 2 < bytes.length; i++) {
    if (bytes[i] === 0 && bytes[i + 1] === 0 && bytes[i + 2] === 1) {
      starts.push(i + 3);
      i += 2;
    }
  }
  return starts.map((s, k) => {
    let e = k + 1 < starts.length ? starts[k + 1] - 3 : bytes.length;
    while (e > s && bytes[e - 1] === 0) e--;
    return bytes.subarray(s, e);
  });
}

const nalType = (n: Uint8Array) => (n[0] >> 1) & 0x3f;

/** An hvcC record for one VPS, SPS and PPS (8-bit 4:2:0, 4-byte lengths). */
export function hvcC(vps: Uint8Array, sps: Uint8Array, pps: Uint8Array) {
  const ptl = unescapeRbsp(sps).subarray(3, 15); // general profile_tier_level
  const head = [
    1,
    ...ptl,
    0xf0,
    0x00,
    0xfc,
    0xfd,
    0xf8,
    0xf8,
    0,
    0,
    0x0f,
    3,
  ];
  const out: number[] = [...head];
  for (const n of [vps, sps, pps]) {
    out.push(0x80 | nalType(n), 0, 1, n.length >> 8, n.length & 0xff, ...n);
  }
  return Uint8Array.from(out);
}

/**
 * Enhanced RTMP tags of an HEVC stream without B-frames: one SequenceStart,
 * then one CodedFrames tag per picture (`frameMs` apart, keyframe for IRAP
 * pictures). Assumes one slice per picture.
 */
export function hevcTags(annexB: Uint8Array, frameMs = 40): FlvTag[] {
  const nals = splitAnnexB(annexB);
  const find = (t: number) => nals.find((n) => nalType(n) === t)!;
  const cc = [0x68, 0x76, 0x63, 0x31]; // "hvc1"
  const tags: FlvTag[] = [{
    type: 9,
    timestamp: 0,
    data: Uint8Array.from([0x90, ...cc, ...hvcC(find(32), find(33), find(34))]),
  }];
  let frame = 0;
  for (const n of nals) {
    const t = nalType(n);
    if (t >= 32) continue;
    const key = t >= 16 && t <= 23;
    const body = new Uint8Array(5 + 3 + 4 + n.length);
    body.set([key ? 0x91 : 0xa1, ...cc, 0, 0, 0]);
    new DataView(body.buffer).setUint32(8, n.length);
    body.set(n, 12);
    tags.push({ type: 9, timestamp: frame++ * frameMs, data: body });
  }
  return tags;
}
