/**
 * The edge's SRTP gate on exact bytes with fake time: unknown SSRCs are held
 * and their keys asked for once (then again after the retry interval); the
 * KEYS answer releases what was held, decrypted; forged and replayed
 * packets are counted and dropped; an SSRC the cloud does not know is not
 * asked about again for a while; everything held is bounded.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { SrtpGate } from "../lib/edge/srtp_gate.ts";
import type { KeysAnswer } from "../lib/rtcp/mod.ts";
import { newKeyMaterial, SrtpSender } from "../lib/srtp/mod.ts";

const SSRC = 0x0badcafe;

function rtp(seq: number, body: number[]): Uint8Array {
  const p = new Uint8Array(12 + body.length);
  const v = new DataView(p.buffer);
  p[0] = 0x80;
  p[1] = 100;
  v.setUint16(2, seq);
  v.setUint32(8, SSRC);
  p.set(body, 12);
  return p;
}

function sr(): Uint8Array {
  const p = new Uint8Array(28);
  const v = new DataView(p.buffer);
  v.setUint32(0, 0x80c80006);
  v.setUint32(4, SSRC);
  return p;
}

function answerFor(
  keys: ReturnType<typeof newKeyMaterial>,
  extra: Partial<KeysAnswer> = {},
): KeysAnswer {
  return {
    ssrc: SSRC,
    profile: 1,
    ...keys,
    roc: 0,
    highestSeq: 99,
    firstSeq: 0,
    streamKey: "live/x",
    stateTags: [],
    ...extra,
  };
}

Deno.test("gate: held until KEYS, released decrypted; forgeries and replays counted", () => {
  const asked: number[] = [];
  const gate = new SrtpGate<string>({ requestKeys: (s) => asked.push(s) });
  const keys = newKeyMaterial();
  const tx = new SrtpSender({ ...keys, ssrc: SSRC });
  const p100 = tx.protectRtp(rtp(100, [1, 2, 3]));
  const p101 = tx.protectRtp(rtp(101, [4, 5, 6]));
  const c0 = tx.protectRtcp(sr());
  deepEqual(gate.inbound(p100, "a", 0), { pass: false, failure: "held" });
  deepEqual(gate.inbound(c0, "a", 1), { pass: false, failure: "held" });
  deepEqual(asked, [SSRC], "asked once");
  equal(gate.nextEventAt(), 500);
  gate.tick(499);
  equal(asked.length, 1);
  gate.tick(500);
  equal(asked.length, 2, "asked again after the retry interval");
  const released = gate.keys(SSRC, answerFor(keys), 600);
  deepEqual(released.map((r) => [...r.bytes]), [
    [...rtp(100, [1, 2, 3])],
    [...sr()],
  ]);
  equal(gate.pendingSsrcs, 0);
  const v = gate.inbound(p101, "a", 700);
  ok(v.pass);
  deepEqual([...v.bytes], [...rtp(101, [4, 5, 6])]);
  // Replay and forgery: dropped, counted, per SSRC too.
  deepEqual(gate.inbound(p101, "a", 701), { pass: false, failure: "replay" });
  const forged = tx.protectRtp(rtp(1100, [9]));
  forged[12] ^= 0xff;
  deepEqual(gate.inbound(forged, "a", 702), { pass: false, failure: "auth" });
  const bye = new Uint8Array([0x81, 203, 0, 1, 0x0b, 0xad, 0xca, 0xfe]);
  deepEqual(gate.inbound(bye, "a", 703), {
    pass: false,
    failure: "malformed",
  });
  equal(gate.stats.authFailures, 1);
  equal(gate.stats.replays, 1);
  deepEqual(gate.countsOf(SSRC), { authFailures: 1, replays: 1 });
  // Repairs are SRTP too; the genuine packet decrypts, a second copy does
  // not (and is not counted as a replay: answer copies are normal).
  const p102 = tx.protectRtp(rtp(102, [7]));
  deepEqual([...gate.repaired(p102)!], [...rtp(102, [7])]);
  equal(gate.repaired(p102), undefined);
  equal(gate.stats.replays, 1);
  const p103 = tx.protectRtp(rtp(103, [8]));
  p103[13] ^= 1;
  equal(gate.repaired(p103), undefined);
  equal(gate.stats.authFailures, 2, "a forged repair is counted");
});

Deno.test("gate: an SSRC the cloud does not know is dropped and not asked about again for a while", () => {
  const asked: number[] = [];
  const gate = new SrtpGate({
    requestKeys: (s) => asked.push(s),
    unknownMs: 1000,
  });
  const garbage = new Uint8Array(40);
  garbage[0] = 0x80;
  garbage[1] = 100;
  new DataView(garbage.buffer).setUint32(8, 77);
  equal(gate.inbound(garbage, 0, 0).pass, false);
  equal(gate.keys(77, null, 10).length, 0);
  equal(gate.stats.keysUnknown, 1);
  equal(gate.stats.heldDropped, 1);
  deepEqual(gate.inbound(garbage, 0, 20), { pass: false, failure: "unknown" });
  equal(asked.length, 1);
  gate.tick(1010);
  deepEqual(gate.inbound(garbage, 0, 1011), { pass: false, failure: "held" });
  equal(asked.length, 2);
  // A plain-RTP answer (cloud srtp: false) is refused by an SRTP edge.
  equal(
    gate.keys(
      77,
      { ...answerFor(newKeyMaterial()), ssrc: 77, profile: 0 },
      1100,
    )
      .length,
    0,
  );
  equal(gate.stats.keysRefused, 1);
});

Deno.test("gate: bounded — SSRCs, datagrams per SSRC, requests per second, waiting time", () => {
  const asked: number[] = [];
  const gate = new SrtpGate({
    requestKeys: (s) => asked.push(s),
    maxPendingSsrcs: 4,
    maxHeldPerSsrc: 8,
    maxRequestsPerSecond: 10,
    pendingTimeoutMs: 2000,
  });
  const pkt = (ssrc: number) => {
    const p = new Uint8Array(30);
    p[0] = 0x80;
    p[1] = 100;
    new DataView(p.buffer).setUint32(8, ssrc);
    return p;
  };
  for (let i = 0; i < 1000; i++) gate.inbound(pkt(1000 + i), 0, 0);
  equal(gate.pendingSsrcs, 4);
  equal(asked.length, 10, "10 requests per second at most");
  equal(gate.stats.heldDropped, 996);
  for (let i = 0; i < 20; i++) gate.inbound(pkt(1999), 0, 1);
  equal(gate.stats.heldDropped, 996 + 13); // 21 held for 1999, 8 kept
  gate.tick(2000);
  equal(gate.pendingSsrcs, 0, "given up after pendingTimeoutMs");
});

Deno.test("gate: FEC parity is its own SRTP stream — authenticated with the context KEYS names, handed on under the media SSRC; parity without keys dropped, never asked about", () => {
  const FEC_SSRC = 0x0fec0fec;
  const asked: number[] = [];
  const gate = new SrtpGate<string>({ requestKeys: (s) => asked.push(s) });
  const keys = newKeyMaterial();
  const parity = (seq: number) => {
    const p = rtp(seq, [9, 9, 9, 9]);
    p[1] = 101; // FEC payload type
    new DataView(p.buffer).setUint32(8, FEC_SSRC);
    return p;
  };
  const fecTx = new SrtpSender({ ...keys, ssrc: FEC_SSRC });
  const early = fecTx.protectRtp(parity(7000));
  deepEqual(gate.inbound(early, "a", 0), { pass: false, failure: "no_keys" });
  deepEqual(asked, []);
  equal(gate.stats.heldDropped, 1);
  // The media stream's KEYS answer names the FEC stream and where it stands.
  gate.keys(
    SSRC,
    answerFor(keys, { fec: { ssrc: FEC_SSRC, roc: 0, highestSeq: 7000 } }),
    1,
  );
  const v = gate.inbound(fecTx.protectRtp(parity(7001)), "a", 2);
  ok(v.pass);
  const plain = parity(7001);
  new DataView(plain.buffer).setUint32(8, SSRC); // under the media SSRC
  deepEqual([...v.bytes], [...plain]);
  // A forged parity packet (one bit changed) is refused, counted under
  // the media stream; a replay too.
  const forged = fecTx.protectRtp(parity(7002));
  forged[13] ^= 1;
  equal(gate.inbound(forged, "a", 3).pass, false);
  const again = fecTx.protectRtp(parity(7003));
  ok(gate.inbound(again, "a", 4).pass);
  deepEqual(gate.inbound(again, "a", 5), { pass: false, failure: "replay" });
  deepEqual(gate.countsOf(SSRC), { authFailures: 1, replays: 1 });
  // The stream ends: its FEC stream's keys go with it.
  gate.forget(SSRC);
  equal(gate.has(FEC_SSRC), false);
  deepEqual(asked, []);
});
