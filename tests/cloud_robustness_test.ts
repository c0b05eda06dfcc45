/** Cloud node: a hostile publisher gets a clear refusal and nothing else breaks. */
import { equal, ok } from "node:assert/strict";
import { RtmpClient } from "../testkit/rtmp_client.ts";
import { until } from "../testkit/poll.ts";
import { startTestCloud } from "./support/nodes.ts";

Deno.test("cloud: a stream key too long for RTCP SDES is refused; the node goes on", async () => {
  const cloud = await startTestCloud({
    destinationPort: 9,
    cloud: { cachePackets: 100, cacheBytes: 1 << 20, debug: true },
  });
  try {
    const bad = await RtmpClient.open(cloud.ports.rtmp);
    await bad.handshake();
    equal(
      await bad.publish("live", "x".repeat(300)),
      "NetStream.Publish.BadName",
    );
    ok(await bad.closedByServer());
    bad.close();
    equal(cloud.streams.size, 0);
    // The once-a-second report runs over the live streams: still fine after it.
    const good = await RtmpClient.open(cloud.ports.rtmp);
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
