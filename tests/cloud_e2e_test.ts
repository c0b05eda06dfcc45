/**
 * Cloud end to end with real ffmpeg: publish → RTP on loopback → rebuilt FLV
 * equals the cloud's recording tag for tag and decodes; RTMP play decodes;
 * the API answers; QUIC serves the same bytes that went out over UDP.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  encodeFileTag,
  encodeFlvHeader,
  FlvDemuxer,
  type FlvTag,
} from "../lib/flv/mod.ts";
import { probe, publishLavfi, recordFlv } from "../testkit/media.ts";
import { until } from "../testkit/poll.ts";
import { withRecordingCloud } from "./support/nodes.ts";

async function readFlv(path: string): Promise<FlvTag[]> {
  return new FlvDemuxer().push(await Deno.readFile(path));
}

async function writeFlv(path: string, tags: FlvTag[]): Promise<void> {
  const parts = [
    encodeFlvHeader({ audio: true, video: true }),
    ...tags.map(encodeFileTag),
  ];
  await Deno.writeFile(
    path,
    new Uint8Array(await new Blob(parts as BlobPart[]).arrayBuffer()),
  );
}

Deno.test({
  name:
    "cloud e2e: ffmpeg publish → RTP equals the recording, decodes; RTMP play; API; QUIC bytes",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withRecordingCloud(
      { dirPrefix: "flvcast_cloud_e2e_" },
      async ({ cloud, rx, client, dir }) => {
        const url = `rtmp://127.0.0.1:${cloud.ports.rtmp}/live/e2e`;
        await using pub = publishLavfi({ url, seconds: 10 });
        await until(
          () => cloud.streams.has("live/e2e"),
          "the publish to start",
          20_000,
          20,
        );
        // An RTMP player joining a live stream.
        const played = `${dir}/played.flv`;
        await using player = recordFlv(url, played);

        // API while live.
        await until(
          () => (cloud.streams.get("live/e2e")?.info().tags_in ?? 0) > 50,
          "tags to flow",
          20_000,
          20,
        );
        const api = `http://127.0.0.1:${cloud.ports.api}`;
        const streams = await (await fetch(`${api}/api/streams`)).json();
        equal(streams.streams[0].key, "live/e2e");
        equal(streams.streams[0].video_codec, "avc");
        const stat = await (await fetch(`${api}/stat/livestat`)).json();
        equal(stat.status, 200);
        deepEqual(Object.keys(stat.data.publishers[0]).sort(), [
          "audio_speed",
          "audio_total_bytes",
          "key",
          "ssrc",
          "start_time",
          "stream_id",
          "url",
          "video_speed",
          "video_total_bytes",
        ]);
        const metrics = await (await fetch(`${api}/metrics`)).text();
        ok(
          metrics.includes(
            'flvcast_cloud_stream_packets_sent_total{key="live/e2e"}',
          ),
        );
        equal((await fetch(`${api}/healthz`)).status, 200);
        const node = await (await fetch(`${api}/api/node`)).json();
        equal(node.fingerprint, cloud.fingerprint);
        equal(node.quic_impl, "native");
        // udp_sndbuf defaults to 4 MiB; Linux reports twice what was set.
        if (Deno.uid() === 0) {
          equal(node.udp_sndbuf.method, "force");
          equal(node.udp_sndbuf.effective, 2 * (4 << 20));
        } else {
          ok(node.udp_sndbuf.effective > 0);
        }

        const { code, stderr } = await pub.done;
        equal(code, 0, `ffmpeg publish failed: ${stderr}`);
        const ssrc = [...rx.rtp.keys()][0];
        await rx.until(() => rx.rtcp.some((p) => p.type === "bye"), 10_000);

        // RTCP named the stream.
        ok(
          rx.rtcp.some((p) =>
            p.type === "sdes" &&
            p.chunks.some((c) => c.ssrc === ssrc && c.key === "live/e2e")
          ),
        );
        ok(rx.rtcp.some((p) => p.type === "sr" && p.ssrc === ssrc));

        // Tag for tag equal to the recording (closed on disk after the end).
        await cloud.recordingsClosed();
        const recorded = await readFlv(
          (await Array.fromAsync(Deno.readDir(dir))).filter((e) =>
            e.name.startsWith("live_e2e")
          ).map((e) => `${dir}/${e.name}`)[0],
        );
        const rebuilt = rx.tags(ssrc);
        equal(rebuilt.length, recorded.length);
        for (let i = 0; i < recorded.length; i++) {
          equal(rebuilt[i].type, recorded[i].type, `tag ${i} type`);
          equal(
            rebuilt[i].timestamp,
            recorded[i].timestamp,
            `tag ${i} timestamp`,
          );
          deepEqual(rebuilt[i].data, recorded[i].data, `tag ${i} body`);
        }
        const out = `${dir}/rebuilt.flv`;
        await writeFlv(out, rebuilt);
        const p = await probe(out);
        deepEqual(p.errors, []);
        ok(
          p.videoFrames >= 0.95 * 250,
          `decoded ${p.videoFrames} of 250 video frames`,
        );
        const { code: pcode, stderr: perr } = await player.done;
        equal(pcode, 0, `ffmpeg RTMP play failed: ${perr}`);
        const pp = await probe(played);
        deepEqual(pp.errors, []);
        ok(
          pp.videoFrames > 100,
          `RTMP play decoded ${pp.videoFrames} frames`,
        );

        // QUIC: the same sequence numbers fetched again are byte-identical.
        const sent = rx.rtp.get(ssrc)!.slice(-300);
        const results = await Promise.all(
          client.request(ssrc, sent.map((s) => s.packet.sequence), {
            timeoutMs: 5000,
          }),
        );
        for (let i = 0; i < sent.length; i++) {
          const r = results[i];
          equal(r.status, "ok");
          if (r.status === "ok") deepEqual(r.packet, sent[i].bytes);
        }
      },
    );
  },
});
