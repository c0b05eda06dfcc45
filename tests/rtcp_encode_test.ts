import {
  deepStrictEqual as assertEquals,
  throws as assertThrows,
} from "node:assert/strict";
import * as rtcp from "../lib/rtcp/mod.ts";
import { fromHex as hex } from "../testkit/bytes.ts";

const ascii = (s: string) =>
  [...s].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");

Deno.test("SR: byte-exact against a hand-built RFC 3550 §6.4.1 vector", () => {
  const got = rtcp.encodeSenderReport({
    ssrc: 0x12345678,
    ntpSec: 0xe1a2b3c4,
    ntpFrac: 0x80000000,
    rtpTimestamp: 90_000,
    packetCount: 10,
    octetCount: 11_800,
  });
  assertEquals(
    got,
    hex(
      `80 c8 00 06  12345678  e1a2b3c4  80000000  00015f90  0000000a  00002e18`,
    ),
  );
});

Deno.test("SR: rejects fields that are not u32", () => {
  const base = {
    ssrc: 1,
    ntpSec: 0,
    ntpFrac: 0,
    rtpTimestamp: 0,
    packetCount: 0,
    octetCount: 0,
  };
  assertThrows(
    () => rtcp.encodeSenderReport({ ...base, ssrc: -1 }),
    RangeError,
  );
  assertThrows(
    () => rtcp.encodeSenderReport({ ...base, octetCount: 2 ** 32 }),
    RangeError,
  );
});

Deno.test("SDES: CNAME + PRIV key item, byte-exact (RFC 3550 §6.5, §6.5.8)", () => {
  const got = rtcp.encodeSdes(0x12345678, {
    cname: "cloud",
    key: "live/movie",
  });
  assertEquals(
    got,
    hex(
      `81 ca 00 07  12345678
       01 05 ${ascii("cloud")}
       08 0e 03 ${ascii("key")} ${ascii("live/movie")}
       00`,
    ),
  );
});

Deno.test("SDES: items ending on a 32-bit boundary get four null octets", () => {
  // 01 06 "abcdef" is 8 bytes: the terminating null needs a whole extra word.
  assertEquals(
    rtcp.encodeSdes(1, { cname: "abcdef" }),
    hex(`81 ca 00 04  00000001  01 06 ${ascii("abcdef")} 00000000`),
  );
  assertEquals(
    rtcp.encodeSdes(2, { cname: "ab" }),
    hex(`81 ca 00 03  00000002  01 02 ${ascii("ab")} 00 000000`),
  );
});

Deno.test("SDES: rejects items over 255 bytes", () => {
  assertThrows(
    () => rtcp.encodeSdes(1, { cname: "x".repeat(256) }),
    RangeError,
  );
  assertThrows(
    () => rtcp.encodeSdes(1, { cname: "x", key: "k".repeat(252) }),
    RangeError,
  );
  // 1 + 3 + 251 = 255 fits.
  assertEquals(
    rtcp.encodeSdes(1, { cname: "x", key: "k".repeat(251) }).length % 4,
    0,
  );
});

Deno.test("BYE: with and without reason, byte-exact (RFC 3550 §6.6)", () => {
  assertEquals(rtcp.encodeBye(0x12345678), hex(`81 cb 00 01  12345678`));
  assertEquals(
    rtcp.encodeBye(0x12345678, "bye"),
    hex(`81 cb 00 02  12345678  03 ${ascii("bye")}`),
  );
  assertEquals(
    rtcp.encodeBye(0x12345678, "done!"),
    hex(`81 cb 00 03  12345678  05 ${ascii("done!")} 0000`),
  );
  assertThrows(() => rtcp.encodeBye(1, "r".repeat(256)), RangeError);
});

Deno.test("APP: header, name, zero-padded data (RFC 3550 §6.7)", () => {
  assertEquals(
    rtcp.encodeApp({
      subtype: 5,
      ssrc: 0xa0b0c0d0,
      name: "TEST",
      data: hex("0102"),
    }),
    hex(`85 cc 00 03  a0b0c0d0  ${ascii("TEST")}  0102 0000`),
  );
  assertEquals(
    rtcp.encodeApp({
      subtype: 0,
      ssrc: 1,
      name: "ZERO",
      data: new Uint8Array(),
    }),
    hex(`80 cc 00 02  00000001  ${ascii("ZERO")}`),
  );
  assertThrows(
    () => rtcp.encodeApp({ subtype: 32, ssrc: 0, name: "TEST", data: hex("") }),
    RangeError,
  );
  assertThrows(
    () =>
      rtcp.encodeApp({ subtype: 0, ssrc: 0, name: "TOOLONG", data: hex("") }),
    RangeError,
  );
});

Deno.test("AUTH: APP subtype 0 PT 204, UTF-8 secret zero-padded to 4", () => {
  assertEquals(
    rtcp.encodeAuth("secret"),
    hex(`80 cc 00 04  00000000  ${ascii("AUTH")}  ${ascii("secret")} 0000`),
  );
  assertEquals(
    rtcp.encodeAuth("abcd", 0x42),
    hex(`80 cc 00 03  00000042  ${ascii("AUTH")}  ${ascii("abcd")}`),
  );
  // UTF-8: "é" is c3 a9.
  assertEquals(
    rtcp.encodeAuth("é"),
    hex(`80 cc 00 03  00000000  ${ascii("AUTH")}  c3a9 0000`),
  );
});

