// Operator certificates replaced on SIGHUP without dropping anyone:
// flvcast (main.ts, cloud + edge) with `tls_cert`/`tls_key` (RTMPS) and
// `edge.tls_cert`/`edge.tls_key` (HTTPS/WSS) from files. While ffmpeg
// publishes over RTMPS and three players play — ffmpeg over RTMPS, an
// HTTP-FLV and a WSS-FLV client over TLS — the files are replaced and the
// process gets SIGHUP: every new connection on both ports presents the new
// certificate (its SHA-256 fingerprint read from the handshake), only one
// listener is left on each port, and the publisher and all three players
// go on past the connection guard's sweep (which ends an idle connection
// opened after the reload). A bad file on the
// next SIGHUP is logged and the certificate stays.
import { deepEqual, equal, ok } from "node:assert/strict";
import tls from "node:tls";
import { generateSelfSigned } from "../lib/quic/mod.ts";
import { ffmpeg, probe, publishLavfi } from "../testkit/media.ts";
import { until } from "../testkit/poll.ts";
import { Flvcast } from "./support/flvcast_process.ts";
import { freePortFlags, freeUdpPort } from "./support/nodes.ts";

/** The SHA-256 fingerprint (lowercase hex) of the certificate `port` presents. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: "127.0.0.1",
      port,
      rejectUnauthorized: false,
    });
    s.once("secureConnect", () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp.replaceAll(":", "").toLowerCase());
    });
    s.once("error", reject);
  });
}

/** How many sockets listen on `port` (the kernel's tables). */
function listenersOn(port: number): number {
  let n = 0;
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of Deno.readTextFileSync(f).split("\n").slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length > 3 && c[3] === "0A" && c[1].endsWith(`:${hex4(port)}`)) {
        n++;
      }
    }
  }
  return n;
}

function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, "0");
}

/** A player on a raw TLS connection that trusts only `caPem`. */
interface TlsPlayer {
  /** Media bytes received so far (FLV body, or WebSocket payloads). */
  bytes(): number;
  /** Why it ended, once it has ("" while it plays). */
  ended(): string;
  close(): void;
}

/**
 * Plays `path` over HTTPS (HTTP-FLV) or WSS (WebSocket-FLV, answering
 * pings) on a raw TLS connection, counting what arrives.
 */
