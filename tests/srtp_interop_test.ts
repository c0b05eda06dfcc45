/**
 * lib/srtp against a real, independent SRTP stack: libsrtp2 (Debian
 * `libsrtp2-1`) through FFI. Our sender's packets decrypt in libsrtp to the
 * exact RTP/RTCP bytes, libsrtp's packets decrypt in ours, and for RTP the
 * two stacks produce byte-identical SRTP — across a sequence-number wrap.
 */
import { equal, fail, ok } from "node:assert/strict";
import { LibSrtpSession, libsrtpUnavailable } from "./support/libsrtp.ts";
import { newKeyMaterial, SrtpReceiver, SrtpSender } from "../lib/srtp/mod.ts";
import { encodeRtp } from "../lib/rtp/mod.ts";
import { toHex as hex } from "../testkit/bytes.ts";
import { seededRandom } from "../testkit/random.ts";

const why = libsrtpUnavailable();
if (why) console.warn(`srtp_interop_test: SKIPPED: ${why}`);
const ignore = why !== undefined && Deno.env.get("CI") !== "true";

const rtpPacket = (ssrc: number, seq: number, payload: Uint8Array) =>
  encodeRtp({
    marker: (seq & 3) === 0,
    payloadType: 100,
    sequence: seq & 0xffff,
    timestamp: (seq * 3000) >>> 0,
    ssrc,
    payload,
  });

function srPacket(ssrc: number, n: number): Uint8Array {
  // SR (28 bytes) + SDES with a CNAME, like the cloud's compound.
  const p = new Uint8Array(28 + 16);
  const v = new DataView(p.buffer);
  v.setUint32(0, 0x80c80006);
  v.setUint32(4, ssrc);
  v.setUint32(8, n);
  v.setUint32(20, n * 10);
  v.setUint32(28, 0x81ca0003);
  v.setUint32(32, ssrc);
  p.set([1, 5, 0x63, 0x6c, 0x6f, 0x75, 0x64, 0], 36);
  return p;
}

Deno.test({
  name: "libsrtp decrypts our SRTP/SRTCP to the exact bytes, and vice versa",
  ignore,
  fn() {
    if (why) fail(`libsrtp2 is required under CI=true: ${why}`);
    const seed = Date.now() >>> 0;
    console.log(`srtp_interop_test seed=${seed}`);
    const rand = seededRandom(seed);
    const ssrc = (Math.floor(rand() * 0xfffffffe) + 1) >>> 0;
    const keys = newKeyMaterial();
    const ours = new SrtpSender({ ...keys, ssrc });
    const theirsIn = new LibSrtpSession({ ...keys, direction: "inbound" });
    const theirsOut = new LibSrtpSession({ ...keys, direction: "outbound" });
    const oursIn = new SrtpReceiver({ ...keys, ssrc });
    try {
      const first = 65_536 - 1500; // cross the wrap: ROC 0 -> 1
      for (let i = 0; i < 3000; i++) {
        const size = 1 + Math.floor(rand() * 1180);
        const payload = new Uint8Array(size);
        for (let j = 0; j < size; j++) payload[j] = rand() * 256;
        const plain = rtpPacket(ssrc, first + i, payload);
        const mine = ours.protectRtp(plain);
        const libs = theirsOut.protect(plain);
        ok(libs instanceof Uint8Array, `libsrtp protect error ${libs}`);
        equal(hex(mine), hex(libs), `SRTP bytes of packet ${i}`);
        const back = theirsIn.unprotect(mine);
        ok(
          back instanceof Uint8Array,
          `libsrtp unprotect error ${back} (packet ${i})`,
        );
        equal(hex(back), hex(plain));
        const r = oursIn.unprotectRtp(libs);
        ok(r.ok, `our unprotect of libsrtp packet ${i}`);
        equal(hex(r.packet), hex(plain));
        if (i % 100 === 0) {
          const sr = srPacket(ssrc, i);
          const c = ours.protectRtcp(sr);
          const cb = theirsIn.unprotectRtcp(c);
          ok(cb instanceof Uint8Array, `libsrtp unprotect_rtcp error ${cb}`);
          equal(hex(cb), hex(sr));
          const lc = theirsOut.protectRtcp(sr);
          ok(lc instanceof Uint8Array);
          const cr = oursIn.unprotectRtcp(lc);
          ok(cr.ok, "our unprotect of libsrtp's SRTCP");
          equal(hex(cr.packet), hex(sr));
        }
      }
      equal(ours.roc, 1);
      // libsrtp refuses what we refuse: a flipped bit, and a replay.
      const last = ours.protectRtp(
        rtpPacket(ssrc, first + 3000, new Uint8Array(50)),
      );
      const flipped = last.slice();
      flipped[20] ^= 1;
      equal(typeof theirsIn.unprotect(flipped), "number");
      ok(theirsIn.unprotect(last) instanceof Uint8Array);
      equal(typeof theirsIn.unprotect(last), "number");
    } finally {
      theirsIn.close();
      theirsOut.close();
    }
  },
});
