import { deepEqual as assertEquals, ok as assert } from "node:assert/strict";
import { encodeTag, type FlvTag } from "../lib/flv/mod.ts";
import type { RtpPacket } from "../lib/rtp/mod.ts";
import { JitterBuffer } from "../lib/edge/mod.ts";
import { looksLikeTagStart } from "../lib/rtp/mod.ts";
import { packetizeTags } from "./edge_support.ts";

// --- synthetic stream ------------------------------------------------------

function body(head: number[], size: number, fill: number): Uint8Array {
  const b = new Uint8Array(size);
  b.fill(fill);
  b.set(head);
  return b;
}

const META: FlvTag = {
  type: 18,
  timestamp: 0,
  data: body(
    [0x02, 0x00, 0x0a, ...new TextEncoder().encode("onMetaData")],
    60,
    5,
  ),
};
const AVC_SEQ: FlvTag = {
  type: 9,
  timestamp: 0,
  data: body([0x17, 0x00, 0, 0, 0, 1, 0x64], 40, 7),
};
const AAC_SEQ: FlvTag = {
  type: 8,
  timestamp: 0,
  data: new Uint8Array([0xaf, 0x00, 0x12, 0x10]),
};

function key(ts: number, size = 450): FlvTag {
  return {
    type: 9,
    timestamp: ts,
    data: body([0x17, 0x01, 0, 0, 0], size, ts & 0xff),
  };
}
function inter(ts: number, size = 150): FlvTag {
  return {
    type: 9,
    timestamp: ts,
    data: body([0x27, 0x01, 0, 0, 0], size, ts & 0xff),
  };
}
function audio(ts: number): FlvTag {
  return { type: 8, timestamp: ts, data: body([0xaf, 0x01], 30, ts & 0xff) };
}

/** Two GOPs: seq headers, then key/inter video interleaved with audio. */
function stream(gops = 2, framesPerGop = 6): FlvTag[] {
  const tags: FlvTag[] = [META, AVC_SEQ, AAC_SEQ];
  let ts = 0;
  for (let g = 0; g < gops; g++) {
    for (let f = 0; f < framesPerGop; f++) {
      tags.push(f === 0 ? key(ts) : inter(ts));
      tags.push(audio(ts + 1));
      ts += 40;
    }
  }
  return tags;
}

const PAYLOAD = 100;

/** Packetizes like the cloud: ⌈len/limit⌉ packets, marker on the last. */
const packetize = (
  tags: FlvTag[],
  opts: { ssrc?: number; seq?: number } = {},
) => packetizeTags(tags, { ...opts, payload: PAYLOAD });

function describe(t: FlvTag): string {
  let sum = 0;
  for (const b of t.data) sum = (sum * 31 + b) >>> 0;
  return `${t.type}@${t.timestamp}:${t.data.length}:${sum}`;
}

function same(actual: FlvTag[], expected: FlvTag[]): void {
  assertEquals(actual.map(describe), expected.map(describe));
}

/** Pushes packets at 1 ms spacing starting at `t0`, then polls once the
 * start-up reorder grace has passed; returns tags out. */
function feed(jb: JitterBuffer, packets: RtpPacket[], t0 = 0): FlvTag[] {
  const out: FlvTag[] = [];
  packets.forEach((p, i) => out.push(...jb.push(p, t0 + i)));
  out.push(...jb.poll(t0 + packets.length + 20));
  return out;
}

// --- tests -----------------------------------------------------------------

Deno.test("jitter: in-order packets give every tag, no NACK", () => {
  const tags = stream();
  const packets = packetize(tags);
  assert(packets.length > tags.length, "some tags span several packets");
  const jb = new JitterBuffer();
  const out = feed(jb, packets);
  same(out, tags);
  assertEquals(jb.nacks(1e6), []);
  assertEquals(jb.stats.received, packets.length);
  assertEquals(jb.stats.tagsOut, tags.length);
  assertEquals(jb.stats.reordered, 0);
  assertEquals(jb.stats.tagsDropped, 0);
  assertEquals(jb.bufferedPackets, 0);
  assertEquals(jb.bufferedBytes, 0);
});

