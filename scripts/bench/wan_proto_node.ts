/**
 * BENCH PROTOTYPE — not product code. The two ends of one repair design,
 * for `deno task bench --only=wan-designs` (scripts/bench/wan_designs.ts):
 * the same RTP stream (the bench clip, packetized by the product's
 * {@linkcode RtpPacketizer}), the same NACK schedule (the product's
 * {@linkcode MissingPackets}: first NACK after a 20 ms grace, again every
 * 1.5 × RTT until the deadline, at most 8), the same RTT estimate (Karn,
 * 1/8 gain) and the same loss-adaptive copies ({@linkcode answerCopies},
 * {@linkcode LossEstimator}); only the answer path differs:
 *
 * - `stream`: the answers framed (RFC 4571) on the one bidirectional QUIC
 *   stream that carries the NACKs (SPEC §6 as first written).
 * - `ustream`: one unidirectional QUIC stream per answer batch (the answers
 *   of one NACK), so a lost QUIC packet holds only its own batch.
 * - `dgram`: each answer as QUIC DATAGRAMs (RFC 9221), k copies 5 ms apart;
 *   an answer larger than the connection's `maxDatagramSize` (1,162 bytes
 *   until path-MTU discovery; our RTP packets are 1,192) goes as two halves,
 *   lost when either half is.
 * - `udp`: the product's `RMOD` udp mode — plain UDP from the product's
 *   {@linkcode UdpAnswerSender}, k copies 5 ms apart.
 *
 * A trailing `1` (`dgram1`, `udp1`) pins k to 1 (single copy, re-requests
 * only). All QUIC runs Deno's native QUIC with `congestionControl:
 * "low-latency"` (quinn's BBR), as the product does.
 *
 * ```sh
 * deno run -A wan_proto_node.ts cloud --design D --clip F --seconds S --dir D
 * deno run -A wan_proto_node.ts edge --design D --cloud H:P --dir D --budget MS --seconds S
 * ```
 *
 * Each prints JSON lines: the cloud `{"event":"listening"}`, then
 * `{"event":"connected"}`; it starts sending once the file `DIR/go` exists,
 * and ends with `{"event":"result",…}` (the tag map, packets and answers
 * sent); the edge ends with its `{"event":"result",…}` (what never arrived
 * within the budget, NACKs, RTT).
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  FrameDecoder,
  frameMessage,
  frameMessages,
  generateSelfSigned,
  pemBlocks,
  pinTarget,
} from "../../lib/quic/mod.ts";
import { UdpAnswerSender } from "../../lib/quic/udp_answers.ts";
import { encodeNack, parseRtcp } from "../../lib/rtcp/mod.ts";
import { RtpPacketizer } from "../../lib/rtp/mod.ts";
import { isKeyframe } from "../../lib/flv/mod.ts";
import { MissingPackets } from "../../lib/edge/missing_packets.ts";
import { answerCopies, LossEstimator } from "../../lib/edge/repair_policy.ts";
import { loadClip } from "./media.ts";

const ALPN = "flvcast-wan-proto";
const SSRC = 0x5eed0001;
const GRACE_MS = 20;
const SPACING_MS = 5;
const RTP_PORT = 5222;
const ANSWER_PORT = 5224;

/** Tag kinds in the cloud's tag map. */
export const TAG_AUDIO = 8;
/** Video, not a keyframe. */
export const TAG_VIDEO = 9;
/** Video keyframe. */
export const TAG_KEY = 10;

/** A UDP socket on all addresses (`port` 0: any). */
function udpSocket(port: number): Deno.DatagramConn {
  return Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port });
}

/** Calls `onMessage` for every RFC 4571-framed message of `readable`. */
async function readFrames(
  readable: ReadableStream<Uint8Array>,
  onMessage: (m: Uint8Array) => Promise<void> | void,
): Promise<void> {
  const dec = new FrameDecoder();
  for await (const chunk of readable) {
    for (const m of dec.push(chunk)) await onMessage(m);
  }
}

