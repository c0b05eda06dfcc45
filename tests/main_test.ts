/** The command line as an operator meets it: help, version, bad config, busy port. */
import { equal, match, ok } from "node:assert/strict";
import { VERSION } from "../lib/version/mod.ts";

async function flvcast(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-net",
      new URL("../main.ts", import.meta.url).pathname,
      ...args,
    ],
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

Deno.test("--version and --help", async () => {
  const v = await flvcast(["--version"]);
  equal(v.code, 0);
  equal(v.stdout.trim(), `flvcast ${VERSION}`);
  const h = await flvcast(["--help"]);
  equal(h.code, 0);
  match(h.stdout, /--edge\.latency_ms/);
  match(h.stdout, /--rtp_cache_size/);
});

Deno.test("a bad config line stops startup with one line naming key and file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/bad.yaml`, "rtp_port: many\n");
    const r = await flvcast(["cloud", "--config", `${dir}/bad.yaml`]);
    equal(r.code, 2);
    equal(r.stderr.trim().split("\n").length, 1);
    match(
      r.stderr,
      /bad\.yaml: key "rtp_port": expected an integer 0\.\.65535, got "many"/,
    );
    const f = await flvcast([
      "cloud",
      "--config",
      `${dir}/bad.yaml`,
      "--nope=3",
    ]);
    equal(f.code, 2);
    const m = await flvcast([
      "cloud",
      "--quic_secret=s",
      "--quic_cert",
      `${dir}/missing.pem`,
      "--quic_key",
      `${dir}/k.pem`,
    ]);
    equal(m.code, 2);
    match(m.stderr, /key "quic_cert": expected a readable PEM file/);
    await Deno.writeTextFile(`${dir}/junk.pem`, "not a certificate\n");
    const j = await flvcast([
      "cloud",
      "--quic_secret=s",
      "--quic_cert",
      `${dir}/junk.pem`,
      "--quic_key",
      `${dir}/junk.pem`,
      "--rtmp_addr=127.0.0.1:0",
      "--api_addr=127.0.0.1:0",
      "--quic_addr=127.0.0.1:0",
      "--rtp_port=0",
    ]);
    equal(j.code, 2);
    match(j.stderr, /key "quic_cert": expected a PEM certificate/);
    const g = await flvcast(["cloud", `--config=${dir}/missing.yaml`]);
    equal(g.code, 2);
    match(g.stderr, /missing\.yaml: expected a readable YAML config file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a port in use stops startup naming the key", async () => {
  using busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = busy.addr.port;
  const dir = await Deno.makeTempDir();
  const r = await flvcast([
    "cloud",
    "--quic_secret=s",
    `--state_dir=${dir}`,
    "--rtmp_addr",
    `127.0.0.1:${port}`,
    "--api_addr=127.0.0.1:0",
    "--quic_addr=127.0.0.1:0",
    "--rtp_port=0",
  ]);
  equal(r.code, 2);
  match(
    r.stderr,
    new RegExp(
      `rtmp_addr: expected a free address to listen on, got 127\\.0\\.0\\.1:${port}: address already in use`,
    ),
  );
  ok(!r.stderr.includes("    at "), "no stack trace for an operator error");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("cloud and edge roles refuse an empty quic_secret with exit 2", async () => {
  for (const role of ["cloud", "edge"]) {
    const r = await flvcast([role, "--edge.cloud_quic_addr=127.0.0.1:4242"]);
    equal(r.code, 2, r.stderr);
    equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    match(
      r.stderr,
      new RegExp(
        `^flvcast: key "quic_secret": expected a shared secret in the ${role} role \\(or allow_insecure_repair: true\\), got ""`,
      ),
    );
  }
});

Deno.test("auth.publish or auth.play without auth.secret is refused naming auth.secret", async () => {
  for (const key of ["auth.publish", "auth.play"]) {
    const r = await flvcast([`--${key}=true`]);
    equal(r.code, 2, r.stderr);
    match(
      r.stderr,
      /key "auth\.secret": expected a signing secret when auth\.publish or auth\.play is true, got ""/,
    );
  }
});

Deno.test("an edge without edge.cloud_quic_addr refuses to start", async () => {
  const r = await flvcast(["edge", "--quic_secret=s"]);
  equal(r.code, 2, r.stderr);
  equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  match(
    r.stderr,
    /key "edge\.cloud_quic_addr": expected the cloud's QUIC host:port in the edge role, got ""/,
  );
});

Deno.test("an edge without a way to verify the cloud refuses to start", async () => {
  const r = await flvcast([
    "edge",
    "--quic_secret=s",
    "--edge.cloud_quic_addr=127.0.0.1:4242",
    "--edge.udp_addr=127.0.0.1:0",
    "--edge.flv_addr=127.0.0.1:0",
    "--edge.api_addr=127.0.0.1:0",
  ]);
  equal(r.code, 2);
  match(r.stderr, /edge\.cloud_fingerprint/);
});
