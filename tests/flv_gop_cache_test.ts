import { deepEqual, equal, throws } from "node:assert/strict";
import { type FlvTag, GopCache } from "../lib/flv/mod.ts";

const enc = new TextEncoder();
const meta = (ts = 0): FlvTag => ({
  type: 18,
  timestamp: ts,
  data: new Uint8Array([
    0x02,
    0,
    10,
    ...enc.encode("onMetaData"),
    0x08,
    0,
    0,
    0,
    0,
    0,
    0,
    9,
  ]),
});
const avcSeq = (v = 1): FlvTag => ({
  type: 9,
  timestamp: 0,
  data: new Uint8Array([0x17, 0, 0, 0, 0, 1, 0x64, 0, v]),
});
const key = (ts: number, n = 100): FlvTag => ({
  type: 9,
  timestamp: ts,
  data: new Uint8Array([0x17, 1, 0, 0, 0, ...new Uint8Array(n)]),
});
const inter = (ts: number, n = 50): FlvTag => ({
  type: 9,
  timestamp: ts,
  data: new Uint8Array([0x27, 1, 0, 0, 0, ...new Uint8Array(n)]),
});
const aacSeq = (): FlvTag => ({
  type: 8,
  timestamp: 0,
  data: new Uint8Array([0xaf, 0, 0x12, 0x10]),
});
const aac = (ts: number): FlvTag => ({
  type: 8,
  timestamp: ts,
  data: new Uint8Array([0xaf, 1, 1, 2, 3]),
});

Deno.test("GopCache: metadata, seq headers, then GOP from the last keyframe", () => {
  const c = new GopCache();
  const m = meta();
  const vs = avcSeq();
  const as = aacSeq();
  c.push(m);
  c.push(vs);
  c.push(as);
  c.push(inter(0)); // video before any keyframe: not cached
  const a0 = aac(10); // audio of the first GOP, before its keyframe: kept
  c.push(a0);
  deepEqual(c.startTags(), [m, vs, as, a0]);
  equal(c.hasKeyframe, false);
  const k1 = key(40);
  c.push(k1);
  c.push(aac(50));
  c.push(inter(80));
  equal(c.size, 4, "the first GOP keeps its early audio");
  const k2 = key(120);
  const a2 = aac(121);
  const i2 = inter(160);
  c.push(k2);
  c.push(a2);
  c.push(i2);
  deepEqual(c.startTags(), [m, vs, as, k2, a2, i2]);
  equal(c.hasKeyframe, true);
  equal(c.bytes, 3 * 11 + k2.data.length + a2.data.length + i2.data.length);
  const m2 = meta(200);
  c.push(m2);
  equal(c.startTags()[0], m2);
  equal(c.metadata, m2);
});

Deno.test("GopCache: first video tag after seq headers is a keyframe", () => {
  const c = new GopCache();
  c.push(avcSeq());
  c.push(aacSeq());
  for (let i = 0; i < 500; i++) {
    c.push(i % 30 === 5 ? key(i * 40) : inter(i * 40));
    c.push(aac(i * 40 + 3));
    const start = c.startTags();
    const firstVideo = start.slice(2).find((t) => t.type === 9);
    if (firstVideo) equal(firstVideo.data[0], 0x17);
    // After the first GOP, the cached GOP begins with its keyframe.
    if (i >= 35 && start.length > 2) equal(start[2].data[0], 0x17);
  }
});

Deno.test("GopCache: exceeding maxTags or maxBytes drops the GOP", () => {
  const c = new GopCache({ maxTags: 5 });
  c.push(avcSeq());
  c.push(key(0));
  for (let i = 1; i <= 4; i++) c.push(inter(i));
  equal(c.size, 5);
  c.push(inter(5));
  equal(c.size, 0);
  equal(c.droppedGops, 1);
  c.push(inter(6)); // not cached until the next keyframe
  equal(c.size, 0);
  c.push(key(7));
  equal(c.size, 1);
  const b = new GopCache({ maxBytes: 400 });
  b.push(key(0, 100)); // 11 + 105
  b.push(inter(1, 100)); // 232
  b.push(inter(2, 100)); // 348
  equal(b.size, 3);
  b.push(inter(3, 100)); // 464 > 400
  equal(b.size, 0);
  equal(b.bytes, 0);
  b.push(key(4, 1000)); // a keyframe alone over the cap
  equal(b.size, 0);
  equal(b.startTags().length, 0);
});

Deno.test("GopCache: a new video configuration drops the old GOP", () => {
  const c = new GopCache();
  c.push(avcSeq(1));
  c.push(key(0));
  c.push(avcSeq(1)); // same bytes again: keep the GOP
  equal(c.size, 1);
  const v2 = avcSeq(2);
  c.push(v2);
  equal(c.size, 0);
  equal(c.videoSequenceHeader, v2);
  c.push(inter(1));
  equal(c.size, 0);
});

Deno.test("GopCache: audio-only streams keep a short recent window", () => {
  const c = new GopCache({ audioWindowMs: 100 });
  const as = aacSeq();
  c.push(as);
  for (let ts = 0; ts <= 1000; ts += 23) c.push(aac(ts));
  const start = c.startTags();
  equal(start[0], as);
  const window = start.slice(1);
  equal(window.length, 5); // 897..989
  equal(window.at(-1)!.timestamp, 989);
  equal(window[0].timestamp >= 989 - 100, true);
  // a video tag switches to GOP mode and drops the audio window
  c.push(key(1000));
  c.push(aac(1001));
  deepEqual(c.startTags().slice(1).map((t) => t.timestamp), [1000, 1001]);
  const n = new GopCache({ maxTags: 3, audioWindowMs: 1e9 });
  for (let ts = 0; ts < 10; ts++) n.push(aac(ts));
  deepEqual(n.startTags().map((t) => t.timestamp), [7, 8, 9]);
  // many pushes stay bounded (compaction)
  for (let ts = 10; ts < 10000; ts++) n.push(aac(ts));
  equal(n.size, 3);
});

Deno.test("GopCache: Enhanced RTMP keyframes and clear()", () => {
  const c = new GopCache();
  const hvcSeq: FlvTag = {
    type: 9,
    timestamp: 0,
    data: new Uint8Array([0x90, ...enc.encode("hvc1"), 1, 2, 3]),
  };
  const hvcKey: FlvTag = {
    type: 9,
    timestamp: 40,
    data: new Uint8Array([0x93, ...enc.encode("hvc1"), 0, 0, 0, 5]),
  };
  const hvcInter: FlvTag = {
    type: 9,
    timestamp: 80,
    data: new Uint8Array([0xa3, ...enc.encode("hvc1"), 0, 0, 0, 5]),
  };
  c.push(hvcSeq);
  c.push(hvcKey);
  c.push(hvcInter);
  deepEqual(c.startTags(), [hvcSeq, hvcKey, hvcInter]);
  c.clear();
  deepEqual(c.startTags(), []);
  throws(
    () => new GopCache({ maxTags: 0 }),
    /maxTags: expected a positive integer, got 0/,
  );
});
