import { deepEqual, equal, throws } from "node:assert/strict";
import {
  decodeTag,
  decodeTagHeader,
  encodeFileTag,
  encodeFlvHeader,
  encodeTag,
  FLV_HEADER_SIZE,
  type FlvTag,
  parseFlvHeader,
  TAG_AUDIO,
  TAG_SCRIPT,
  TAG_VIDEO,
} from "../lib/flv/mod.ts";
import { toHex } from "../testkit/bytes.ts";

const hex = (b: Uint8Array) => toHex(b, " ");

Deno.test("encodeTag: byte-exact 11-byte header + body", () => {
  const tag: FlvTag = {
    type: TAG_VIDEO,
    timestamp: 0x12345678,
    data: new Uint8Array([0x17, 0x01, 0xaa]),
  };
  // type, size(3)=3, ts low 24 bits 34 56 78, ext 12, stream id 0
  equal(hex(encodeTag(tag)), "09 00 00 03 34 56 78 12 00 00 00 17 01 aa");
});

Deno.test("encodeTag: empty body and max timestamp", () => {
  const b = encodeTag({
    type: TAG_AUDIO,
    timestamp: 0xffffffff,
    data: new Uint8Array(),
  });
  equal(hex(b), "08 00 00 00 ff ff ff ff 00 00 00");
  deepEqual(decodeTag(b), {
    type: TAG_AUDIO,
    timestamp: 0xffffffff,
    data: new Uint8Array(),
  });
});

Deno.test("encodeTag/decodeTag round trip; data is a view", () => {
  const data = new Uint8Array(70000).map((_, i) => (i * 7919) >> 3);
  const bytes = encodeTag({ type: TAG_SCRIPT, timestamp: 1234, data });
  equal(bytes.length, 70011);
  equal(hex(bytes.subarray(0, 11)), "12 01 11 70 00 04 d2 00 00 00 00");
  const t = decodeTag(bytes);
  equal(t.type, TAG_SCRIPT);
  equal(t.timestamp, 1234);
  deepEqual(t.data, data);
  equal(t.data.buffer, bytes.buffer);
});

Deno.test("encodeTag rejects bad type, timestamp and size", () => {
  const data = new Uint8Array(1);
  throws(
    () => encodeTag({ type: 7 as 8, timestamp: 0, data }),
    /expected 8, 9 or 18, got 7/,
  );
  throws(
    () => encodeTag({ type: 8, timestamp: -1, data }),
    /expected an integer in 0\.\.4294967295 ms, got -1/,
  );
  throws(
    () => encodeTag({ type: 8, timestamp: 2 ** 32, data }),
    RangeError,
  );
  throws(() => encodeTag({ type: 8, timestamp: 1.5, data }), RangeError);
  throws(
    () => encodeTag({ type: 8, timestamp: 0, data: new Uint8Array(0x1000000) }),
    /at most 16777215 bytes, got 16777216/,
  );
});

Deno.test("decodeTag rejects truncated, trailing and bad type", () => {
  const good = encodeTag({
    type: 9,
    timestamp: 5,
    data: new Uint8Array([1, 2, 3]),
  });
  throws(() => decodeTag(good.subarray(0, 10)), /expected 11 bytes, got 10/);
  throws(
    () => decodeTag(good.subarray(0, 13)),
    /header says 14 bytes \(11 \+ dataSize 3\), got 13/,
  );
  const longer = new Uint8Array(15);
  longer.set(good);
  throws(() => decodeTag(longer), /got 15/);
  const bad = good.slice();
  bad[0] = 0x29; // filter bit + video
  throws(() => decodeTag(bad), /expected 8, 9 or 18, got 0x29/);
  bad[0] = 0x01;
  throws(() => decodeTag(bad), /got 0x01/);
});

Deno.test("decodeTagHeader reads stream id and extended timestamp", () => {
  const h = decodeTagHeader(
    new Uint8Array([0, 0x28, 0, 0, 5, 0xff, 0xff, 0xff, 0x7f, 0, 0, 1]),
    1,
  );
  deepEqual(h, {
    type: 8,
    filtered: true,
    dataSize: 5,
    timestamp: 0x7fffffff,
    streamId: 1,
  });
});

Deno.test("encodeFlvHeader: 13 bytes incl. PreviousTagSize0", () => {
  equal(
    hex(encodeFlvHeader()),
    "46 4c 56 01 05 00 00 00 09 00 00 00 00",
  );
  equal(FLV_HEADER_SIZE, 13);
  equal(hex(encodeFlvHeader({ audio: false })).slice(12, 14), "01");
  equal(hex(encodeFlvHeader({ video: false })).slice(12, 14), "04");
  deepEqual(parseFlvHeader(encodeFlvHeader({ video: false })), {
    version: 1,
    audio: true,
    video: false,
    headerSize: 9,
  });
  throws(
    () => parseFlvHeader(new TextEncoder().encode("GIF89a123")),
    /expected signature "FLV" \(46 4c 56\), got 47 49 46/,
  );
  throws(() => parseFlvHeader(new Uint8Array(3)), /expected 9 bytes, got 3/);
});

Deno.test("encodeFileTag appends PreviousTagSize = 11 + dataSize", () => {
  const b = encodeFileTag({
    type: 8,
    timestamp: 0,
    data: new Uint8Array(300),
  });
  equal(b.length, 11 + 300 + 4);
  equal(hex(b.subarray(b.length - 4)), "00 00 01 37"); // 311
});
