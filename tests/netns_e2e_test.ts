/**
 * Network-namespace end-to-end proofs of issue 2 (multicast fan-out) and
 * issue 4 (edges repairing a lossy multicast feed over QUIC), with the real
 * `flvcast cloud` / `flvcast edge` programs and ffmpeg as the publisher.
 *
 * One topology, four hosts on one bridge: `cloud` (198.18.0.1) and three
 * edges `e1`…`e3` (198.18.0.2–4). The cloud sends every RTP/RTCP packet to
 * two multicast groups: 239.255.1.1:5222, which the edges join, and
 * 239.255.1.2:5224, which raw recorders join (no loss on that port). Loss is
 * an nftables rule on an edge's input that drops RTP and RTCP datagrams for
 * 5222 at the same random rate (SRTP is on: the edges get their keys over
 * QUIC; the final SR + BYE is sent three times, and a stream whose every BYE
 * is lost ends by silence). Every player, recorder and
 * API request runs inside the namespaces; the test reads their files.
 *
 * Publish 1 (`live/p1`): 5 % loss on every edge, a player per edge, two raw
 * recorders, and ffmpeg reading e1's LL-HLS playlist (issue 13). Publish 2 (`live/p2`): 20 % loss on e1; 5 % on e2 and its QUIC
 * link to the cloud cut for a few seconds mid-stream; e3 loses exactly the
 * stream's first RTP packet (which no gap reveals).
 *
 * @module
 */
import type { EdgeStreamInfo, EndedStreamInfo } from "../lib/edge/mod.ts";
import { until } from "../testkit/poll.ts";
import { equal, ok } from "node:assert/strict";
import { isKeyframe, isSequenceHeader, TAG_VIDEO } from "../lib/flv/mod.ts";
import { generateSelfSigned } from "../lib/quic/mod.ts";
import { parseRtcp } from "../lib/rtcp/mod.ts";
import { isRtcp, parseRtp, type RtpPacket } from "../lib/rtp/mod.ts";
import { tagsOfPackets } from "./support/rtp_receiver.ts";
import {
  countFramecrc,
  framecrcArgs,
  lavfiPublishArgs,
  probe,
} from "../testkit/media.ts";
import {
  createTopology,
  type NetnsProcess,
  netnsUnavailableReason,
  type Topology,
} from "../testkit/netns.ts";
import { parseDump } from "./support/rtp_dump.ts";
import {
  align,
  packetsFor,
  readFlv,
  recordingOf,
  tagKeys,
} from "./support/flv_compare.ts";
import { type LineLog, startNode } from "./support/netns_node.ts";

const UNAVAILABLE = await netnsUnavailableReason();

const path = (rel: string) => new URL(rel, import.meta.url).pathname;
const READER = path("../testkit/flv_reader.ts");
const DUMP = path("./support/rtp_dump.ts");

const EDGE_GROUP = "239.255.1.1";
const EDGE_PORT = 5222;
const RAW_GROUP = "239.255.1.2";
const RAW_PORT = 5224;
const QUIC_PORT = 4242;
const SECRET = "netns-e2e-secret";
const CLIP_SECONDS = 10;
const FPS = 25;
const PAYLOAD_SIZE = 1180;
const EDGES = ["e1", "e2", "e3"] as const;
const LOSS_TABLE = "flvcast_e2e_loss";
const QUIC_TABLE = "flvcast_e2e_quic";

// ---------------------------------------------------------------------------
// Inside the namespaces

async function httpGet(topo: Topology, host: string, url: string) {
  const r = await topo.exec(host, "curl", ["-sS", "--max-time", "5", url]);
  return r.stdout;
}

/**
 * The final counters of `key` at `host` from the edge API's `ended` list
 * (polled until the stream has ended there): counters come from the API,
 * never from log text.
 */
async function endedStream(
  topo: Topology,
  host: string,
  key: string,
  timeoutMs = 10_000,
): Promise<EndedStreamInfo> {
  let found: EndedStreamInfo | undefined;
  await until(
    async () => {
      const doc = JSON.parse(
        await httpGet(topo, host, "http://127.0.0.1:8091/api/streams"),
      ) as { ended?: EndedStreamInfo[] };
      found = doc.ended?.findLast((s) => s.key === key);
      return found !== undefined;
    },
    `${key} to have ended at ${host} (edge API)`,
    timeoutMs,
    100,
  );
  return found!;
}