Deno.test("jitter: reordering within the grace costs no NACK", () => {
  const tags = stream();
  const packets = packetize(tags);
  // Swap neighbours everywhere (except the first, which fixes the start).
  const shuffled = packets.slice();
  for (let i = 1; i + 1 < shuffled.length; i += 3) {
    [shuffled[i], shuffled[i + 1]] = [shuffled[i + 1], shuffled[i]];
  }
  const jb = new JitterBuffer({ latencyMs: 200, reorderGraceMs: 10 });
  const out: FlvTag[] = [];
  for (const p of shuffled) {
    out.push(...jb.push(p, 5));
    assertEquals(jb.nacks(5), [], "no NACK inside the grace");
  }
  out.push(...jb.poll(15));
  same(out, tags);
  assert(jb.stats.reordered > 0);
  assertEquals(jb.stats.nacked, 0);
  assertEquals(jb.stats.lost, 0);
});

Deno.test("jitter: duplicates are counted and dropped", () => {
  const tags = stream();
  const packets = packetize(tags);
  const jb = new JitterBuffer();
  const out: FlvTag[] = [];
  packets.forEach((p, i) => {
    out.push(...jb.push(p, i));
    out.push(...jb.push(p, i));
  });
  // A replay of an old packet long after it was delivered.
  out.push(...jb.push(packets[3], 1000));
  same(out, tags);
  assertEquals(jb.stats.duplicates, packets.length + 1);
  assertEquals(jb.stats.received, packets.length);
});

Deno.test("jitter: lost packets are NACKed after the grace and recovered", () => {
  const tags = stream();
  const packets = packetize(tags);
  const lostIdx = new Set([5, 6, 20, packets.length - 2]);
  const jb = new JitterBuffer({ latencyMs: 200, reorderGraceMs: 10 });
  const out: FlvTag[] = [];
  let t = 0;
  for (let i = 0; i < packets.length; i++) {
    if (!lostIdx.has(i)) out.push(...jb.push(packets[i], t));
  }
  // The last packet is present, so every gap is known; nothing due yet.
  assertEquals(jb.nacks(t + 5), []);
  t += 10;
  const asked = jb.nacks(t);
  assertEquals(
    asked,
    [...lostIdx].map((i) => packets[i].sequence),
  );
  assertEquals(jb.nacks(t), [], "not asked again at once");
  // Nothing released past the first gap yet.
  assert(out.length < tags.length);
  for (const seq of asked) {
    const p = packets.find((q) => q.sequence === seq)!;
    out.push(...jb.push(p, t + 3, "rtx"));
  }
  same(out, tags);
  assertEquals(jb.stats.recovered, lostIdx.size);
  assertEquals(jb.stats.lost, lostIdx.size);
  assertEquals(jb.stats.nacked, lostIdx.size);
  assertEquals(jb.stats.unrecoverable, 0);
  assertEquals(
    jb.stats.received + jb.stats.recovered + jb.stats.unrecoverable,
    packets.length,
  );
  assertEquals(jb.pending, 0);
});

Deno.test("jitter: loss at the tail is found through the Sender Report's packet count", () => {
  const tags = stream(1, 4);
  const packets = packetize(tags, { seq: 65530 });
  const jb = new JitterBuffer({ latencyMs: 100, reorderGraceMs: 5 });
  const out: FlvTag[] = [];
  // An SR while everything so far arrived anchors the sequence space.
  out.push(...feed(jb, packets.slice(0, 10)));
  assertEquals(jb.senderReport(0x1234, 10, 40), []);
  // The last two packets are lost; nothing later reveals it...
  out.push(...feed(jb, packets.slice(10, -2), 50));
  assertEquals(jb.nacks(500), []);
  // ...until the next SR says how many were sent.
  jb.senderReport(0x1234, packets.length, 500);
  assertEquals(jb.nacks(505), packets.slice(-2).map((p) => p.sequence));
  for (const p of packets.slice(-2)) out.push(...jb.push(p, 506, "rtx"));
  same(out, tags);
  // An SR of another SSRC, or one that says nothing new, changes nothing.
  jb.senderReport(0x9999, packets.length + 50, 600);
  jb.senderReport(0x1234, packets.length, 600);
  assertEquals(jb.nacks(700), []);
});

