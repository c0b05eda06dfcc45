/**
 * An edge restarted in the middle of a publish (SRTP on, the default): the
 * new edge process knows nothing, yet it gets the keys, the stream's name
 * and its onMetaData + sequence headers from the cloud (`KEYS`), and its
 * player's body — starting at the next keyframe — decodes in ffprobe with no
 * error. The time from the new edge's first datagram to the player's first
 * keyframe is printed.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import * as flv from "../lib/flv/mod.ts";
import { EdgeNode } from "../lib/edge/mod.ts";
import { nullLogger } from "../lib/log/mod.ts";
import { until } from "./edge_support.ts";
import { HttpPlayer } from "./http_support.ts";
import { probe, publishLavfi } from "../testkit/media.ts";
import { startCloudAndEdge } from "./support/nodes.ts";

const KEY = "live/restart";
const local = { hostname: "127.0.0.1", port: 0 };

Deno.test({
  name:
    "edge restarted mid-publish: state from the cloud, the player decodes with 0 errors from the next keyframe",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "flvcast_restart_" });
    const { cloud, edge, close } = await startCloudAndEdge({
      recordDir: dir,
      quicSecret: "rs",
      edge: { secret: "rs" },
    });
    const udpPort = edge.ports.udp;
    const pub = publishLavfi({
      url: `rtmp://127.0.0.1:${cloud.ports.rtmp}/${KEY}`,
      seconds: 10,
      fps: 25,
      gop: 25,
    });
    let second: EdgeNode | undefined;
    try {
      await until(() => edge.hub.get(KEY) !== undefined, "the stream", 15_000);
      await until(
        () => (cloud.streams.get(KEY)?.info().tags_in ?? 0) > 120,
        "~2.5 s of stream",
        15_000,
      );
      await edge.stop(); // the old process is gone
      second = new EdgeNode({
        udp: { hostname: "127.0.0.1", port: udpPort },
        flv: local,
        api: local,
        quicPort: cloud.ports.quic,
        secret: "rs",
        fingerprint: cloud.fingerprint,
        srtp: true,
        logger: nullLogger,
      });
      await second.start();
      const fresh = second;
      await until(() => fresh.stats.datagrams > 0, "a datagram", 10_000);
      const t0 = performance.now();
      await until(() => fresh.hub.get(KEY) !== undefined, "the stream", 5000);
      const player = await HttpPlayer.open(
        `http://127.0.0.1:${fresh.ports.flv}/${KEY}.flv`,
      );
      await until(
        () => player.tags.some((t) => t.type === 9 && flv.isKeyframe(t)),
        "a keyframe at the player",
        5000,
      );
      const ms = Math.round(performance.now() - t0);
      console.log(
        `restarted edge: first keyframe at the player ${ms} ms after its first datagram (keys_received=${fresh.stats.keysReceived})`,
      );
      const { code, stderr } = await pub.done;
      equal(code, 0, `ffmpeg failed: ${stderr}`);
      equal(await player.done, "end");

      ok(flv.isMetadata(player.tags[0]), "onMetaData first");
      const video = player.tags.filter((t) => t.type === 9);
      ok(flv.isSequenceHeader(video[0]), "then the AVC sequence header");
      // (A player that joins before the first keyframe may get the header
      // twice: once from the stream state, once from its start tags.)
      const frames = video.filter((t) => !flv.isSequenceHeader(t));
      ok(flv.isKeyframe(frames[0]), "then video from a keyframe");
      ok(
        player.tags.some((t) => t.type === 8 && flv.isSequenceHeader(t)),
        "the AAC config",
      );
      const file = `${dir}/restarted.flv`;
      await Deno.writeFile(
        file,
        new Uint8Array(
          await new Blob(
            [
              flv.encodeFlvHeader(),
              ...player.tags.map(flv.encodeFileTag),
            ] as BlobPart[],
          ).arrayBuffer(),
        ),
      );
      const p = await probe(file);
      deepEqual(p.errors, [], "ffprobe decodes the restarted edge's body");
      ok(p.videoFrames >= 100, `decoded ${p.videoFrames} video frames`);
      equal(fresh.stats.srtpAuthFailures, 0);
    } finally {
      pub.kill();
      await pub.done;
      await second?.stop();
      await close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