/** One stream as the edge API shows it. */
type EdgeStreamCounters = EdgeStreamInfo;

async function edgeStream(
  topo: Topology,
  host: string,
  key: string,
): Promise<EdgeStreamCounters | undefined> {
  const doc = JSON.parse(
    await httpGet(topo, host, "http://127.0.0.1:8091/api/streams"),
  ) as { streams: EdgeStreamCounters[] };
  return doc.streams.find((s) => s.key === key);
}

/** Polls the edge API until `test` holds for `key` (the API is the only way in). */
async function pollEdge(
  topo: Topology,
  host: string,
  key: string,
  test: (s: EdgeStreamCounters) => boolean,
  what: string,
  timeoutMs: number,
): Promise<EdgeStreamCounters> {
  const deadline = performance.now() + timeoutMs;
  let last: EdgeStreamCounters | undefined;
  while (true) {
    last = await edgeStream(topo, host, key);
    if (last && test(last)) return last;
    if (performance.now() > deadline) {
      throw new Error(
        `expected ${what} on ${host} within ${timeoutMs} ms, last counters: ${
          JSON.stringify(last)
        }`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The repair counters of an API snapshot, for messages. */
function apiSummary(s: EdgeStreamCounters | undefined): string {
  if (!s) return "none";
  return `lost ${s.lost} nacked ${s.nacked} recovered ${s.recovered} unrecoverable ${s.unrecoverable} late ${s.late} duplicates ${s.duplicates} rtt ${s.rtt_ms} ms`;
}

/** Keeps the newest API snapshot of `key` on `host` (for counters the end-of-stream log line lacks). */
class EdgeWatch {
  last: EdgeStreamCounters | undefined;
  #stop = false;
  readonly done: Promise<void>;

  constructor(topo: Topology, host: string, key: string) {
    this.done = (async () => {
      while (!this.#stop) {
        try {
          this.last = (await edgeStream(topo, host, key)) ?? this.last;
        } catch {
          // The edge is busy or gone: keep the last snapshot.
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
  }

  async stop(): Promise<EdgeStreamCounters | undefined> {
    this.#stop = true;
    await this.done;
    return this.last;
  }
}

async function cloudPacketsTotal(topo: Topology): Promise<number> {
  const text = await httpGet(topo, "cloud", "http://127.0.0.1:8090/metrics");
  const m = /^flvcast_cloud_rtp_packets_total(?:\{[^}]*\})? (\d+)$/m.exec(text);
  if (!m) {
    throw new Error(
      `expected flvcast_cloud_rtp_packets_total in the cloud's /metrics, received:\n${
        text.slice(0, 500)
      }`,
    );
  }
  return Number(m[1]);
}

async function nft(topo: Topology, host: string, script: string) {
  await topo.exec(host, "nft", ["-f", "-"], { stdin: script });
}

/**
 * Sets the RTP loss on `host` for datagrams to `port`, resetting the drop
 * counter: `{ permille }` drops that share at random; `"first"` drops exactly
 * the first RTP datagram after the call. With `{ permille }` RTCP is dropped
 * at the same rate by its own rule (not counted as RTP loss).
 */
async function setRtpLoss(
  topo: Topology,
  host: string,
  port: number,
  loss: { permille: number } | "first",
) {
  const rtp = `add rule inet ${LOSS_TABLE} input udp dport ${port}`;
  await nft(
    topo,
    host,
    [
      `add table inet ${LOSS_TABLE}`,
      `delete table inet ${LOSS_TABLE}`,
      `add table inet ${LOSS_TABLE}`,
      `add chain inet ${LOSS_TABLE} input { type filter hook input priority 0; policy accept; }`,
      // RTCP (rtcp-mux): second byte = packet type 192..223. Lost at the
      // same rate as RTP (counted apart); the "first" mode keeps RTCP.
      ...(loss === "first" ? [] : [
        `${rtp} @th,72,8 192-223 numgen random mod 1000 < ${loss.permille} counter drop comment "rtcp"`,
      ]),
      `${rtp} @th,72,8 192-223 accept`,
      loss === "first"
        // numgen inc counts the RTP datagrams reaching the rule: 0 = first.
        ? `${rtp} numgen inc mod 1000000000 < 1 counter drop`
        : `${rtp} numgen random mod 1000 < ${loss.permille} counter drop`,
      "",
    ].join("\n"),
  );
}

/** RTP datagrams the loss rule on `host` has dropped since it was set. */
async function rtpDropped(topo: Topology, host: string): Promise<number> {
  const { stdout } = await topo.exec(host, "nft", [
    "-j",
    "list",
    "table",
    "inet",
    LOSS_TABLE,
  ]);
  let total = 0;
  const doc = JSON.parse(stdout) as { nftables: Record<string, unknown>[] };
  for (const item of doc.nftables) {
    const rule = item.rule as
      | { expr?: Record<string, unknown>[]; comment?: string }
      | undefined;
    if (rule?.comment === "rtcp") continue; // RTCP drops are not RTP
    for (const e of rule?.expr ?? []) {
      const c = e.counter as { packets?: number } | undefined;
      if (c?.packets !== undefined) total += c.packets;
    }
  }
  return total;
}

async function blockQuic(topo: Topology, host: string) {
  await nft(
    topo,
    host,
    [
      `add table inet ${QUIC_TABLE}`,
      `add chain inet ${QUIC_TABLE} output { type filter hook output priority 0; policy accept; }`,
      `add chain inet ${QUIC_TABLE} input { type filter hook input priority 0; policy accept; }`,
      `add rule inet ${QUIC_TABLE} output udp dport ${QUIC_PORT} counter drop`,
      `add rule inet ${QUIC_TABLE} input udp sport ${QUIC_PORT} counter drop`,
      "",
    ].join("\n"),
  );
}

async function unblockQuic(topo: Topology, host: string) {
  await nft(topo, host, `delete table inet ${QUIC_TABLE}\n`);
}

/** Edge counters around a cut of the QUIC link. */
interface QuicCut {
  /** Just before the cut (about 2 s into the stream). */
  before: EdgeStreamCounters;
  /** At the end of the cut. */
  during: EdgeStreamCounters;
  /** When the first packet was repaired again after the cut. */
  after: EdgeStreamCounters;
  /** How long the link was cut. */
  cutMs: number;
  /** From the end of the cut to the first repair. */
  backAfterMs: number;
}

/** About 2 s into `live/p2`, cuts `host`'s QUIC link for 3.5 s, then waits for a repair. */
async function cutQuic(topo: Topology, host: string): Promise<QuicCut> {
  const key = "live/p2";
  const before = await pollEdge(
    topo,
    host,
    key,
    (s) => s.tags_out >= 2 * (FPS + 43),
    "2 s of tags",
    20_000,
  );
  await blockQuic(topo, host);
  const cutAt = performance.now();
  await new Promise((r) => setTimeout(r, 3500));
  let during: EdgeStreamCounters | undefined;
  try {
    during = await edgeStream(topo, host, key);
  } finally {
    await unblockQuic(topo, host);
  }
  const cutMs = performance.now() - cutAt;
  ok(during, `expected ${key} at ${host} while its QUIC link was cut`);
  const after = await pollEdge(
    topo,
    host,
    key,
    (s) => s.recovered > during.recovered,
    "a repaired packet after the QUIC link came back",
    5_000,
  );
  return {
    before,
    during,
    after,
    cutMs,
    backAfterMs: performance.now() - cutAt - cutMs,
  };
}

/**
 * Reads `key`'s LL-HLS playlist on `host`'s edge (`edge.hls_addr`, :7002)
 * with ffmpeg to its ENDLIST, decoding every frame into `out` (framecrc).
 * The first playlist request starts the edge's segmenter; it is retried
 * (with a deadline) until the edge knows the stream.
 */
async function readHls(
  topo: Topology,
  host: string,
  key: string,
  out: string,
): Promise<NetnsProcess> {
  const url = `http://127.0.0.1:7002/${key}.m3u8`;
  const deadline = Date.now() + 20_000;
  while (true) {
    const r = await topo.exec(host, "curl", [
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "--max-time",
      "12",
      url,
    ], { check: false });
    if (r.stdout.trim() === "200") break;
    if (Date.now() > deadline) {
      throw new Error(
        `expected ${url} on ${host} to answer 200, last got ${r.stdout}`,
      );
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  return topo.spawn(host, "ffmpeg", framecrcArgs(url, out), {
    stdout: "null",
  });
}

function publish(topo: Topology, key: string): NetnsProcess {
  return topo.spawn(
    "cloud",
    "ffmpeg",
    lavfiPublishArgs({
      url: `rtmp://127.0.0.1:1935/${key}`,
      seconds: CLIP_SECONDS,
      fps: FPS,
    }),
    { stdout: "null" },
  );
}

async function exitedOk(proc: NetnsProcess, what: string) {
  const status = await proc.status;
  equal(
    status.code,
    0,
    `expected ${what} to exit 0, received ${status.code}: ${
      proc.stderrText().slice(-1000)
    }`,
  );
}

/** Packets of one SSRC from a dump, in sequence order (arrival order checked). */
function rtpOf(datagrams: Uint8Array[], key: string) {
  let ssrc: number | undefined;
  let bye = false;
  const bySsrc = new Map<number, RtpPacket[]>();
  for (const d of datagrams) {
    if (isRtcp(d)) {
      for (const p of parseRtcp(d)) {
        if (p.type === "sdes") {
          for (const c of p.chunks) if (c.key === key) ssrc = c.ssrc;
        } else if (p.type === "bye" && p.ssrcs.includes(ssrc ?? -1)) {
          bye = true;
        }
      }
    } else {
      const p = parseRtp(d);
      let list = bySsrc.get(p.ssrc);
      if (!list) bySsrc.set(p.ssrc, list = []);
      list.push(p);
    }
  }
  ok(ssrc !== undefined, `expected an SDES naming ${key}, received none`);
  return { ssrc, bye, packets: bySsrc.get(ssrc) ?? [] };
}

// ---------------------------------------------------------------------------

Deno.test({
  name: UNAVAILABLE === undefined
    ? "netns e2e: multicast fan-out (issue 2) and lossy multicast repaired by edges over QUIC (issue 4)"
    : `netns e2e (skipped: ${UNAVAILABLE})`,
  ignore: UNAVAILABLE !== undefined,
  async fn(t) {
    const t0 = performance.now();
    const since = () => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
    const dir = await Deno.makeTempDir({ prefix: "flvcast_netns_e2e_" });
    const logs: LineLog[] = [];
    let stepsOk = true;
    const step = async (def: Deno.TestStepDefinition) => {
      if (!(await t.step(def))) stepsOk = false;
    };
    try {
      await using topo = await createTopology({
        hosts: ["cloud", ...EDGES],
        prefix: "fce2e",
      });
      const tls = await generateSelfSigned();
      await Deno.writeTextFile(`${dir}/cert.pem`, tls.certPem);
      await Deno.writeTextFile(`${dir}/key.pem`, tls.keyPem);
      await Deno.writeTextFile(`${dir}/config.yaml`, "{}\n");
      const common = [
        `--config=${dir}/config.yaml`,
        `--quic_secret=${SECRET}`,
        "--log_level=info",
        "--enable_log_file=false",
      ];

      const cloud = startNode(topo, "cloud", "cloud", [
        ...common,
        "--rtmp_addr=127.0.0.1:1935",
        "--api_addr=127.0.0.1:8090",
        `--quic_addr=:${QUIC_PORT}`,
        "--rtp_port=5220",
        `--client_addr_list=${EDGE_GROUP}:${EDGE_PORT},${RAW_GROUP}:${RAW_PORT}`,
        "--multicast_ttl=1",
        `--rtp_payload_size=${PAYLOAD_SIZE}`,
        "--enable_record=true",
        `--record_dir=${dir}/cloud`,
        `--quic_cert=${dir}/cert.pem`,
        `--quic_key=${dir}/key.pem`,
      ]);
      logs.push(cloud.log);
      // As deployed: the cloud is up before the edges connect to it.
      await cloud.log.waitFor(/flvcast running/, 20_000);
      const edges = new Map(EDGES.map((host) => {
        const node = startNode(topo, host, "edge", [
          ...common,
          `--edge.udp_addr=${EDGE_GROUP}:${EDGE_PORT}`,
          `--edge.multicast_interface=${topo.address(host)}`,
          "--edge.flv_addr=127.0.0.1:7001",
          "--edge.api_addr=127.0.0.1:8091",
          `--edge.cloud_quic_addr=${topo.address("cloud")}:${QUIC_PORT}`,
          `--edge.cloud_fingerprint=${tls.fingerprint}`,
          `--record_dir=${dir}/${host}`,
        ]);
        logs.push(node.log);
        return [host, node];
      }));
      const running = /flvcast running/;
      await Promise.all([
        cloud.log.waitFor(running, 20_000),
        ...[...edges.values()].map((e) => e.log.waitFor(running, 20_000)),
      ]);
      ok(
        (await cloud.log.waitFor(/cloud started/, 1)).includes(tls.fingerprint),
        "expected the cloud to use the certificate given by --quic_cert",
      );

      // ---- publish 1: 5 % RTP loss at every edge, raw recorders ----------
      await Promise.all(
        EDGES.map((h) => setRtpLoss(topo, h, EDGE_PORT, { permille: 50 })),
      );
      const raw = ["e1", "e2"].map((host) =>
        topo.spawnDeno(host, DUMP, [
          "--port",
          String(RAW_PORT),
          "--group",
          RAW_GROUP,
          "--iface",
          topo.address(host),
          "--out",
          `${dir}/raw_${host}.dump`,
          // SRTP (the default): keys from the cloud, as an edge gets them.
          "--keys-from",
          `${topo.address("cloud")}:${QUIC_PORT}`,
          "--secret",
          SECRET,
          "--fingerprint",
          tls.fingerprint,
        ])
      );
      const players1 = EDGES.map((host) =>
        topo.spawnDeno(host, READER, [
          "--url",
          "http://127.0.0.1:7001/live/p1.flv",
          "--out",
          `${dir}/p1_${host}.flv`,
          "--wait-ms",
          "30000",
        ])
      );
      await Promise.all([
        ...raw.map((p) => p.nextJson(20_000)), // ready
        ...players1.map((p) => p.nextJson(20_000)), // waiting
      ]);
      console.log(`[${since()}] nodes up; publishing live/p1`);
      const watch1 = EDGES.map((h) => new EdgeWatch(topo, h, "live/p1"));
      const ff1 = publish(topo, "live/p1");
      const hlsOut = `${dir}/p1_e1_hls.framecrc`;
      const hls1 = readHls(topo, "e1", "live/p1", hlsOut);
      const [raw1, raw2, ...end1] = await Promise.all([
        ...raw.map((p) => p.nextJson(40_000)),
        ...players1.map(async (p) => {
          const connected = await p.nextJson(40_000);
          equal(connected.event, "connected");
          return await p.nextJson(40_000);
        }),
      ]);
      await exitedOk(ff1, "ffmpeg publishing live/p1");
      const hlsReader = await hls1;
      const hlsStatus = await hlsReader.status;
      const [cloudEnd1, ...edgeEnd1] = await Promise.all([
        cloud.log.waitFor(/stream ended key=live\/p1 /, 10_000),
        ...EDGES.map((h) => endedStream(topo, h, "live/p1")),
      ]);
      ok(cloudEnd1);
      const last1 = await Promise.all(watch1.map((w) => w.stop()));
      const sent1 = await cloudPacketsTotal(topo);
      const drops1 = await Promise.all(EDGES.map((h) => rtpDropped(topo, h)));
      const rec1 = await readFlv(await recordingOf(`${dir}/cloud`, "live/p1"));
      const recKeys1 = await tagKeys(rec1);
      console.log(
        `[${since()}] live/p1 done: ${rec1.length} tags, ${sent1} RTP packets; dropped by nft at e1..e3: ${
          drops1.join(", ")
        }`,
      );

      await step({
        name:
          "issue 2: both multicast receivers get every packet; rebuilt tags equal the recording",
        fn: async () => {
          equal(
            packetsFor(rec1),
            sent1,
            "expected the cloud's rtp_packets_total to match its recording",
          );
          for (const [i, res] of [raw1, raw2].entries()) {
            const who = `raw receiver ${i + 1}`;
            equal(res.event, "result");
            equal(res.reason, "bye", `${who}: expected to stop at the BYE`);
            const datagrams = parseDump(
              await Deno.readFile(`${dir}/raw_e${i + 1}.dump`),
            );
            const { packets, bye } = rtpOf(datagrams, "live/p1");
            ok(bye, `${who}: expected a BYE for the stream`);
            equal(
              packets.length,
              sent1,
              `${who}: expected every RTP packet the cloud sent`,
            );
            for (let k = 1; k < packets.length; k++) {
              equal(
                packets[k].sequence,
                (packets[k - 1].sequence + 1) & 0xffff,
                `${who}: expected consecutive sequence numbers at packet ${k}`,
              );
            }
            const tags = tagsOfPackets(packets);
            const keys = await tagKeys(tags);
            equal(keys.length, recKeys1.length, `${who}: tag count`);
            for (let k = 0; k < keys.length; k++) {
              equal(keys[k], recKeys1[k], `${who}: tag ${k}`);
            }
          }
        },
      });

      await step({
        name:
          "issue 13: LL-HLS at 5 % loss: ffmpeg decodes e1's playlist with 0 errors, >= 95 % of the frames",
        fn: async () => {
          equal(
            hlsReader.stderrText().trim(),
            "",
            "expected ffmpeg to decode the HLS output without an error",
          );
          equal(hlsStatus.code, 0, "expected the HLS reader to exit 0");
          const { video, audio } = countFramecrc(
            await Deno.readTextFile(hlsOut),
          );
          console.log(
            `  e1 LL-HLS at 5 % loss: ${video} video frames, ${audio} audio frames decoded, 0 errors`,
          );
          ok(
            video >= 0.95 * CLIP_SECONDS * FPS,
            `expected >= 95 % of ${
              CLIP_SECONDS * FPS
            } video frames, got ${video}`,
          );
        },
      });

      await step({
        name:
          "issue 4: 5 % loss at three edges: every player gets the recording tag for tag, decodable",
        fn: async () => {
          for (const [i, host] of EDGES.entries()) {
            const end = end1[i];
            equal(end.event, "end");
            equal(end.reason, "eof", `${host}: expected the body to end`);
            const file = `${dir}/p1_${host}.flv`;
            const out = await readFlv(file);
            const a = align(rec1, recKeys1, out, await tagKeys(out), host);
            const c = edgeEnd1[i];
            const p = await probe(file);
            console.log(
              `  ${host}: ${out.length} tags (recording ${rec1.length}, first media tag = recording #${a.start}, ${a.missing} missing, first at #${a.firstMissing} ts ${
                rec1[a.firstMissing]?.timestamp
              }); nft dropped ${
                drops1[i]
              }; edge received ${c.packets_received} recovered ${c.recovered} unrecoverable ${c.unrecoverable} tags_dropped ${c.tags_dropped}; ${p.videoFrames} video frames; last API snapshot: ${
                apiSummary(last1[i])
              }`,
            );
            equal(a.missing, 0, `${host}: expected no tag missing`);
            ok(
              a.start <= rec1.findIndex(isKeyframe),
              `${host}: expected the player to get everything from the first keyframe on, it started at recording tag ${a.start}`,
            );
            ok(drops1[i] > 0, `${host}: expected nft to drop some packets`);
            equal(c.unrecoverable, 0, `${host}: unrecoverable`);
            equal(c.recovered, drops1[i], `${host}: recovered = dropped`);
            equal(c.packets_received, sent1 - drops1[i], `${host}: received`);
            equal(c.srtp_auth_failures, 0, `${host}: forged (SRTP auth)`);
            equal(p.errors.length, 0, `${host}: ffprobe: ${p.errors}`);
            ok(
              p.videoFrames >= 0.95 * CLIP_SECONDS * FPS,
              `${host}: expected >= 95 % of ${
                CLIP_SECONDS * FPS
              } frames, decoded ${p.videoFrames}`,
            );
          }
        },
      });

      // ---- publish 2: 20 % at e1; 5 % at e2 with its QUIC link cut; e3
      //      loses exactly the stream's first RTP packet ----------------------
      await setRtpLoss(topo, "e1", EDGE_PORT, { permille: 200 });
      await setRtpLoss(topo, "e2", EDGE_PORT, { permille: 50 });
      await setRtpLoss(topo, "e3", EDGE_PORT, "first");
      const hosts2: (typeof EDGES)[number][] = [
        "e1",
        "e2",
        "e3",
      ];
      const players2 = hosts2.map((host) =>
        topo.spawnDeno(host, READER, [
          "--url",
          "http://127.0.0.1:7001/live/p2.flv",
          "--out",
          `${dir}/p2_${host}.flv`,
          "--wait-ms",
          "30000",
        ])
      );
      await Promise.all(players2.map((p) => p.nextJson(20_000)));
      const e2LogFrom = edges.get("e2")!.log.lines.length;
      console.log(`[${since()}] publishing live/p2`);
      const watchE1 = new EdgeWatch(topo, "e1", "live/p2");
      const ff2 = publish(topo, "live/p2");
      const ends2List = Promise.all(players2.map(async (p) => {
        const connected = await p.nextJson(40_000);
        equal(connected.event, "connected");
        return await p.nextJson(40_000);
      }));
      const cut = await cutQuic(topo, "e2");
      const ends2 = new Map(
        (await ends2List).map((end, i) => [hosts2[i], end]),
      );
      await exitedOk(ff2, "ffmpeg publishing live/p2");
      const edgeEnds2 = new Map(
        await Promise.all(hosts2.map(async (h) =>
          [
            h,
            await endedStream(topo, h, "live/p2"),
          ] as const
        )),
      );
      await cloud.log.waitFor(/stream ended key=live\/p2 /, 10_000);
      const lastE1 = await watchE1.stop();
      const sent2 = (await cloudPacketsTotal(topo)) - sent1;
      const drops2 = new Map(
        await Promise.all(
          hosts2.map(async (h) => [h, await rtpDropped(topo, h)] as const),
        ),
      );
      const rec2 = await readFlv(await recordingOf(`${dir}/cloud`, "live/p2"));
      const recKeys2 = await tagKeys(rec2);
      equal(packetsFor(rec2), sent2, "live/p2: cloud packets vs recording");
      console.log(
        `[${since()}] live/p2 done: ${rec2.length} tags, ${sent2} RTP packets; dropped by nft at ${
          [...drops2].map(([h, n]) => `${h} ${n}`).join(", ")
        }`,
      );

      await step({
        name:
          "issue 4: 20 % loss: >= 99.9 % of tags arrive intact; received + recovered + unrecoverable = sent",
        fn: async () => {
          equal(ends2.get("e1")?.reason, "eof", "e1: expected the body to end");
          const file = `${dir}/p2_e1.flv`;
          const out = await readFlv(file);
          const a = align(rec2, recKeys2, out, await tagKeys(out), "e1");
          const delivered = (rec2.length - a.missing) / rec2.length;
          const c = edgeEnds2.get("e1")!;
          const dropped = drops2.get("e1")!;
          const p = await probe(file);
          console.log(
            `  e1 @20 %: ${rec2.length - a.missing}/${rec2.length} tags (${
              (delivered * 100).toFixed(2)
            } %); nft dropped ${dropped}; edge received ${c.packets_received} recovered ${c.recovered} unrecoverable ${c.unrecoverable} tags_dropped ${c.tags_dropped}; ${p.videoFrames} video frames; last API snapshot: ${
              apiSummary(lastE1)
            }`,
          );
          ok(
            a.start <= rec2.findIndex(isKeyframe),
            `e1: expected the player to start by the first keyframe, it started at recording tag ${a.start}`,
          );
          ok(
            delivered >= 0.999,
            `e1: expected >= 99.9 % of ${rec2.length} tags, received ${
              rec2.length - a.missing
            }`,
          );
          ok(dropped > 0.1 * sent2, `e1: expected ~20 % dropped by nft`);
          equal(
            Number(c.packets_received) + Number(c.recovered) +
              Number(c.unrecoverable),
            sent2,
            `e1: received ${c.packets_received} + recovered ${c.recovered} + unrecoverable ${c.unrecoverable} = sent ${sent2} (nft dropped ${dropped}; last API snapshot ${
              JSON.stringify(lastE1)
            })`,
          );
          equal(
            c.packets_received,
            sent2 - dropped,
            "e1: received = sent - dropped",
          );
          equal(c.srtp_auth_failures, 0, "e1: forged (SRTP auth)");
          equal(p.errors.length, 0, `e1: ffprobe: ${p.errors}`);
        },
      });

      await step({
        name:
          "issue 4: the stream's first RTP packet lost at an edge: repaired like any other",
        fn: async () => {
          equal(ends2.get("e3")?.reason, "eof", "e3: expected the body to end");
          equal(drops2.get("e3"), 1, "e3: expected nft to drop one packet");
          const out = await readFlv(`${dir}/p2_e3.flv`);
          const outKeys = await tagKeys(out);
          const c = edgeEnds2.get("e3")!;
          equal(
            outKeys[0],
            recKeys2[0],
            `e3: expected the recording's first tag (type ${
              rec2[0].type
            }) first, received ${
              out[0] && `type ${out[0].type} ts ${out[0].timestamp}`
            }`,
          );
          equal(outKeys.length, recKeys2.length, "e3: tag count");
          for (let k = 0; k < outKeys.length; k++) {
            equal(outKeys[k], recKeys2[k], `e3: tag ${k}`);
          }
          equal(
            `${c.packets_received}/${c.recovered}/${c.unrecoverable}`,
            `${sent2 - 1}/1/0`,
            "e3: received/recovered/unrecoverable",
          );
        },
      });

      await step({
        name:
          "issue 4: QUIC cut: the edge serves what arrives, drops what it cannot repair, recovers when the link returns",
        fn: async () => {
          ok(cut);
          const { before, during, after } = cut;
          equal(ends2.get("e2")?.reason, "eof", "e2: expected the body to end");
          const c = edgeEnds2.get("e2")!;
          // While cut: tags kept flowing, losses could not be repaired.
          ok(
            during.tags_out >= before.tags_out + 3 * FPS,
            `e2: expected tags to keep flowing while QUIC was cut: ${before.tags_out} → ${during.tags_out}`,
          );
          ok(
            during.unrecoverable > before.unrecoverable,
            `e2: expected unrecoverable packets while QUIC was cut: ${before.unrecoverable} → ${during.unrecoverable}`,
          );
          ok(
            during.tags_dropped > before.tags_dropped,
            `e2: expected tags dropped while QUIC was cut: ${before.tags_dropped} → ${during.tags_dropped}`,
          );
          // After: repairs again, nothing more given up once it recovered.
          equal(
            c.unrecoverable,
            after.unrecoverable,
            `e2: expected no packet given up after the link came back (${after.unrecoverable} at recovery, ${c.unrecoverable} at the end)`,
          );
          equal(
            Number(c.packets_received) + Number(c.recovered) +
              Number(c.unrecoverable),
            sent2,
            `e2: received ${c.packets_received} + recovered ${c.recovered} + unrecoverable ${c.unrecoverable} = sent ${sent2} (nft dropped ${
              drops2.get("e2")
            })`,
          );
          // The player: every tag it got is exact, what is missing is the cut.
          const file = `${dir}/p2_e2.flv`;
          const out = await readFlv(file);
          const a = align(rec2, recKeys2, out, await tagKeys(out), "e2");
          ok(a.missing > 0, "e2: expected the player to miss some tags");
          const tailMs = rec2[rec2.length - 1].timestamp -
            rec2[rec2.length - a.completeTail].timestamp;
          ok(
            tailMs >= 2000,
            `e2: expected the last >= 2 s of the stream complete after recovery, complete tail is ${tailMs} ms`,
          );
          const p = await probe(file);
          equal(p.errors.length, 0, `e2: ffprobe: ${p.errors}`);
          // A player never gets a GOP without its keyframe.
          const firstVideo = out.find((tg) =>
            tg.type === TAG_VIDEO && !isSequenceHeader(tg)
          );
          ok(firstVideo && isKeyframe(firstVideo), "e2: first video keyframe");
          const warnings = edges.get("e2")!.log.lines.slice(e2LogFrom).filter(
            (l) => /could not be repaired/.test(l),
          ).length;
          ok(
            warnings >= 1 && warnings <= 2,
            `e2: expected the loss warning at most once per 10 s, logged ${warnings}`,
          );
          console.log(
            `  e2 cut ${Math.round(cut.cutMs)} ms: ${
              rec2.length - a.missing
            }/${rec2.length} tags, complete tail ${tailMs} ms; repair back ${
              Math.round(cut.backAfterMs)
            } ms after the cut ended; unrecoverable before/during/end ${before.unrecoverable}/${during.unrecoverable}/${c.unrecoverable}, recovered ${before.recovered}/${during.recovered}/${c.recovered}, tags_dropped ${c.tags_dropped}`,
          );
        },
      });
      console.log(`[${since()}] checks done`);
    } catch (err) {
      stepsOk = false;
      throw err;
    } finally {
      if (!stepsOk) {
        for (const l of logs) {
          console.error(
            `--- ${l.name} (last lines)\n${l.lines.slice(-30).join("\n")}`,
          );
        }
      }
      await Promise.all(logs.map((l) => l.closed));
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