Deno.test("jitter: a Sender Report never moves the anchor ahead of the packets received", () => {
  const tags = stream(1, 4);
  const packets = packetize(tags, { seq: 100 });
  const jb = new JitterBuffer({ latencyMs: 100, reorderGraceMs: 5 });
  const out = feed(jb, packets.slice(0, 10));
  // A report counting 1 packet (forged, or from another world) would put
  // the sender's first packet at the last one received: not believed.
  assertEquals(jb.senderReport(0x1234, 1, 40), []);
  assertEquals(jb.stats.reportsIgnored, 1);
  // The genuine report then finds nothing missing ahead of what arrived.
  assertEquals(jb.senderReport(0x1234, 10, 50), []);
  assertEquals(jb.nacks(500), []);
  out.push(...feed(jb, packets.slice(10), 60));
  same(out, tags);
});

Deno.test("jitter: a fresh stream whose first packets were lost gets them back", () => {
  const tags = stream(1, 3);
  const packets = packetize(tags, { seq: 3 }); // the probes wrap below 0
  const jb = new JitterBuffer({ latencyMs: 200, reorderGraceMs: 10 });
  jb.expectStreamStart(8);
  const out: FlvTag[] = [];
  packets.slice(2).forEach((p, i) => out.push(...jb.push(p, i)));
  out.push(...jb.poll(50));
  assertEquals(out.length, 0, "held until the start is settled");
  const asked = jb.nacks(50);
  assertEquals(asked, [65533, 65534, 65535, 0, 1, 2, 3, 4]);
  // The server has the two real ones and never had the rest.
  out.push(...jb.push(packets[0], 52, "rtx"));
  out.push(...jb.push(packets[1], 52, "rtx"));
  out.push(...jb.markUnavailable(asked.filter((s) => s < 3 || s > 4), 53));
  same(out, tags);
  assertEquals(jb.stats.recovered, 2);
  assertEquals(jb.stats.unrecoverable, 0, "guesses are not losses");
  assertEquals(jb.stats.lost, 0);
  assertEquals(jb.stats.tagsDropped, 0);
});

Deno.test("jitter: a fresh stream with no answer to its probes starts after the budget", () => {
  const tags = stream(1, 3);
  const packets = packetize(tags);
  const jb = new JitterBuffer({ latencyMs: 100 });
  jb.expectStreamStart();
  const out = feed(jb, packets);
  assertEquals(out.length, 0);
  out.push(...jb.poll(100));
  same(out, tags);
  assertEquals(jb.stats.unrecoverable, 0);
});

Deno.test("jitter: a Sender Report before any release reveals a lost start", () => {
  const tags = stream(1, 3);
  const packets = packetize(tags);
  const jb = new JitterBuffer({ latencyMs: 200, reorderGraceMs: 10 });
  const out: FlvTag[] = [];
  // Packets held until the stream was named arrive at once, minus the first.
  for (const p of packets.slice(1)) out.push(...jb.push(p, 0));
  out.push(...jb.senderReport(0x1234, packets.length, 0));
  assertEquals(jb.nacks(10), [packets[0].sequence]);
  out.push(...jb.push(packets[0], 12, "rtx"));
  same(out, tags);
});

Deno.test("jitter: NACK retries are spaced by the RTT and stop at the deadline", () => {
  const packets = packetize(stream(1));
  const jb = new JitterBuffer({
    latencyMs: 200,
    reorderGraceMs: 10,
    initialRttMs: 40,
    minRetryMs: 20,
  });
  for (const p of [packets[0], packets[1], packets[3]]) jb.push(p, 0);
  const seq = packets[2].sequence;
  assertEquals(jb.nacks(9), []);
  assertEquals(jb.nacks(10), [seq]);
  jb.poll(10);
  assertEquals(jb.nacks(69), [], "retry waits 1.5 × RTT");
  assertEquals(jb.nacks(70), [seq]);
  jb.updateRtt(40);
  const times: number[] = [];
  for (let t = 71; t < 400; t++) if (jb.nacks(t).length) times.push(t);
  assert(
    times.every((t) => t < 200 - 20),
    `no retry that cannot arrive: ${times}`,
  );
  assertEquals(times, [130, 190].filter((t) => t + 20 <= 200));
  assertEquals(jb.nextEventAt(), 200, "the deadline is the next event");
});

