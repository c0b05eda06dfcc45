/**
 * The edge's receiver core, driven with fake time and exact datagrams: no
 * sockets, no timers. Every scenario is deterministic.
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  EdgeReceiver,
  type EdgeReceiverOptions,
  type RepairRequest,
} from "../lib/edge/mod.ts";
import type { FlvTag } from "../lib/flv/mod.ts";
import { type HubStream, StreamHub } from "../lib/hub/mod.ts";
import {
  encodeBye,
  encodeCompound,
  encodeSdes,
  encodeSenderReport,
  type KeysAnswer,
} from "../lib/rtcp/mod.ts";
import { RtpPacketizer, rtpSequence } from "../lib/rtp/mod.ts";
import { DEFAULT_REPAIR_MAX_PPS } from "../lib/quic/mod.ts";
import { withSeed } from "../testkit/mod.ts";
import {
  newKeyMaterial,
  type SrtpKeyMaterial,
  SrtpSender,
} from "../lib/srtp/mod.ts";
import { encodeTag } from "../lib/flv/mod.ts";
import { describe, syntheticStream } from "./http_support.ts";

const CLOUD = { hostname: "10.0.0.1", port: 5220 };

/** A publish: packetizer + the RTCP the cloud sends (SRTP with `keys`). */
class Publish {
  readonly pk: RtpPacketizer;
  readonly key: string;
  /** Every packet produced (as sent), by sequence number. */
  readonly sent = new Map<number, Uint8Array>();
  readonly srtp: SrtpSender | undefined;
  readonly firstSeq: number;
  constructor(key: string, ssrc: number, seq = 100, keys?: SrtpKeyMaterial) {
    this.key = key;
    this.firstSeq = seq;
    this.pk = new RtpPacketizer({
      ssrc,
      initialSequence: seq,
      payloadSize: 300,
    });
    this.srtp = keys && new SrtpSender({ ...keys, ssrc });
  }
  report(): Uint8Array {
    const c = encodeCompound([
      encodeSenderReport({
        ssrc: this.pk.ssrc,
        ntpSec: 0,
        ntpFrac: 0,
        rtpTimestamp: 0,
        packetCount: this.pk.packetsSent,
        octetCount: this.pk.octetsSent,
      }),
      encodeSdes(this.pk.ssrc, { cname: "c", key: this.key }),
    ]);
    return this.srtp ? this.srtp.protectRtcp(c) : c;
  }
  bye(): Uint8Array {
    return encodeBye(this.pk.ssrc, "publisher left");
  }
  packets(tags: FlvTag[]): Uint8Array[] {
    let out = tags.flatMap((t) => this.pk.packetize(t));
    const srtp = this.srtp;
    if (srtp) out = out.map((d) => srtp.protectRtp(d));
    for (const d of out) this.sent.set(rtpSequence(d), d);
    return out;
  }
}

/** A receiver on a hub, with every repair request and every tag kept. */
function harness(opts: Partial<EdgeReceiverOptions> = {}) {
  const hub = new StreamHub();
  const repairs: RepairRequest[] = [];
  const tags = new Map<string, FlvTag[]>();
  const ends: string[] = [];
  hub.onOpen((s: HubStream) => {
    const got: FlvTag[] = [];
    tags.set(s.key, got);
    s.subscribe({
      onTag: (t) => got.push(t),
      onEnd: (r) => ends.push(`${s.key}:${r}`),
    });
  });
  const rx = new EdgeReceiver({
    hub,
    latencyMs: 200,
    onRepair: (r) => repairs.push(r),
    wallClock: () => 0,
    ...opts,
  });
  return { hub, rx, repairs, tags, ends };
}

Deno.test("receiver: nothing is timed while idle; a stream's timeout is its next event", () => {
  const { rx, hub } = harness({ streamTimeoutMs: 5000 });
  equal(rx.nextEventAt(), undefined);
  const pub = new Publish("live/a", 0x1111);
  rx.receive(pub.report(), CLOUD, 1000);
  ok(hub.get("live/a"));
  equal(rx.nextEventAt(), 6000);
  rx.tick(5999);
  equal(rx.size, 1);
  rx.tick(6000);
  equal(rx.size, 0, "silent for streamTimeoutMs: ended");
  equal(hub.get("live/a"), undefined);
  equal(rx.nextEventAt(), undefined);
});

/** Plays the cloud: answers every request made so far from `pub` (or the
 * publish of the request's SSRC). */
