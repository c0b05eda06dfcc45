import {
  deepStrictEqual as assertEquals,
  equal,
  match,
  rejects,
  throws as assertThrows,
} from "node:assert/strict";
import {
  fingerprintOf,
  FrameDecoder,
  frameMessage,
  frameMessages,
  generateSelfSigned,
  loadCertificate,
  normalizeFingerprint,
  pemBlocks,
} from "../lib/quic/mod.ts";
import { seededRandom, withSeed } from "../testkit/random.ts";

const bytes = (...b: number[]) => new Uint8Array(b);

Deno.test("frameMessage: u16 big-endian length prefix (RFC 4571)", () => {
  assertEquals(frameMessage(bytes(7, 8, 9)), bytes(0, 3, 7, 8, 9));
  assertEquals(frameMessage(bytes()), bytes(0, 0));
  const big = new Uint8Array(0x1234);
  const f = frameMessage(big);
  equal(f[0], 0x12);
  equal(f[1], 0x34);
  equal(f.length, 0x1236);
  equal(frameMessage(new Uint8Array(65535)).length, 65537);
  assertThrows(() => frameMessage(new Uint8Array(65536)), RangeError);
  assertEquals(
    frameMessages([bytes(1), bytes(), bytes(2, 3)]),
    bytes(0, 1, 1, 0, 0, 0, 2, 2, 3),
  );
});

function randomMessages(n: number, random: () => number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const len = i % 7 === 0 ? 0 : Math.floor(random() * 1500);
    const m = new Uint8Array(len).map(() => random() * 256);
    out.push(m);
  }
  out.push(new Uint8Array(65535).fill(0xab));
  return out;
}

function splitAt(buf: Uint8Array, sizes: () => number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let o = 0; o < buf.length;) {
    const n = Math.max(1, Math.min(sizes(), buf.length - o));
    parts.push(buf.slice(o, o + n));
    o += n;
  }
  return parts;
}

Deno.test("FrameDecoder: 1-byte reads", () => {
  const msgs = randomMessages(40, seededRandom(40));
  const stream = frameMessages(msgs);
  const d = new FrameDecoder();
  const got: Uint8Array[] = [];
  for (const part of splitAt(stream, () => 1)) got.push(...d.push(part));
  assertEquals(got, msgs);
  equal(d.buffered, 0);
});

Deno.test("FrameDecoder: all frames in one read, and random boundaries", () => {
  withSeed((random) => {
    const msgs = randomMessages(200, random);
    const stream = frameMessages(msgs);
    assertEquals(new FrameDecoder().push(stream), msgs);
    for (let round = 0; round < 20; round++) {
      const d = new FrameDecoder();
      const got: Uint8Array[] = [];
      const max = [2, 3, 100, 1500, 70000][round % 5];
      for (
        const part of splitAt(stream, () => 1 + Math.floor(random() * max))
      ) {
        got.push(...d.push(part));
      }
      assertEquals(got, msgs);
    }
  });
});

Deno.test("FrameDecoder: split inside the length prefix; empty pushes", () => {
  const d = new FrameDecoder();
  assertEquals(d.push(bytes(0)), []);
  assertEquals(d.push(bytes()), []);
  assertEquals(d.push(bytes(2)), []);
  equal(d.buffered, 2);
  assertEquals(d.push(bytes(5)), []);
  assertEquals(d.push(bytes(6, 0, 1, 9, 0)), [bytes(5, 6), bytes(9)]);
  equal(d.buffered, 1);
  assertEquals(d.push(bytes(0)), [bytes()]);
});

Deno.test("FrameDecoder: over-size and (optionally) empty frames throw", () => {
  const d = new FrameDecoder({ maxFrameSize: 1500 });
  assertThrows(() => d.push(bytes(0x05, 0xdd)), RangeError); // 1501
  const d2 = new FrameDecoder({ maxFrameSize: 1500 });
  d2.push(bytes(0x05));
  assertThrows(() => d2.push(bytes(0xdd)), RangeError);
  const d3 = new FrameDecoder({ rejectEmpty: true });
  assertThrows(() => d3.push(bytes(0, 1, 7, 0, 0)), RangeError);
  assertThrows(() => new FrameDecoder({ maxFrameSize: 70000 }), RangeError);
});

Deno.test("FrameDecoder: buffer stays bounded by one frame", () => {
  const d = new FrameDecoder({ maxFrameSize: 1000 });
  const msgs = Array.from({ length: 500 }, () => new Uint8Array(1000));
  const stream = frameMessages(msgs);
  let n = 0;
  for (const part of splitAt(stream, () => 777)) {
    n += d.push(part).length;
    equal(d.buffered <= 1002, true);
  }
  equal(n, 500);
});

Deno.test("cert: self-signed P-256, fingerprint of PEM and DER agree", async () => {
  const b = await generateSelfSigned();
  match(b.certPem, /^-----BEGIN CERTIFICATE-----\n/);
  match(b.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  match(b.fingerprint, /^[0-9a-f]{64}$/);
  const [der] = pemBlocks(b.certPem, "CERTIFICATE");
  equal(await fingerprintOf(der), b.fingerprint);
  equal(await fingerprintOf(b.certPem), b.fingerprint);
  const other = await generateSelfSigned();
  equal(other.fingerprint === b.fingerprint, false);
  // The key is a P-256 PKCS#8 key WebCrypto accepts.
  const [pkcs8] = pemBlocks(b.keyPem, "PRIVATE KEY");
  await crypto.subtle.importKey(
    "pkcs8",
    pkcs8 as Uint8Array<ArrayBuffer>,
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["sign"],
  );
  await rejects(fingerprintOf("no pem here"), TypeError);
});

Deno.test("cert: fingerprint normalization and loading PEM files", async () => {
  const b = await generateSelfSigned();
  const colons = b.fingerprint.toUpperCase().match(/../g)!.join(":");
  equal(normalizeFingerprint(colons), b.fingerprint);
  assertThrows(() => normalizeFingerprint("abcd"), TypeError);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/c.pem`, b.certPem);
    await Deno.writeTextFile(`${dir}/k.pem`, b.keyPem);
    const loaded = await loadCertificate({
      certFile: `${dir}/c.pem`,
      keyFile: `${dir}/k.pem`,
    });
    assertEquals(loaded, b);
    await rejects(
      loadCertificate({ certFile: `${dir}/k.pem`, keyFile: `${dir}/k.pem` }),
      TypeError,
    );
    await rejects(
      loadCertificate({ certFile: `${dir}/c.pem`, keyFile: `${dir}/c.pem` }),
      TypeError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
