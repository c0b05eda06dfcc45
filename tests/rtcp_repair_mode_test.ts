import { deepStrictEqual, equal, throws } from "node:assert/strict";
import {
  encodeApp,
  encodeRepairMode,
  parseRepairMode,
  parseRtcp,
} from "../lib/rtcp/mod.ts";

Deno.test("RMOD udp: exact bytes and round trip", () => {
  const b = encodeRepairMode(
    { mode: "udp", port: 0x9c40, copies: 3, spacingMs: 5 },
    0x01020304,
  );
  deepStrictEqual(
    [...b],
    [
      0x80,
      204,
      0,
      4, // V=2 subtype 0, APP, length 4 words - 1
      1,
      2,
      3,
      4, // SSRC
      0x52,
      0x4d,
      0x4f,
      0x44, // "RMOD"
      1,
      1,
      3,
      5, // version, mode udp, copies, spacing
      0x9c,
      0x40,
      0,
      0, // port, reserved
    ],
  );
  deepStrictEqual(parseRepairMode(parseRtcp(b)[0]), {
    mode: "udp",
    port: 0x9c40,
    copies: 3,
    spacingMs: 5,
  });
});

Deno.test("RMOD stream: round trip; other APP packets are not RMOD", () => {
  const b = encodeRepairMode({ mode: "stream" });
  deepStrictEqual([...b.subarray(12)], [1, 0, 1, 0, 0, 0, 0, 0]);
  deepStrictEqual(parseRepairMode(parseRtcp(b)[0]), { mode: "stream" });
  const auth = encodeApp({
    subtype: 0,
    ssrc: 0,
    name: "AUTH",
    data: new Uint8Array(8),
  });
  equal(parseRepairMode(parseRtcp(auth)[0]), undefined);
});

Deno.test("RMOD: bad values are refused on both sides", () => {
  throws(
    () => encodeRepairMode({ mode: "udp", port: 0, copies: 1, spacingMs: 0 }),
    /port/,
  );
  throws(
    () => encodeRepairMode({ mode: "udp", port: 9, copies: 9, spacingMs: 0 }),
    /copies/,
  );
  throws(
    () => encodeRepairMode({ mode: "udp", port: 9, copies: 1, spacingMs: 256 }),
    /spacingMs/,
  );
  const app = (data: number[]) =>
    parseRtcp(
      encodeApp({
        subtype: 0,
        ssrc: 0,
        name: "RMOD",
        data: new Uint8Array(data),
      }),
    )[0];
  throws(() => parseRepairMode(app([1, 1, 1, 0])), /at least 8 bytes/);
  throws(() => parseRepairMode(app([2, 0, 1, 0, 0, 0, 0, 0])), /version/);
  throws(() => parseRepairMode(app([1, 7, 1, 0, 0, 9, 0, 0])), /mode/);
  throws(() => parseRepairMode(app([1, 1, 0, 0, 0, 9, 0, 0])), /copies/);
  throws(() => parseRepairMode(app([1, 1, 9, 0, 0, 9, 0, 0])), /copies/);
  throws(() => parseRepairMode(app([1, 1, 2, 0, 0, 0, 0, 0])), /port/);
});
