/**
 * Certificates the process makes for itself, made once and kept in the state
 * directory (`state_dir`) so that a restart presents the same certificate and
 * a pinned fingerprint stays valid.
 *
 * One file per name, `<state_dir>/<name>.pem`, mode 0600, holding the
 * `CERTIFICATE` block then the `PRIVATE KEY` (PKCS#8) block. It is written to
 * a temporary file and linked into place, so two processes starting at once
 * agree on one pair (the loser reads the winner's).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createPrivateKey, X509Certificate } from "node:crypto";
import {
  type CertificateBundle,
  fingerprintOf,
  generateSelfSigned,
  pemBlocks,
  type SelfSignedOptions,
} from "../quic/mod.ts";

/** Options for {@linkcode loadOrCreateCertificate}. */
export interface CertStoreOptions {
  /** The state directory (created with mode 0700 when missing). */
  dir: string;
  /** The pair's name: file `<dir>/<name>.pem`. Letters, digits, `_`, `-`, `.`. */
  name: string;
  /** How to make the certificate when there is none yet. */
  generate?: SelfSignedOptions;
}

/** A stored certificate: the bundle, where it lives, and whether it is new. */
export interface StoredCertificate extends CertificateBundle {
  /** The file holding certificate and key. */
  path: string;
  /** True when this call made the pair (no file was there). */
  created: boolean;
}

/** The stored pair is unreadable, incomplete or inconsistent. */
export class CertStoreError extends Error {
  /** Creates the error; `message` names the file and what was expected. */
  constructor(message: string) {
    super(message);
    this.name = "CertStoreError";
  }
}

/**
 * Creates `dir` (and parents) when missing; the leaf gets mode 0700.
 *
 * @example Usage
 * ```ts ignore
 * await ensureStateDir("./state");
 * ```
 *
 * @throws {CertStoreError} When it cannot be created or is not a directory.
 */
export async function ensureStateDir(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    const st = await Deno.stat(dir);
    if (!st.isDirectory) throw new Error("not a directory");
  } catch (e) {
    throw new CertStoreError(
      `state_dir: expected a writable directory, got ${JSON.stringify(dir)} (${
        (e as Error).message
      })`,
    );
  }
}

/**
 * Loads the certificate pair `name` from `dir`, or makes a self-signed one
 * and stores it there when there is none.
 *
 * @example Usage
 * ```ts ignore
 * const cert = await loadOrCreateCertificate({ dir: "./state", name: "quic" });
 * console.log(cert.fingerprint, cert.created ? "new" : "kept");
 * ```
 *
 * @param opts Directory, name and generation options.
 * @returns The pair, its fingerprint, its file and whether it was just made.
 * @throws {CertStoreError} When the directory is unusable or the file does
 *   not hold a certificate and the private key that matches it.
 */
export async function loadOrCreateCertificate(
  opts: CertStoreOptions,
): Promise<StoredCertificate> {
  if (!/^[A-Za-z0-9_.-]+$/.test(opts.name) || opts.name.startsWith(".")) {
    throw new TypeError(
      `Expected a certificate name of letters, digits, "_", "-", ".", received ${
        JSON.stringify(opts.name)
      }`,
    );
  }
  await ensureStateDir(opts.dir);
  const path = `${opts.dir}/${opts.name}.pem`;
  const existing = await readIfExists(path);
  if (existing !== undefined) {
    await tightenMode(path);
    return { ...(await parseStored(path, existing)), path, created: false };
  }
  const made = await generateSelfSigned(opts.generate);
  const text = made.certPem + made.keyPem;
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(tmp, text, { mode: 0o600, createNew: true });
    try {
      await Deno.link(tmp, path);
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      // Another process stored its pair first: use that one.
      const theirs = await Deno.readTextFile(path);
      return { ...(await parseStored(path, theirs)), path, created: false };
    }
  } catch (e) {
    if (e instanceof CertStoreError) throw e;
    throw new CertStoreError(
      `state_dir: expected to store ${JSON.stringify(path)}, got ${
        (e as Error).message
      }`,
    );
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
  return { ...made, path, created: true };
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new CertStoreError(
      `state_dir: expected a readable ${JSON.stringify(path)}, got ${
        (e as Error).message
      }`,
    );
  }
}

async function tightenMode(path: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  const st = await Deno.stat(path);
  if (st.mode !== null && (st.mode & 0o077) !== 0) {
    await Deno.chmod(path, 0o600);
  }
}

async function parseStored(
  path: string,
  text: string,
): Promise<CertificateBundle> {
  const certs = pemBlocks(text, "CERTIFICATE");
  const keys = pemBlocks(text, "PRIVATE KEY");
  if (certs.length !== 1 || keys.length !== 1) {
    throw new CertStoreError(
      `${path}: expected one CERTIFICATE and one PRIVATE KEY block, got ${certs.length} and ${keys.length} (delete the file to make a new pair)`,
    );
  }
  let same = false;
  try {
    // node:crypto, not @peculiar/x509: that package costs ~20 MiB of heap.
    const priv = createPrivateKey({
      key: Buffer.from(keys[0]),
      format: "der",
      type: "pkcs8",
    }).export({ format: "jwk" });
    const pub = new X509Certificate(certs[0]).publicKey.export({
      format: "jwk",
    });
    same = priv.crv === "P-256" && pub.crv === "P-256" && priv.x === pub.x &&
      priv.y === pub.y;
  } catch {
    same = false;
  }
  if (!same) {
    throw new CertStoreError(
      `${path}: expected a P-256 certificate and the private key that matches it, got a pair that does not (delete the file to make a new pair)`,
    );
  }
  const [certPem] = text.match(
    /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/,
  )!;
  const [keyPem] = text.match(
    /-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----\n?/,
  )!;
  return { certPem, keyPem, fingerprint: await fingerprintOf(certs[0]) };
}
