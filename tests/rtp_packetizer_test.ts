import { deepEqual, equal, throws } from "node:assert/strict";
import { encodeTag, type FlvTag } from "../lib/flv/mod.ts";
import {
  parseRtp,
  RTP_HEADER_SIZE,
  RtpPacketizer,
  TagAssembler,
} from "../lib/rtp/mod.ts";

function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x;
  }
  return b;
}

const LIMIT = 1180;

function check(tagLen: number, limit = LIMIT) {
  const tag: FlvTag = {
    type: 9,
    timestamp: 40,
    data: bytes(tagLen - 11, tagLen),
  };
  const pk = new RtpPacketizer({
    ssrc: 0x11223344,
    payloadSize: limit,
    initialSequence: 500,
  });
  const dgrams = pk.packetize(tag);
  const n = Math.ceil(tagLen / limit);
  equal(dgrams.length, n, `tag of ${tagLen} bytes`);
  const whole = encodeTag(tag);
  const parts: Uint8Array[] = [];
  dgrams.forEach((d, i) => {
    const p = parseRtp(d);
    equal(p.sequence, 500 + i);
    equal(p.ssrc, 0x11223344);
    equal(p.payloadType, 100);
    equal(p.timestamp, 40 * 90);
    equal(p.marker, i === n - 1);
    equal(p.payload.length <= limit, true);
    if (i < n - 1) equal(p.payload.length, limit);
    // one buffer per tag: datagram i starts where datagram i-1 ended
    equal(d.buffer, dgrams[0].buffer);
    equal(d.buffer.byteLength, n * 12 + tagLen);
    if (i > 0) {
      equal(d.byteOffset, dgrams[i - 1].byteOffset + dgrams[i - 1].length);
    }
    parts.push(p.payload);
  });
  const joined = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    joined.set(p, o);
    o += p.length;
  }
  deepEqual(joined, whole);
  equal(pk.packetsSent, n);
  equal(pk.octetsSent, tagLen);
  equal(pk.nextSequence, 500 + n);
}

Deno.test("packetizer: sizes limit-1, limit, limit+1, 10*limit", () => {
  check(LIMIT - 1);
  check(LIMIT);
  check(LIMIT + 1);
  check(10 * LIMIT);
  check(10 * LIMIT + 1);
  check(11); // empty body
});

Deno.test("packetizer: tiny payload sizes split the tag header too", () => {
  check(11, 1);
  check(25, 4);
  check(100, 11);
});

Deno.test("packetizer: exact datagram bytes of a one-packet tag", () => {
  const pk = new RtpPacketizer({ ssrc: 1, initialSequence: 0xfffe });
  const [d] = pk.packetize({
    type: 8,
    timestamp: 1,
    data: new Uint8Array([0xaf, 0x01]),
  });
  deepEqual(
    Array.from(d),
    [
      0x80,
      0xe4,
      0xff,
      0xfe,
      0,
      0,
      0,
      90,
      0,
      0,
      0,
      1, // RTP, M=1
      8,
      0,
      0,
      2,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      0xaf,
      0x01, // FLV tag
    ],
  );
  equal(d.length, RTP_HEADER_SIZE + 13);
});

Deno.test("packetizer: sequence wraps 65535 -> 0", () => {
  const pk = new RtpPacketizer({
    ssrc: 7,
    payloadSize: 100,
    initialSequence: 65534,
  });
  const d = pk.packetize({ type: 9, timestamp: 0, data: new Uint8Array(389) });
  deepEqual(d.map((x) => parseRtp(x).sequence), [65534, 65535, 0, 1]);
  equal(pk.nextSequence, 2);
  const d2 = pk.packetize({ type: 9, timestamp: 0, data: new Uint8Array(1) });
  equal(parseRtp(d2[0]).sequence, 2);
});

Deno.test("packetizer: timestamp ms*90 mod 2^32, same on all fragments", () => {
  const pk = new RtpPacketizer({ ssrc: 7, payloadSize: 50 });
  for (
    const ms of [0, 1, 33, 47721858, 47721859, 47721860, 2 ** 31, 0xffffffff]
  ) {
    const want = Number((BigInt(ms) * 90n) % (1n << 32n));
    const ds = pk.packetize({
      type: 9,
      timestamp: ms,
      data: new Uint8Array(120),
    });
    equal(ds.length, 3);
    for (const d of ds) equal(parseRtp(d).timestamp, want, `ms=${ms}`);
    equal(pk.lastRtpTimestamp, want);
    equal(pk.lastTagTimestamp, ms);
  }
});

Deno.test("packetizer: random initial sequence and option validation", () => {
  const seqs = new Set<number>();
  for (let i = 0; i < 50; i++) {
    seqs.add(new RtpPacketizer({ ssrc: 1 }).nextSequence);
  }
  equal(seqs.size > 40, true);
  throws(
    () => new RtpPacketizer({ ssrc: 0 }),
    /ssrc: expected an integer in 1\.\.4294967295, got 0/,
  );
  throws(() => new RtpPacketizer({ ssrc: 1, payloadSize: 0 }), /payloadSize/);
  throws(
    () => new RtpPacketizer({ ssrc: 1, initialSequence: 65536 }),
    /initialSequence/,
  );
  const pk = new RtpPacketizer({ ssrc: 1, initialSequence: 9 });
  throws(() =>
    pk.packetize({ type: 9, timestamp: -5, data: new Uint8Array() })
  );
  equal(pk.nextSequence, 9);
  equal(pk.packetsSent, 0);
});

