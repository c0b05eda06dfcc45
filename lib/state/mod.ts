/**
 * The state directory (`state_dir`): what the process makes for itself and
 * must keep across restarts, such as its self-signed certificates.
 *
 * @example Usage
 * ```ts ignore
 * import { loadOrCreateCertificate } from "./mod.ts";
 * const quic = await loadOrCreateCertificate({ dir: "./state", name: "quic" });
 * // quic.certPem, quic.keyPem, quic.fingerprint (same after a restart)
 * ```
 *
 * @module
 */
export {
  CertStoreError,
  type CertStoreOptions,
  ensureStateDir,
  loadOrCreateCertificate,
  type StoredCertificate,
} from "./cert_store.ts";
