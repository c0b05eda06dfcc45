import { deepEqual, equal, throws } from "node:assert/strict";
import {
  Amf0Reader,
  AmfTypedObject,
  type AmfValue,
  AmfXmlDocument,
  decodeAmf0,
  encodeAmf0,
  RtmpProtocolError,
} from "../lib/rtmp/mod.ts";
import { fromHex as hex } from "../testkit/bytes.ts";

// Known byte vectors: [value, hex encoding].
const vectors: [string, AmfValue, string][] = [
  ["number 1.5", 1.5, "00 3FF8000000000000"],
  ["number -0", 0, "00 0000000000000000"],
  ["boolean true", true, "01 01"],
  ["boolean false", false, "01 00"],
  ["string", "connect", "02 0007 636f6e6e656374"],
  ["empty string", "", "02 0000"],
  ["utf-8 string", "é", "02 0002 c3a9"],
  ["null", null, "05"],
  ["undefined", undefined, "06"],
  [
    "object",
    { app: "live", n: 3 },
    "03 0003 617070 02 0004 6c697665 0001 6e 00 4008000000000000 000009",
  ],
  ["empty object", {}, "03 000009"],
  [
    "ECMA array",
    new Map<string, AmfValue>([["duration", 0], ["stereo", true]]),
    "08 00000002 0008 6475726174696f6e 00 0000000000000000 0006 73746572656f 01 01 000009",
  ],
  [
    "strict array",
    [1, "a", null],
    "0a 00000003 00 3ff0000000000000 02 0001 61 05",
  ],
  ["date", new Date(1000), "0b 408f400000000000 0000"],
  [
    "typed object",
    new AmfTypedObject("C", { x: false }),
    "10 0001 43 0001 78 01 00 000009",
  ],
  ["xml document", new AmfXmlDocument("<a/>"), "0f 00000004 3c612f3e"],
];

for (const [name, value, bytes] of vectors) {
  Deno.test(`amf0: ${name} encodes to and decodes from known bytes`, () => {
    deepEqual(encodeAmf0(value), hex(bytes));
    deepEqual(decodeAmf0(hex(bytes)), [value]);
  });
}

Deno.test("amf0: long string above 65535 bytes uses marker 0x0C both ways", () => {
  const s = "x".repeat(70000);
  const b = encodeAmf0(s);
  deepEqual([...b.subarray(0, 5)], [0x0c, 0x00, 0x01, 0x11, 0x70]);
  equal(b.length, 5 + 70000);
  deepEqual(decodeAmf0(b), [s]);
});

Deno.test("amf0: a real connect command round-trips", () => {
  const cmd: AmfValue[] = [
    "connect",
    1,
    {
      app: "live",
      type: "nonprivate",
      flashVer: "FMLE/3.0 (compatible; Lavf59.27.100)",
      tcUrl: "rtmp://127.0.0.1:1935/live",
      fpad: false,
      capabilities: 15,
      audioCodecs: 4071,
      videoCodecs: 252,
      videoFunction: 1,
      objectEncoding: 0,
    },
  ];
  deepEqual(decodeAmf0(encodeAmf0(...cmd)), cmd);
});

Deno.test("amf0: @setDataFrame onMetaData body with nested values round-trips", () => {
  const meta = new Map<string, AmfValue>([
    ["duration", 0],
    ["width", 320],
    ["encoder", "Lavf59"],
    ["keyframes", { times: [0, 1, 2], filepositions: [13, 999, 2000] }],
    ["created", new Date(1700000000000)],
    ["nothing", null],
    ["nested", new Map<string, AmfValue>([["deep", [[["x"]]]]])],
  ]);
  const v: AmfValue[] = ["@setDataFrame", "onMetaData", meta];
  deepEqual(decodeAmf0(encodeAmf0(...v)), v);
});

Deno.test("amf0: reference (0x07) resolves to an earlier object", () => {
  // [ {a:1}, ref 1 ] (the array itself is reference 0)
  const b = hex("0a 00000002 03 0001 61 00 3ff0000000000000 000009 07 0001");
  const [arr] = decodeAmf0(b) as [AmfValue[]];
  deepEqual(arr[0], { a: 1 });
  equal(arr[1], arr[0]);
});

Deno.test("amf0: unsupported (0x0D) reads as undefined; ECMA array without end marker at end of buffer", () => {
  deepEqual(decodeAmf0(hex("0d")), [undefined]);
  deepEqual(
    decodeAmf0(hex("08 00000001 0001 61 01 01")),
    [new Map([["a", true]])],
  );
});

Deno.test("amf0: AVM+ switch (0x11) decodes AMF3 values", () => {
  // int 5, int -1 (0x1FFFFFFF as U29), double 2.5, string "ab" then a string
  // reference to it, true, null, array [1], anonymous dynamic object {k: "ab"}.
  const b = hex(
    "11 04 05" + "11 04 ffffffff" + "11 05 4004000000000000" + "11 06 05 6162" +
      "11 03" + "11 01" + "11 09 03 01 04 01" +
      "11 0a 0b 01 03 6b 06 05 6162 01",
  );
  deepEqual(decodeAmf0(b), [5, -1, 2.5, "ab", true, null, [1], { k: "ab" }]);
  // Within one AMF3 value, string references work.
  deepEqual(
    decodeAmf0(hex("11 09 05 01 06 05 6162 06 00")),
    [["ab", "ab"]],
  );
});

Deno.test("amf0: reader reports offsets value by value", () => {
  const b = encodeAmf0("@setDataFrame", "onMetaData", null);
  const r = new Amf0Reader(b);
  equal(r.read(), "@setDataFrame");
  equal(r.offset, 16);
  equal(r.read(), "onMetaData");
  equal(r.read(), null);
  equal(r.done, true);
});

function garbage(bytes: string, pattern: RegExp) {
  throws(
    () => decodeAmf0(hex(bytes)),
    (e: Error) => e instanceof RtmpProtocolError && pattern.test(e.message),
  );
}

Deno.test("amf0: garbage is refused with a clear error", () => {
  garbage("00 3ff0", /expected 8 bytes for a number at offset 1, only 2 left/);
  garbage("02 0010 6162", /expected 16 bytes for a string/);
  garbage("03 0001 61 00", /expected 8 bytes/);
  garbage("03 0001 61", /expected 1 bytes for a byte/);
  garbage("04", /expected an AMF0 type marker at offset 0, received 0x04/);
  garbage("0e", /received 0x0e/);
  garbage("ff", /received 0xff/);
  garbage("09", /unexpected object end marker/);
  garbage("07 0000", /expected reference < 0 at offset 0, received 0/);
  garbage("0a ffffffff 05", /strict array of 4294967295 values/);
  garbage("02 0002 c328", /expected UTF-8 string/);
  garbage("11 0a 07", /externalizable/);
  garbage("11 0d", /AMF3: unsupported type marker 0x0d/);
  garbage("11 06 01 11 06 02", /AMF3: bad string reference 1/);
  // 100 nested strict arrays.
  garbage("0a00000001".repeat(100) + "05", /nesting <= 64/);
});

Deno.test("amf0: encoding refuses what AMF0 cannot carry", () => {
  throws(() => encodeAmf0(new Uint8Array(1)), TypeError);
  throws(() => encodeAmf0({ ["k".repeat(70000)]: 1 }), RangeError);
});
