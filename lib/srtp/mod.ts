/**
 * SRTP and SRTCP (RFC 3711), profile AES_CM_128_HMAC_SHA1_80: key
 * derivation with the AES-CM PRF, protect/unprotect, replay window and
 * rollover-counter estimation. Pure bytes, no I/O.
 *
 * @example Usage
 * ```ts
 * import { newKeyMaterial, SrtpReceiver, SrtpSender } from "./mod.ts";
 * const keys = { ...newKeyMaterial(), ssrc: 0x1234 };
 * const tx = new SrtpSender(keys);
 * const rx = new SrtpReceiver(keys);
 * const rtp = new Uint8Array([0x80, 100, 0, 1, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 1, 2, 3]);
 * const r = rx.unprotectRtp(tx.protectRtp(rtp));
 * if (r.ok) r.packet; // equals rtp
 * ```
 *
 * @module
 */
export { AesCm } from "./aes_cm.ts";
export {
  AUTH_KEY_LENGTH,
  AUTH_TAG_LENGTH,
  type DerivedKeys,
  deriveSessionKeys,
  MASTER_KEY_LENGTH,
  MASTER_SALT_LENGTH,
  type SessionKeys,
} from "./kdf.ts";
export { HmacSha1 } from "./hmac_sha1.ts";
export { libcrypto, libcryptoUnavailable, NativeAesCtr } from "./libcrypto.ts";
export { type ReplayVerdict, ReplayWindow } from "./replay_window.ts";
export { SsrcKeystream, writeIv } from "./keystream.ts";
export {
  estimateIndex,
  MAX_SRTCP_INDEX,
  rtpHeaderLength,
  SRTCP_OVERHEAD,
  SRTP_OVERHEAD,
  type SrtpFailure,
  type SrtpKeyMaterial,
  SrtpReceiver,
  type SrtpReceiverOptions,
  SrtpSender,
  type SrtpSenderOptions,
  type UnprotectResult,
} from "./context.ts";
export { newKeyMaterial } from "./key_material.ts";
