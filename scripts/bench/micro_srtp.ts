/**
 * Micro-benchmark of lib/srtp: SRTP protect and unprotect per packet of a
 * full-size RTP packet (12-byte header + 1,180-byte payload, what the cloud
 * sends) and of a small one, as the nodes call them (the cloud protects a
 * tag's packets into one buffer, `protectRtps`; the edge unprotects into a
 * reused scratch buffer), plus the two costs inside (keystream, HMAC) and
 * which backend ran them (libcrypto through FFI, or the node:crypto
 * fallback).
 * Run standalone to print a table:
 *
 * ```sh
 * deno run -A scripts/bench/micro_srtp.ts
 * ```
 *
 * @module
 */
import {
  AesCm,
  HmacSha1,
  libcryptoUnavailable,
  newKeyMaterial,
  SrtpReceiver,
  SrtpSender,
} from "../../lib/srtp/mod.ts";
import type { BenchResult } from "./micro_flv_rtp.ts";

function packets(ssrc: number, n: number, payload: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const p = new Uint8Array(12 + payload);
    const v = new DataView(p.buffer);
    p[0] = 0x80;
    p[1] = 100;
    v.setUint16(2, (60_000 + i) & 0xffff);
    v.setUint32(8, ssrc);
    for (let j = 12; j < p.length; j += 61) p[j] = j;
    out.push(p);
  }
  return out;
}

/** Microseconds per call of `body` (which handles `per` packets), best of 3 runs. */
function usPer(per: number, minMs: number, body: () => void): number {
  let best = Infinity;
  for (let run = 0; run < 3; run++) {
    let n = 0;
    const start = performance.now();
    let now = start;
    do {
      body();
      n += per;
      now = performance.now();
    } while (now - start < minMs);
    best = Math.min(best, ((now - start) * 1000) / n);
  }
  return best;
}

/** Runs the SRTP micro-benchmarks (about 3 s) and returns one row each. */
export function benchSrtp(): BenchResult[] {
  const results: BenchResult[] = [];
  const minMs = 300;
  const ssrc = 0x1234abcd;
  for (const payload of [1180, 288]) {
    const N = 4096; // 4,096 consecutive sequence numbers, across the wrap
    const plain = packets(ssrc, N, payload);
    const keys = { ...newKeyMaterial(), ssrc };
    let tx = new SrtpSender(keys);
    const prot = plain.map((p) => tx.protectRtp(p));
    let i = 0;
    results.push({
      name: `srtp protect (${12 + payload} B RTP, 8 a buffer)`,
      value: usPer(N, minMs, () => {
        tx = new SrtpSender(keys); // fresh context each round: same indices
        for (i = 0; i < N; i += 8) tx.protectRtps(plain.slice(i, i + 8));
      }),
      unit: "µs/packet",
    });
    const scratch = new Uint8Array(65536);
    results.push({
      name: `srtp unprotect (${12 + payload + 10} B SRTP, into scratch)`,
      value: usPer(N, minMs, () => {
        const rx = new SrtpReceiver({ ...keys, replayWindow: 1024 });
        for (i = 0; i < N; i++) {
          if (!rx.unprotectRtp(prot[i], scratch).ok) {
            throw new Error("unprotect failed");
          }
        }
      }),
      unit: "µs/packet",
    });
  }
  const mac = new HmacSha1(new Uint8Array(20));
  const data = new Uint8Array(1196);
  results.push({
    name: "  of which HMAC-SHA1 (1,196 B)",
    value: usPer(1000, minMs, () => {
      for (let k = 0; k < 1000; k++) mac.digest(data);
    }),
    unit: "µs/packet",
  });
  const aes = new AesCm(new Uint8Array(16));
  const iv = new Uint8Array(16);
  const payload = new Uint8Array(1180);
  results.push({
    name: `  of which AES-CM keystream + XOR (1,180 B; ${
      aes.native ? "libcrypto FFI" : "node:crypto, 32 packets a call"
    })`,
    value: aes.native
      ? usPer(1000, minMs, () => {
        for (let k = 0; k < 1000; k++) {
          iv[13] = k;
          aes.xorKeystream(iv, payload, 0, payload.length);
        }
      })
      : usPer(32, minMs, () => aes.encryptBlocks(new Uint8Array(32 * 74 * 16))),
    unit: "µs/packet",
  });
  const why = libcryptoUnavailable();
  if (why) console.error(`srtp micro: node:crypto fallback (${why})`);
  return results;
}

if (import.meta.main) {
  const results = benchSrtp();
  const w = Math.max(...results.map((r) => r.name.length));
  for (const r of results) {
    console.log(`${r.name.padEnd(w)}  ${r.value.toFixed(2)} ${r.unit}`);
  }
}
