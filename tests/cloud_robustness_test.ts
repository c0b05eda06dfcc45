/** Cloud node: a hostile publisher gets a clear refusal and nothing else breaks. */
import { equal, ok } from "node:assert/strict";
import { CloudNode } from "../lib/cloud/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { generateSelfSigned } from "../lib/quic/mod.ts";
import { TestClient } from "./rtmp_helpers.ts";
import { until } from "../testkit/poll.ts";

const local = { hostname: "127.0.0.1", port: 0 };

Deno.test("cloud: a stream key too long for RTCP SDES is refused; the node goes on", async () => {
  const tls = await generateSelfSigned();
  const cloud = new CloudNode({
    rtmp: local,
    api: local,
    quic: local,
    rtpLocal: local,
    destinations: [{ hostname: "127.0.0.1", port: 9 }],
    multicastTtl: 1,
    payloadSize: 1180,
    cachePackets: 100,
    cacheBytes: 1 << 20,
    debug: true,
    enableRecord: false,
    recordDir: "/nonexistent",
    quicSecret: "",
    tls,
    logger: nullLogger,
  });
  await cloud.start();
  try {
    const bad = await TestClient.open(cloud.ports.rtmp);
    await bad.handshake();
    equal(
      await bad.publish("live", "x".repeat(300)),
      "NetStream.Publish.BadName",
    );
    ok(await bad.closedByServer());
    bad.close();
    equal(cloud.streams.size, 0);
    // The once-a-second report runs over the live streams: still fine after it.
    const good = await TestClient.open(cloud.ports.rtmp);
    await good.handshake();
    equal(await good.publish("live", "ok"), "NetStream.Publish.Start");
    equal(cloud.streams.size, 1);
    const publishedAt = Date.now();
    await until(
      () => (cloud.history().updated_at ?? 0) >= publishedAt,
      "a report tick over the live stream",
      5000,
    );
    equal(cloud.streams.size, 1);
    good.close();
  } finally {
    await cloud.stop();
  }
});
