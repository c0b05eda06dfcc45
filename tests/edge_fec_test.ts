/**
 * FEC on real nodes (loopback): the cloud sends one XOR parity packet per 4
 * RTP packets (`fecBlock: 4`), the edge drops 5 % of its input at random and
 * cannot repair by NACK, so every packet it recovers comes from parity, with
 * no round trip. Plain RTP: the edge has NO working repair link (its QUIC
 * address is a dead port). SRTP (the default): the edge needs the link for
 * `KEYS`, and the cloud's cache holds one packet, so NACKs are answered
 * NAVL; parity travels as its own SRTP stream, authenticates (no failure
 * counted anywhere) and rebuilds packets. (A gap NACKed before the stream's
 * first parity arrived may be rebuilt after its NAVL: then FEC counts it,
 * the stream does not, so the two counts are not compared there.)
 */
import { equal, ok } from "node:assert/strict";
import { until } from "./edge_support.ts";
import { HttpPlayer } from "./http_support.ts";
import { freeUdpPort } from "./support/nodes.ts";
import { publishLavfi } from "../testkit/media.ts";
import { startCloudAndEdge } from "./support/nodes.ts";
import { readFlv, recordingOf, tagKeys } from "./support/flv_compare.ts";

const KEY = "live/fec";

for (const srtp of [false, true]) {
  Deno.test(`fec e2e${srtp ? " with SRTP (parity as its own SRTP stream)" : ""}: parity repairs single losses per block with no NACK repair; the cloud counts its parity`, () =>
    fecE2e(srtp));
}

async function fecE2e(srtp: boolean) {
  const dir = await Deno.makeTempDir({ prefix: "flvcast_fec_" });
  const { cloud, edge, close } = await startCloudAndEdge({
    recordDir: dir,
    record: true,
    srtp,
    cloud: srtp ? { fecBlock: 4, cachePackets: 1 } : { fecBlock: 4 },
    edge: {
      packLoss: 0.05,
      ...(srtp
        ? {}
        : { cloudQuic: { host: "127.0.0.1", port: freeUdpPort() } }), // nobody there
    },
  });
  const pub = publishLavfi({
    url: `rtmp://127.0.0.1:${cloud.ports.rtmp}/${KEY}`,
    seconds: 6,
    fps: 25,
  });
  try {
    await until(() => edge.hub.get(KEY) !== undefined, "the stream", 15_000);
    const player = await HttpPlayer.open(
      `http://127.0.0.1:${edge.ports.flv}/${KEY}.flv`,
    );
    let last = edge.streams()[0];
    let cloudInfo = cloud.streams.get(KEY)?.info();
    const watch = setInterval(() => {
      last = edge.streams()[0] ?? last;
      cloudInfo = cloud.streams.get(KEY)?.info() ?? cloudInfo;
    }, 20);
    equal((await pub.done).code, 0);
    equal(await player.done, "end");
    clearInterval(watch);
    ok(cloudInfo, "the cloud's stream info");
    console.log(
      `  edge: received ${last.packets_received} lost ${last.lost} recovered ${last.recovered} (fec ${last.fec_recovered}) unrecoverable ${last.unrecoverable}; cloud: ${cloudInfo.packets_sent} packets, ${cloudInfo.fec_packets} parity`,
    );
    ok(edge.stats.simulatedDrops > 0, "some input was dropped");
    ok(last.fec_recovered > 0, "parity rebuilt packets");
    if (!srtp) {
      equal(last.recovered, last.fec_recovered, "every recovery came from FEC");
    }
    ok(
      cloudInfo.fec_packets >= Math.floor(cloudInfo.packets_sent / 4) - 1,
      "one parity packet per 4 RTP packets",
    );
    // What parity rebuilt is the cloud's bytes: every tag the player got is
    // a recording tag, byte for byte (a block spanning two tags once
    // rebuilt garbage under SRTP's in-place protection).
    const rec = new Set(
      await tagKeys(await readFlv(await recordingOf(dir, KEY))),
    );
    const got = await tagKeys(player.tags);
    ok(got.length > 0, "the player got tags");
    const foreign = got.filter((k) => !rec.has(k));
    equal(
      foreign.length,
      0,
      `tags not in the recording: ${foreign.slice(0, 3)}`,
    );
    if (srtp) {
      equal(last.srtp_auth_failures, 0, "parity authenticates");
      equal(last.srtp_replays, 0);
      equal(edge.stats.srtpAuthFailures, 0);
      equal(edge.stats.keysUnknown, 0, "no KEYS asked for the parity SSRC");
    }
  } finally {
    await close();
    await Deno.remove(dir, { recursive: true });
  }
}