function answer(
  rx: EdgeReceiver,
  repairs: RepairRequest[],
  pub: Publish | ReadonlyMap<number, Publish>,
  now: number,
): void {
  for (const req of repairs.splice(0)) {
    const from = pub instanceof Publish ? pub : pub.get(req.ssrc)!;
    for (const seq of req.seqs) {
      const packet = from.sent.get(seq);
      rx.repaired(
        req,
        seq,
        packet ? { status: "ok", packet } : { status: "unavailable" },
        now,
      );
    }
  }
}

Deno.test("receiver: a fresh stream asks for its start at once; a lost packet is asked for at its NACK time and repaired", () => {
  const { rx, repairs, tags } = harness();
  const pub = new Publish("live/b", 0x2222);
  rx.receive(pub.report(), CLOUD, 0); // SR count 0: the stream just began
  const sent = syntheticStream({ gops: 1, frames: 4 });
  const datagrams = pub.packets(sent);
  const lost = rtpSequence(datagrams[5]);
  for (const d of datagrams) {
    if (rtpSequence(d) !== lost) rx.receive(d, CLOUD, 1);
  }
  equal(rx.nextEventAt(), 1, "the probes for the start are due at once");
  rx.tick(1);
  equal(repairs.length, 1);
  equal(repairs[0].seqs.length, 16, "16 probes before the first packet");
  answer(rx, repairs, pub, 2); // none existed: "unavailable"
  equal(tags.get("live/b")!.length, 0, "a start waits the reorder grace");
  const at = rx.nextEventAt()!;
  equal(at, 1 + 20, "grace = min(20, latency/10): the gap's NACK time too");
  rx.tick(at);
  // meta, AVC and AAC headers fit one packet each; the keyframe lost one.
  equal(tags.get("live/b")!.length, 3, "the tags before the gap are out");
  deepEqual(repairs.map((r) => r.seqs), [[lost]]);
  equal(repairs[0].key, "live/b");
  deepEqual(repairs[0].source, CLOUD);
  answer(rx, repairs, pub, at + 7);
  deepEqual(tags.get("live/b")!.map(describe), sent.map(describe));
  const [info] = rx.streams();
  equal(info.recovered, 1);
  equal(info.unrecoverable, 0);
  equal(info.lost, 1);
  rx.tick(at + 7);
  equal(rx.nextEventAt(), 1 + 5000, "only the stream timeout is left");
});

Deno.test("receiver: packets before their SDES are held, then delivered in order", () => {
  const { rx, tags } = harness();
  const pub = new Publish("live/c", 0x3333);
  const sent = syntheticStream({ gops: 1, frames: 2 });
  for (const d of pub.packets(sent)) rx.receive(d, CLOUD, 0);
  equal(rx.size, 0);
  equal(rx.nextEventAt(), 5000, "held packets time out");
  rx.receive(pub.report(), CLOUD, 10);
  equal(rx.size, 1);
  rx.tick(rx.nextEventAt()!);
  deepEqual(tags.get("live/c")!.map(describe), sent.map(describe));
  equal(rx.stats.unnamedDropped, 0);
});

Deno.test("receiver: held packets of an SSRC never named are dropped at the timeout", () => {
  const { rx } = harness({ streamTimeoutMs: 1000 });
  const pub = new Publish("live/d", 0x4444);
  const n = pub.packets(syntheticStream({ gops: 1, frames: 1 })).map((d) => {
    rx.receive(d, CLOUD, 0);
  }).length;
  rx.tick(999);
  equal(rx.stats.unnamedDropped, 0);
  rx.tick(1000);
  equal(rx.stats.unnamedDropped, n);
  equal(rx.nextEventAt(), undefined);
});

Deno.test("receiver: a new SSRC for a live key replaces it; the old hub stream ends", () => {
  const { rx, hub, tags, ends } = harness();
  const a = new Publish("live/e", 0x5555);
  rx.receive(a.report(), CLOUD, 0);
  for (const d of a.packets(syntheticStream({ gops: 1, frames: 2 }))) {
    rx.receive(d, CLOUD, 1);
  }
  const b = new Publish("live/e", 0x6666, 40_000);
  const second = syntheticStream({ gops: 1, frames: 2, t0: 5000 });
  const datagrams = b.packets(second); // before its SR: not a fresh start
  rx.receive(b.report(), CLOUD, 50);
  deepEqual(ends, ["live/e:replaced"]);
  equal(rx.stats.republishes, 1);
  for (const d of datagrams) rx.receive(d, CLOUD, 51);
  rx.tick(70);
  equal(tags.get("live/e")!.length, 0, "a start is held for the reorder grace");
  rx.tick(71);
  deepEqual(tags.get("live/e")!.map(describe), second.map(describe));
  // Late packets of the old SSRC reach nobody.
  for (const d of a.packets(syntheticStream({ gops: 1, frames: 1 }))) {
    rx.receive(d, CLOUD, 52);
  }
  equal(tags.get("live/e")!.length, second.length);
  equal(hub.size, 1);
});

