import {
  deepStrictEqual as assertEquals,
  equal,
  throws as assertThrows,
} from "node:assert/strict";
import * as rtcp from "../lib/rtcp/mod.ts";
import { fromHex as hex } from "../testkit/bytes.ts";
import { withSeed } from "../testkit/random.ts";

Deno.test("parse: SR + SDES + BYE compound round trip", () => {
  const sr = {
    ssrc: 0xfeedface,
    ntpSec: 0xe1000000,
    ntpFrac: 123,
    rtpTimestamp: 0xffffffff,
    packetCount: 7,
    octetCount: 8000,
  };
  const pkts = rtcp.parseRtcp(rtcp.encodeCompound([
    rtcp.encodeSenderReport(sr),
    rtcp.encodeSdes(0xfeedface, { cname: "cloud-1", key: "live/movie" }),
    rtcp.encodeBye(0xfeedface, "unpublish"),
  ]));
  assertEquals(pkts, [
    { type: "sr", ...sr, reports: [] },
    {
      type: "sdes",
      chunks: [{ ssrc: 0xfeedface, cname: "cloud-1", key: "live/movie" }],
    },
    { type: "bye", ssrcs: [0xfeedface], reason: "unpublish" },
  ]);
  assertEquals(rtcp.parseRtcp(rtcp.encodeBye(3)), [{
    type: "bye",
    ssrcs: [3],
  }]);
  assertEquals(rtcp.parseRtcp(rtcp.encodeSdes(4, { cname: "abcdef" })), [
    { type: "sdes", chunks: [{ ssrc: 4, cname: "abcdef" }] },
  ]);
});

Deno.test("parse: SR with a report block, RR, multi-chunk SDES skipping other items", () => {
  const pkts = rtcp.parseRtcp(hex(`
    81 c8 00 0c  00000001  00000002 00000003 00000004 00000005 00000006
      0000000a  19 fffffe  0001ffff  00000010  11112222  00003333
    80 c9 00 01  00000009
    82 ca 00 06
      0000000a  01 01 61  02 01 62  00 00
      0000000b  08 05 03 6b6579 7a  00
  `));
  assertEquals(pkts, [
    {
      type: "sr",
      ssrc: 1,
      ntpSec: 2,
      ntpFrac: 3,
      rtpTimestamp: 4,
      packetCount: 5,
      octetCount: 6,
      reports: [{
        ssrc: 10,
        fractionLost: 0x19,
        cumulativeLost: -2,
        highestSeq: 0x1ffff,
        jitter: 16,
        lsr: 0x11112222,
        dlsr: 0x3333,
      }],
    },
    { type: "rr", ssrc: 9, reports: [] },
    {
      type: "sdes",
      chunks: [{ ssrc: 10, cname: "a" }, { ssrc: 11, key: "z" }],
    },
  ]);
});

Deno.test("parse: APP, AUTH (trailing zeros stripped), NAVL", () => {
  const [auth] = rtcp.parseRtcp(rtcp.encodeAuth("secret", 77));
  equal(auth.type, "app");
  if (auth.type !== "app") return;
  equal(auth.name, "AUTH");
  equal(auth.ssrc, 77);
  equal(auth.subtype, 0);
  equal(rtcp.parseAuth(auth), "secret");
  equal(rtcp.parseAuth(rtcp.parseRtcp(rtcp.encodeAuth("abcd"))[0]), "abcd");
  equal(rtcp.parseAuth(rtcp.parseRtcp(rtcp.encodeAuth(""))[0]), "");
  equal(rtcp.parseNavl(auth), undefined);

  const [navl] = rtcp.parseRtcp(rtcp.encodeNavl(0xdeadbeef, [7, 65535, 0]));
  assertEquals(rtcp.parseNavl(navl), {
    mediaSsrc: 0xdeadbeef,
    seqs: [7, 65535, 0],
  });
  equal(rtcp.parseAuth(navl), undefined);
  equal(rtcp.parseNavl(rtcp.parseRtcp(rtcp.encodeBye(1))[0]), undefined);

  // NAVL whose count exceeds its data.
  const bad = rtcp.parseRtcp(
    hex(`80 cc 00 04 00000000 4e41564c 00000001 0005 0001`),
  );
  assertThrows(() => rtcp.parseNavl(bad[0]), RangeError);
  // NAVL with fewer than 6 data bytes.
  const short = rtcp.parseRtcp(hex(`80 cc 00 03 00000000 4e41564c 00000001`));
  assertThrows(() => rtcp.parseNavl(short[0]), RangeError);
});

