// TLS with real clients: ffmpeg publishes and plays back over RTMPS; the
// RTMPS certificate is replaced (SIGHUP's path) while a publisher is live
// and keeps publishing; headless Chromium plays the edge page over https://
// with HTTP-FLV and WSS-FLV, the page's `sign` passed through to the player.
import { equal, ok, rejects } from "node:assert/strict";
import { chromium } from "playwright-core";
import { makeSign } from "../lib/auth/mod.ts";
import { generateSelfSigned } from "../lib/quic/mod.ts";
import { probe, publishLavfi, recordFlv } from "../testkit/media.ts";
import { startCloudAndEdge } from "./support/nodes.ts";
import { until } from "../testkit/poll.ts";

const CHROMIUM = Deno.env.get("CHROMIUM_BIN") ?? "/usr/bin/chromium";
const local = { hostname: "127.0.0.1", port: 0 };

/** Opens a TLS connection trusting only `caPem`; resolves when it handshakes. */
async function handshake(port: number, caPem: string): Promise<void> {
  const c = await Deno.connectTls({
    hostname: "127.0.0.1",
    port,
    caCerts: [caPem],
  });
  try {
    await c.handshake();
  } finally {
    c.close();
  }
}

Deno.test("RTMPS: ffmpeg publishes and plays back over TLS; a certificate reload keeps the live publisher and serves the new certificate", async () => {
  const dir = await Deno.makeTempDir();
  const first = await generateSelfSigned();
  const second = await generateSelfSigned();
  const nodes = await startCloudAndEdge({
    recordDir: dir,
    cloud: { rtmps: { address: local, ...first } },
  });
  const port = nodes.cloud.ports.rtmps;
  try {
    ok(port > 0);
    await handshake(port, first.certPem);
    const key = "live/tls";
    await using pub = publishLavfi({
      url: `rtmps://127.0.0.1:${port}/${key}`,
      seconds: 8,
    });
    await until(
      () => nodes.cloud.streams.has(key),
      "RTMPS publish live",
      10_000,
      50,
    );
    const out = `${dir}/back.flv`;
    await using back = recordFlv(`rtmps://127.0.0.1:${port}/${key}`, out, 2);
    equal((await back.done).code, 0);
    const p = await probe(out);
    ok(p.videoFrames > 10, `frames played back over RTMPS: ${p.videoFrames}`);
    equal(p.errors.length, 0, p.errors.join("\n"));
    // Reload while the publisher is live: it goes on, new connections get
    // the new certificate, the old one is no longer presented.
    const tagsBefore = nodes.cloud.streams.get(key)!.info().tags_in;
    await nodes.cloud.reloadTls(second.certPem, second.keyPem);
    equal(nodes.cloud.ports.rtmps, port, "same port after reload");
    await handshake(port, second.certPem);
    await rejects(handshake(port, first.certPem));
    await until(
      () =>
        (nodes.cloud.streams.get(key)?.info().tags_in ?? 0) > tagsBefore + 25,
      "the live publisher kept publishing across the reload",
      10_000,
      50,
    );
    equal((await pub.done).code, 0, "the RTMPS publisher ended cleanly");
    // A bad pair is refused and the listener stays.
    await rejects(nodes.cloud.reloadTls("not a pem", "not a key"));
    await handshake(port, second.certPem);
  } finally {
    await nodes.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "HTTPS/WSS: Chromium plays the edge page over https:// with HTTP-FLV and WSS-FLV, signed",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const present = await Deno.stat(CHROMIUM).then(() => true, () => false);
    if (!present) {
      const msg = `security_tls_test: SKIPPED: no Chromium at ${CHROMIUM}`;
      console.warn(msg);
      if (Deno.env.get("CI") === "true") throw new Error(msg);
      return;
    }
    const dir = await Deno.makeTempDir();
    const cert = await generateSelfSigned();
    const auth = { secret: "s3cret", publish: false, play: true };
    const nodes = await startCloudAndEdge({
      recordDir: dir,
      dialCloudAtStart: true,
      edge: { https: { address: local, ...cert }, auth },
    });
    const key = "live/secure";
    const sign = makeSign(
      key,
      Math.floor(Date.now() / 1000) + 3600,
      auth.secret,
    );
    const origin = `https://127.0.0.1:${nodes.edge.ports.https}`;
    const profile = await Deno.makeTempDir();
    let context:
      | Awaited<ReturnType<typeof chromium.launchPersistentContext>>
      | undefined;
    await using pub = publishLavfi({
      url: `rtmp://127.0.0.1:${nodes.cloud.ports.rtmp}/${key}`,
      seconds: 120,
      size: "640x360",
    });
    try {
      await until(
        () =>
          nodes.edge.streams().some((s) => s.key === key && s.tags_out > 50),
        "stream at the edge",
        20_000,
        50,
      );
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        ignoreHTTPSErrors: true,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--ignore-certificate-errors",
          "--no-first-run",
          "--autoplay-policy=no-user-gesture-required",
        ],
      });
      const page = context.pages()[0] ?? await context.newPage();
      const flvRequests: string[] = [];
      page.on("request", (r) => {
        if (r.url().includes(".flv")) flvRequests.push(r.url());
      });
      const sockets: string[] = [];
      page.on("websocket", (ws) => sockets.push(ws.url()));
      const time = () =>
        page.evaluate(() => // deno-lint-ignore no-explicit-any
        ((globalThis as any).document.getElementById("video")
          .currentTime as number)
        );
      const plays = async (what: string) => {
        let t0 = 0;
        await until(
          async () => (t0 = await time()) > 0.2,
          `${what}: playback starts`,
          30_000,
          50,
        );
        await until(
          async () => (await time()) > t0 + 2,
          `${what}: 2 s more played`,
          30_000,
          50,
        );
      };
      await page.goto(
        `${origin}/?stream=${encodeURIComponent(key)}&sign=${sign}`,
      );
      await plays("https http-flv");
      ok(
        flvRequests.some((u) =>
          u.startsWith(`${origin}/${key}.flv?sign=${sign}`)
        ),
        `signed HTTPS FLV request: ${flvRequests}`,
      );
      await page.click("#transport-ws");
      await until(
        () =>
          sockets.some((u) =>
            u.startsWith("wss://") && u.includes(`sign=${sign}`)
          ),
        `a signed WSS connection (got ${sockets})`,
        20_000,
        50,
      );
      await plays("wss-flv");
      // Without the sign the same URL is refused.
      const res = await fetch(
        `http://127.0.0.1:${nodes.edge.ports.flv}/${key}.flv`,
      );
      equal(res.status, 403);
      await res.body?.cancel();
    } finally {
      await context?.close().catch(() => {});
      pub.kill();
      await nodes.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
