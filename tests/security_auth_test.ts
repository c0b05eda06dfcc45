// Signed URLs (node-media-server's scheme) with real clients: ffmpeg and
// GStreamer publish with and without `sign`, ffprobe plays the edge's
// HTTP-FLV with and without it; the api_token on both APIs; the startup
// warning about an open RTMP port without auth.publish.
import { deepEqual, equal, match, notEqual, ok } from "node:assert/strict";
import { checkSign, makeSign } from "../lib/auth/mod.ts";
import { PUBLIC_STREAM_FIELDS } from "../lib/edge/mod.ts";
import { probe, publishLavfi, recordFlv } from "../testkit/media.ts";
import type { CloudNodeOptions } from "../lib/cloud/mod.ts";
import { generateSelfSigned } from "../lib/quic/mod.ts";
import { captureLogger } from "./rtmp_helpers.ts";
import { RtmpClient } from "../testkit/rtmp_client.ts";
import { withCloudAndEdge } from "./support/nodes.ts";
import { until } from "../testkit/poll.ts";

const SECRET = "s3cret";
const AUTH = { secret: SECRET, publish: true, play: true };
const future = () => Math.floor(Date.now() / 1000) + 3600;

/** The HTTP status a WebSocket upgrade of `path` gets. */
async function upgradeStatus(port: number, path: string): Promise<number> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await c.write(new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        "Sec-WebSocket-Version: 13\r\n\r\n",
    ));
    const buf = new Uint8Array(64);
    const n = await c.read(buf);
    const line = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(line)?.[1] ?? 0);
  } finally {
    c.close();
  }
}

Deno.test("sign: node-media-server's hash, expiry and malformed values", () => {
  // md5("/live/movie-1767225600-s3cret"), as NMS computes it.
  const sign = makeSign("live/movie", 1767225600, SECRET);
  // printf '%s' /live/movie-1767225600-s3cret | md5sum
  equal(sign, "1767225600-c49e7a17e8e6051e3948adaf8a54173d");
  const now = 1767225000;
  const check = (query: string, key = "live/movie") =>
    checkSign({ key, query, secret: SECRET, nowSec: now });
  equal(check(`sign=${sign}`), undefined);
  equal(check(`?a=1&sign=${sign}`), undefined);
  equal(check(""), "missing sign");
  equal(check(`sign=${sign}`, "live/other"), "wrong sign");
  equal(
    checkSign({
      key: "live/movie",
      query: `sign=${sign}`,
      secret: SECRET,
      nowSec: 1767225601,
    }),
    "sign expired",
  );
  match(check("sign=abc") ?? "", /^malformed sign/);
  match(check(`sign=${sign.toUpperCase()}`) ?? "", /^malformed sign/);
});