Deno.test("jitter: unrecoverable loss drops the tag whole and resumes video at a keyframe", () => {
  const tags = stream(2, 6);
  const packets = packetize(tags);
  // Lose the second packet of the second inter frame of GOP 1.
  const victim = tags.indexOf(tags.find((t, i) => i > 5 && t.type === 9)!);
  const bytesBefore = tags.slice(0, victim).reduce(
    (n, t) => n + Math.ceil((11 + t.data.length) / PAYLOAD),
    0,
  );
  const lostSeq = packets[bytesBefore + 1].sequence;
  const jb = new JitterBuffer({ latencyMs: 100, reorderGraceMs: 5 });
  const out: FlvTag[] = [];
  for (const p of packets) {
    if (p.sequence !== lostSeq) out.push(...jb.push(p, 0));
  }
  assertEquals(jb.nacks(5), [lostSeq]);
  out.push(...jb.poll(99));
  assertEquals(jb.stats.tagsDropped, 0, "still inside the budget");
  out.push(...jb.poll(100));
  assertEquals(jb.stats.unrecoverable, 1);
  assertEquals(jb.stats.tagsDropped, 1);
  // Expected: everything except the victim and the video of the rest of GOP 1.
  const gop2 = tags.findIndex((t, i) =>
    i > victim && t.type === 9 && t.data[0] === 0x17
  );
  const expected = tags.filter((t, i) =>
    i !== victim && !(i > victim && i < gop2 && t.type === 9)
  );
  same(out, expected);
  assertEquals(jb.stats.tagsSkipped, 3);
  assertEquals(
    out.filter((t) => t.type === 8).length,
    tags.filter((t) => t.type === 8).length,
  );
  // The lost packet arriving late is counted and dropped.
  assertEquals(jb.push(packets[bytesBefore + 1], 101, "rtx"), []);
  assertEquals(jb.stats.late, 1);
});

Deno.test("jitter: consecutive broken tags are each dropped, the next whole tag comes out", () => {
  const big = (ts: number): FlvTag => ({
    type: 8,
    timestamp: ts,
    data: body([0xaf, 0x01], 250, ts),
  });
  const tags = [big(0), big(10), big(20), audio(30), big(40)];
  const packets = packetize(tags); // 3 + 3 + 3 + 1 + 3 packets
  // Lose the middle packet of each of the first three tags.
  const lost = new Set([1, 4, 7]);
  const jb = new JitterBuffer({ latencyMs: 50 });
  const out: FlvTag[] = [];
  packets.forEach((p, i) => {
    if (!lost.has(i)) out.push(...jb.push(p, 0));
  });
  out.push(...jb.poll(50));
  same(out, [tags[3], tags[4]]);
  assertEquals(jb.stats.tagsDropped, 3);
  assertEquals(jb.stats.unrecoverable, 3);
  assertEquals(jb.bufferedPackets, 0);
});

Deno.test("jitter: a NAVL (unavailable) gives up at once", () => {
  const tags = stream(1);
  const packets = packetize(tags);
  const lost = packets[4];
  const jb = new JitterBuffer({ latencyMs: 1000 });
  const out: FlvTag[] = [];
  packets.forEach((p, i) => {
    if (p !== lost) out.push(...jb.push(p, i));
  });
  out.push(...jb.poll(100));
  const before = out.length;
  out.push(...jb.markUnavailable([lost.sequence], 101));
  assert(out.length > before, "released right away");
  assertEquals(jb.stats.tagsDropped, 1);
  assertEquals(jb.stats.unrecoverable, 1);
  assertEquals(jb.nacks(1000), []);
});

