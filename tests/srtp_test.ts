/**
 * lib/srtp on exact bytes: RFC 3711 Appendix B test vectors (AES-CM
 * keystream, key derivation), libsrtp's own SRTP/SRTCP reference packets,
 * RFC 2202 HMAC-SHA1, then the receiver's rules: replay, authentication,
 * rollover across the 16-bit wrap, reordering, and a refused packet never
 * changing state.
 */
import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  AesCm,
  deriveSessionKeys,
  estimateIndex,
  HmacSha1,
  newKeyMaterial,
  ReplayWindow,
  SrtpReceiver,
  SrtpSender,
} from "../lib/srtp/mod.ts";
import { RtpPacketizer } from "../lib/rtp/mod.ts";
import { fromHex as hex } from "../testkit/bytes.ts";

const toHex = (b: Uint8Array) =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

const MASTER_KEY = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
const MASTER_SALT = hex("0EC675AD498AFEEBB6960B3AABE6");

function rtp(
  ssrc: number,
  seq: number,
  payload: Uint8Array,
  marker = false,
): Uint8Array {
  const p = new Uint8Array(12 + payload.length);
  const v = new DataView(p.buffer);
  p[0] = 0x80;
  p[1] = 100 | (marker ? 0x80 : 0);
  v.setUint16(2, seq);
  v.setUint32(4, seq * 90);
  v.setUint32(8, ssrc);
  p.set(payload, 12);
  return p;
}

