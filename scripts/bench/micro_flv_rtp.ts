/**
 * Micro-benchmarks of the FLV and RTP byte paths on in-memory data: FLV tag
 * building, RTP packetizing, reassembly (parse + assembleTag) and RtpCache
 * put/get. Run standalone to print a table:
 *
 * ```sh
 * deno run -A scripts/bench/micro_flv_rtp.ts
 * ```
 *
 * @module
 */

import { encodeFileTag, type FlvTag } from "../../lib/flv/mod.ts";
import {
  assembleTag,
  parseRtp,
  RtpCache,
  RtpPacketizer,
} from "../../lib/rtp/mod.ts";

/** One benchmark result. */
export interface BenchResult {
  /** What was measured. */
  name: string;
  /** The measured rate. */
  value: number;
  /** Unit of `value` (e.g. `MB/s`, `ops/s`). */
  unit: string;
}

/** A stream-like mix: mostly small audio/inter tags, some big keyframes. */
function makeTags(count: number): { tags: FlvTag[]; bytes: number } {
  const tags: FlvTag[] = [];
  let bytes = 0;
  let x = 12345;
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const kind = i % 50 === 0 ? 0 : i % 2 === 0 ? 2 : 1;
    const size = kind === 0
      ? 60_000 + (x % 40_000) // keyframe
      : kind === 1
      ? 2_000 + (x % 6_000) // inter frame
      : 0;
    const n = size || 300; // audio
    const data = new Uint8Array(n);
    for (let j = 0; j < n; j += 97) data[j] = j;
    tags.push({ type: kind === 2 ? 8 : 9, timestamp: i * 20, data });
    bytes += 11 + n;
  }
  return { tags, bytes };
}

function timeLoop(minMs: number, body: () => number): number {
  // returns units processed per second; body returns units processed
  let units = 0;
  const start = performance.now();
  let now = start;
  do {
    units += body();
    now = performance.now();
  } while (now - start < minMs);
  return units / ((now - start) / 1000);
}

/**
 * Runs the FLV/RTP micro-benchmarks (about 2–3 s in all) and returns one
 * result per measurement.
 */
export async function benchFlvRtp(): Promise<BenchResult[]> {
  const MB = 1024 * 1024;
  const { tags, bytes } = makeTags(2000);
  const results: BenchResult[] = [];
  const minMs = 400;

  results.push({
    name: "flv tag build (encodeFileTag)",
    value: timeLoop(minMs, () => {
      for (const t of tags) encodeFileTag(t);
      return bytes;
    }) / MB,
    unit: "MB/s",
  });

  const pk = new RtpPacketizer({ ssrc: 0x1234, payloadSize: 1180 });
  results.push({
    name: "rtp packetize (1180 B payload)",
    value: timeLoop(minMs, () => {
      for (const t of tags) pk.packetize(t);
      return bytes;
    }) / MB,
    unit: "MB/s",
  });

  const packets: Uint8Array[] = [];
  const pk2 = new RtpPacketizer({ ssrc: 0x5678, initialSequence: 65000 });
  for (const t of tags) packets.push(...pk2.packetize(t));
  results.push({
    name: "rtp reassemble (parseRtp + assembleTag)",
    value: timeLoop(minMs, () => {
      let n = 0;
      let payloads: Uint8Array[] = [];
      for (const d of packets) {
        const p = parseRtp(d);
        payloads.push(p.payload);
        if (!p.marker) continue;
        assembleTag(payloads);
        payloads = [];
        n++;
      }
      if (n !== tags.length) throw new Error(`reassembled ${n} tags`);
      return bytes;
    }) / MB,
    unit: "MB/s",
  });

  const cache = new RtpCache({ maxPackets: 5000, maxBytes: 64 * MB });
  let seq = 0;
  results.push({
    name: "rtp cache put (5000 packets, evicting)",
    value: timeLoop(minMs, () => {
      for (const p of packets) {
        cache.put(seq, p);
        seq = (seq + 1) & 0xffff;
      }
      return packets.length;
    }),
    unit: "ops/s",
  });
  let hits = 0;
  results.push({
    name: "rtp cache get (hits and misses)",
    value: timeLoop(minMs, () => {
      for (let i = 0; i < 100_000; i++) {
        if (cache.get((seq - (i % 10_000)) & 0xffff)) hits++;
      }
      return 100_000;
    }),
    unit: "ops/s",
  });
  if (hits === 0) throw new Error("cache get never hit");
  await Promise.resolve();
  return results;
}

if (import.meta.main) {
  const results = await benchFlvRtp();
  const w = Math.max(...results.map((r) => r.name.length));
  for (const r of results) {
    const v = r.unit === "MB/s"
      ? r.value.toFixed(1)
      : Math.round(r.value).toLocaleString("en-US");
    console.log(`${r.name.padEnd(w)}  ${v.padStart(14)} ${r.unit}`);
  }
}