function out(o: unknown): void {
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(o) + "\n"));
}

function json(o: unknown): Uint8Array {
  return frameMessage(new TextEncoder().encode(JSON.stringify(o)));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a framed message is a control message (JSON) rather than RTCP. */
function isJson(m: Uint8Array): boolean {
  return m[0] === 0x7b; // "{"
}

function designOf(d: string): { path: string; fixedOne: boolean } {
  const fixedOne = d.endsWith("1");
  const path = fixedOne ? d.slice(0, -1) : d;
  if (!["stream", "ustream", "dgram", "udp"].includes(path)) {
    throw new Error(
      `--design: expected stream, ustream, dgram, udp (or dgram1, udp1), received ${d}`,
    );
  }
  return { path, fixedOne };
}

// ---------------------------------------------------------------- cloud

async function cloud(a: Record<string, string>): Promise<void> {
  const { path } = designOf(a.design);
  const seconds = Number(a.seconds);
  const clip = await loadClip(a.clip);
  const tls = await generateSelfSigned();
  await Deno.writeTextFile(`${a.dir}/cert.pem`, tls.certPem);
  const endpoint = new Deno.QuicEndpoint({ hostname: "0.0.0.0", port: 4243 });
  const listener = endpoint.listen({
    alpnProtocols: [ALPN],
    cert: tls.certPem,
    key: tls.keyPem,
    congestionControl: "low-latency",
    maxIdleTimeout: 30_000,
  });
  out({ event: "listening", port: endpoint.addr.port });
  const conn = await listener.accept();
  const edgeIp = conn.remoteAddr.hostname;
  const bidi = await conn.incomingBidirectionalStreams.getReader().read();
  const stream = bidi.value!;
  const writer = stream.writable.getWriter();
  const cache = new Map<number, Uint8Array>();
  let copies = 1;
  const stats = {
    rtpPackets: 0,
    rtpBytes: 0,
    nacks: 0,
    seqsAsked: 0,
    answers: 0,
    answerCopies: 0,
    datagramsSplit: 0,
    answerErrors: 0,
    firstError: "",
    maxDatagramSize: conn.maxDatagramSize,
  };
  const udp = new UdpAnswerSender({});
  let finished = false;
  conn.closed.then(() => finished = true, () => finished = true);
  let answerPort = 0;
  const errors = (e: unknown) => {
    stats.answerErrors++;
    stats.firstError ||= String(e).slice(0, 200);
  };
  const sendDatagrams = (pkts: Uint8Array[]) => {
    for (const p of pkts) {
      const max = conn.maxDatagramSize;
      stats.maxDatagramSize = Math.min(stats.maxDatagramSize, max);
      const parts = p.length + 4 <= max ? 1 : 2;
      if (parts === 2) stats.datagramsSplit++;
      const half = Math.ceil(p.length / parts);
      for (let i = 0; i < parts; i++) {
        const body = p.subarray(i * half, Math.min(p.length, (i + 1) * half));
        const d = new Uint8Array(4 + body.length);
        d[0] = p[2];
        d[1] = p[3];
        d[2] = i;
        d[3] = parts;
        d.set(body, 4);
        conn.sendDatagram(d).catch(errors);
      }
    }
  };
  const answer = async (seqs: number[]) => {
    const pkts = seqs.map((s) => cache.get(s)).filter((p) => p !== undefined);
    if (pkts.length === 0) return;
    stats.answers += pkts.length;
    if (path === "stream") await writer.write(frameMessages(pkts));
    else if (path === "ustream") {
      conn.createUnidirectionalStream().then(async (s) => {
        const w = s.getWriter();
        await w.write(frameMessages(pkts));
        await w.close();
      }).catch(errors);
    } else if (path === "dgram") {
      sendDatagrams(pkts);
      for (let i = 1; i < copies; i++) {
        stats.answerCopies += pkts.length;
        setTimeout(() => sendDatagrams(pkts), SPACING_MS * i);
      }
    } else {
      stats.answerCopies += pkts.length * (copies - 1);
      udp.send(pkts, {
        hostname: edgeIp,
        port: answerPort,
        copies,
        spacingMs: SPACING_MS,
      });
    }
  };
  // Requests: NACKs (RTCP) and control messages (JSON) on the one stream.
  const reading = readFrames(stream.readable, async (m) => {
    if (isJson(m)) {
      const c = JSON.parse(new TextDecoder().decode(m));
      if (c.copies) copies = c.copies;
      if (c.answerPort) answerPort = c.answerPort;
      return;
    }
    for (const p of parseRtcp(m)) {
      if (p.type !== "nack") continue;
      stats.nacks++;
      stats.seqsAsked += p.seqs.length;
      await answer(p.seqs);
    }
  }).catch((e) => {
    if (!finished) errors(e);
  });
  out({ event: "connected", remote: `${edgeIp}` });
  const go = () => Deno.stat(`${a.dir}/go`).then(() => true, () => false);
  while (!(await go())) await sleep(20);

  // Media: the clip's tags in a loop, paced by their timestamps.
  const rtp = udpSocket(0);
  const to: Deno.NetAddr = {
    transport: "udp",
    hostname: edgeIp,
    port: RTP_PORT,
  };
  const pk = new RtpPacketizer({ ssrc: SSRC, initialSequence: 0 });
  /** Per tag: first sequence number, packet count, kind. */
  const tags: [number, number, number][] = [];
  const t0 = performance.now();
  const endMs = seconds * 1000;
  let loop = 0;
  outer: for (;;) {
    for (const tag of clip.media) {
      const at = loop * clip.durationMs + tag.timestamp;
      if (at >= endMs) break outer;
      const wait = t0 + at - performance.now();
      if (wait > 1) await sleep(wait);
      const first = pk.nextSequence;
      const pkts = pk.packetize({ ...tag, timestamp: at });
      tags.push([
        first,
        pkts.length,
        tag.type === 8 ? TAG_AUDIO : isKeyframe(tag) ? TAG_KEY : TAG_VIDEO,
      ]);
      for (const p of pkts) {
        const copy = p.slice();
        cache.set((copy[2] << 8) | copy[3], copy);
        stats.rtpPackets++;
        stats.rtpBytes += copy.length;
        await rtp.send(copy, to);
      }
    }
    loop++;
  }
  await writer.write(json({ end: pk.nextSequence - 1 }));
  // Repairs of the last packets: until the edge is done (it closes the
  // connection after its deadlines) or the budget and some.
  await Promise.race([sleep(Number(a.budget) + 2500), conn.closed]);
  finished = true;
  out({ event: "result", ...stats, copiesLast: copies, tags });
  udp.close();
  rtp.close();
  try {
    conn.close({ closeCode: 0, reason: "done" });
  } catch {
    // closed
  }
  await reading.catch(() => {});
  endpoint.close();
}

// ---------------------------------------------------------------- edge

/** Packet states at the edge. */
const ARRIVED = 1, REPAIRED = 2, LATE = 3, GAVE_UP = 4;

async function edge(a: Record<string, string>): Promise<void> {
  const { path, fixedOne } = designOf(a.design);
  const budget = Number(a.budget);
  const seconds = Number(a.seconds);
  const [host, port] = a.cloud.split(":");
  const certPem = await Deno.readTextFile(`${a.dir}/cert.pem`);
  const pin = pinTarget(pemBlocks(certPem, "CERTIFICATE")[0]);
  const conn = await Deno.connectQuic({
    hostname: host,
    port: Number(port),
    alpnProtocols: [ALPN],
    caCerts: [pin.certPem],
    serverName: pin.serverName,
    congestionControl: "low-latency",
    maxIdleTimeout: 30_000,
    keepAliveInterval: 1000,
    maxConcurrentUnidirectionalStreams: 10_000,
  });
  const stream = await conn.createBidirectionalStream();
  const writer = stream.writable.getWriter();
  // The cloud sees the stream once something is written on it.
  await writer.write(json({ hello: a.design }));
  const state = new Uint8Array(65_536);
  const detected = new Map<number, number>();
  const asked = new Map<number, { n: number; at: number }>();
  const missing = new MissingPackets({
    latencyMs: budget,
    graceMs: GRACE_MS,
    minRetryMs: 20,
    maxNacks: 8,
  });
  const counts = { lost: 0, nacked: 0 };
  const st = {
    received: 0,
    repaired: 0,
    late: 0,
    duplicates: 0,
    gaveUp: 0,
    nackMessages: 0,
    rttSamples: 0,
    copies: 1,
  };
  let highest = -1;
  let srtt = 0;
  let lastSeq = Infinity;
  let endAt = Infinity;
  const onAnswer = (p: Uint8Array) => {
    const seq = (p[2] << 8) | p[3];
    if (!detected.has(seq)) {
      st.duplicates++;
      return;
    }
    const now = performance.now();
    const late = now >= detected.get(seq)! + budget;
    detected.delete(seq);
    missing.delete(seq);
    state[seq] = late ? LATE : REPAIRED;
    if (late) st.late++;
    else st.repaired++;
    const q = asked.get(seq);
    if (q && (q.n === 1 || srtt === 0)) {
      const sample = now - q.at;
      srtt = srtt === 0 ? sample : srtt + (sample - srtt) / 8;
      st.rttSamples++;
    }
  };
  const gap = (upTo: number, now: number) => {
    for (let s = highest + 1; s < upTo; s++) {
      detected.set(s, now);
      missing.add(s, now);
    }
  };
  // Media.
  const rtp = udpSocket(RTP_PORT);
  const media = (async () => {
    const buf = new Uint8Array(2048);
    for (;;) {
      let n: number;
      try {
        n = (await rtp.receive(buf))[0].length;
      } catch {
        return;
      }
      if (n < 12) continue;
      const seq = (buf[2] << 8) | buf[3];
      const now = performance.now();
      if (seq > highest) {
        gap(seq, now);
        highest = seq;
        state[seq] = ARRIVED;
        st.received++;
      } else if (detected.has(seq)) {
        // Reordered: arrived on the primary path after all.
        detected.delete(seq);
        missing.delete(seq);
        state[seq] = ARRIVED;
        st.received++;
      }
    }
  })();
  // Answers.
  const tasks: Promise<unknown>[] = [media];
  const ctl = readFrames(stream.readable, (m) => {
    if (!isJson(m)) return onAnswer(m);
    const c = JSON.parse(new TextDecoder().decode(m));
    if (typeof c.end === "number") {
      lastSeq = c.end;
      const now = performance.now();
      if (highest < lastSeq) gap(lastSeq + 1, now);
      endAt = now + budget + 200;
    }
  }).catch(() => {});
  tasks.push(ctl);
  let udp: Deno.DatagramConn | undefined;
  if (path === "ustream") {
    tasks.push(
      (async () => {
        const r = conn.incomingUnidirectionalStreams.getReader();
        for (;;) {
          const { value, done } = await r.read();
          if (done) return;
          readFrames(value, onAnswer).catch(() => {});
        }
      })().catch(() => {}),
    );
  } else if (path === "dgram") {
    const parts = new Map<number, (Uint8Array | undefined)[]>();
    tasks.push(
      (async () => {
        for (;;) {
          const d = await conn.readDatagram();
          const seq = (d[0] << 8) | d[1];
          const body = d.subarray(4);
          if (d[3] === 1) {
            onAnswer(body);
            continue;
          }
          const have = parts.get(seq) ??
            Array.from(
              { length: d[3] },
              (): Uint8Array | undefined => undefined,
            );
          have[d[2]] = body;
          if (have.every((x) => x !== undefined)) {
            parts.delete(seq);
            const len = have.reduce((n, x) => n + x!.length, 0);
            const p = new Uint8Array(len);
            let o = 0;
            for (const x of have) {
              p.set(x!, o);
              o += x!.length;
            }
            onAnswer(p);
          } else parts.set(seq, have);
          if (parts.size > 4096) parts.delete(parts.keys().next().value!);
        }
      })().catch(() => {}),
    );
  } else if (path === "udp") {
    udp = udpSocket(ANSWER_PORT);
    const sock = udp;
    tasks.push(
      (async () => {
        const buf = new Uint8Array(2048);
        for (;;) {
          const [d] = await sock.receive(buf);
          onAnswer(d.slice());
        }
      })().catch(() => {}),
    );
    await writer.write(json({ answerPort: ANSWER_PORT }));
  }
  // NACKs, deadlines and copies; a new link starts at the product's
  // initial copies (the prior loss, one round: RepairPolicy.initialCopies).
  const loss = new LossEstimator();
  if (!fixedOne && (path === "dgram" || path === "udp")) {
    st.copies = answerCopies({
      lossRate: loss.rate,
      rttMs: 0,
      budgetMs: budget,
      graceMs: GRACE_MS,
    });
    await writer.write(json({ copies: st.copies }));
  }
  let sampledLost = 0, sampledRecv = 0, sampledAt = performance.now();
  const hardEnd = performance.now() + seconds * 1000 + 60_000;
  while (performance.now() < Math.min(endAt, hardEnd)) {
    await sleep(5);
    const now = performance.now();
    for (const [seq, at] of detected) {
      if (now >= at + budget) {
        detected.delete(seq);
        missing.delete(seq);
        state[seq] = GAVE_UP;
        st.gaveUp++;
      }
    }
    const due = missing.due(now, srtt, counts);
    if (due.length > 0) {
      for (const s of due) {
        const q = asked.get(s);
        if (q) q.n++;
        else asked.set(s, { n: 1, at: now });
      }
      st.nackMessages++;
      await writer.write(frameMessage(encodeNack(1, SSRC, due)));
    }
    if (now - sampledAt >= 1000) {
      const rate = loss.update(
        counts.lost - sampledLost,
        st.received - sampledRecv,
      );
      sampledLost = counts.lost;
      sampledRecv = st.received;
      sampledAt = now;
      const k = fixedOne || path === "stream" || path === "ustream"
        ? 1
        : answerCopies({
          lossRate: rate,
          rttMs: srtt,
          budgetMs: budget,
          graceMs: GRACE_MS,
        });
      if (k !== st.copies) {
        st.copies = k;
        await writer.write(json({ copies: k }));
      }
    }
  }
  const last = Number.isFinite(lastSeq) ? lastSeq : highest;
  const undelivered: number[] = [];
  for (let s = 0; s <= last; s++) {
    if (state[s] !== ARRIVED && state[s] !== REPAIRED) undelivered.push(s);
  }
  out({
    event: "result",
    ...st,
    lost: counts.lost,
    nacks: counts.nacked,
    rttMs: Math.round(srtt),
    lastSeq: last,
    undelivered,
  });
  rtp.close();
  udp?.close();
  try {
    conn.close({ closeCode: 0, reason: "done" });
  } catch {
    // closed
  }
  await Promise.race([Promise.allSettled(tasks), sleep(500)]);
  Deno.exit(0);
}

if (import.meta.main) {
  const { positionals, values } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      design: { type: "string" },
      clip: { type: "string", default: "" },
      seconds: { type: "string", default: "10" },
      dir: { type: "string" },
      cloud: { type: "string", default: "" },
      budget: { type: "string", default: "400" },
    },
  });
  const a = values as Record<string, string>;
  if (positionals[0] === "cloud") await cloud(a);
  else if (positionals[0] === "edge") await edge(a);
  else throw new Error(`expected cloud or edge, received ${positionals[0]}`);
  Deno.exit(0);
}