Deno.test("NAVL: SSRC 0, media SSRC, count, seqs, zero-padded", () => {
  assertEquals(
    rtcp.encodeNavl(0xdeadbeef, [7, 65535]),
    hex(
      `80 cc 00 05  00000000  ${ascii("NAVL")}  deadbeef 0002 0007 ffff 0000`,
    ),
  );
  assertEquals(
    rtcp.encodeNavl(1, [9]),
    hex(`80 cc 00 04  00000000  ${ascii("NAVL")}  00000001 0001 0009`),
  );
  assertThrows(() => rtcp.encodeNavl(1, [65536]), RangeError);
  assertThrows(() => rtcp.encodeNavl(1, new Array(40_000).fill(1)), RangeError);
});

Deno.test("NACK: PID+BLP packing, wrap 65535→0 inside one FCI (RFC 4585 §6.2.1)", () => {
  assertEquals(
    rtcp.encodeNack(1, 2, [17, 0, 65534, 1, 65535]),
    hex(`81 cd 00 04  00000001  00000002  fffe 0007  0011 0000`),
  );
  // PID 65535 followed by 0..15: all 16 BLP bits, one FCI.
  const seqs = [65535, ...Array.from({ length: 16 }, (_, i) => i)];
  assertEquals(
    rtcp.encodeNack(0xaabbccdd, 0x11223344, seqs),
    hex(`81 cd 00 03  aabbccdd  11223344  ffff ffff`),
  );
  // 17 consecutive numbers need a second FCI.
  assertEquals(
    rtcp.encodeNack(1, 2, Array.from({ length: 18 }, (_, i) => 100 + i)),
    hex(`81 cd 00 04  00000001  00000002  0064 ffff  0075 0000`),
  );
  // Duplicates collapse.
  assertEquals(
    rtcp.encodeNack(1, 2, [5, 5, 5]),
    hex(`81 cd 00 03  00000001  00000002  0005 0000`),
  );
});

Deno.test("NACK: rejects empty lists and out-of-range numbers", () => {
  assertThrows(() => rtcp.encodeNack(1, 2, []), RangeError);
  assertThrows(() => rtcp.encodeNack(1, 2, [-1]), RangeError);
  assertThrows(() => rtcp.encodeNack(1, 2, [1.5]), RangeError);
  assertThrows(() => rtcp.encodeNack(1, 2, [70000]), RangeError);
});

Deno.test("compound: concatenation keeps packets in order", () => {
  const a = rtcp.encodeBye(1);
  const b = rtcp.encodeBye(2);
  const c = rtcp.encodeCompound([a, b]);
  assertEquals(c, hex(`81 cb 00 01 00000001 81 cb 00 01 00000002`));
});

Deno.test("NTP: epoch offset, fractions, round trip, middle 32 bits", () => {
  assertEquals(rtcp.ntpFromDate(0), { ntpSec: 2_208_988_800, ntpFrac: 0 });
  assertEquals(rtcp.ntpFromDate(new Date(500)), {
    ntpSec: 2_208_988_800,
    ntpFrac: 0x80000000,
  });
  const now = 1_700_000_000_123.25;
  const { ntpSec, ntpFrac } = rtcp.ntpFromDate(now);
  assertEquals(Math.abs(rtcp.ntpToUnixMs(ntpSec, ntpFrac) - now) < 1e-3, true);
  assertEquals(rtcp.ntpMiddle32(0x12345678, 0x9abcdef0), 0x56789abc);
  assertThrows(() => rtcp.ntpFromDate(NaN), RangeError);
});

Deno.test("KEYS answer with a FEC repair stream: flags bit 1, 12 bytes after the state tags, byte-exact; round trip; an answer without it parses as before", () => {
  const base = {
    ssrc: 0x11223344,
    profile: 1,
    masterKey: new Uint8Array(16).fill(0xaa),
    masterSalt: new Uint8Array(14).fill(0xbb),
    roc: 1,
    highestSeq: 0x0102,
    firstSeq: 0x0304,
    streamKey: "a/b",
    stateTags: [],
  };
  const fec = { ssrc: 0xfec0fec0, roc: 2, highestSeq: 0x0506 };
  const msg = rtcp.encodeKeysAnswer({ ...base, fec });
  // Data: 16 fixed + 16 key + 14 salt + 3 name + 2 tag count + 12 FEC, padded to 64.
  assertEquals(msg.length, 12 + 64);
  assertEquals(msg[12 + 3], 0b11); // highest valid, FEC follows
  assertEquals(
    [...msg.subarray(12 + 51, 12 + 63)],
    [...hex("fec0fec0 00000002 0506 0001")],
  );
  assertEquals(rtcp.parseKeysAnswer(rtcp.parseRtcp(msg)[0]), { ...base, fec });
  const plain = rtcp.parseKeysAnswer(
    rtcp.parseRtcp(rtcp.encodeKeysAnswer(base))[0],
  );
  assertEquals(plain, base);
  // Before any parity was sent: the sequence number is flagged invalid.
  const none = rtcp.encodeKeysAnswer({ ...base, fec: { ssrc: 7, roc: 0 } });
  assertEquals(rtcp.parseKeysAnswer(rtcp.parseRtcp(none)[0])!.fec, {
    ssrc: 7,
    roc: 0,
    highestSeq: undefined,
  });
  // Flags bit 1 without the 12 bytes is malformed.
  const cut = rtcp.encodeKeysAnswer(base);
  cut[12 + 3] |= 2;
  assertThrows(
    () => rtcp.parseKeysAnswer(rtcp.parseRtcp(cut)[0]),
    /FEC repair stream/,
  );
});
