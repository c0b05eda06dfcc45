/**
 * Fresh SRTP master keys.
 *
 * @module
 */
import type { SrtpKeyMaterial } from "./context.ts";
import { MASTER_KEY_LENGTH, MASTER_SALT_LENGTH } from "./kdf.ts";

/**
 * A random master key and salt (from the platform's CSPRNG).
 *
 * @example Usage
 * ```ts
 * import { newKeyMaterial } from "./key_material.ts";
 * const { masterKey, masterSalt } = newKeyMaterial(); // 16 + 14 bytes
 * ```
 */
export function newKeyMaterial(): SrtpKeyMaterial {
  return {
    masterKey: crypto.getRandomValues(new Uint8Array(MASTER_KEY_LENGTH)),
    masterSalt: crypto.getRandomValues(new Uint8Array(MASTER_SALT_LENGTH)),
  };
}
