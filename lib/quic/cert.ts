/**
 * TLS material for the retransmission service: a self-signed P-256
 * certificate made in-process, SHA-256 fingerprints, PEM loading.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";

/** A certificate, its private key and the certificate's SHA-256 fingerprint. */
export interface CertificateBundle {
  /** The certificate (chain) in PEM. */
  certPem: string;
  /** The PKCS#8 private key in PEM. */
  keyPem: string;
  /** SHA-256 of the leaf certificate's DER, lowercase hex without colons. */
  fingerprint: string;
}

/** Options for {@linkcode generateSelfSigned}. */
export interface SelfSignedOptions {
  /** Subject common name; default `flvcast`. */
  commonName?: string;
  /**
   * DNS names and IP addresses for subjectAltName; default
   * {@linkcode DEFAULT_ALT_NAMES} (`flvcast`, `localhost`, `127.0.0.1`, `::1`).
   */
  altNames?: string[];
  /** Validity in days from now; default 3650. */
  days?: number;
}

/**
 * The subjectAltNames of a generated certificate: the fixed DNS name
 * `flvcast` (a pinning client can always use it as the TLS server name,
 * whatever address it dials) and the loopback names.
 */
export const DEFAULT_ALT_NAMES: readonly string[] = [
  "flvcast",
  "localhost",
  "127.0.0.1",
  "::1",
];

/**
 * The TLS server name a pinning client asks for: the fixed DNS name every
 * certificate flvcast makes carries ({@linkcode DEFAULT_ALT_NAMES}); the pin
 * is the certificate, not a host name.
 */
export const RTX_SERVER_NAME = "flvcast";

const EC_ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };

function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function toPem(label: string, der: Uint8Array): string {
  let b64 = "";
  const CHUNK = 0x8000;
  for (let i = 0; i < der.length; i += CHUNK) {
    b64 += String.fromCharCode(...der.subarray(i, i + CHUNK));
  }
  b64 = btoa(b64);
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${
    lines.join("\n")
  }\n-----END ${label}-----\n`;
}

/**
 * Decodes every PEM block with the given label (e.g. `CERTIFICATE`).
 *
 * @example Usage
 * ```ts
 * import { pemBlocks } from "./cert.ts";
 * pemBlocks("-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n", "CERTIFICATE");
 * // [Uint8Array [1, 2, 3]]
 * ```
 *
 * @param pem PEM text, possibly several blocks.
 * @param label The block label to collect.
 * @returns The DER bytes of each matching block, in order.
 * @throws {TypeError} When a block's base64 is invalid.
 */
export function pemBlocks(pem: string, label: string): Uint8Array[] {
  const re = new RegExp(
    `-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`,
    "g",
  );
  const out: Uint8Array[] = [];
  for (const m of pem.matchAll(re)) {
    const b64 = m[1].replace(/\s+/g, "");
    let bin: string;
    try {
      bin = atob(b64);
    } catch {
      throw new TypeError(`Expected base64 inside a PEM ${label} block`);
    }
    const der = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) der[i] = bin.charCodeAt(i);
    out.push(der);
  }
  return out;
}

/**
 * SHA-256 fingerprint of a certificate: of the first `CERTIFICATE` block of a
 * PEM string, or of DER bytes.
 *
 * @example Usage
 * ```ts
 * import { fingerprintOf, generateSelfSigned } from "./cert.ts";
 * const { certPem, fingerprint } = await generateSelfSigned();
 * (await fingerprintOf(certPem)) === fingerprint; // true
 * ```
 *
 * @param cert PEM text or DER bytes.
 * @returns Lowercase hex, 64 characters, no colons.
 * @throws {TypeError} When the PEM holds no certificate.
 */
export async function fingerprintOf(
  cert: string | Uint8Array,
): Promise<string> {
  let der: Uint8Array;
  if (typeof cert === "string") {
    const blocks = pemBlocks(cert, "CERTIFICATE");
    if (blocks.length === 0) {
      throw new TypeError(
        "Expected a PEM with a CERTIFICATE block, received none",
      );
    }
    der = blocks[0];
  } else {
    der = cert;
  }
  const digest = await crypto.subtle.digest(
    "SHA-256",
    der as Uint8Array<ArrayBuffer>,
  );
  return toHex(new Uint8Array(digest));
}

/**
 * Normalizes a fingerprint as operators write it (`AB:CD:…` or `abcd…`) to
 * lowercase hex without separators.
 *
 * @example Usage
 * ```ts
 * import { normalizeFingerprint } from "./cert.ts";
 * normalizeFingerprint("AB:cd"); // throws: not 64 hex digits
 * ```
 *
 * @param fp The fingerprint.
 * @returns 64 lowercase hex digits.
 * @throws {TypeError} When it is not a SHA-256 fingerprint.
 */
export function normalizeFingerprint(fp: string): string {
  const hex = fp.replace(/[:\s]/g, "").toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new TypeError(
      `Expected a SHA-256 fingerprint (64 hex digits, colons allowed), received ${
        JSON.stringify(fp)
      }`,
    );
  }
  return hex;
}

/**
 * Makes a self-signed ECDSA P-256 end-entity certificate (CA:false, server
 * authentication, subjectAltName) and its key (about 20 ms).
 *
 * @example Usage
 * ```ts
 * import { generateSelfSigned } from "./cert.ts";
 * const { certPem, keyPem, fingerprint } = await generateSelfSigned();
 * ```
 *
 * @param opts Common name, subjectAltNames and validity.
 * @returns PEM certificate, PEM PKCS#8 key and SHA-256 fingerprint.
 */
export async function generateSelfSigned(
  opts: SelfSignedOptions = {},
): Promise<CertificateBundle> {
  const keys = await crypto.subtle.generateKey(EC_ALG, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const altNames = opts.altNames ?? DEFAULT_ALT_NAMES;
  // Loaded here, not at start-up: the package and its ASN.1 dependencies
  // hold ~20 MiB of heap, and only a cloud's first start makes a certificate.
  const x509 = await import("@peculiar/x509");
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(
    Date.now() + (opts.days ?? 3650) * 24 * 3600 * 1000,
  );
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${opts.commonName ?? "flvcast"}`,
    notBefore,
    notAfter,
    signingAlgorithm: EC_ALG,
    keys,
    extensions: [
      // An end-entity certificate (CA:false): a pinning client puts the
      // certificate itself among its trust anchors, and rustls/webpki refuse
      // a CA certificate presented as a server's ("CaUsedAsEndEntity").
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      // quiche sets the dialled host as the TLS host name even when it is an
      // IP literal, and BoringSSL then matches it against dNSName entries:
      // IP literals go in both as iPAddress and as dNSName.
      new x509.SubjectAlternativeNameExtension(
        altNames.flatMap((n) =>
          /^[\d.]+$|:/.test(n)
            ? [{ type: "ip" as const, value: n }, {
              type: "dns" as const,
              value: n,
            }]
            : [{ type: "dns" as const, value: n }]
        ),
      ),
    ],
  }, crypto);
  const der = new Uint8Array(cert.rawData);
  const pkcs8 = new Uint8Array(
    await crypto.subtle.exportKey("pkcs8", keys.privateKey),
  );
  return {
    certPem: toPem("CERTIFICATE", der),
    keyPem: toPem("PRIVATE KEY", pkcs8),
    fingerprint: await fingerprintOf(der),
  };
}