Deno.test("receiver: a BYE ends the stream after the repair budget and retires the SSRC", () => {
  const { rx, ends } = harness();
  const pub = new Publish("live/f", 0x7777);
  rx.receive(pub.report(), CLOUD, 0);
  rx.receive(pub.bye(), CLOUD, 100);
  equal(rx.nextEventAt(), 300, "latency after the BYE");
  rx.tick(300);
  deepEqual(ends, ["live/f:bye"]);
  rx.receive(pub.report(), CLOUD, 400);
  equal(rx.size, 0, "a retired SSRC does not start again");
  equal(rx.nextEventAt(), 100 + 10_000, "until the retirement ends");
});

Deno.test("receiver: the repair budget gives up what it cannot ask for, at once", () => {
  const { rx, repairs, tags } = harness({ maxRepairPerSecond: 4 });
  const pub = new Publish("live/g", 0x8888);
  const sent = syntheticStream({ gops: 2, frames: 5 });
  const datagrams = pub.packets(sent);
  rx.receive(pub.report(), CLOUD, 0); // counts them: not a fresh start
  // Every 3rd packet after the start tags is lost: far more than 4.
  // (Not the last one: a loss at the tail is only seen through the next SR.)
  const lost = datagrams.slice(10, -1).filter((_, i) => i % 3 === 0).map(
    rtpSequence,
  );
  ok(lost.length > 4);
  for (const d of datagrams) {
    if (!lost.includes(rtpSequence(d))) rx.receive(d, CLOUD, 1);
  }
  rx.tick(rx.nextEventAt()!);
  equal(repairs.length, 1);
  equal(repairs[0].seqs.length, 4, "the burst of the budget");
  equal(rx.stats.repairShed, lost.length - 4);
  answer(rx, repairs, pub, 30);
  const [info] = rx.streams();
  equal(info.recovered, 4);
  equal(info.unrecoverable, lost.length - 4, "shed = given up at once");
  equal(info.pending_repair, 0);
  ok(tags.get("live/g")!.length < sent.length);
});

Deno.test("receiver: a garbage datagram is counted and changes nothing", () => {
  const { rx } = harness();
  rx.receive(new Uint8Array([0x80, 0xc8, 0, 40]), CLOUD, 0);
  rx.receive(new Uint8Array([1, 2, 3]), CLOUD, 0);
  equal(rx.stats.malformed, 2);
  equal(rx.stats.datagrams, 2);
  equal(rx.size, 0);
  equal(rx.nextEventAt(), undefined);
});

Deno.test("receiver: simulated loss uses the given random source", () => {
  let i = 0;
  const { rx } = harness({ packLoss: 0.5, random: () => (i++ % 2) * 0.9 });
  const pub = new Publish("live/h", 0x9999);
  rx.receive(pub.report(), CLOUD, 0);
  const datagrams = pub.packets(syntheticStream({ gops: 1, frames: 2 }));
  for (const d of datagrams) rx.receive(d, CLOUD, 1);
  equal(rx.stats.simulatedDrops, Math.ceil(datagrams.length / 2));
});

/**
 * `streams` publishes of `perStream` packets each at `pps` packets/s per
 * stream through one receiver at its defaults, answered at once; `lose`
 * says which packets never arrive. Returns the receiver, what each stream
 * was sent and delivered, and the repair requests per second.
 */
function loadedEdge(
  o: { streams: number; pps: number; lose: (s: number, i: number) => boolean },
) {
  const { rx, repairs, tags } = harness();
  const pubs = new Map<number, Publish>();
  const sent = new Map<string, FlvTag[]>();
  const traffic: { at: number; d: Uint8Array }[] = [];
  for (let s = 0; s < o.streams; s++) {
    const pub = new Publish(`live/s${s}`, 0x10000 + s);
    pubs.set(pub.pk.ssrc, pub);
    const stream = syntheticStream({ gops: 6, frames: 25 });
    sent.set(pub.key, stream);
    const datagrams = pub.packets(stream);
    rx.receive(pub.report(), CLOUD, 0); // counts them: not a fresh start
    // The stream's start (where a joining edge begins) and its last packet
    // (tail loss is seen only through the next SR) always arrive.
    datagrams.forEach((d, i, all) => {
      if (i >= 10 && i < all.length - 1 && o.lose(s, i)) return;
      traffic.push({ at: 1 + Math.round(i * 1000 / o.pps), d });
    });
  }
  traffic.sort((a, b) => a.at - b.at);
  const asked: number[] = [];
  const advance = (to: number) => {
    let guard = 0;
    for (let n = rx.nextEventAt(); n !== undefined && n <= to;) {
      if (++guard > 1000) throw new Error(`no progress at ${n} (to ${to})`);
      rx.tick(n);
      const second = Math.floor(n / 1000);
      for (const req of repairs) {
        asked[second] = (asked[second] ?? 0) + req.seqs.length;
      }
      answer(rx, repairs, pubs, n);
      n = rx.nextEventAt();
    }
  };
  for (const { at, d } of traffic) {
    advance(at);
    rx.receive(d, CLOUD, at);
  }
  advance(traffic[traffic.length - 1].at + 1000);
  return { rx, sent, tags, asked: asked.map((n) => n ?? 0) };
}