Deno.test("RFC 3711 B.2: AES-CM keystream segment", () => {
  const aes = new AesCm(hex("2B7E151628AED2A6ABF7158809CF4F3C"));
  const ks = aes.keystream(hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"), 0xff02);
  equal(ks.length, 1044512);
  const block = (j: number) => toHex(ks.subarray(j * 16, j * 16 + 16));
  equal(block(0x0000), "e03ead0935c95e80e166b16dd92b4eb4");
  equal(block(0x0001), "d23513162b02d0f72a43a2fe4a5f97ab");
  equal(block(0x0002), "41e95b3bb0a2e8dd477901e4fca894c0");
  equal(block(0xfeff), "ec8cdf7398607cb0f2d21675ea9ea1e4");
  equal(block(0xff00), "362b7c3c6773516318a077d7fc5073ae");
  equal(block(0xff01), "6a2cc3787889374fbeb4c81b17ba6c44");
});

Deno.test("RFC 3711 B.3: key derivation (and the SRTCP labels)", () => {
  const k = deriveSessionKeys(MASTER_KEY, MASTER_SALT);
  equal(toHex(k.rtp.encKey), "c61e7a93744f39ee10734afe3ff7a087");
  equal(toHex(k.rtp.salt), "30cbbc08863d8c85d49db34a9ae1");
  // The RFC lists 94 bytes of the auth key stream; HMAC-SHA1 uses 20.
  equal(toHex(k.rtp.authKey), "cebe321f6ff7716b6fd4ab49af256a156d38baa4");
  equal(toHex(k.rtcp.encKey), "4c1aa45a81f73d61c800bbb00fbb1eaa");
  equal(toHex(k.rtcp.authKey), "8d54534feb49ae8e7993a6bd0b844fc323a93dfd");
  equal(toHex(k.rtcp.salt), "9581c7ad87b3e530bf3e4454a8b3");
  throws(
    () => deriveSessionKeys(new Uint8Array(15), MASTER_SALT),
    /Expected a 16-byte SRTP master key, received 15 bytes/,
  );
  throws(
    () => deriveSessionKeys(MASTER_KEY, new Uint8Array(12)),
    /Expected a 14-byte SRTP master salt, received 12 bytes/,
  );
});

Deno.test("RFC 2202: HMAC-SHA1 test cases 1 and 2", () => {
  const enc = new TextEncoder();
  equal(
    toHex(new HmacSha1(new Uint8Array(20).fill(0x0b)).digest(
      enc.encode("Hi There"),
    )),
    "b617318655057264e28bc0b6fb378c8ef146be00",
  );
  const mac = new HmacSha1(enc.encode("Jefe"));
  const msg = enc.encode("what do ya want for nothing?");
  equal(toHex(mac.digest(msg)), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  // The precomputed states are reused, not consumed.
  equal(toHex(mac.digest(msg)), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
});

// libsrtp's reference packets (test/srtp_driver.c): the same master key and
// salt, SSRC 0xcafebabe, RTP seq 0x1234 and SRTCP index 1.
const REF_RTP = hex("800f1234decafbadcafebabe" + "ab".repeat(16));
const REF_SRTP = hex(
  "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb",
);
const REF_RTCP = hex("81c8000bcafebabe" + "ab".repeat(16));
const REF_SRTCP = hex(
  "81c8000bcafebabe7128035be487b9bdbef89041f977a5a880000001993e08cd54d6c1230798",
);

Deno.test("libsrtp reference packets: SRTP and SRTCP protect and unprotect", () => {
  const keys = { masterKey: MASTER_KEY, masterSalt: MASTER_SALT };
  const tx = new SrtpSender({ ...keys, ssrc: 0xcafebabe });
  equal(toHex(tx.protectRtp(REF_RTP)), toHex(REF_SRTP));
  tx.protectRtcp(REF_RTCP); // index 0
  equal(toHex(tx.protectRtcp(REF_RTCP)), toHex(REF_SRTCP)); // index 1

  const rx = new SrtpReceiver({ ...keys, ssrc: 0xcafebabe });
  const r = rx.unprotectRtp(REF_SRTP);
  ok(r.ok);
  equal(toHex(r.packet), toHex(REF_RTP));
  equal(r.index, 0x1234);
  const c = rx.unprotectRtcp(REF_SRTCP);
  ok(c.ok);
  equal(toHex(c.packet), toHex(REF_RTCP));
  equal(c.index, 1);
  // Every truncation is refused.
  for (let n = REF_SRTP.length - 1; n > 0; n--) {
    const fresh = new SrtpReceiver({ ...keys, ssrc: 0xcafebabe });
    equal(fresh.unprotectRtp(REF_SRTP.subarray(0, n)).ok, false, `len ${n}`);
  }
  for (let n = REF_SRTCP.length - 1; n > 0; n--) {
    const fresh = new SrtpReceiver({ ...keys, ssrc: 0xcafebabe });
    equal(fresh.unprotectRtcp(REF_SRTCP.subarray(0, n)).ok, false);
  }
});

Deno.test("receiver: replays, forgeries and other SSRCs are refused without changing state", () => {
  const keys = { ...newKeyMaterial(), ssrc: 0x11223344 };
  const tx = new SrtpSender(keys);
  const rx = new SrtpReceiver(keys);
  const payload = crypto.getRandomValues(new Uint8Array(1180));
  const p1 = tx.protectRtp(rtp(keys.ssrc, 100, payload));
  const r1 = rx.unprotectRtp(p1);
  ok(r1.ok);
  deepEqual(rx.unprotectRtp(p1), { ok: false, failure: "replay" });
  // A forged packet claiming seq 1100 (far ahead) fails authentication and
  // does not move the window or the rollover state.
  const forged = p1.slice();
  forged[2] = 1100 >> 8;
  forged[3] = 1100 & 0xff;
  deepEqual(rx.unprotectRtp(forged), { ok: false, failure: "auth" });
  const flipped = tx.protectRtp(rtp(keys.ssrc, 101, payload));
  flipped[500] ^= 1;
  deepEqual(rx.unprotectRtp(flipped), { ok: false, failure: "auth" });
  const other = new SrtpSender({ ...keys, ssrc: 5 });
  deepEqual(rx.unprotectRtp(other.protectRtp(rtp(5, 102, payload))), {
    ok: false,
    failure: "ssrc",
  });
  deepEqual(rx.unprotectRtp(new Uint8Array(15)), {
    ok: false,
    failure: "malformed",
  });
  // The genuine 101 (its forged copy was refused) still decrypts: nothing
  // about 101 was recorded.
  const again = new SrtpSender(keys);
  again.protectRtp(rtp(keys.ssrc, 100, payload));
  const r101 = rx.unprotectRtp(again.protectRtp(rtp(keys.ssrc, 101, payload)));
  ok(r101.ok);
  equal(r101.index, 101);
  // A packet with another key fails authentication.
  const stranger = new SrtpSender({ ...newKeyMaterial(), ssrc: keys.ssrc });
  deepEqual(
    rx.unprotectRtp(stranger.protectRtp(rtp(keys.ssrc, 102, payload))),
    {
      ok: false,
      failure: "auth",
    },
  );
  // SRTCP: replay and forgery.
  const sr = new Uint8Array(28);
  sr.set([0x80, 200, 0, 6]);
  new DataView(sr.buffer).setUint32(4, keys.ssrc);
  const c = tx.protectRtcp(sr);
  ok(rx.unprotectRtcp(c).ok);
  deepEqual(rx.unprotectRtcp(c), { ok: false, failure: "replay" });
  const cf = tx.protectRtcp(sr);
  cf[10] ^= 0x40;
  deepEqual(rx.unprotectRtcp(cf), { ok: false, failure: "auth" });
});

Deno.test("rollover: 70,000 packets across two wraps, reordered and with a late repair", () => {
  const keys = { ...newKeyMaterial(), ssrc: 0xdeadbeef };
  const tx = new SrtpSender(keys);
  const rx = new SrtpReceiver({ ...keys, replayWindow: 1024 });
  const start = 65_000;
  const protectedPkts: Uint8Array[] = [];
  const plain: Uint8Array[] = [];
  for (let i = 0; i < 70_000; i++) {
    const body = new Uint8Array(20 + (i % 300));
    new DataView(body.buffer).setUint32(0, i);
    const p = rtp(keys.ssrc, (start + i) & 0xffff, body);
    plain.push(p);
    protectedPkts.push(tx.protectRtp(p));
  }
  equal(tx.roc, 2);
  // Delivery order: swap neighbours every 7 packets; packet 66,000 comes
  // 500 packets late (a repair inside the window).
  const order = [...protectedPkts.keys()];
  for (let i = 0; i + 1 < order.length; i += 7) {
    [order[i], order[i + 1]] = [order[i + 1], order[i]];
  }
  const late = order.indexOf(66_000);
  order.splice(late, 1);
  order.splice(late + 500, 0, 66_000);
  for (const i of order) {
    const r = rx.unprotectRtp(protectedPkts[i]);
    ok(r.ok, `packet ${i}`);
    equal(r.index, start + i);
    equal(toHex(r.packet), toHex(plain[i]));
  }
  equal(rx.roc, 2);
});

Deno.test("receiver starting mid-stream from the sender's ROC and sequence number", () => {
  const keys = { ...newKeyMaterial(), ssrc: 7 };
  const tx = new SrtpSender(keys);
  let last: Uint8Array = new Uint8Array();
  for (let i = 0; i < 70_000; i++) {
    last = tx.protectRtp(rtp(7, (60_000 + i) & 0xffff, new Uint8Array(4)));
  }
  const rx = new SrtpReceiver({ ...keys, roc: tx.roc, seq: tx.highestSeq });
  const next = tx.protectRtp(
    rtp(7, (tx.highestSeq + 1) & 0xffff, new Uint8Array(4)),
  );
  ok(rx.unprotectRtp(next).ok);
  // Keys handed over without the ROC (0) cannot authenticate after a wrap.
  const naive = new SrtpReceiver(keys);
  equal(naive.unprotectRtp(last).ok, false);
});

Deno.test("estimateIndex follows RFC 3711 Appendix A", () => {
  equal(estimateIndex(0, 100, 101), 101);
  equal(estimateIndex(1, 65_530, 5), 2 * 65536 + 5); // wrapped forward
  equal(estimateIndex(2, 3, 65_533), 1 * 65536 + 65_533); // late, before the wrap
  equal(estimateIndex(0, 3, 65_533), 65_533); // never negative
  equal(estimateIndex(5, 40_000, 20_000), 5 * 65536 + 20_000);
});

Deno.test("replay window: size, duplicates, too old, big jumps", () => {
  throws(
    () => new ReplayWindow(48),
    /at least 64 packets and a multiple of 32, received 48/,
  );
  const w = new ReplayWindow(64);
  equal(w.check(1000), "new");
  w.accept(1000);
  equal(w.check(1000), "duplicate");
  equal(w.check(999), "new");
  w.accept(999);
  equal(w.check(999), "duplicate");
  equal(w.check(937), "new"); // 1000 - 63
  equal(w.check(936), "too_old"); // 1000 - 64
  w.accept(1001);
  equal(w.check(1000), "duplicate");
  equal(w.check(1002), "new");
  w.accept(1100); // jump past the window: everything cleared
  equal(w.check(1099), "new");
  equal(w.check(1100), "duplicate");
  equal(w.check(1036), "too_old");
  for (let i = 1101; i < 1400; i++) w.accept(i);
  for (let i = 1337; i < 1400; i++) equal(w.check(i), "duplicate");
  equal(w.top, 1399);
});

Deno.test("protectRtps (one buffer for many packets) and unprotect into a scratch buffer give the same bytes", () => {
  const keys = { ...newKeyMaterial(), ssrc: 0x5eed };
  const one = new SrtpSender(keys);
  const many = new SrtpSender(keys);
  const plain: Uint8Array[] = [];
  for (let i = 0; i < 40; i++) {
    plain.push(rtp(keys.ssrc, (65_530 + i) & 0xffff, new Uint8Array(i * 37)));
  }
  const singles = plain.map((p) => one.protectRtp(p));
  const batch = [
    ...many.protectRtps(plain.slice(0, 3)),
    ...many.protectRtps(plain.slice(3)),
  ];
  deepEqual(batch.map(toHex), singles.map(toHex));
  equal(batch[0].buffer, batch[1].buffer); // one allocation per call
  equal(many.roc, 1);
  const rx = new SrtpReceiver(keys);
  const scratch = new Uint8Array(2048);
  for (let i = 0; i < plain.length; i++) {
    const r = rx.unprotectRtp(batch[i], scratch);
    ok(r.ok, `packet ${i}`);
    equal(r.packet.buffer, scratch.buffer);
    equal(toHex(r.packet), toHex(plain[i]));
  }
  // A scratch buffer too small is not used: a new buffer instead.
  const r = new SrtpReceiver(keys).unprotectRtp(batch[5], new Uint8Array(8));
  ok(r.ok);
  equal(toHex(r.packet), toHex(plain[5]));
});

Deno.test("protectRtps in place: a packetizer's tailroom takes the tag, same bytes as a copy, no new buffer", () => {
  const keys = { ...newKeyMaterial(), ssrc: 0x7a11 };
  const pk = new RtpPacketizer({
    ssrc: keys.ssrc,
    payloadSize: 100,
    tailroom: 10,
  });
  const tag = {
    type: 9 as const,
    timestamp: 40,
    data: new Uint8Array(450).fill(7),
  };
  const plain = pk.packetize(tag);
  equal(plain.length, 5);
  const copies = plain.map((p) => p.slice());
  const expected = new SrtpSender(keys).protectRtps(copies);
  const got = new SrtpSender(keys).protectRtps(plain, true);
  deepEqual(got.map(toHex), expected.map(toHex));
  for (const g of got) equal(g.buffer, plain[0].buffer); // in the tag's buffer
  // Without room after every packet: one new buffer, same bytes.
  const tight = new RtpPacketizer({ ssrc: keys.ssrc, payloadSize: 100 });
  const noRoom = tight.packetize(tag);
  const viaCopy = new SrtpSender(keys).protectRtps(noRoom, true);
  ok(viaCopy[0].buffer !== noRoom[0].buffer);
  equal(viaCopy.length, 5);
});

Deno.test("the node:crypto fallback (no libcrypto FFI) gives the same bytes", async () => {
  const script = `
    import { HmacSha1, SrtpReceiver, SrtpSender } from "${
    new URL("../lib/srtp/mod.ts", import.meta.url).href
  }";
    const hex = (s) => Uint8Array.from(s.match(/../g).map((b) => parseInt(b, 16)));
    const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    const mac = new HmacSha1(new Uint8Array(20).fill(0x0b));
    const tx = new SrtpSender({ masterKey: hex("${
    toHex(MASTER_KEY)
  }"), masterSalt: hex("${toHex(MASTER_SALT)}"), ssrc: 0xcafebabe });
    const srtp = tx.protectRtps([hex("${toHex(REF_RTP)}")])[0];
    const rx = new SrtpReceiver({ masterKey: hex("${
    toHex(MASTER_KEY)
  }"), masterSalt: hex("${toHex(MASTER_SALT)}"), ssrc: 0xcafebabe });
    const back = rx.unprotectRtp(srtp, new Uint8Array(2048));
    console.log(JSON.stringify({
      backend: mac.backend,
      hmac: toHex(mac.digest(new TextEncoder().encode("Hi There"))),
      srtp: toHex(srtp),
      rtp: back.ok ? toHex(back.packet) : back.failure,
    }));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=js", script],
    env: { FLVCAST_SRTP_NATIVE: "0" },
    stderr: "inherit",
  }).output();
  equal(out.code, 0);
  deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
    backend: "node:crypto",
    hmac: "b617318655057264e28bc0b6fb378c8ef146be00",
    srtp: toHex(REF_SRTP),
    rtp: toHex(REF_RTP),
  });
});