Deno.test("property: random tags -> packets -> TagAssembler gives the same tags", () => {
  const seed = Date.now() >>> 0;
  let x = seed || 1;
  const rnd = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  for (let round = 0; round < 8; round++) {
    const payloadSize = 1 + Math.floor(rnd() * 1500);
    const pk = new RtpPacketizer({
      ssrc: 0xcafe0000 + round,
      payloadSize,
      initialSequence: 65535 - Math.floor(rnd() * 30), // wraps within 40 tags
    });
    const asm = new TagAssembler();
    let wrapped = false;
    let ts = Math.floor(rnd() * 2 ** 32);
    for (let i = 0; i < 40; i++) {
      const big = rnd() < 0.15;
      const len = Math.floor(rnd() * (big ? 200_000 : 3000));
      const tag: FlvTag = {
        type: ([8, 9, 18] as const)[Math.floor(rnd() * 3)],
        timestamp: ts,
        data: bytes(len, seed + i),
      };
      ts = (ts + Math.floor(rnd() * 100)) % 2 ** 32;
      const seqBefore = pk.nextSequence;
      const out: FlvTag[] = [];
      for (const d of pk.packetize(tag)) {
        const t = asm.push(parseRtp(d));
        if (t) out.push(t);
      }
      if (pk.nextSequence < seqBefore) wrapped = true;
      equal(out.length, 1, `seed ${seed} round ${round} tag ${i}`);
      equal(out[0].type, tag.type);
      equal(out[0].timestamp, tag.timestamp);
      deepEqual(out[0].data, tag.data, `seed ${seed} round ${round} tag ${i}`);
    }
    equal(wrapped, true, `seed ${seed}`);
    equal(asm.tagsDropped, 0);
    equal(asm.tagsAssembled, 40);
  }
});

function packets(tags: FlvTag[], payloadSize: number, seq = 65530) {
  const pk = new RtpPacketizer({ ssrc: 5, payloadSize, initialSequence: seq });
  return tags.map((t) => pk.packetize(t).map(parseRtp));
}

Deno.test("assembler: a gap drops the partial tag, next tag is clean", () => {
  const tags: FlvTag[] = [0, 1, 2].map((i) => ({
    type: 9,
    timestamp: i * 40,
    data: bytes(500, i + 1),
  }));
  const [a, b, c] = packets(tags, 100);
  const asm = new TagAssembler();
  const got: FlvTag[] = [];
  const feed = (ps: ReturnType<typeof parseRtp>[]) => {
    for (const p of ps) {
      const t = asm.push(p);
      if (t) got.push(t);
    }
  };
  feed(a);
  feed(b.slice(0, 2)); // then lose b[2]
  feed(b.slice(3, 4));
  equal(asm.tagsDropped, 1);
  equal(asm.lastDropReason, "gap");
  feed(b.slice(4)); // the rest of b (from mid-tag) fails validation
  equal(asm.tagsDropped, 2);
  equal(asm.lastDropReason, "invalid");
  feed(c);
  deepEqual(got.map((t) => t.timestamp), [0, 80]);
  deepEqual(got[1].data, tags[2].data);
});

Deno.test("assembler: starting mid-tag drops it as invalid; reset() resyncs", () => {
  const tags: FlvTag[] = [0, 1].map((i) => ({
    type: 8,
    timestamp: i,
    data: bytes(300, i + 7),
  }));
  const [a, b] = packets(tags, 64);
  const asm = new TagAssembler();
  for (const p of a.slice(2)) equal(asm.push(p), undefined);
  equal(asm.lastDropReason, "invalid");
  let last: FlvTag | undefined;
  for (const p of b) last = asm.push(p);
  deepEqual(last?.data, tags[1].data);
  // reset in the middle of a tag
  asm.push(a[0]);
  asm.reset();
  equal(asm.lastDropReason, "reset");
  equal(asm.inProgress, false);
  for (const p of b) last = asm.push(p);
  deepEqual(last?.data, tags[1].data);
});

Deno.test("assembler: timestamp mismatch and oversize are dropped", () => {
  const asm = new TagAssembler({ maxTagBytes: 200 });
  const [big] = packets([{ type: 9, timestamp: 3, data: bytes(400) }], 100);
  for (const p of big) equal(asm.push(p), undefined);
  equal(asm.lastDropReason, "oversize");
  equal(asm.tagsDropped, 1);
  equal(asm.inProgress, false);
  const [ok] = packets([{ type: 9, timestamp: 3, data: bytes(100) }], 100);
  const forged = { ...ok[0], timestamp: ok[0].timestamp + 1 };
  equal(asm.push(forged), undefined); // first fragment, not complete
  equal(asm.push(ok[1]), undefined); // timestamp differs from the tag start
  equal(asm.lastDropReason, "invalid"); // fragment 1 alone does not decode
  // one packet whose RTP ts disagrees with the tag's timestamp
  const [one] = packets([{ type: 9, timestamp: 3, data: bytes(10) }], 100);
  equal(asm.push({ ...one[0], timestamp: 1 }), undefined);
  equal(asm.lastDropReason, "invalid");
  equal(asm.push(one[0])?.timestamp, 3);
});

Deno.test("assembler: a flood of empty payloads without marker stays bounded", () => {
  const asm = new TagAssembler();
  const payload = new Uint8Array(0);
  for (let i = 0; i < 70_000; i++) {
    asm.push({
      marker: false,
      payloadType: 100,
      sequence: i & 0xffff,
      timestamp: 0,
      ssrc: 1,
      payload,
    });
  }
  equal(asm.lastDropReason, "oversize");
  equal(asm.tagsDropped, 1);
  equal(asm.pendingBytes, 0);
});
