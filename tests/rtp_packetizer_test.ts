import { deepEqual, equal, throws } from "node:assert/strict";
import {
  encodeFileTag,
  encodeTag,
  fileTagBytes,
  type FlvTag,
} from "../lib/flv/mod.ts";
import {
  assembleTag,
  parseRtp,
  RTP_HEADER_SIZE,
  RtpPacketizer,
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

Deno.test("property: random tags -> packets -> assembleTag gives the same tags, framed for files", () => {
  const seed = Number(Deno.env.get("SEED")) || (Date.now() >>> 0);
  console.log(`seed ${seed} (rerun with SEED=${seed})`);
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
    let wrapped = false;
    let ts = Math.floor(rnd() * 2 ** 32);
    for (let i = 0; i < 40; i++) {
      const big = rnd() < 0.15;
      // A tag travels in at most 65,536 packets (the sequence space), so
      // a tiny payload size caps the tag length.
      const len = Math.min(
        Math.floor(rnd() * (big ? 200_000 : 3000)),
        65_536 * payloadSize - 11,
      );
      const tag: FlvTag = {
        type: ([8, 9, 18] as const)[Math.floor(rnd() * 3)],
        timestamp: ts,
        data: bytes(len, seed + i),
      };
      ts = (ts + Math.floor(rnd() * 100)) % 2 ** 32;
      const seqBefore = pk.nextSequence;
      const packets = pk.packetize(tag).map(parseRtp);
      if (pk.nextSequence < seqBefore) wrapped = true;
      const where = `seed ${seed} round ${round} tag ${i}`;
      deepEqual(
        packets.map((p) => p.marker),
        packets.map((_, k) => k === packets.length - 1),
        `${where}: marker on the last packet only`,
      );
      const out = assembleTag(packets.map((p) => p.payload));
      equal(out.type, tag.type, where);
      equal(out.timestamp, tag.timestamp, where);
      deepEqual(out.data, tag.data, where);
      deepEqual(fileTagBytes(out), encodeFileTag(tag), where);
    }
    equal(wrapped, true, `seed ${seed}`);
  }
});

function packets(tags: FlvTag[], payloadSize: number, seq = 65530) {
  const pk = new RtpPacketizer({ ssrc: 5, payloadSize, initialSequence: seq });
  return tags.map((t) => pk.packetize(t).map(parseRtp));
}

Deno.test("assembleTag: the framed bytes are built once and shared (no copy per consumer)", () => {
  const tag: FlvTag = { type: 9, timestamp: 80, data: bytes(2500, 3) };
  const [ps] = packets([tag], 1000);
  equal(ps.length, 3);
  const out = assembleTag(ps.map((p) => p.payload));
  const framed = fileTagBytes(out);
  equal(framed.length, 11 + 2500 + 4);
  equal(out.data.buffer, framed.buffer, "data is a view into the framing");
  equal(fileTagBytes(out), framed);
});

Deno.test("assembleTag: a tag missing a fragment, or started mid-tag, is refused", () => {
  const tag: FlvTag = { type: 9, timestamp: 0, data: bytes(500, 1) };
  const [ps] = packets([tag], 100);
  const payloads = ps.map((p) => p.payload);
  throws(
    () => assembleTag([...payloads.slice(0, 2), ...payloads.slice(3)]),
    /FLV tag length: header says 511 bytes/,
  );
  throws(() => assembleTag(payloads.slice(2)), RangeError);
  throws(() => assembleTag([]), /expected at least 15 bytes, got 4/);
});