Deno.test("auth.publish / auth.play: ffmpeg and GStreamer publish only when signed; the edge answers 403 without sign and decodes with it", async () => {
  await withCloudAndEdge({
    cloud: { auth: AUTH },
    edge: { auth: AUTH },
  }, async (nodes) => {
    const rtmp = `rtmp://127.0.0.1:${nodes.cloud.ports.rtmp}`;
    // Refused: no sign, expired, wrong, signed for another key.
    const bad = {
      nosign: "",
      expired: `?sign=${makeSign("live/expired", 1000, SECRET)}`,
      wrong: `?sign=${makeSign("live/wrong", future(), "not-the-secret")}`,
      other: `?sign=${makeSign("live/somethingelse", future(), SECRET)}`,
    };
    for (const [name, q] of Object.entries(bad)) {
      const key = name === "expired" || name === "wrong" ? name : name;
      await using ff = publishLavfi({
        url: `${rtmp}/live/${key}${q}`,
        seconds: 2,
        realtime: false,
      });
      const r = await ff.done;
      notEqual(r.code, 0, `${name}: ffmpeg should fail`);
      equal(nodes.cloud.streams.has(`live/${key}`), false, name);
    }
    // The status a refused publish gets, as a raw client sees it.
    const raw = await RtmpClient.open(nodes.cloud.ports.rtmp);
    try {
      await raw.handshake();
      equal(await raw.publish("live", "raw"), "NetStream.Publish.BadName");
    } finally {
      raw.close();
    }
    const refusals = () => nodes.cloud.refusals.count("publish_auth");
    equal(refusals(), 5);

    // Accepted: a valid sign; the key has no query string.
    const key = "live/movie";
    await using pub = publishLavfi({
      url: `${rtmp}/${key}?sign=${makeSign(key, future(), SECRET)}`,
      seconds: 6,
    });
    await until(
      () => nodes.edge.streams().some((s) => s.key === key),
      "stream at edge",
      10_000,
      50,
    );
    ok(nodes.cloud.streams.has(key));
    // The player port's public list: a viewer's fields only — no publisher
    // address, SSRC, repair/SRTP state or recording path.
    const publicList = async () =>
      await (await fetch(
        `http://127.0.0.1:${nodes.edge.ports.flv}/api/streams`,
      )).json();
    // It names the codecs once the first video and audio tags arrived.
    let list = await publicList();
    await until(
      async () => {
        list = await publicList();
        const s = list.streams.find((s: { key: string }) => s.key === key);
        return s?.video_codec === "avc" && s?.audio_codec === "aac";
      },
      "avc and aac named in the public list",
      10_000,
      50,
    );
    const shown = list.streams.find((s: { key: string }) => s.key === key);
    deepEqual(Object.keys(shown).sort(), [...PUBLIC_STREAM_FIELDS].sort());
    const ops = nodes.edge.streams().find((s) => s.key === key)!;
    ok(
      !JSON.stringify(list).includes(ops.source),
      "no publisher/source address",
    );
    const flv = `http://127.0.0.1:${nodes.edge.ports.flv}/${key}.flv`;
    // Play without sign, with a wrong one: 403 and nothing streamed.
    for (const q of ["", `?sign=${makeSign(key, future(), "nope")}`]) {
      const res = await fetch(flv + q);
      equal(res.status, 403);
      match(await res.text(), /play refused: (missing|wrong) sign/);
    }
    // WebSocket-FLV without sign: 403 before any upgrade.
    equal(await upgradeStatus(nodes.edge.ports.flv, `/${key}.flv`), 403);
    const denied = await probe(flv);
    equal(denied.videoFrames, 0);
    ok(denied.errors.some((l) => /403/.test(l)), denied.errors.join("\n"));
    // With sign: decodes with no errors.
    const played = await probe(
      `${flv}?sign=${makeSign(key, future(), SECRET)}`,
    );
    ok(played.videoFrames > 25, `frames ${played.videoFrames}`);
    equal(played.errors.length, 0, played.errors.join("\n"));
    equal((await pub.done).code, 0);

    // GStreamer rtmp2sink with a signed location.
    const gkey = "live/gst";
    const gst = new Deno.Command("gst-launch-1.0", {
      args:
        `-q videotestsrc num-buffers=75 is-live=true ! x264enc tune=zerolatency key-int-max=25 ! h264parse ! flvmux streamable=true ! rtmp2sink location=${rtmp}/${gkey}?sign=${
          makeSign(gkey, future(), SECRET)
        }`.split(" "),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let seen = false;
    const watch = setInterval(() => {
      if (nodes.cloud.streams.has(gkey)) seen = true;
    }, 20);
    const out = await gst.output();
    clearInterval(watch);
    equal(out.code, 0, new TextDecoder().decode(out.stderr));
    ok(seen, "the signed GStreamer publish was live");
    equal(refusals(), 5);
  });
});

Deno.test("auth.play: RTMP play from the cloud needs a sign too", async () => {
  await withCloudAndEdge({
    cloud: { auth: AUTH },
  }, async (nodes, dir) => {
    const rtmp = `rtmp://127.0.0.1:${nodes.cloud.ports.rtmp}`;
    const key = "live/rtmpplay";
    await using pub = publishLavfi({
      url: `${rtmp}/${key}?sign=${makeSign(key, future(), SECRET)}`,
      seconds: 8,
    });
    await until(() => nodes.cloud.streams.has(key), "published", 10_000, 50);
    const out = `${dir}/out.flv`;
    {
      await using denied = recordFlv(`${rtmp}/${key}`, `${dir}/no.flv`, 1);
      notEqual((await denied.done).code, 0);
    }
    await using ok_ = recordFlv(
      `${rtmp}/${key}?sign=${makeSign(key, future(), SECRET)}`,
      out,
      2,
    );
    equal((await ok_.done).code, 0);
    const p = await probe(out);
    ok(p.videoFrames > 10, `frames ${p.videoFrames}`);
    pub.kill();
  });
});

Deno.test("api_token: 401 without the bearer token, 200 with it, /healthz open, no CORS on the ops APIs", async () => {
  await withCloudAndEdge({
    cloud: { apiToken: "t0ken" },
    edge: { apiToken: "t0ken" },
  }, async (nodes) => {
    for (const port of [nodes.cloud.ports.api, nodes.edge.ports.api]) {
      const base = `http://127.0.0.1:${port}`;
      for (
        const path of [
          "/api/streams",
          "/api/node",
          "/metrics",
          ...(port === nodes.cloud.ports.api
            ? ["/stat/livestat", "/api/history"]
            : []),
        ]
      ) {
        const no = await fetch(base + path);
        equal(no.status, 401, path);
        equal(no.headers.get("www-authenticate"), 'Bearer realm="flvcast"');
        await no.body?.cancel();
        const wrong = await fetch(base + path, {
          headers: { authorization: "Bearer t0keN" },
        });
        equal(wrong.status, 401, path);
        await wrong.body?.cancel();
        const yes = await fetch(base + path, {
          headers: { authorization: "Bearer t0ken" },
        });
        equal(yes.status, 200, path);
        equal(yes.headers.get("access-control-allow-origin"), null, path);
        await yes.body?.cancel();
      }
      const h = await fetch(base + "/healthz");
      equal(h.status, 200);
      await h.body?.cancel();
    }
    // The player port's public list stays open to players (CORS *).
    const res = await fetch(
      `http://127.0.0.1:${nodes.edge.ports.flv}/api/streams`,
    );
    equal(res.status, 200);
    equal(res.headers.get("access-control-allow-origin"), "*");
    await res.body?.cancel();
  });
});

Deno.test("startup warns once when RTMP or RTMPS listens on a non-loopback address with auth.publish off, never otherwise", async () => {
  const cert = await generateSelfSigned();
  const warned = async (
    cloud: Partial<CloudNodeOptions>,
  ): Promise<string[]> => {
    const log = captureLogger();
    await withCloudAndEdge(
      { cloud: { logger: log, ...cloud } },
      () => Promise.resolve(),
    );
    return log.lines.filter((l) => l.includes("non-loopback"));
  };
  const any = { hostname: "0.0.0.0", port: 0 };
  const loop = { hostname: "127.0.0.1", port: 0 };
  const rtmps = { address: any, ...cert };
  equal((await warned({ rtmp: any })).length, 1, "RTMP on 0.0.0.0");
  const both = await warned({ rtmp: any, rtmps });
  equal(both.length, 1, "RTMP and RTMPS on 0.0.0.0: one line");
  match(both[0], /^warn .*0\.0\.0\.0:\d+,0\.0\.0\.0:\d+/);
  equal((await warned({ rtmp: loop, rtmps })).length, 1, "RTMPS on 0.0.0.0");
  equal((await warned({ rtmp: any, rtmps, auth: AUTH })).length, 0, "signed");
  equal((await warned({ rtmp: loop })).length, 0, "loopback");
});
