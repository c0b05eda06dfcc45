/**
 * Attacks on the cloud → edge data plane, each while a real ffmpeg publish
 * plays through an edge (SRTP on, the default): a forged BYE, an SDES
 * takeover by a new SSRC, RTP with the live SSRC and sequence +1000 (and 32
 * blind packets), 1,000 datagrams of seeded random garbage with the live
 * SSRC, 1,000 forged SDES names. The player's body equals the cloud's
 * recording tag for tag from the first keyframe to the end, the stream is
 * never ended early or taken over, and the counters show the forgeries.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  encodeFileTag,
  FlvDemuxer,
  type FlvTag,
  isKeyframe,
} from "../lib/flv/mod.ts";
import {
  encodeBye,
  encodeCompound,
  encodeSdes,
  encodeSenderReport,
} from "../lib/rtcp/mod.ts";
import { encodeRtp } from "../lib/rtp/mod.ts";
import { until } from "./edge_support.ts";
import { HttpPlayer } from "./http_support.ts";
import { publishLavfi } from "../testkit/media.ts";
import { startCloudAndEdge } from "./support/nodes.ts";
import { udpSocket } from "../testkit/ports.ts";
import { seededRandom } from "../testkit/random.ts";

const KEY = "live/attacked";

const rtp = (ssrc: number, seq: number, payload: Uint8Array) =>
  encodeRtp({
    marker: true,
    payloadType: 100,
    sequence: seq & 0xffff,
    timestamp: 123456,
    ssrc,
    payload,
  });

const fileBytes = (t: FlvTag) => encodeFileTag(t);
const same = (a: FlvTag, b: FlvTag) =>
  a.type === b.type && a.timestamp === b.timestamp &&
  a.data.length === b.data.length && a.data.every((x, i) => x === b.data[i]);

Deno.test({
  name:
    "attacks on the data plane (forged BYE, SDES takeover, seq+1000, 1,000 garbage, 1,000 forged SDES) change nothing players get",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const seed = Date.now() >>> 0;
    console.log(`srtp_attack_test seed=${seed}`);
    const rand = seededRandom(seed);
    const dir = await Deno.makeTempDir({ prefix: "flvcast_attack_" });
    const { cloud, edge, close } = await startCloudAndEdge({
      recordDir: dir,
      record: true,
      quicSecret: "atk",
      edge: { secret: "atk", latencyMs: 600 },
    });
    const atk = udpSocket();
    const to: Deno.NetAddr = {
      transport: "udp",
      hostname: "127.0.0.1",
      port: edge.ports.udp,
    };
    const send = async (datagrams: Uint8Array[]) => {
      for (let i = 0; i < datagrams.length; i++) {
        await atk.send(datagrams[i], to);
        if (i % 50 === 49) await new Promise((r) => setTimeout(r, 2));
      }
    };
    const pub = publishLavfi({
      url: `rtmp://127.0.0.1:${cloud.ports.rtmp}/${KEY}`,
      seconds: 8,
    });
    try {
      await until(() => edge.hub.get(KEY) !== undefined, "the stream", 15_000);
      const player = await HttpPlayer.open(
        `http://127.0.0.1:${edge.ports.flv}/${KEY}.flv`,
      );
      const live = cloud.streams.get(KEY)!;
      const ssrc = live.ssrc;
      const edgeSsrc = () => edge.streams().find((s) => s.key === KEY)?.ssrc;
      equal(edgeSsrc(), ssrc);
      await until(() => player.tags.length > 20, "tags at the player", 15_000);

      // 1. A forged BYE (and SR) for the live SSRC, three times.
      const bye = encodeCompound([
        encodeSenderReport({
          ssrc,
          ntpSec: 0,
          ntpFrac: 0,
          rtpTimestamp: 0,
          packetCount: 1,
          octetCount: 1,
        }),
        encodeBye(ssrc, "forged"),
      ]);
      await send([bye, bye, bye]);
      // 2. SDES takeover: a new SSRC claims the key, with its own packets.
      const thief = (ssrc ^ 0x5a5a5a5a) >>> 0;
      await send([
        encodeCompound([
          encodeSenderReport({
            ssrc: thief,
            ntpSec: 0,
            ntpFrac: 0,
            rtpTimestamp: 0,
            packetCount: 0,
            octetCount: 0,
          }),
          encodeSdes(thief, { cname: "thief", key: KEY }),
        ]),
        ...Array.from(
          { length: 50 },
          (_, i) => rtp(thief, i, new Uint8Array(200).fill(i)),
        ),
      ]);
      // 3. The live SSRC with sequence +1000, then 32 blind packets.
      const next = live.packetizer.nextSequence;
      await send(
        Array.from(
          { length: 33 },
          (_, i) => rtp(ssrc, next + 1000 + i, new Uint8Array(300)),
        ),
      );
      // 4. 1,000 datagrams of random garbage with the live SSRC.
      await send(Array.from({ length: 1000 }, () => {
        const d = new Uint8Array(20 + Math.floor(rand() * 1180));
        for (let i = 0; i < d.length; i++) d[i] = Math.floor(rand() * 256);
        const rtcp = rand() < 0.3;
        d[0] = 0x80 | (d[0] & 0x3f);
        d[1] = rtcp ? 200 + Math.floor(rand() * 5) : 100;
        new DataView(d.buffer).setUint32(rtcp ? 4 : 8, ssrc);
        return d;
      }));
      // 5. 1,000 forged SDES names (new SSRCs, this key and others).
      await send(Array.from({ length: 1000 }, (_, i) => {
        const s = (Math.floor(rand() * 0xfffffff0) + 1) >>> 0;
        return encodeCompound([
          encodeSenderReport({
            ssrc: s,
            ntpSec: 0,
            ntpFrac: 0,
            rtpTimestamp: 0,
            packetCount: 0,
            octetCount: 0,
          }),
          encodeSdes(s, { cname: "x", key: i % 2 ? KEY : `live/forged${i}` }),
        ]);
      }));

      // Still the same stream, still live, while the publish goes on.
      equal(edgeSsrc(), ssrc, "the stream was not taken over");
      ok(cloud.streams.has(KEY), "the publish is still running");
      const { code, stderr } = await pub.done;
      equal(code, 0, `ffmpeg failed: ${stderr}`);
      equal(await player.done, "end");
      await cloud.recordingsClosed();

      const st = edge.stats;
      console.log(
        `edge counters: srtp_auth_failures=${st.srtpAuthFailures} srtp_malformed=${st.srtpMalformed} srtp_replays=${st.srtpReplays} keys_requested=${st.keysRequested} keys_unknown=${st.keysUnknown} held_dropped=${st.srtpHeldDropped} streams_total=${st.streamsTotal} republishes=${st.republishes}`,
      );
      ok(
        st.srtpAuthFailures + st.srtpMalformed + st.srtpReplays >=
          1000 + 33 + 1,
        "every forged datagram of the live SSRC was refused",
      );
      ok(st.srtpAuthFailures >= 33 + 1, "seq+1000 and the BYE failed auth");
      ok(st.keysUnknown >= 1, "the cloud called the thief's SSRC unknown");
      equal(st.streamsTotal, 1, "no stream was created by a forgery");
      equal(st.republishes, 0);

      // Tag for tag: the player's body from the first keyframe on equals
      // the recording from its first keyframe on.
      const files = [...Deno.readDirSync(dir)].filter((e) =>
        e.name.startsWith("live_attacked")
      );
      equal(files.length, 1);
      const rec = new FlvDemuxer().push(
        await Deno.readFile(`${dir}/${files[0].name}`),
      );
      const r0 = rec.findIndex((t) => t.type === 9 && isKeyframe(t));
      const p0 = player.tags.findIndex((t) => t.type === 9 && isKeyframe(t));
      ok(r0 >= 0 && p0 >= 0);
      const want = rec.slice(r0);
      const got = player.tags.slice(p0);
      ok(
        same(got[0], want[0]),
        "the player started at the recording's first keyframe",
      );
      equal(got.length, want.length, "every tag to the end");
      for (let i = 0; i < want.length; i++) {
        if (!same(got[i], want[i])) {
          deepEqual(fileBytes(got[i]), fileBytes(want[i]), `tag ${i}`);
        }
      }
    } finally {
      pub.kill();
      await pub.done;
      atk.close();
      await close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