Deno.test("parse: NACK decode with BLP and wrap", () => {
  const pkts = rtcp.parseRtcp(
    hex(`81 cd 00 04  00000001  00000002  fffe 0007  0011 8001`),
  );
  assertEquals(pkts, [{
    type: "nack",
    senderSsrc: 1,
    mediaSsrc: 2,
    seqs: [65534, 65535, 0, 1, 17, 18, 33],
  }]);
  const seqs = [65530, 65535, 0, 3, 9, 200, 201, 1000];
  const [n] = rtcp.parseRtcp(rtcp.encodeNack(5, 6, seqs));
  equal(n.type, "nack");
  if (n.type === "nack") assertEquals(n.seqs, seqs);
});

Deno.test("parse: unknown PTs and non-NACK RTPFB come back as unknown", () => {
  assertEquals(rtcp.parseRtcp(hex(`81 ce 00 01 00000001`)), [
    { type: "unknown", pt: 206, count: 1, body: hex("00000001") },
  ]);
  assertEquals(rtcp.parseRtcp(hex(`83 cd 00 02 00000001 00000002`)), [
    { type: "unknown", pt: 205, count: 3, body: hex("00000001 00000002") },
  ]);
});

Deno.test("parse: padding bit removes the padding", () => {
  // BYE with a 3-byte reason and 4 bytes of padding (count in the last byte).
  assertEquals(
    rtcp.parseRtcp(hex(`a1 cb 00 03  00000005  03 627965  00000004`)),
    [{ type: "bye", ssrcs: [5], reason: "bye" }],
  );
});

Deno.test("parse: malformed and truncated input throws RangeError", () => {
  const bad: [string, string][] = [
    ["empty", ``],
    ["short header", `81 cb 00`],
    ["version 1", `41 cb 00 01 00000001`],
    ["length past end", `81 cb 00 02 00000001`],
    ["trailing bytes", `81 cb 00 01 00000001 80`],
    ["second packet truncated", `81 cb 00 01 00000001 81 cb 00 01`],
    ["SR too short", `80 c8 00 01 00000001`],
    ["SR missing report block", `81 c8 00 06 ${"00000000".repeat(6)}`],
    ["RR missing SSRC", `80 c9 00 00`],
    ["BYE missing SSRCs", `82 cb 00 01 00000001`],
    ["BYE reason too long", `81 cb 00 02 00000001 09 616263`],
    ["SDES unterminated", `81 ca 00 02 00000001 01 02 6162`],
    ["SDES item too long", `81 ca 00 02 00000001 01 09 6162`],
    ["SDES missing chunk", `82 ca 00 02 00000001 01 01 61 00`],
    ["SDES extra bytes", `81 ca 00 03 00000001 01 01 61 00 00000000`],
    ["SDES bad PRIV prefix", `81 ca 00 02 00000001 08 01 05 00`],
    ["APP too short", `80 cc 00 01 00000001`],
    ["NACK without FCI", `81 cd 00 02 00000001 00000002`],
    ["padding count zero", `a1 cb 00 01 00000000`],
    ["padding too large", `a1 cb 00 01 00000009`],
  ];
  for (const [name, bytes] of bad) {
    assertThrows(() => rtcp.parseRtcp(hex(bytes)), RangeError, name);
  }
});

Deno.test("parse: random bytes never throw anything but RangeError", () => {
  const buf = new Uint8Array(64);
  for (let i = 0; i < 5000; i++) {
    crypto.getRandomValues(buf);
    buf[0] = 0x80 | (buf[0] & 0x3f);
    const len = 4 + (i % 60);
    try {
      rtcp.parseRtcp(buf.subarray(0, len));
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
    }
  }
});

Deno.test("NACK packing: random sets round trip, circular order, minimal FCIs for runs", () => {
  assertEquals(rtcp.orderSeqs([1, 65535, 0, 65534, 1]), [65534, 65535, 0, 1]);
  assertEquals(rtcp.orderSeqs([3, 1, 2]), [1, 2, 3]);
  assertEquals(rtcp.orderSeqs([40000, 10]), [40000, 10]);
  assertEquals(rtcp.orderSeqs([30000, 10]), [10, 30000]);
  withSeed((random) => {
    for (let round = 0; round < 200; round++) {
      const base = Math.floor(random() * 65536);
      const set = new Set<number>();
      const n = 1 + Math.floor(random() * 300);
      for (let i = 0; i < n; i++) {
        set.add((base + Math.floor(random() * 600)) & 0xffff);
      }
      const fcis = rtcp.packNack(set);
      const back = rtcp.unpackNack(fcis);
      assertEquals(new Set(back), set);
      equal(back.length, set.size);
    }
  });
  // A run of 170 consecutive numbers across the wrap packs into 10 FCIs.
  const run = Array.from({ length: 170 }, (_, i) => (65500 + i) & 0xffff);
  equal(rtcp.packNack(run).length, 10);
});