Deno.test("jitter: losing part of an audio tag does not hold back video", () => {
  const tags = stream(1, 4);
  const big: FlvTag = {
    type: 8,
    timestamp: 41,
    data: body([0xaf, 0x01], 150, 9),
  };
  const audioIdx = tags.findIndex((t) => t.type === 8 && t.timestamp === 41);
  tags[audioIdx] = big;
  const packets = packetize(tags);
  const first = packetize(tags.slice(0, audioIdx)).length;
  const jb = new JitterBuffer({ latencyMs: 50 });
  const out: FlvTag[] = [];
  // The audio tag's first packet arrives (so its type is known), its second not.
  for (const p of packets) {
    if (p !== packets[first + 1]) out.push(...jb.push(p, 0));
  }
  out.push(...jb.poll(50));
  same(out, tags.filter((_, i) => i !== audioIdx));
  assertEquals(jb.stats.tagsDropped, 1);
  assertEquals(jb.stats.tagsSkipped, 0);
});

Deno.test("jitter: a tag lost whole (type unknown) makes video wait for a keyframe", () => {
  const tags = stream(2, 4);
  const packets = packetize(tags);
  const audioIdx = tags.findIndex((t) => t.type === 8 && t.timestamp === 41);
  const idx = packetize(tags.slice(0, audioIdx)).length;
  const jb = new JitterBuffer({ latencyMs: 50 });
  const out: FlvTag[] = [];
  for (const p of packets) if (p !== packets[idx]) out.push(...jb.push(p, 0));
  out.push(...jb.poll(50));
  const gop2 = tags.findIndex((t, i) =>
    i > audioIdx && t.type === 9 && t.data[0] === 0x17
  );
  same(
    out,
    tags.filter((t, i) =>
      i !== audioIdx && !(t.type === 9 && i > audioIdx && i < gop2)
    ),
  );
  assertEquals(jb.stats.tagsDropped, 1);
  assertEquals(jb.stats.tagsSkipped, 2);
});

Deno.test("jitter: sequence numbers wrap around 65535 → 0", () => {
  const tags = stream(3, 5);
  const packets = packetize(tags, { seq: 65500 });
  assert(packets.some((p) => p.sequence === 0), "the trace wraps");
  const wrapAt = packets.findIndex((p) => p.sequence === 0);
  const lost = new Set([wrapAt - 1, wrapAt, wrapAt + 1]);
  const jb = new JitterBuffer({ latencyMs: 200, reorderGraceMs: 5 });
  const out: FlvTag[] = [];
  packets.forEach((p, i) => {
    if (!lost.has(i)) out.push(...jb.push(p, 0));
  });
  const asked = jb.nacks(5);
  assertEquals(asked, [65535, 0, 1]);
  for (const i of lost) out.push(...jb.push(packets[i], 6, "rtx"));
  same(out, tags);
});

Deno.test("jitter: a new SSRC for the stream (republish) starts over cleanly", () => {
  const first = stream(1, 4);
  const second = stream(1, 4).map((t) => ({
    ...t,
    timestamp: t.timestamp + 7,
  }));
  const a = packetize(first, { ssrc: 0xaaaa, seq: 100 });
  const b = packetize(second, { ssrc: 0xbbbb, seq: 40000 });
  const jb = new JitterBuffer({ latencyMs: 100 });
  const out: FlvTag[] = [];
  // The first publish ends with its last tag incomplete.
  out.push(...feed(jb, a.slice(0, -1)));
  same(out, first.slice(0, -1));
  out.length = 0;
  out.push(...feed(jb, b, 10));
  same(out, second);
  assertEquals(jb.ssrc, 0xbbbb);
  assertEquals(jb.stats.resyncs, 1);
  // A stale packet of the old publish is ignored.
  assertEquals(jb.push(a[a.length - 1], 500), []);
  assertEquals(jb.stats.late, 1);
});

