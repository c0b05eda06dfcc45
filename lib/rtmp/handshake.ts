/**
 * RTMP handshake bytes (no I/O): C0/C1 → S0/S1/S2 for the plain handshake of
 * RTMP 1.0 §5.2 and the "digest" (a.k.a. complex, Flash Player 9+) variant
 * that ffmpeg, librtmp/OBS and Flash send, with HMAC-SHA256 digests keyed by
 * the Genuine Adobe Flash Player / Flash Media Server keys.
 *
 * Digest layout of a 1536-byte C1/S1: time(4) version(4) then two 764-byte
 * blocks; one holds a 32-byte digest at an offset computed from the 4 bytes
 * that open the block. Schema 0 has the digest in the second block (offset
 * base 772), schema 1 in the first (offset base 8). The digest is the HMAC of
 * the 1504 other bytes.
 *
 * @module
 */
import { createHmac, randomBytes } from "node:crypto";
import { RtmpProtocolError } from "./errors.ts";

/** The only RTMP version byte (C0/S0) this server speaks. */
export const RTMP_VERSION = 3;
/** Size of C1, S1, C2 and S2. */
export const HANDSHAKE_SIZE = 1536;

const SECRET_TAIL = [
  0xf0,
  0xee,
  0xc2,
  0x4a,
  0x80,
  0x68,
  0xbe,
  0xe8,
  0x2e,
  0x00,
  0xd0,
  0xd1,
  0x02,
  0x9e,
  0x7e,
  0x57,
  0x6e,
  0xec,
  0x5d,
  0x2d,
  0x29,
  0x80,
  0x6f,
  0xab,
  0x93,
  0xb8,
  0xe6,
  0x36,
  0xcf,
  0xeb,
  0x31,
  0xae,
];

function key(text: string): Uint8Array {
  const head = new TextEncoder().encode(text);
  const out = new Uint8Array(head.length + SECRET_TAIL.length);
  out.set(head);
  out.set(SECRET_TAIL, head.length);
  return out;
}

/**
 * The 62-byte Flash Player key: `"Genuine Adobe Flash Player 001"` (its first
 * 30 bytes sign C1) followed by 32 fixed bytes (the whole key derives the C2
 * signing key).
 */
export const FLASH_PLAYER_KEY: Uint8Array = key(
  "Genuine Adobe Flash Player 001",
);
/**
 * The 68-byte Flash Media Server key: `"Genuine Adobe Flash Media Server 001"`
 * (its first 36 bytes sign S1) followed by the same 32 fixed bytes (the whole
 * key derives the S2 signing key).
 */
export const FLASH_MEDIA_SERVER_KEY: Uint8Array = key(
  "Genuine Adobe Flash Media Server 001",
);

/** Where the digest sits: 0 = second 764-byte block, 1 = first block. */
export type DigestSchema = 0 | 1;

/** HMAC-SHA256 of `data` with `secret`. */
export function hmacSha256(
  secret: Uint8Array,
  ...data: Uint8Array[]
): Uint8Array {
  const h = createHmac("sha256", secret);
  for (const d of data) h.update(d);
  return new Uint8Array(h.digest());
}

/**
 * Byte offset of the 32-byte digest inside a 1536-byte C1/S1 for `schema`.
 *
 * @param block C1 or S1 (without the C0/S0 byte).
 * @param schema 0: base 772; 1: base 8.
 */
export function digestOffset(block: Uint8Array, schema: DigestSchema): number {
  const base = schema === 0 ? 772 : 8;
  return (block[base] + block[base + 1] + block[base + 2] + block[base + 3]) %
      728 + base + 4;
}

