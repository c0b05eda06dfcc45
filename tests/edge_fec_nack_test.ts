/**
 * The NACK hold under FEC (pure core, fake time): once a stream's parity is
 * seen, a gap's first NACK waits for its block's parity, so a single loss in
 * a block is rebuilt from parity with no NACK at all, while what parity
 * cannot rebuild (two losses in a block, or a lost parity packet) is still
 * NACKed. Wired like the edge receiver: parity → FecDecoder → rebuilt packet
 * pushed as a repair → `JitterBuffer.parityArrived`.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import type { FlvTag } from "../lib/flv/mod.ts";
import { JitterBuffer } from "../lib/edge/mod.ts";
import { packetizeTags } from "./edge_support.ts";
import {
  FecDecoder,
  FecEncoder,
  parseParity,
  parseRtp,
} from "../lib/rtp/mod.ts";

const BLOCK = 8;
const SPACING = 4; // ms between media packets
const PAYLOAD = 100;

function tags(): FlvTag[] {
  const out: FlvTag[] = [
    {
      type: 9,
      timestamp: 0,
      data: new Uint8Array([0x17, 0, 0, 0, 0, 1, 0x64]),
    },
  ];
  for (let i = 0; i < 40; i++) {
    const data = new Uint8Array(i % 10 === 0 ? 450 : 150).fill(i);
    data.set(i % 10 === 0 ? [0x17, 1, 0, 0, 0] : [0x27, 1, 0, 0, 0]);
    out.push({ type: 9, timestamp: i * 40, data });
  }
  return out;
}

const packetize = (all: FlvTag[]) =>
  packetizeTags(all, { ssrc: 0x4242, seq: 5000, payload: PAYLOAD });

interface Run {
  nacked: Map<number, number>; // seq → time of its first NACK
  tagsOut: number;
  fecRecovered: number;
  unrecoverable: number;
}

/** Sends every packet (dropping `drop` media indexes and `dropParity`
 * parity indexes), one every SPACING ms, and asks for NACKs every ms. */
function run(drop: number[], dropParity: number[] = []): Run {
  const packets = packetize(tags());
  const enc = new FecEncoder(BLOCK);
  const dec = new FecDecoder();
  const jb = new JitterBuffer({ latencyMs: 400, initialRttMs: 100 });
  const nacked = new Map<number, number>();
  let tagsOut = 0;
  let parityIndex = 0;
  const events: { at: number; fn: () => void }[] = [];
  packets.forEach((p, i) => {
    const at = i * SPACING;
    const parity = enc.push(p);
    if (!drop.includes(i)) {
      events.push({
        at,
        fn: () => {
          tagsOut += jb.push(p, at).length;
          for (const r of dec.media(p)) tagsOut += jb.push(r, at, "rtx").length;
        },
      });
    }
    if (parity && !dropParity.includes(parityIndex++)) {
      events.push({
        at,
        fn: () => {
          const pp = parseRtp(parity);
          for (const r of dec.parity(pp)) {
            tagsOut += jb.push(r, at, "rtx").length;
          }
          const { base, count } = parseParity(pp);
          jb.parityArrived(base, count);
        },
      });
    }
  });
  const end = packets.length * SPACING + 500;
  let e = 0;
  for (let now = 0; now <= end; now++) {
    while (e < events.length && events[e].at <= now) events[e++].fn();
    for (const seq of jb.nacks(now)) {
      if (!nacked.has(seq)) nacked.set(seq, now);
    }
    tagsOut += jb.poll(now).length;
  }
  return {
    nacked,
    tagsOut,
    fecRecovered: dec.stats.recovered,
    unrecoverable: jb.stats.unrecoverable,
  };
}

Deno.test("fec nack hold: a single loss in a block is rebuilt from parity and never NACKed", () => {
  const all = tags();
  // Index 32 starts the 5th block (32..39): parity of earlier blocks was
  // seen, and the gap (found at 33 × SPACING) outlives the 20 ms grace
  // before the parity comes (at 39 × SPACING).
  const r = run([32]);
  deepEqual([...r.nacked.keys()], [], "no NACK");
  equal(r.fecRecovered, 1);
  equal(r.tagsOut, all.length);
  equal(r.unrecoverable, 0);
});

Deno.test("fec nack hold: two losses in a block are NACKed as soon as the parity shows it cannot rebuild them", () => {
  const r = run([34, 37]);
  deepEqual([...r.nacked.keys()].sort(), [5034, 5037]);
  // The block's parity arrives with packet 39 (at 39 × SPACING ms); each
  // NACK follows at once, or when its reorder grace (20 ms) ends, not after
  // a hold.
  const parityAt = 39 * SPACING;
  for (const [seq, at] of r.nacked) {
    const detected = (seq - 5000 + 1) * SPACING;
    equal(at, Math.max(parityAt, detected + 20), `NACK of ${seq}`);
  }
  equal(r.fecRecovered, 0);
});

Deno.test("fec nack hold: a loss whose parity is lost too is NACKed after the bounded hold", () => {
  // Parity #4 protects media 32..39.
  const r = run([32], [4]);
  deepEqual([...r.nacked.keys()], [5032]);
  const at = r.nacked.get(5032)!;
  const detected = 33 * SPACING;
  ok(at > 39 * SPACING, `held past the block's end (NACK at ${at})`);
  ok(
    at <= detected + 400 / 4,
    `hold bounded by a quarter of the budget (NACK at ${at})`,
  );
  equal(r.fecRecovered, 0);
});

Deno.test("fec nack hold: before any parity is seen a gap is NACKed after the plain grace", () => {
  // The first block's parity is lost too: no parity seen before the NACK.
  const r = run([3], [0]);
  deepEqual([...r.nacked.keys()], [5003]);
  equal(r.nacked.get(5003), 4 * SPACING + 20);
});
