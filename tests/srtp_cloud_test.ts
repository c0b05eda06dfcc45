/**
 * The cloud with SRTP on, with a real ffmpeg publish: every RTP and RTCP
 * datagram it sends decrypts in libsrtp2 (a real, independent SRTP stack)
 * with the master key and salt the cloud hands out over QUIC (`KEYS`), to
 * the same bytes our own receiver gets; the decrypted packets rebuild the
 * cloud's recording tag for tag; retransmissions carry the exact protected
 * bytes that went out; `KEYS` names the stream and carries onMetaData and
 * the sequence headers; the stream ends with a final SR + BYE five times.
 */
import { deepEqual, equal, fail, ok } from "node:assert/strict";
import { encodeTag, FlvDemuxer, type FlvTag } from "../lib/flv/mod.ts";
import {
  type KeysAnswer,
  parseKeysAnswer,
  parseRtcp,
} from "../lib/rtcp/mod.ts";
import { isRtcp, parseRtp } from "../lib/rtp/mod.ts";
import { SrtpReceiver } from "../lib/srtp/mod.ts";
import { LibSrtpSession, libsrtpUnavailable } from "./support/libsrtp.ts";
import { publishLavfi } from "../testkit/media.ts";
import { tagsOfPackets } from "./support/rtp_receiver.ts";
import { until } from "../testkit/poll.ts";
import { withRecordingCloud } from "./support/nodes.ts";
import { toHex as hex } from "../testkit/bytes.ts";

const why = libsrtpUnavailable();
if (why) console.warn(`srtp_cloud_test: SKIPPED: ${why}`);

Deno.test({
  name:
    "cloud SRTP: libsrtp decrypts the cloud's RTP/RTCP with the KEYS it hands out; tags equal the recording; RTX bytes identical; final SR + BYE ×5",
  ignore: why !== undefined && Deno.env.get("CI") !== "true",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    if (why) fail(`libsrtp2 is required under CI=true: ${why}`);
    await withRecordingCloud(
      { dirPrefix: "flvcast_srtp_cloud_", srtp: true },
      async ({ cloud, rx, client, dir }) => {
        const lib = { in: undefined as LibSrtpSession | undefined };
        try {
          const url = `rtmp://127.0.0.1:${cloud.ports.rtmp}/live/srtp`;
          await using pub = publishLavfi({ url, seconds: 5 });
          await until(
            () => (cloud.streams.get("live/srtp")?.info().tags_in ?? 0) > 20,
            "tags to flow",
            20_000,
            20,
          );
          const ssrc = cloud.streams.get("live/srtp")!.ssrc;
          const unknown = await client.requestApp("KEYS", (ssrc ^ 1) >>> 0, {
            timeoutMs: 5000,
          });
          ok(unknown, "an answer for an unknown SSRC");
          equal(parseKeysAnswer(unknown), null);
          const answer = await client.requestApp("KEYS", ssrc, {
            timeoutMs: 5000,
          });
          ok(answer, "KEYS answered");
          const keys = parseKeysAnswer(answer) as KeysAnswer;
          equal(keys.profile, 1);
          equal(keys.streamKey, "live/srtp");
          equal(keys.masterKey.length, 16);
          equal(keys.masterSalt.length, 14);
          ok(keys.highestSeq !== undefined);
          equal(keys.stateTags.length, 3, "onMetaData + AVC + AAC headers");

          const { code, stderr } = await pub.done;
          equal(code, 0, `ffmpeg publish failed: ${stderr}`);
          // The BYE goes out five times (a final SR in each compound).
          await until(
            () => !cloud.streams.has("live/srtp"),
            "the stream end",
            20_000,
            20,
          );
          await cloud.recordingsClosed();
          await new Promise((r) => setTimeout(r, 200));

          lib.in = new LibSrtpSession({
            masterKey: keys.masterKey,
            masterSalt: keys.masterSalt,
            direction: "inbound",
            windowSize: 4096,
          });
          const ours = new SrtpReceiver({
            masterKey: keys.masterKey,
            masterSalt: keys.masterSalt,
            ssrc,
            replayWindow: 4096,
          });
          const plain: { index: number; bytes: Uint8Array }[] = [];
          const protectedBySeq = new Map<number, Uint8Array>();
          let byes = 0;
          let reports = 0;
          for (const d of rx.datagrams) {
            if (isRtcp(d)) {
              const mine = ours.unprotectRtcp(d);
              ok(mine.ok, "our SRTCP unprotect");
              const theirs = lib.in.unprotectRtcp(d);
              ok(theirs instanceof Uint8Array, `libsrtp SRTCP error ${theirs}`);
              equal(hex(theirs), hex(mine.packet));
              const pkts = parseRtcp(theirs);
              if (pkts.some((p) => p.type === "bye")) {
                byes++;
                equal(pkts[0].type, "sr", "a final SR before each BYE");
              }
              if (pkts.some((p) => p.type === "sdes")) reports++;
              continue;
            }
            const mine = ours.unprotectRtp(d);
            ok(mine.ok, `our SRTP unprotect (${!mine.ok && mine.failure})`);
            const theirs = lib.in.unprotect(d);
            ok(theirs instanceof Uint8Array, `libsrtp SRTP error ${theirs}`);
            equal(hex(theirs), hex(mine.packet), "byte-identical RTP");
            plain.push({ index: mine.index, bytes: theirs });
            protectedBySeq.set((d[2] << 8) | d[3], d);
          }
          equal(byes, 5);
          ok(reports >= 1);
          ok(rx.unparsedRtcp > 0, "RTCP on the wire is encrypted");

          // The decrypted packets rebuild the recording tag for tag.
          plain.sort((a, b) => a.index - b.index);
          const tags: FlvTag[] = tagsOfPackets(
            plain.map((p) => parseRtp(p.bytes)),
          );
          const recordings = (await Array.fromAsync(Deno.readDir(dir))).filter(
            (e) => e.name.startsWith("live_srtp"),
          );
          equal(recordings.length, 1);
          const recorded = new FlvDemuxer().push(
            await Deno.readFile(`${dir}/${recordings[0].name}`),
          );
          ok(recorded.length > 100);
          equal(tags.length, recorded.length);
          for (let i = 0; i < tags.length; i++) {
            equal(tags[i].type, recorded[i].type);
            equal(tags[i].timestamp, recorded[i].timestamp);
            equal(hex(tags[i].data), hex(recorded[i].data), `tag ${i}`);
          }
          // KEYS carried the stream state a late decoder needs.
          deepEqual(
            keys.stateTags.map((t) => hex(t)),
            recorded.slice(0, 3).map((t) => hex(encodeTag(t))),
          );

          // Retransmission serves the exact protected bytes of the wire.
          const seqs = [...protectedBySeq.keys()].slice(-20);
          const results = await Promise.all(
            client.request(ssrc, seqs, { timeoutMs: 5000 }),
          );
          for (let i = 0; i < seqs.length; i++) {
            const r = results[i];
            ok(r.status === "ok", `rtx of ${seqs[i]}`);
            equal(hex(r.packet), hex(protectedBySeq.get(seqs[i])!));
          }
        } finally {
          lib.in?.close();
        }
      },
    );
  },
});
