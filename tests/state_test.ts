/**
 * The state directory: a self-signed certificate made once, kept with a
 * private file mode, reused across restarts (the cloud's pin survives), an
 * end-entity certificate that a native QUIC client accepts as its pin.
 */
import { equal, notEqual, ok, rejects } from "node:assert/strict";
import * as x509 from "@peculiar/x509";
import { CertStoreError, loadOrCreateCertificate } from "../lib/state/mod.ts";
import { startNodes } from "../lib/app/mod.ts";
import { defaultConfig } from "../lib/config/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { pemBlocks } from "../lib/quic/mod.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "flvcast_state_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a certificate is made once, kept 0600, and loaded again", async () => {
  await withDir(async (root) => {
    const dir = `${root}/nested/state`;
    const a = await loadOrCreateCertificate({ dir, name: "quic" });
    equal(a.created, true);
    equal(a.path, `${dir}/quic.pem`);
    equal((await Deno.stat(a.path)).mode! & 0o777, 0o600);
    equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    const b = await loadOrCreateCertificate({ dir, name: "quic" });
    equal(b.created, false);
    equal(b.fingerprint, a.fingerprint);
    equal(b.certPem, a.certPem);
    equal(b.keyPem, a.keyPem);
    const other = await loadOrCreateCertificate({ dir, name: "https" });
    notEqual(other.fingerprint, a.fingerprint);
    // Loosened by hand: tightened again on load.
    await Deno.chmod(a.path, 0o644);
    await loadOrCreateCertificate({ dir, name: "quic" });
    equal((await Deno.stat(a.path)).mode! & 0o777, 0o600);
  });
});

Deno.test("concurrent first starts agree on one pair", async () => {
  await withDir(async (dir) => {
    const all = await Promise.all(
      Array.from(
        { length: 4 },
        () => loadOrCreateCertificate({ dir, name: "quic" }),
      ),
    );
    equal(all.filter((c) => c.created).length, 1);
    for (const c of all) equal(c.fingerprint, all[0].fingerprint);
    const entries = [];
    for await (const e of Deno.readDir(dir)) entries.push(e.name);
    equal(entries.join(","), "quic.pem", "no temporary file left");
  });
});

Deno.test("the certificate is an end-entity (CA:false) server certificate with a SAN", async () => {
  await withDir(async (dir) => {
    const c = await loadOrCreateCertificate({ dir, name: "quic" });
    const cert = new x509.X509Certificate(
      pemBlocks(c.certPem, "CERTIFICATE")[0] as Uint8Array<ArrayBuffer>,
    );
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    ok(bc, "basicConstraints present");
    equal(bc.ca, false);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    ok(san, "subjectAltName present");
    const names = san.names.items.map((n) => `${n.type}:${n.value}`);
    for (const n of ["dns:flvcast", "dns:localhost", "ip:127.0.0.1"]) {
      ok(names.includes(n), `SAN has ${n}: ${names.join(", ")}`);
    }
  });
});

Deno.test("native QUIC accepts the stored certificate as its pin", async () => {
  await withDir(async (dir) => {
    const c = await loadOrCreateCertificate({ dir, name: "quic" });
    const ep = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
    const listener = ep.listen({
      alpnProtocols: ["flvcast-test"],
      cert: c.certPem,
      key: c.keyPem,
    });
    const accepted = (async () => {
      for await (const inc of listener) return await inc.accept();
    })();
    const conn = await Deno.connectQuic({
      hostname: "127.0.0.1",
      port: ep.addr.port,
      alpnProtocols: ["flvcast-test"],
      caCerts: [c.certPem],
      serverName: "flvcast",
    });
    equal(conn.protocol, "flvcast-test");
    const server = await accepted;
    conn.close();
    server?.close();
    ep.close();
  });
});

Deno.test("a damaged or mismatched stored pair is refused naming the file", async () => {
  await withDir(async (dir) => {
    const a = await loadOrCreateCertificate({ dir, name: "a" });
    const b = await loadOrCreateCertificate({ dir, name: "b" });
    await Deno.writeTextFile(a.path, a.certPem + b.keyPem);
    await rejects(
      loadOrCreateCertificate({ dir, name: "a" }),
      (e) =>
        e instanceof CertStoreError &&
        e.message.includes(a.path) &&
        e.message.includes("the private key that matches it"),
    );
    await Deno.writeTextFile(a.path, a.certPem);
    await rejects(
      loadOrCreateCertificate({ dir, name: "a" }),
      /expected one CERTIFICATE and one PRIVATE KEY block, got 1 and 0/,
    );
  });
});

Deno.test("a cloud restarted with quic_cert empty keeps its fingerprint", async () => {
  await withDir(async (dir) => {
    const cfg = defaultConfig();
    Object.assign(cfg, {
      state_dir: `${dir}/state`,
      quic_secret: "s",
      rtmp_addr: "127.0.0.1:0",
      api_addr: "127.0.0.1:0",
      quic_addr: "127.0.0.1:0",
      rtp_port: 0,
      record_dir: `${dir}/record`,
    });
    const fingerprints = [];
    for (let i = 0; i < 2; i++) {
      const nodes = await startNodes(cfg, "cloud", nullLogger);
      try {
        fingerprints.push(nodes.cloud!.fingerprint);
      } finally {
        await nodes.stop();
      }
    }
    equal(fingerprints[0].length, 64);
    equal(fingerprints[1], fingerprints[0]);
    const stored = await loadOrCreateCertificate({
      dir: cfg.state_dir,
      name: "quic",
    });
    equal(stored.fingerprint, fingerprints[0]);
  });
});