Deno.test("receiver: the default repair budget repairs 20 % loss on 50 streams × 300 packets/s in full", () =>
  withSeed((random) => {
    const { rx, sent, tags, asked } = loadedEdge({
      streams: 50,
      pps: 300,
      lose: () => random() < 0.2,
    });
    equal(rx.stats.repairShed, 0, "the budget never gave anything up");
    const peak = Math.max(...asked);
    ok(peak > 2000, `~3,000 repairs a second were asked (peak ${peak})`);
    ok(peak <= DEFAULT_REPAIR_MAX_PPS, `within the default budget: ${peak}`);
    for (const [key, stream] of sent) {
      deepEqual(tags.get(key)!.map(describe), stream.map(describe), key);
    }
    for (const s of rx.streams()) equal(s.unrecoverable, 0, s.key);
  }));

Deno.test("receiver: the default repair budget caps a burst: a second of loss on 50 streams asks for one budget, the rest is given up at once", () => {
  // Every packet of each stream's second second (300..599) is lost.
  const { rx, asked } = loadedEdge({
    streams: 50,
    pps: 300,
    lose: (_s, i) => i >= 300 && i < 600,
  });
  const lost = rx.streams().reduce((a, s) => a + s.lost, 0);
  ok(lost >= 50 * 290, `a burst far over the budget was lost: ${lost}`);
  ok(rx.stats.repairShed > 0, "past the budget, losses are given up");
  const total = asked.reduce((a, b) => a + b, 0);
  const seconds = asked.length;
  ok(
    total <= DEFAULT_REPAIR_MAX_PPS * (seconds + 1),
    `at most the burst plus the rate was asked: ${total} in ${seconds} s`,
  );
  equal(total + rx.stats.repairShed, lost, "every loss asked for or shed");
  for (const s of rx.streams()) equal(s.pending_repair, 0, s.key);
});

/** Runs the receiver's timers up to `end`, the cloud answering every
 * repair request `rttMs` later (each answer that `lose` says is lost never
 * comes; its NACK is asked again). */
function runUntil(
  rx: EdgeReceiver,
  repairs: RepairRequest[],
  pub: Publish,
  now: number,
  end: number,
): number {
  for (let at = rx.nextEventAt(); at !== undefined && at <= end;) {
    now = Math.max(now, at);
    rx.tick(now);
    answer(rx, repairs, pub, now);
    at = rx.nextEventAt();
  }
  return end;
}

/** The cloud's `KEYS` answer for `pub` (its first sequence number as made)
 * once it has sent `last` (with ROC `roc`); the state tags are `sent`'s
 * first three (metadata, sequence headers). */
function keysAnswer(
  pub: Publish,
  keys: SrtpKeyMaterial,
  last: Uint8Array,
  roc: number,
  sent: FlvTag[],
): KeysAnswer {
  return {
    ssrc: pub.pk.ssrc,
    profile: 1,
    ...keys,
    roc,
    highestSeq: rtpSequence(last),
    firstSeq: pub.firstSeq,
    streamKey: pub.key,
    stateTags: sent.slice(0, 3).map(encodeTag),
  };
}

