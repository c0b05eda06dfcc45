import { deepStrictEqual, equal, throws } from "node:assert/strict";
import {
  buildParity,
  encodeRtp,
  FEC_PAYLOAD_TYPE,
  FecDecoder,
  FecEncoder,
  parseParity,
  parseRtp,
  recoverPacket,
  type RtpPacket,
} from "../lib/rtp/mod.ts";

const SSRC = 0x11223344;

function media(seq: number, len: number, marker = false): RtpPacket {
  const payload = new Uint8Array(len);
  for (let i = 0; i < len; i++) payload[i] = (seq * 7 + i * 13) & 0xff;
  return {
    marker,
    payloadType: 100,
    sequence: seq & 0xffff,
    timestamp: (seq * 3600) >>> 0,
    ssrc: SSRC,
    payload,
  };
}

// A block across the sequence wrap, lengths 1..1180, one marker.
const BLOCK = [65533, 65534, 65535, 0, 1].map((s, i) =>
  media(s, [1180, 7, 1180, 0, 500][i], i === 2)
);

Deno.test("fec: the parity rebuilds any one missing packet of its block exactly", () => {
  const bytes = buildParity(BLOCK, 42);
  const pkt = parseRtp(bytes);
  equal(pkt.payloadType, FEC_PAYLOAD_TYPE);
  equal(pkt.sequence, 42);
  equal(pkt.ssrc, SSRC);
  equal(pkt.timestamp, BLOCK[4].timestamp);
  equal(
    bytes.length,
    12 + 4 + 7 + 1180,
    "header + base/count + fields + longest payload",
  );
  const par = parseParity(pkt);
  deepStrictEqual([par.base, par.count], [65533, 5]);
  for (let i = 0; i < BLOCK.length; i++) {
    const others = BLOCK.filter((_, j) => j !== i);
    const got = recoverPacket(par, others, BLOCK[i].sequence);
    deepStrictEqual(encodeRtp(got), encodeRtp(BLOCK[i]), `packet ${i}`);
  }
});

Deno.test("fec: bad parity is refused", () => {
  const p = parseRtp(buildParity(BLOCK, 1));
  throws(
    () => parseParity({ ...p, payload: p.payload.subarray(0, 10) }),
    /at least 11/,
  );
  const zero = p.payload.slice();
  zero[2] = 0;
  throws(() => parseParity({ ...p, payload: zero }), /count of 1\.\.64/);
  throws(() => buildParity([], 0), /1\.\.64 packets/);
  throws(() => new FecEncoder(1), /2\.\.64/);
});

Deno.test("fec: encoder emits one parity per block of consecutive packets", () => {
  const enc = new FecEncoder(3, 65535);
  const out = [0, 1, 2, 3, 4, 5, 9, 10, 11].map((s) => enc.push(media(s, 50)));
  const at = out.map((p) =>
    p === undefined ? "-" : String(parseRtp(p).sequence)
  );
  // After 2 and 5; the gap at 9 starts a new block that completes at 11.
  deepStrictEqual(at, ["-", "-", "65535", "-", "-", "0", "-", "-", "1"]);
  deepStrictEqual(parseParity(parseRtp(out[8]!)).base, 9);
});

Deno.test("fec: decoder rebuilds a single loss; with two, a repair of one rebuilds the other", () => {
  const dec = new FecDecoder(64);
  const parity = parseRtp(buildParity(BLOCK, 7));
  // One loss (index 1), parity last.
  for (const i of [0, 2, 3, 4]) deepStrictEqual(dec.media(BLOCK[i]), []);
  const got = dec.parity(parity);
  equal(got.length, 1);
  deepStrictEqual(encodeRtp(got[0]), encodeRtp(BLOCK[1]));
  equal(dec.stats.recovered, 1);
  // Two losses (indexes 0 and 4) in a fresh decoder: nothing until one is repaired.
  const d2 = new FecDecoder(64);
  for (const i of [1, 2, 3]) d2.media(BLOCK[i]);
  deepStrictEqual(d2.parity(parity), []);
  const later = d2.media(BLOCK[4]); // e.g. arrived by retransmission
  equal(later.length, 1);
  deepStrictEqual(encodeRtp(later[0]), encodeRtp(BLOCK[0]));
  // Nothing missing: the block is just forgotten.
  const d3 = new FecDecoder(64);
  for (const p of BLOCK) d3.media(p);
  deepStrictEqual(d3.parity(parity), []);
  equal(d3.stats.recovered, 0);
});
