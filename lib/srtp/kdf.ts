/**
 * SRTP key derivation (RFC 3711 §4.3) with the default AES-CM PRF and a key
 * derivation rate of 0: each session key is the AES-CM keystream, under the
 * master key, of the IV `(master_salt XOR (label << 48)) << 16`.
 *
 * @module
 */
import { AES_BLOCK, AesCm } from "./aes_cm.ts";

/** Master key length of AES_CM_128_HMAC_SHA1_80 (bytes). */
export const MASTER_KEY_LENGTH = 16;
/** Master salt length (bytes). */
export const MASTER_SALT_LENGTH = 14;
/** Session authentication key length for HMAC-SHA1 (bytes). */
export const AUTH_KEY_LENGTH = 20;
/** Authentication tag length of the `_80` profile (bytes). */
export const AUTH_TAG_LENGTH = 10;

/** The keys of one direction of protection (SRTP or SRTCP). */
export interface SessionKeys {
  /** AES-128 session encryption key (16 bytes). */
  encKey: Uint8Array;
  /** HMAC-SHA1 session authentication key (20 bytes). */
  authKey: Uint8Array;
  /** Session salt (14 bytes). */
  salt: Uint8Array;
}

/** Session keys for SRTP (labels 0–2) and SRTCP (labels 3–5). */
export interface DerivedKeys {
  /** For RTP packets. */
  rtp: SessionKeys;
  /** For RTCP packets. */
  rtcp: SessionKeys;
}

/**
 * The AES-CM PRF output for one label (kdr = 0).
 *
 * @param aes AES keyed with the master key.
 * @param masterSalt 14 bytes.
 * @param label 0–5.
 * @param length Output bytes.
 */
function prf(
  aes: AesCm,
  masterSalt: Uint8Array,
  label: number,
  length: number,
): Uint8Array {
  const iv = new Uint8Array(AES_BLOCK);
  iv.set(masterSalt);
  iv[7] ^= label; // label || (index DIV kdr = 0, 48 bits), right-aligned
  return aes.keystream(iv, Math.ceil(length / AES_BLOCK)).slice(0, length);
}

/**
 * Derives the SRTP and SRTCP session keys from a master key and salt.
 *
 * @example Usage
 * ```ts
 * import { deriveSessionKeys } from "./kdf.ts";
 * const keys = deriveSessionKeys(new Uint8Array(16), new Uint8Array(14));
 * keys.rtp.authKey.length; // 20
 * ```
 *
 * @param masterKey 16 bytes.
 * @param masterSalt 14 bytes.
 * @returns The six session keys.
 * @throws {RangeError} On a wrong key or salt length.
 */
export function deriveSessionKeys(
  masterKey: Uint8Array,
  masterSalt: Uint8Array,
): DerivedKeys {
  if (masterKey.length !== MASTER_KEY_LENGTH) {
    throw new RangeError(
      `Expected a ${MASTER_KEY_LENGTH}-byte SRTP master key, received ${masterKey.length} bytes`,
    );
  }
  if (masterSalt.length !== MASTER_SALT_LENGTH) {
    throw new RangeError(
      `Expected a ${MASTER_SALT_LENGTH}-byte SRTP master salt, received ${masterSalt.length} bytes`,
    );
  }
  const aes = new AesCm(masterKey);
  const keys = (base: number): SessionKeys => ({
    encKey: prf(aes, masterSalt, base, 16),
    authKey: prf(aes, masterSalt, base + 1, AUTH_KEY_LENGTH),
    salt: prf(aes, masterSalt, base + 2, MASTER_SALT_LENGTH),
  });
  return { rtp: keys(0), rtcp: keys(3) };
}
