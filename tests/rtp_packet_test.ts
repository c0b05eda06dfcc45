import { deepEqual, equal, throws } from "node:assert/strict";
import {
  encodeRtp,
  isRtcp,
  parseRtp,
  randomSequence,
  randomSsrc,
  RTP_PAYLOAD_TYPE,
  rtpSequence,
  rtpSsrc,
  rtpTimestampFromMs,
  seqAdd,
  seqDiff,
} from "../lib/rtp/mod.ts";
import { toHex } from "../testkit/bytes.ts";

const hex = (b: Uint8Array) => toHex(b, " ");

Deno.test("encodeRtp: byte-exact 12-byte header, PT 100", () => {
  const b = encodeRtp({
    marker: true,
    payloadType: RTP_PAYLOAD_TYPE,
    sequence: 0xabcd,
    timestamp: 0xdeadbeef,
    ssrc: 0x01020304,
    payload: new Uint8Array([9, 8]),
  });
  equal(hex(b), "80 e4 ab cd de ad be ef 01 02 03 04 09 08");
  const nb = encodeRtp({
    marker: false,
    payloadType: 100,
    sequence: 1,
    timestamp: 0,
    ssrc: 0xffffffff,
    payload: new Uint8Array(),
  });
  equal(hex(nb), "80 64 00 01 00 00 00 00 ff ff ff ff");
});

Deno.test("parseRtp inverts encodeRtp; payload is a subarray", () => {
  const p = {
    marker: false,
    payloadType: 100,
    sequence: 65535,
    timestamp: 4294967295,
    ssrc: 0x80000001,
    payload: new Uint8Array([1, 2, 3, 4, 5]),
  };
  const b = encodeRtp(p);
  const q = parseRtp(b);
  deepEqual(q, p);
  equal(q.payload.buffer, b.buffer);
  equal(q.payload.byteOffset, 12);
  equal(rtpSsrc(b), 0x80000001);
  equal(rtpSequence(b), 65535);
});

Deno.test("parseRtp rejects short packets and version != 2", () => {
  throws(() => parseRtp(new Uint8Array(11)), /at least 12 bytes, got 11/);
  const b = encodeRtp({
    marker: false,
    payloadType: 100,
    sequence: 1,
    timestamp: 1,
    ssrc: 1,
    payload: new Uint8Array(4),
  });
  b[0] = 0x40;
  throws(() => parseRtp(b), /expected version 2, got 1/);
  b[0] = 0x00;
  throws(() => parseRtp(b), /expected version 2, got 0/);
});

Deno.test("parseRtp skips CSRCs and extension, strips padding", () => {
  // V=2 P=1 X=1 CC=2
  const b = new Uint8Array([
    0xb2,
    0x64,
    0,
    7,
    0,
    0,
    0,
    9,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    0xa,
    0,
    0,
    0,
    0xb, // 2 CSRCs
    0xbe,
    0xde,
    0,
    1,
    1,
    2,
    3,
    4, // extension, 1 word
    0x55,
    0x66,
    0x77, // payload
    0,
    0,
    3, // 3 padding bytes
  ]);
  const p = parseRtp(b);
  equal(hex(p.payload), "55 66 77");
  equal(p.sequence, 7);
  equal(p.timestamp, 9);
  // CSRC count past the end
  throws(
    () => parseRtp(new Uint8Array([0x8f, 100, ...new Array(20)])),
    /CSRC count 15/,
  );
  // extension length past the end
  throws(
    () =>
      parseRtp(
        new Uint8Array([0x90, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]),
      ),
    /extension of 9 words/,
  );
  // padding 0 or longer than the payload
  throws(
    () =>
      parseRtp(new Uint8Array([0xa0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0])),
    /padding count expected in 1\.\.2, got 0/,
  );
  throws(
    () =>
      parseRtp(new Uint8Array([0xa0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9])),
    /got 9/,
  );
});

Deno.test("encodeRtp rejects out-of-range fields", () => {
  const base = {
    marker: false,
    payloadType: 100,
    sequence: 0,
    timestamp: 0,
    ssrc: 1,
    payload: new Uint8Array(),
  };
  throws(
    () => encodeRtp({ ...base, payloadType: 128 }),
    /payloadType: expected an integer in 0\.\.127, got 128/,
  );
  throws(() => encodeRtp({ ...base, sequence: 65536 }), /sequence/);
  throws(() => encodeRtp({ ...base, timestamp: -1 }), /timestamp/);
  throws(() => encodeRtp({ ...base, ssrc: 2 ** 32 }), /ssrc/);
});

Deno.test("isRtcp: RFC 5761 second byte 192..223", () => {
  equal(isRtcp(new Uint8Array([0x80, 200, 0, 6])), true); // SR
  equal(isRtcp(new Uint8Array([0x81, 205, 0, 3])), true); // NACK
  equal(isRtcp(new Uint8Array([0x80, 204, 0, 3])), true); // APP
  equal(isRtcp(new Uint8Array([0x80, 192])), true);
  equal(isRtcp(new Uint8Array([0x80, 223])), true);
  equal(isRtcp(new Uint8Array([0x80, 224])), false);
  equal(isRtcp(new Uint8Array([0x80, 191])), false);
  equal(isRtcp(new Uint8Array([0x80, 100])), false); // RTP PT 100
  equal(isRtcp(new Uint8Array([0x80, 0xe4])), false); // RTP PT 100 + M
  equal(isRtcp(new Uint8Array([0x80])), false);
});

Deno.test("seqDiff/seqAdd are wrap-around safe", () => {
  equal(seqDiff(5, 3), 2);
  equal(seqDiff(3, 5), -2);
  equal(seqDiff(0, 65535), 1);
  equal(seqDiff(65535, 0), -1);
  equal(seqDiff(10, 65530), 16);
  equal(seqDiff(32767, 0), 32767);
  equal(seqDiff(32768, 0), -32768);
  equal(seqDiff(7, 7), 0);
  equal(seqAdd(65535, 1), 0);
  equal(seqAdd(0, -1), 65535);
  equal(seqAdd(65000, 1000), 464);
});

Deno.test("rtpTimestampFromMs = ms*90 mod 2^32, exact", () => {
  equal(rtpTimestampFromMs(0), 0);
  equal(rtpTimestampFromMs(1000), 90000);
  const wrapMs = Math.ceil(2 ** 32 / 90); // 47721859
  equal(rtpTimestampFromMs(wrapMs - 1), (wrapMs - 1) * 90);
  equal(rtpTimestampFromMs(wrapMs), wrapMs * 90 - 2 ** 32);
  equal(
    rtpTimestampFromMs(0xffffffff),
    Number((0xffffffffn * 90n) % (1n << 32n)),
  );
});

Deno.test("randomSsrc is a non-zero u32; randomSequence a u16", () => {
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const s = randomSsrc();
    equal(Number.isInteger(s) && s > 0 && s <= 0xffffffff, true);
    seen.add(s);
    const q = randomSequence();
    equal(Number.isInteger(q) && q >= 0 && q <= 0xffff, true);
  }
  equal(seen.size > 990, true);
});
