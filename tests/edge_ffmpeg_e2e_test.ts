/**
 * Real peers on loopback: ffmpeg publishes a 10 s lavfi clip (H.264 + AAC)
 * to a CloudNode, which sends RTP to an EdgeNode with 5 % simulated input
 * loss; a player reading the edge's HTTP-FLV from the start gets a stream
 * that ffprobe decodes with no errors and ≥ 95 % of the frames, and a second
 * player joining mid-stream starts with sequence headers and a keyframe.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  encodeFileTag,
  encodeFlvHeader,
  isKeyframe,
  isMetadata,
  isSequenceHeader,
} from "../lib/flv/mod.ts";
import { until } from "./edge_support.ts";
import { HttpPlayer } from "./http_support.ts";
import { probe, publishLavfi } from "../testkit/media.ts";
import { startCloudAndEdge } from "./support/nodes.ts";

const KEY = "live/movie";
const SECONDS = 10;
const FPS = 25;

Deno.test("edge e2e: ffmpeg → cloud → RTP (5 % loss) → edge → HTTP-FLV decodes clean; a late joiner starts at a keyframe", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flvcast_edge_e2e_" });
  const { cloud, edge, close } = await startCloudAndEdge({
    recordDir: dir,
    quicSecret: "e2e",
    edge: {
      secret: "e2e",
      // latency_ms: the product default (200 ms).
      packLoss: 0.05,
    },
  });
  const pub = publishLavfi({
    url: `rtmp://127.0.0.1:${cloud.ports.rtmp}/${KEY}`,
    seconds: SECONDS,
    fps: FPS,
  });
  try {
    await until(
      () => edge.hub.get(KEY) !== undefined,
      "the edge to learn the stream",
      15_000,
    );
    const first = await HttpPlayer.open(
      `http://127.0.0.1:${edge.ports.flv}/${KEY}.flv`,
    );
    equal(first.response.status, 200);
    // A second player joins mid-stream.
    await until(
      () => first.tags.length > 0 && first.tags.at(-1)!.timestamp > 4000,
      "4 s of stream",
      15_000,
    );
    const late = await HttpPlayer.open(
      `http://127.0.0.1:${edge.ports.flv}/${KEY}.flv`,
    );
    // Keep the last counters of the stream (it is gone once it ends).
    let last = edge.streams()[0];
    const watch = setInterval(() => (last = edge.streams()[0] ?? last), 20);
    const { code, stderr } = await pub.done;
    equal(code, 0, `ffmpeg failed: ${stderr}`);
    equal(await first.done, "end", "the body ends when the publisher leaves");
    equal(await late.done, "end");
    clearInterval(watch);

    // The late joiner: metadata, sequence headers, then video from a keyframe.
    ok(isMetadata(late.tags[0]), "first tag is onMetaData");
    const video = late.tags.filter((t) => t.type === 9);
    ok(isSequenceHeader(video[0]), "first video tag is the sequence header");
    ok(isKeyframe(video[1]), "then a keyframe");
    ok(
      late.tags.some((t) => t.type === 8 && isSequenceHeader(t)),
      "AAC config sent",
    );

    // The first player's whole body decodes cleanly with ≥ 95 % of the frames.
    const file = `${dir}/first.flv`;
    const parts = [encodeFlvHeader(), ...first.tags.map(encodeFileTag)];
    await Deno.writeFile(
      file,
      new Uint8Array(await new Blob(parts as BlobPart[]).arrayBuffer()),
    );
    const result = await probe(file);
    deepEqual(result.errors, []);
    // On a loaded machine the first player may join after the first GOP: it
    // starts at the GOP cached at join time, so count from its first keyframe.
    const firstKey = first.tags.find((t) => t.type === 9 && isKeyframe(t))!;
    const expected = 0.95 *
      (SECONDS * FPS - Math.round(firstKey.timestamp * FPS / 1000));
    ok(
      result.videoFrames >= expected,
      `decoded ${result.videoFrames} video frames, expected ≥ ${expected}`,
    );
    ok(result.audioFrames > 0);
    const lateFile = `${dir}/late.flv`;
    await Deno.writeFile(
      lateFile,
      new Uint8Array(
        await new Blob(
          [encodeFlvHeader(), ...late.tags.map(encodeFileTag)] as BlobPart[],
        )
          .arrayBuffer(),
      ),
    );
    deepEqual(
      (await probe(lateFile)).errors,
      [],
      "the late joiner's body decodes cleanly too",
    );

    // The simulated loss was repaired.
    ok(edge.stats.simulatedDrops > 0, "some packets were dropped on input");
    ok(last.recovered > 0, "and recovered over QUIC");
    equal(last.tags_dropped, 0, `tags dropped: ${JSON.stringify(last)}`);
  } finally {
    pub.kill();
    await pub.done;
    await close();
    await Deno.remove(dir, { recursive: true });
  }
});