/**
 * Reads a PEM certificate (chain) and private key from files, checks that
 * they hold what they should, and fingerprints the leaf.
 *
 * @example Usage
 * ```ts ignore
 * import { loadCertificate } from "./cert.ts";
 * const tls = await loadCertificate({ certFile: "cert.pem", keyFile: "key.pem" });
 * ```
 *
 * @param opts Paths of the certificate and key files.
 * @returns The bundle.
 * @throws {TypeError} When a file lacks a CERTIFICATE or PRIVATE KEY block.
 */
export async function loadCertificate(
  opts: { certFile: string; keyFile: string },
): Promise<CertificateBundle> {
  const [certPem, keyPem] = await Promise.all([
    Deno.readTextFile(opts.certFile),
    Deno.readTextFile(opts.keyFile),
  ]);
  if (!/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(keyPem)) {
    throw new TypeError(
      `Expected a PEM PRIVATE KEY block in ${opts.keyFile}, found none`,
    );
  }
  let fingerprint: string;
  try {
    fingerprint = await fingerprintOf(certPem);
  } catch (e) {
    throw new TypeError(
      `Expected a PEM CERTIFICATE block in ${opts.certFile}: ${
        (e as Error).message
      }`,
    );
  }
  return { certPem, keyPem, fingerprint };
}

/** A certificate a client trusts by itself, and the name to ask it for. */
export interface PinTarget {
  /** The certificate in PEM (a trust root of exactly this certificate). */
  certPem: string;
  /** A name in its subjectAltName to verify it against. */
  serverName: string;
}

/**
 * Prepares "trust exactly this certificate" for a client that only takes
 * trust roots (Deno's QUIC): the certificate becomes the root and one of its
 * own subjectAltNames (preferably {@linkcode RTX_SERVER_NAME}) the server
 * name.
 *
 * @example Usage
 * ```ts
 * import { generateSelfSigned, pemBlocks, pinTarget } from "./cert.ts";
 * const { certPem } = await generateSelfSigned();
 * pinTarget(pemBlocks(certPem, "CERTIFICATE")[0]).serverName; // "flvcast-rtx"
 * ```
 *
 * @param der The server's certificate (DER).
 * @returns PEM and server name.
 * @throws {TypeError} When the certificate is a CA (`CA:TRUE`: such a
 *   certificate cannot also be trusted as the server's own) or names nothing.
 */
export function pinTarget(der: Uint8Array): PinTarget {
  const cert = new X509Certificate(der);
  if (cert.ca) {
    throw new TypeError(
      "Expected the cloud's QUIC certificate to be an end-entity certificate, received a CA certificate (basicConstraints CA:TRUE): Deno's QUIC client cannot pin it. Let the cloud make its own (empty quic_cert), issue one with CA:FALSE, or set quic_impl: matrixai on the edge",
    );
  }
  // node:crypto spells subjectAltName "DNS:a, IP Address:127.0.0.1, …".
  const names = (cert.subjectAltName ?? "").split(", ").filter(Boolean);
  const dns = names.filter((n) => n.startsWith("DNS:")).map((n) => n.slice(4));
  const ips = names.filter((n) => n.startsWith("IP Address:")).map((n) =>
    n.slice(11)
  );
  const serverName = dns.includes(RTX_SERVER_NAME)
    ? RTX_SERVER_NAME
    : dns[0] ?? ips[0];
  if (!serverName) {
    throw new TypeError(
      "Expected a subjectAltName (DNS name or IP address) in the cloud's QUIC certificate, received none",
    );
  }
  return { certPem: toPem("CERTIFICATE", der), serverName };
}