/** HMAC of the 1504 bytes of `block` around the digest at `offset`. */
function blockDigest(
  block: Uint8Array,
  offset: number,
  secret: Uint8Array,
): Uint8Array {
  return hmacSha256(
    secret,
    block.subarray(0, offset),
    block.subarray(offset + 32, HANDSHAKE_SIZE),
  );
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * Finds a valid digest in a C1 (or S1) block.
 *
 * @param block The 1536-byte C1/S1.
 * @param secret `FLASH_PLAYER_KEY.subarray(0, 30)` for C1,
 *   `FLASH_MEDIA_SERVER_KEY.subarray(0, 36)` for S1.
 * @returns The schema and the digest, or `undefined` when neither schema
 *   validates (a plain handshake).
 */
export function findDigest(
  block: Uint8Array,
  secret: Uint8Array,
): { schema: DigestSchema; offset: number; digest: Uint8Array } | undefined {
  if (block.length !== HANDSHAKE_SIZE) return undefined;
  for (const schema of [0, 1] as const) {
    const offset = digestOffset(block, schema);
    const digest = block.subarray(offset, offset + 32);
    if (equalBytes(blockDigest(block, offset, secret), digest)) {
      return { schema, offset, digest };
    }
  }
  return undefined;
}

/** Options for {@linkcode createServerHandshake}. */
export interface ServerHandshakeOptions {
  /** Random source (tests pass a deterministic one). */
  random?: (n: number) => Uint8Array;
  /** Server uptime in ms written to S1's time field; default 0. */
  time?: number;
}

/** What {@linkcode createServerHandshake} produced. */
export interface ServerHandshake {
  /** S0 + S1 + S2 (3073 bytes), to send at once. */
  response: Uint8Array;
  /** `"digest"` when C1 carried a valid Flash Player digest. */
  mode: "plain" | "digest";
  /** The digest schema used, for the digest mode. */
  schema?: DigestSchema;
}

/** Server version written to a digest S1 (FMS 4.5.0.1; ffmpeg needs ≥ 3). */
const SERVER_VERSION = [4, 5, 0, 1];

/**
 * Builds S0/S1/S2 for a received C0 + C1.
 *
 * * C1 whose version field is non-zero and which carries a valid Flash
 *   Player digest (schema 0 or 1) gets the digest answer: S1 with a Flash
 *   Media Server digest in the same schema, S2 signed with
 *   HMAC(HMAC(FMS key, C1 digest), S2[0..1504]).
 * * Anything else gets the plain answer: S1 = time, zero, random; S2 = C1.
 *
 * @param c0c1 Exactly 1537 bytes: C0 then C1.
 * @throws {RtmpProtocolError} On a wrong length or a C0 version other than 3.
 */
export function createServerHandshake(
  c0c1: Uint8Array,
  options: ServerHandshakeOptions = {},
): ServerHandshake {
  if (c0c1.length !== 1 + HANDSHAKE_SIZE) {
    throw new RtmpProtocolError(
      `handshake: expected C0+C1 of ${
        1 + HANDSHAKE_SIZE
      } bytes, received ${c0c1.length}`,
    );
  }
  if (c0c1[0] !== RTMP_VERSION) {
    throw new RtmpProtocolError(
      `handshake: expected RTMP version ${RTMP_VERSION} in C0, received ${
        c0c1[0]
      }`,
    );
  }
  const random = options.random ??
    ((n: number) => new Uint8Array(randomBytes(n)));
  const c1 = c0c1.subarray(1);
  const response = new Uint8Array(1 + 2 * HANDSHAKE_SIZE);
  response[0] = RTMP_VERSION;
  const s1 = response.subarray(1, 1 + HANDSHAKE_SIZE);
  const s2 = response.subarray(1 + HANDSHAKE_SIZE);
  const view = new DataView(s1.buffer, s1.byteOffset, HANDSHAKE_SIZE);
  const clientVersion = new DataView(c1.buffer, c1.byteOffset + 4, 4)
    .getUint32(0);
  const found = clientVersion !== 0
    ? findDigest(c1, FLASH_PLAYER_KEY.subarray(0, 30))
    : undefined;
  s1.set(random(HANDSHAKE_SIZE - 8), 8);
  view.setUint32(0, (options.time ?? 0) >>> 0);
  if (!found) {
    view.setUint32(4, 0);
    s2.set(c1);
    return { response, mode: "plain" };
  }
  s1.set(SERVER_VERSION, 4);
  const offset = digestOffset(s1, found.schema);
  s1.set(
    blockDigest(s1, offset, FLASH_MEDIA_SERVER_KEY.subarray(0, 36)),
    offset,
  );
  s2.set(random(HANDSHAKE_SIZE - 32));
  const s2Key = hmacSha256(FLASH_MEDIA_SERVER_KEY, found.digest);
  s2.set(
    hmacSha256(s2Key, s2.subarray(0, HANDSHAKE_SIZE - 32)),
    HANDSHAKE_SIZE - 32,
  );
  return { response, mode: "digest", schema: found.schema };
}

/** Options for {@linkcode createClientHandshake}. */
export interface ClientHandshakeOptions {
  /** Sign C1 with a Flash Player digest in this schema; omit for plain. */
  digest?: DigestSchema;
  /** Random source (tests pass a deterministic one). */
  random?: (n: number) => Uint8Array;
}

/**
 * Builds C0 + C1 as a client would (used by tests and tools): plain (version
 * 0) or digest-signed (version 9.0.124.2, as ffmpeg sends).
 */
export function createClientHandshake(
  options: ClientHandshakeOptions = {},
): Uint8Array {
  const random = options.random ??
    ((n: number) => new Uint8Array(randomBytes(n)));
  const out = new Uint8Array(1 + HANDSHAKE_SIZE);
  out[0] = RTMP_VERSION;
  const c1 = out.subarray(1);
  c1.set(random(HANDSHAKE_SIZE - 8), 8);
  if (options.digest === undefined) return out;
  c1.set([9, 0, 124, 2], 4);
  const offset = digestOffset(c1, options.digest);
  c1.set(blockDigest(c1, offset, FLASH_PLAYER_KEY.subarray(0, 30)), offset);
  return out;
}