async function tlsPlayer(
  port: number,
  caPem: string,
  path: string,
  ws: boolean,
): Promise<TlsPlayer> {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port,
    caCerts: [caPem],
  });
  const head = ws
    ? "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    : "";
  await conn.write(
    new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${head}\r\n`,
    ),
  );
  let media = 0;
  let why = "";
  let buf = new Uint8Array(0);
  let headerDone = false;
  const loop = (async () => {
    const chunk = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(chunk);
      if (n === null) return "closed by the server";
      const next = new Uint8Array(buf.length + n);
      next.set(buf);
      next.set(chunk.subarray(0, n), buf.length);
      buf = next;
      if (!headerDone) {
        const text = new TextDecoder().decode(buf.subarray(0, 1024));
        const end = text.indexOf("\r\n\r\n");
        if (end < 0) continue;
        const status = text.slice(0, text.indexOf("\r\n"));
        const want = ws ? " 101 " : " 200 ";
        if (!status.includes(want)) return `answered ${status}`;
        headerDone = true;
        buf = buf.subarray(end + 4);
      }
      if (!ws) {
        media += buf.length;
        buf = new Uint8Array(0);
        continue;
      }
      // Server frames: unmasked; answer a ping with a (masked) pong.
      while (buf.length >= 2) {
        const op = buf[0] & 0x0f;
        let len = buf[1] & 0x7f;
        let at = 2;
        if (len === 126) {
          if (buf.length < 4) break;
          len = (buf[2] << 8) | buf[3];
          at = 4;
        } else if (len === 127) {
          if (buf.length < 10) break;
          len = Number(
            new DataView(buf.buffer, buf.byteOffset).getBigUint64(2),
          );
          at = 10;
        }
        if (buf.length < at + len) break;
        const payload = buf.subarray(at, at + len);
        if (op === 0x2) media += len;
        if (op === 0x8) return "websocket closed by the server";
        if (op === 0x9 && len <= 125) {
          const pong = new Uint8Array(6 + len);
          pong[0] = 0x8a;
          pong[1] = 0x80 | len; // mask key 0: payload unchanged
          pong.set(payload, 6);
          await conn.write(pong);
        }
        buf = buf.subarray(at + len);
      }
    }
  })().then((r) => why = r, (e) => why = `error: ${(e as Error).message}`);
  return {
    bytes: () => media,
    ended: () => why,
    close: () => {
      try {
        conn.close();
      } catch { /* closed */ }
      void loop;
    },
  };
}

async function writePair(
  dir: string,
  pair: { certPem: string; keyPem: string },
): Promise<void> {
  // Replaced as an operator's tooling does: written aside, renamed in.
  await Deno.writeTextFile(`${dir}/new.crt`, pair.certPem);
  await Deno.writeTextFile(`${dir}/new.key`, pair.keyPem);
  await Deno.rename(`${dir}/new.crt`, `${dir}/op.crt`);
  await Deno.rename(`${dir}/new.key`, `${dir}/op.key`);
}

Deno.test({
  name:
    "SIGHUP swaps operator certificates: new connections get the new one on RTMPS and HTTPS; a live RTMPS publisher and RTMPS, HTTPS-FLV and WSS-FLV players go on",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "flvcast_sighup_" });
    const first = await generateSelfSigned();
    const second = await generateSelfSigned();
    await writePair(dir, first);
    const app = new Flvcast([
      "--enable_log_file=false",
      `--state_dir=${dir}/state`,
      ...freePortFlags(freeUdpPort()),
      "--rtmps_addr=127.0.0.1:0",
      `--tls_cert=${dir}/op.crt`,
      `--tls_key=${dir}/op.key`,
      "--edge.https_addr=127.0.0.1:0",
      `--edge.tls_cert=${dir}/op.crt`,
      `--edge.tls_key=${dir}/op.key`,
    ], dir);
    const players: TlsPlayer[] = [];
    let pub: ReturnType<typeof publishLavfi> | undefined;
    let back: ReturnType<typeof ffmpeg> | undefined;
    try {
      const rtmps = Number(
        (await app.waitLine(/rtmps listening addr=[\d.]+:(\d+)/))[1],
      );
      const https = Number(
        (await app.waitLine(/https\/wss listening addr=[\d.]+:(\d+)/))[1],
      );
      const api = Number(
        (await app.waitLine(/cloud started rtmp=\d+ api=(\d+)/))[1],
      );
      await app.waitLine(/flvcast running/);
      equal(await servedFingerprint(rtmps), first.fingerprint);
      equal(await servedFingerprint(https), first.fingerprint);

      const key = "live/hup";
      pub = publishLavfi({
        url: `rtmps://127.0.0.1:${rtmps}/${key}`,
        seconds: 90,
      });
      const tagsIn = async () => {
        const doc = await (await fetch(`http://127.0.0.1:${api}/api/streams`))
          .json();
        return (doc.streams?.find((s: { key: string }) => s.key === key)
          ?.tags_in ?? 0) as number;
      };
      await until(
        async () => (await tagsIn()) > 50,
        "RTMPS publish",
        20_000,
        100,
      );
      // The stream at the edge: the HTTPS player answers 200 once it is.
      let flv: TlsPlayer | undefined;
      await until(
        async () => {
          flv?.close();
          flv = await tlsPlayer(https, first.certPem, `/${key}.flv`, false);
          await until(
            () => flv!.ended() !== "" || flv!.bytes() > 0,
            "an answer",
            5000,
            100,
          );
          return flv.ended() === "";
        },
        "the stream at the edge over HTTPS",
        20_000,
        100,
      );
      players.push(flv!);
      const wss = await tlsPlayer(https, first.certPem, `/${key}.flv`, true);
      players.push(wss);
      const out = `${dir}/rtmps_play.flv`;
      back = ffmpeg([
        "-i",
        `rtmps://127.0.0.1:${rtmps}/${key}`,
        "-c",
        "copy",
        "-f",
        "flv",
        "-flush_packets",
        "1",
        "-y",
        out,
      ]);
      const played = async () =>
        await Deno.stat(out).then((s) => s.size, () => 0);
      await until(
        async () =>
          flv!.bytes() > 50_000 && wss.bytes() > 50_000 &&
          (await played()) > 50_000,
        "all three players playing",
        20_000,
        100,
      );

      // Swap the files and signal.
      await writePair(dir, second);
      const reloads = app.lines.length;
      app.kill("SIGHUP");
      await until(
        () =>
          app.lines.slice(reloads).filter((l) =>
            l.includes("TLS certificate reloaded") &&
            l.includes(second.fingerprint)
          ).length === 2,
        `both certificates reloaded:\n${app.lines.slice(reloads).join("\n")}`,
        10_000,
        100,
      );
      const at = {
        flv: flv!.bytes(),
        wss: wss.bytes(),
        rtmps: await played(),
        tags: await tagsIn(),
      };
      // Every new connection, on both ports, gets the new certificate:
      // no connection is queued on an old listener.
      equal(listenersOn(rtmps), 1, "one RTMPS listener left");
      equal(listenersOn(https), 1, "one HTTPS listener left");
      for (let i = 0; i < 20; i++) {
        equal(await servedFingerprint(rtmps), second.fingerprint, "rtmps");
        equal(await servedFingerprint(https), second.fingerprint, "https");
      }
      // A new player over the new certificate plays too.
      const fresh = await tlsPlayer(
        https,
        second.certPem,
        `/${key}.flv`,
        false,
      );
      players.push(fresh);
      // Past the connection guard's sweep: a connection that sends no
      // request is ended after 10 s; the players, older, are not.
      const idle = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: https,
        caCerts: [second.certPem],
      });
      await idle.handshake();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idleEnded = await Promise.race([
        idle.read(new Uint8Array(16)).catch(() => null),
        new Promise<"timeout">((r) => timer = setTimeout(r, 20_000, "timeout")),
      ]);
      clearTimeout(timer);
      idle.close();
      equal(idleEnded, null, "the guard ended the idle connection (20 s)");
      const swept = await tagsIn();
      await until(
        async () => (await tagsIn()) > swept + 100,
        "more media after the sweep",
        10_000,
        100,
      );
      for (
        const [name, p] of [["https-flv", flv!], ["wss-flv", wss]] as const
      ) {
        equal(p.ended(), "", `${name} still playing`);
      }
      ok(
        flv!.bytes() > at.flv + 100_000,
        `https-flv: ${at.flv} → ${flv!.bytes()}`,
      );
      ok(wss.bytes() > at.wss + 100_000, `wss-flv: ${at.wss} → ${wss.bytes()}`);
      ok(
        (await played()) > at.rtmps + 100_000,
        `rtmps player: ${at.rtmps} → ${await played()}`,
      );
      ok(fresh.bytes() > 50_000, `new https player: ${fresh.bytes()}`);

      // A bad file: logged, the certificate stays.
      await Deno.writeTextFile(`${dir}/op.crt`, "not a certificate\n");
      const bad = app.lines.length;
      app.kill("SIGHUP");
      await until(
        () =>
          app.lines.slice(bad).filter((l) =>
            l.includes("TLS certificate not reloaded")
          ).length === 2,
        "bad certificate refused",
        10_000,
        100,
      );
      equal(await servedFingerprint(rtmps), second.fingerprint);
      equal(await servedFingerprint(https), second.fingerprint);
      equal(flv!.ended(), "", "https-flv still playing after a bad reload");

      back.kill();
      const p = await probe(out);
      ok(
        p.videoFrames > 250,
        `RTMPS player decoded ${p.videoFrames} frames`,
      );
    } finally {
      for (const p of players) p.close();
      back?.kill();
      pub?.kill();
      await back?.done;
      await pub?.done;
      app.kill("SIGKILL");
      await app.done;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "without PEM files RTMPS and HTTPS get self-signed certificates made once in state_dir (0600), fingerprints logged and served, the same after a restart",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "flvcast_selfsigned_" });
    const args = [
      "--enable_log_file=false",
      `--state_dir=${dir}/state`,
      ...freePortFlags(freeUdpPort()),
      "--rtmps_addr=127.0.0.1:0",
      "--edge.https_addr=127.0.0.1:0",
    ];
    const run = async (made: "made and kept in" | "loaded from") => {
      const app = new Flvcast(args, dir);
      try {
        const fp = async (name: string) =>
          (await app.waitLine(
            new RegExp(
              `${name} self-signed certificate ${made} state_dir fingerprint=([0-9a-f]{64})`,
            ),
          ))[1];
        const rtmpsFp = await fp("rtmps");
        const httpsFp = await fp("https");
        const rtmps = Number(
          (await app.waitLine(/rtmps listening addr=[\d.]+:(\d+)/))[1],
        );
        const https = Number(
          (await app.waitLine(/https\/wss listening addr=[\d.]+:(\d+)/))[1],
        );
        await app.waitLine(/flvcast running/);
        equal(await servedFingerprint(rtmps), rtmpsFp, "RTMPS serves it");
        equal(await servedFingerprint(https), httpsFp, "HTTPS serves it");
        app.kill("SIGTERM");
        equal((await app.done).code, 0);
        return [rtmpsFp, httpsFp];
      } finally {
        app.kill("SIGKILL");
        await app.done;
      }
    };
    try {
      const first = await run("made and kept in");
      for (const name of ["rtmps", "https"]) {
        const st = await Deno.stat(`${dir}/state/${name}.pem`);
        equal(st.mode! & 0o777, 0o600, `${name}.pem mode`);
      }
      deepEqual(await run("loaded from"), first, "the same after a restart");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
