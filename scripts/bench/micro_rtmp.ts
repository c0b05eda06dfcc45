/**
 * Micro-benchmark of RTMP chunk parsing: a stream-like mix of audio/video
 * messages chunked by lib/rtmp's `ChunkEncoder` at several chunk sizes, then
 * parsed back by `ChunkDecoder` from 64 KiB reads (as a socket delivers
 * them). Reports MB/s of chunk-stream bytes in.
 *
 * ```sh
 * deno run -A scripts/bench/micro_rtmp.ts
 * ```
 *
 * @module
 */
import { concatBytes } from "../../lib/bytes/mod.ts";
import {
  ChunkDecoder,
  ChunkEncoder,
  setChunkSizeMessage,
} from "../../lib/rtmp/mod.ts";

/** One benchmark result. */
export interface BenchResult {
  /** What was measured. */
  name: string;
  /** The measured rate. */
  value: number;
  /** Unit of `value`. */
  unit: string;
}

/** Encodes 2,000 messages like a 2.5 Mbit/s stream at `chunkSize`. */
function makeStream(chunkSize: number): { bytes: Uint8Array; count: number } {
  const enc = new ChunkEncoder();
  const parts: Uint8Array[] = [];
  if (chunkSize !== 128) {
    parts.push(enc.encode(setChunkSizeMessage(chunkSize)));
    enc.setChunkSize(chunkSize);
  }
  let x = 987654321;
  let count = 0;
  for (let i = 0; i < 2000; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const video = i % 5 !== 0;
    const size = !video ? 370 : i % 150 === 1 ? 60_000 : 8_000 + (x % 4000);
    const data = new Uint8Array(size);
    data[0] = video ? 0x27 : 0xaf;
    parts.push(enc.encode({
      csid: video ? 6 : 4,
      type: video ? 9 : 8,
      streamId: 1,
      timestamp: i * 13,
      data,
    }));
    count++;
  }
  return { bytes: concatBytes(parts), count };
}

/** Runs the chunk-parsing benchmark (~1.5 s). */
export function benchRtmpChunks(): BenchResult[] {
  const out: BenchResult[] = [];
  for (const chunkSize of [128, 4096, 60_000]) {
    const { bytes, count } = makeStream(chunkSize);
    const READ = 65536;
    let done = 0;
    const start = performance.now();
    let now = start;
    do {
      const dec = new ChunkDecoder();
      let msgs = 0;
      for (let o = 0; o < bytes.length; o += READ) {
        msgs += dec.push(bytes.subarray(o, o + READ)).length;
      }
      const media = chunkSize === 128 ? msgs : msgs - 1;
      if (media !== count) {
        throw new Error(`expected ${count} messages, parsed ${media}`);
      }
      done += bytes.length;
      now = performance.now();
    } while (now - start < 500);
    out.push({
      name: `rtmp chunk parse (chunk size ${chunkSize}, 64 KiB reads)`,
      value: done / 1048576 / ((now - start) / 1000),
      unit: "MB/s",
    });
  }
  return out;
}

if (import.meta.main) {
  for (const r of benchRtmpChunks()) {
    console.log(
      `${r.name.padEnd(48)} ${r.value.toFixed(1).padStart(10)} ${r.unit}`,
    );
  }
}