Deno.test("jitter: joining mid-stream starts at a tag boundary and a keyframe", () => {
  const tags = stream(2, 6);
  const packets = packetize(tags);
  // Start inside the first keyframe (which spans several packets).
  const start = packets.findIndex((p, i) =>
    i > 0 && !p.marker && !packets[i - 1].marker
  );
  const jb = new JitterBuffer();
  const out = feed(jb, packets.slice(start));
  const gop2 = tags.findIndex((t, i) =>
    i > 3 && t.type === 9 && t.data[0] === 0x17
  );
  const firstVideo = out.find((t) => t.type === 9)!;
  assertEquals(firstVideo.data[0], 0x17, "first video out is a keyframe");
  same(
    out.filter((t) => t.type === 9),
    tags.slice(gop2).filter((t) => t.type === 9),
  );
  assertEquals(jb.stats.tagsDropped, 0);
});

Deno.test("jitter: a first packet reordered behind the second is not lost", () => {
  const tags = stream(1, 3);
  const packets = packetize(tags);
  const jb = new JitterBuffer();
  const out = feed(jb, [packets[1], packets[0], ...packets.slice(2)]);
  same(out, tags);
});

Deno.test("jitter: a large forward jump is only believed when the next packet follows", () => {
  const tags = stream(1, 3);
  const packets = packetize(tags, { seq: 10 });
  const jb = new JitterBuffer({ maxPackets: 64 });
  const out = feed(jb, packets.slice(0, 10));
  // A stray packet far away is held on probation, then discarded.
  const stray: RtpPacket = { ...packets[10], sequence: 30000 };
  assertEquals(jb.push(stray, 20), []);
  out.push(...feed(jb, packets.slice(10), 21));
  same(out, tags);
  assertEquals(jb.stats.outOfWindow, 1);
  // A real restart of the sequence space is followed.
  const again = packetize(tags, { seq: 50000 });
  const out2 = feed(jb, again, 100);
  same(out2, tags);
  assertEquals(jb.stats.resyncs, 1);
});

Deno.test("jitter: memory stays bounded under garbage and gaps", () => {
  const maxPackets = 256;
  const maxBytes = 64 * 1024;
  const jb = new JitterBuffer({ maxPackets, maxBytes, latencyMs: 1e9 });
  let seed = 7;
  const rand = () =>
    (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 50_000; i++) {
    const len = Math.floor(rand() * 1200);
    const payload = new Uint8Array(len);
    for (let j = 0; j < Math.min(len, 16); j++) payload[j] = rand() * 256;
    jb.push({
      marker: rand() < 0.3,
      payloadType: 100,
      sequence: i % 7 === 0 ? Math.floor(rand() * 65536) : (i * 3) & 0xffff,
      timestamp: i,
      ssrc: 0x55,
      payload,
    }, i);
    jb.nacks(i);
    assert(jb.bufferedPackets <= maxPackets, `packets ${jb.bufferedPackets}`);
    assert(jb.bufferedBytes <= maxBytes, `bytes ${jb.bufferedBytes}`);
    assert(jb.pending <= maxPackets, `pending ${jb.pending}`);
  }
  // And a clean stream afterwards still comes through (after a resync).
  const tags = stream(1, 3);
  const out = feed(jb, packetize(tags, { ssrc: 0x66, seq: 5 }), 60_000);
  same(out, tags);
});

Deno.test("jitter: looksLikeTagStart recognizes tag heads", () => {
  const bytes = encodeTag(key(0));
  assert(looksLikeTagStart(bytes.subarray(0, PAYLOAD), false));
  assert(!looksLikeTagStart(bytes.subarray(0, PAYLOAD), true));
  assert(looksLikeTagStart(bytes, true));
  assert(!looksLikeTagStart(bytes.subarray(PAYLOAD, 2 * PAYLOAD), false));
  assert(!looksLikeTagStart(new Uint8Array(5), true));
});

Deno.test("jitter: the first RTT sample replaces the initial guess, later ones are smoothed (RFC 6298)", () => {
  const jb = new JitterBuffer({ latencyMs: 400, initialRttMs: 30 });
  jb.updateRtt(100);
  assertEquals(jb.rttMs, 100);
  jb.updateRtt(180);
  assertEquals(jb.rttMs, 110);
  jb.latencyMs = 520;
  assertEquals(jb.latencyMs, 520, "the budget can follow the path");
});