Deno.test("receiver (SRTP): first SR + SDES lost, the next one held with the stream until KEYS: received from its start once, no state replayed, counters add up", () => {
  // Seen in netns_wan at 20 % loss: the player got 3 tags too many
  // (onMetaData and both sequence headers twice) and the counters were one
  // over (an "unrecoverable" packet before the publish's first one).
  const keys = newKeyMaterial();
  const asked: number[] = [];
  const { rx, repairs, tags } = harness({
    srtp: true,
    onKeys: (ssrc) => asked.push(ssrc),
  });
  const pub = new Publish("live/k", 0xabcd, 100, keys);
  pub.report(); // SR count 0 + SDES: lost on the way
  const sent = syntheticStream({ gops: 2, frames: 5 });
  const first = pub.packets(sent.slice(0, 9));
  // Every packet until the next report arrives but the first one and the
  // last one (tail loss: the report's count reveals it).
  for (const d of first.slice(1, -1)) rx.receive(d, CLOUD, 1);
  rx.receive(pub.report(), CLOUD, 40); // SR counts them all; held as well
  deepEqual(asked, [0xabcd], "keys asked for at the first packet");
  equal(rx.size, 0, "nothing named before the keys");
  rx.keys(0xabcd, keysAnswer(pub, keys, first.at(-1)!, 0, sent), 100);
  equal(rx.size, 1);
  const rest = pub.packets(sent.slice(9));
  rest.forEach((d, i) => rx.receive(d, CLOUD, 101 + i));
  runUntil(rx, repairs, pub, 101, 2000);
  deepEqual(tags.get("live/k")!.map(describe), sent.map(describe));
  const [info] = rx.streams();
  equal(
    info.packets_received + info.recovered + info.unrecoverable,
    pub.sent.size,
    `received ${info.packets_received} + recovered ${info.recovered} + unrecoverable ${info.unrecoverable} = sent`,
  );
  equal(info.recovered, 2, "the first packet and the tail loss, repaired");
  equal(info.unrecoverable, 0);
});

Deno.test("receiver (SRTP): an edge that joins mid-stream starts after a tag boundary with the KEYS state once; a report never pulls the start back", () => {
  const keys = newKeyMaterial();
  const { rx, repairs, tags } = harness({ srtp: true });
  const pub = new Publish("live/j", 0xbcde, 65_500, keys); // wraps early
  const sent = syntheticStream({ gops: 6, frames: 5 });
  const before = pub.packets(sent.slice(0, 33)); // sent before the edge ran
  ok(before.length > 64);
  const held = pub.packets(sent.slice(33, 36)); // P-frame, audio, P-frame
  held.forEach((d, i) => rx.receive(d, CLOUD, i));
  rx.receive(pub.report(), CLOUD, 5); // counts every packet since the start
  rx.keys(0xbcde, keysAnswer(pub, keys, held.at(-1)!, 1, sent), 10);
  pub.packets(sent.slice(36)).forEach((d, i) => rx.receive(d, CLOUD, 11 + i));
  rx.receive(pub.report(), CLOUD, 200);
  runUntil(rx, repairs, pub, 200, 2000);
  const nextKey = sent.findIndex((t, i) =>
    i >= 36 && t.type === 9 &&
    (t.data[0] >> 4) === 1
  );
  const audioAfterMarker = sent.slice(34, nextKey).filter((t) => t.type === 8);
  deepEqual(
    tags.get("live/j")!.map(describe),
    [...sent.slice(0, 3), ...audioAfterMarker, ...sent.slice(nextKey)].map(
      describe,
    ),
    "state once, audio from the first tag boundary, video from the next keyframe",
  );
  deepEqual(repairs, [], "nothing before the join is asked for");
});

Deno.test("receiver: a process stalled past its next event (stallMs) gives waiting gaps that time back", () => {
  for (const stallMs of [0, 30]) {
    const { rx, repairs, tags } = harness({ stallMs });
    const pub = new Publish("live/s", 0x5151);
    const sent = syntheticStream({ gops: 1, frames: 4 });
    const datagrams = pub.packets(sent);
    rx.receive(pub.report(), CLOUD, 0);
    const lost = rtpSequence(datagrams[5]);
    datagrams.forEach((d, i) => i !== 5 && rx.receive(d, CLOUD, 1));
    rx.tick(1);
    answer(rx, repairs, pub, 2); // the start's probes: none existed
    rx.tick(21); // the gap's NACK; its answer is lost
    deepEqual(repairs.splice(0).map((r) => r.seqs), [[lost]]);
    const retry = rx.nextEventAt()!;
    equal(retry, 21 + 45, "asked again 1.5 × RTT later");
    // The process is not scheduled for 300 ms: past the 200 ms deadline.
    rx.tick(retry + 300);
    answer(rx, repairs, pub, retry + 301);
    const [info] = rx.streams();
    if (stallMs === 0) {
      equal(info.unrecoverable, 1, "without: given up on waking");
      equal(rx.stats.stalls, 0);
    } else {
      equal(rx.stats.stalls, 1);
      equal(info.unrecoverable, 0, "with: asked again on waking, repaired");
      equal(info.recovered, 1);
      deepEqual(tags.get("live/s")!.map(describe), sent.map(describe));
    }
  }
});
