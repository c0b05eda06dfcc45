import { deepEqual, equal, notDeepEqual, throws } from "node:assert/strict";
import {
  createClientHandshake,
  createServerHandshake,
  FLASH_MEDIA_SERVER_KEY,
  FLASH_PLAYER_KEY,
  HANDSHAKE_SIZE,
  RtmpProtocolError,
} from "../lib/rtmp/mod.ts";
import { seededBytes } from "../testkit/random.ts";

// Independent implementation of the published digest algorithm (WebCrypto,
// not the library's node:crypto path).
async function hmac(
  key: Uint8Array,
  data: Uint8Array,
): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey(
    "raw",
    key as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(
    await crypto.subtle.sign("HMAC", k, data as Uint8Array<ArrayBuffer>),
  );
}

function offsetOf(block: Uint8Array, base: number): number {
  return (block[base] + block[base + 1] + block[base + 2] + block[base + 3]) %
      728 + base + 4;
}

function withoutDigest(block: Uint8Array, off: number): Uint8Array {
  const out = new Uint8Array(HANDSHAKE_SIZE - 32);
  out.set(block.subarray(0, off));
  out.set(block.subarray(off + 32), off);
  return out;
}

async function validDigestAt(
  block: Uint8Array,
  base: number,
  key: Uint8Array,
): Promise<Uint8Array | undefined> {
  const off = offsetOf(block, base);
  const want = await hmac(key, withoutDigest(block, off));
  const got = block.subarray(off, off + 32);
  return want.every((b, i) => b === got[i]) ? got.slice() : undefined;
}

const te = new TextEncoder();

Deno.test("handshake keys are the published Genuine Adobe keys", () => {
  equal(FLASH_PLAYER_KEY.length, 62);
  equal(FLASH_MEDIA_SERVER_KEY.length, 68);
  deepEqual(
    FLASH_PLAYER_KEY.subarray(0, 30),
    te.encode("Genuine Adobe Flash Player 001"),
  );
  deepEqual(
    FLASH_MEDIA_SERVER_KEY.subarray(0, 36),
    te.encode("Genuine Adobe Flash Media Server 001"),
  );
  deepEqual(FLASH_PLAYER_KEY.subarray(30), FLASH_MEDIA_SERVER_KEY.subarray(36));
  deepEqual(
    [...FLASH_PLAYER_KEY.subarray(30, 34), ...FLASH_PLAYER_KEY.subarray(58)],
    [0xf0, 0xee, 0xc2, 0x4a, 0xcf, 0xeb, 0x31, 0xae],
  );
});

Deno.test("plain handshake: S0=3, S1 = time|0|random, S2 echoes C1", () => {
  const c0c1 = new Uint8Array(1 + HANDSHAKE_SIZE);
  c0c1[0] = 3;
  c0c1.set(seededBytes(7)(HANDSHAKE_SIZE - 8), 9); // version field 0
  const rnd = seededBytes(42);
  const hs = createServerHandshake(c0c1, {
    random: seededBytes(42),
    time: 0x01020304,
  });
  equal(hs.mode, "plain");
  equal(hs.response.length, 1 + 2 * HANDSHAKE_SIZE);
  const expected = new Uint8Array(1 + 2 * HANDSHAKE_SIZE);
  expected[0] = 3;
  expected.set([1, 2, 3, 4, 0, 0, 0, 0], 1);
  expected.set(rnd(HANDSHAKE_SIZE - 8), 9);
  expected.set(c0c1.subarray(1), 1 + HANDSHAKE_SIZE);
  deepEqual(hs.response, expected);
});

Deno.test("C1 with a version but no valid digest gets the plain answer", () => {
  const c0c1 = createClientHandshake({ random: seededBytes(3) });
  c0c1.set([9, 0, 124, 2], 5);
  const hs = createServerHandshake(c0c1);
  equal(hs.mode, "plain");
  deepEqual(hs.response.subarray(1 + HANDSHAKE_SIZE), c0c1.subarray(1));
});

for (const schema of [0, 1] as const) {
  Deno.test(`digest handshake schema ${schema}: S1 and S2 validate with the published algorithm`, async () => {
    const base = schema === 0 ? 772 : 8;
    for (const seed of [1, 2, 3, 99]) {
      const c0c1 = createClientHandshake({
        digest: schema,
        random: seededBytes(seed),
      });
      const c1 = c0c1.subarray(1);
      // The client block itself is valid by the independent check.
      const c1Digest = await validDigestAt(
        c1,
        base,
        FLASH_PLAYER_KEY.subarray(0, 30),
      );
      notDeepEqual(c1Digest, undefined);
      const hs = createServerHandshake(c0c1, { random: seededBytes(seed) });
      equal(hs.mode, "digest");
      equal(hs.schema, schema);
      const s1 = hs.response.subarray(1, 1 + HANDSHAKE_SIZE);
      const s2 = hs.response.subarray(1 + HANDSHAKE_SIZE);
      equal(hs.response[0], 3);
      // ffmpeg requires S1 version byte >= 3 before validating.
      deepEqual([...s1.subarray(4, 8)], [4, 5, 0, 1]);
      // S1: digest with the first 36 bytes of the FMS key, same schema.
      notDeepEqual(
        await validDigestAt(s1, base, FLASH_MEDIA_SERVER_KEY.subarray(0, 36)),
        undefined,
      );
      // S2: last 32 bytes = HMAC(HMAC(FMS key 68, C1 digest), S2[0..1504]).
      const s2Key = await hmac(FLASH_MEDIA_SERVER_KEY, c1Digest!);
      deepEqual(
        s2.subarray(HANDSHAKE_SIZE - 32),
        await hmac(s2Key, s2.subarray(0, HANDSHAKE_SIZE - 32)),
      );
    }
  });
}

Deno.test("handshake refuses a wrong version and a wrong length", () => {
  const c0c1 = createClientHandshake();
  c0c1[0] = 6; // RTMPE
  throws(
    () => createServerHandshake(c0c1),
    (e: Error) =>
      e instanceof RtmpProtocolError &&
      /expected RTMP version 3.*6/.test(e.message),
  );
  throws(
    () => createServerHandshake(new Uint8Array(100)),
    (e: Error) =>
      e instanceof RtmpProtocolError && /1537 bytes.*100/.test(e.message),
  );
});
