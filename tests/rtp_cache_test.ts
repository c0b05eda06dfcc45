import { equal, strictEqual, throws } from "node:assert/strict";
import { RtpCache } from "../lib/rtp/mod.ts";

const pkt = (seq: number, len = 100) => {
  const b = new Uint8Array(len);
  b[2] = seq >> 8;
  b[3] = seq & 0xff;
  b[len - 1] = 0x5a;
  return b;
};

Deno.test("RtpCache returns the exact bytes given", () => {
  const c = new RtpCache({ maxPackets: 10 });
  const p = pkt(42);
  c.put(42, p);
  strictEqual(c.get(42), p);
  equal(c.get(43), undefined);
  equal(c.get(-1), undefined);
  equal(c.get(65536), undefined);
  equal(c.get(1.5), undefined);
  equal(c.size, 1);
  equal(c.bytes, 100);
});

Deno.test("RtpCache evicts the oldest by count", () => {
  const c = new RtpCache({ maxPackets: 100 });
  for (let s = 0; s < 250; s++) c.put(s, pkt(s));
  equal(c.size, 100);
  equal(c.bytes, 100 * 100);
  equal(c.evicted, 150);
  equal(c.get(149), undefined);
  for (let s = 150; s < 250; s++) equal(c.get(s)?.[3], s & 0xff);
});

Deno.test("RtpCache evicts the oldest by bytes", () => {
  const c = new RtpCache({ maxPackets: 1000, maxBytes: 1000 });
  for (let s = 0; s < 10; s++) c.put(s, pkt(s, 100));
  equal(c.size, 10);
  c.put(10, pkt(10, 250)); // needs 250: evicts 0, 1, 2
  equal(c.bytes, 7 * 100 + 250);
  equal(c.size, 8);
  equal(c.get(2), undefined);
  equal(c.get(3)?.length, 100);
  equal(c.get(10)?.length, 250);
  equal(c.put(11, pkt(11, 1001)), false); // larger than the cap alone
  equal(c.get(11), undefined);
  equal(c.size, 8);
  c.put(12, pkt(12, 1000)); // evicts all others
  equal(c.size, 1);
  equal(c.bytes, 1000);
  throws(() => new RtpCache({ maxPackets: 1, maxBytes: 0 }), /maxBytes/);
});

Deno.test("RtpCache is wrap-around safe across 65535 -> 0", () => {
  const c = new RtpCache({ maxPackets: 500 });
  let seq = 64786; // the last 500 are 65286..65535, 0..249
  const put: number[] = [];
  for (let i = 0; i < 1000; i++) {
    c.put(seq, pkt(seq));
    put.push(seq);
    seq = (seq + 1) & 0xffff;
  }
  equal(c.size, 500);
  for (const s of put.slice(500)) equal(c.get(s)?.[3], s & 0xff);
  for (const s of put.slice(0, 500)) equal(c.get(s), undefined);
  equal(c.get(0)?.[3], 0);
  equal(c.get(65535)?.[3], 255);
});

Deno.test("RtpCache never returns a stale packet whose seq aliases", () => {
  const c = new RtpCache({ maxPackets: 1000 });
  const old = pkt(7);
  c.put(7, old);
  // 65536 more packets: seq 7 comes round again after eviction of old one
  for (let i = 8; i < 8 + 65535; i++) {
    const s = i & 0xffff;
    if (s === 7) break;
    c.put(s, pkt(s));
  }
  equal(c.get(7), undefined, "evicted long ago");
  const fresh = pkt(7, 50);
  c.put(7, fresh);
  strictEqual(c.get(7), fresh);
  // A full-range cache: re-putting a seq replaces, never duplicates.
  const big = new RtpCache({ maxPackets: 65536 });
  for (let i = 0; i < 65536 + 100; i++) {
    big.put(i & 0xffff, pkt(i & 0xffff, 10 + (i >> 16)));
  }
  equal(big.size, 65536);
  equal(big.get(50)?.length, 11);
  equal(big.get(100)?.length, 10);
  equal(big.bytes, 100 * 11 + 65436 * 10);
});

Deno.test("RtpCache re-put of a sequence replaces it (same bytes count)", () => {
  const c = new RtpCache({ maxPackets: 3 });
  c.put(1, pkt(1, 10));
  c.put(2, pkt(2, 10));
  const again = pkt(1, 30);
  c.put(1, again);
  equal(c.size, 2);
  equal(c.bytes, 40);
  strictEqual(c.get(1), again);
  c.put(3, pkt(3));
  c.put(4, pkt(4)); // evicts the hole and 2, keeps 1 (newer)
  strictEqual(c.get(1), again);
  equal(c.get(2), undefined);
  equal(c.size, 3);
  c.clear();
  equal(c.size, 0);
  equal(c.bytes, 0);
  equal(c.get(1), undefined);
});

Deno.test("RtpCache validates options and sequence", () => {
  throws(
    () => new RtpCache({ maxPackets: 0 }),
    /maxPackets: expected an integer in 1\.\.65536, got 0/,
  );
  throws(() => new RtpCache({ maxPackets: 65537 }), /65537/);
  const c = new RtpCache({ maxPackets: 2 });
  throws(
    () => c.put(65536, pkt(0)),
    /sequence: expected an integer in 0\.\.65535, got 65536/,
  );
});
