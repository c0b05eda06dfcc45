/**
 * Load agent of `deno task bench`, run as its own process (so the CPU of the
 * servers under test is measured without it), possibly inside a network
 * namespace. One JSON argument selects the mode:
 *
 * - `pipeline`: paced RTMP publishers replaying the bench clip and HTTP-FLV
 *   readers; per delivered tag, latency = read time − send time (same clock,
 *   same process). Prints `measure_start`, `measure_end`, then `result`.
 * - `synth`: RTMP publishers of synthetic video tags of a fixed number of RTP
 *   packets, at a packet rate set on stdin (`rate N`); `snap` prints counters.
 * - `udpsink`: RTP receivers on ports (or one multicast group) counting
 *   packets and sequence gaps; `snap` prints counters, including the
 *   kernel's socket-buffer drops of those sockets.
 *
 * Every loop is bounded by the `maxRunMs` of the configuration; the process
 * exits by itself at the latest then.
 *
 * @module
 */
import type { FlvTag } from "../../lib/flv/mod.ts";
import { FfmpegPublishers, fnv, TrackContinuity } from "./ffmpeg_publishers.ts";
import { FlvReader } from "../../testkit/flv_reader.ts";
import { loadClip } from "./media.ts";
import { RtmpPublisher } from "../../testkit/rtmp_client.ts";
import { percentile } from "./util.ts";

/** Configuration of the `pipeline` mode. */
export interface PipelineAgentConfig {
  /** Mode. */
  mode: "pipeline";
  /** FLV clip to replay. */
  clip: string;
  /** RTMP URL per stream. */
  publish: string[];
  /** HTTP-FLV URL per stream (same order). */
  play: string[];
  /** Readers per stream. */
  readersPerStream: number;
  /** Time from the last reader connected to the window start. */
  warmupMs: number;
  /** Measurement window. */
  measureMs: number;
  /** Time after the window for late tags to arrive. */
  graceMs: number;
  /** Save the body of stream 0's first reader here. */
  saveFlv?: string;
  /** JSON/text URLs fetched at window start and end (`name` → body). */
  stats?: { name: string; url: string }[];
  /**
   * Keep publishing and reading this long after `result` (the servers'
   * stop time is measured under full load meanwhile). Default 0.
   */
  holdAfterResultMs?: number;
  /**
   * `replayer` (default): paced in-process publishers, with latency;
   * `ffmpeg`: `ffmpeg -re -stream_loop -1 -c copy` processes, losses found
   * by order (scripts/bench/ffmpeg_publishers.ts), no latency.
   */
  publisher?: "replayer" | "ffmpeg";
  /** Hard stop for the whole agent. */
  maxRunMs: number;
}

/** Configuration of the `synth` mode. */
export interface SynthAgentConfig {
  /** Mode. */
  mode: "synth";
  /** RTMP URL per stream. */
  publish: string[];
  /** RTP packets per tag at the cloud (tag size = packets × payload − 11). */
  packetsPerTag: number;
  /** RTP payload size of the cloud. */
  payloadSize: number;
  /** Hard stop. */
  maxRunMs: number;
}

/** Configuration of the `udpsink` mode. */
export interface SinkAgentConfig {
  /** Mode. */
  mode: "udpsink";
  /** Address to bind (unicast) or interface address for the group. */
  hostname: string;
  /** Ports to listen on. */
  ports: number[];
  /** Multicast group to join on every port, if any. */
  group?: string;
  /** Hard stop. */
  maxRunMs: number;
}

/** Any agent configuration. */
export type AgentConfig =
  | PipelineAgentConfig
  | SynthAgentConfig
  | SinkAgentConfig;

function emit(o: Record<string, unknown>): void {
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(o) + "\n"));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cpuNow(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

const typeCode = (t: number) => (t === 8 ? 0 : t === 9 ? 1 : 2);

/** Growable Float64 array (latency samples). */
class Samples {
  a = new Float64Array(4096);
  n = 0;
  push(v: number) {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  sorted(): Float64Array {
    return this.a.slice(0, this.n).sort();
  }
}

async function fetchStats(
  stats: { name: string; url: string }[] | undefined,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  await Promise.all((stats ?? []).map(async (s) => {
    try {
      const res = await fetch(s.url, { signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      out[s.name] = s.url.includes("/metrics") ? text : JSON.parse(text);
    } catch (e) {
      out[s.name] = { error: (e as Error).message };
    }
  }));
  return out;
}

async function pipeline(cfg: PipelineAgentConfig): Promise<void> {
  const clip = await loadClip(cfg.clip);
  const n = cfg.publish.length;
  const sendTimes = Array.from({ length: n }, () => new Map<number, number>());
  // key → hash of the body sent (checked against what readers get).
  const hashes = Array.from({ length: n }, () => new Map<number, number>());
  const clipHash = new Map<FlvTag, number>();
  for (const t of [...clip.headers, ...clip.media]) {
    clipHash.set(t, fnv(t.data));
  }
  if (clip.meta) clipHash.set(clip.meta, fnv(clip.meta.data));
  const sentInWindow = new Array(n).fill(0);
  let winStart = Infinity;
  let winEnd = Infinity;
  let stop = false;
  const lateness = new Samples();
  const pubs: RtmpPublisher[] = [];
  const runs: Promise<void>[] = [];
  let pubErrors = 0;

  const runPublisher = async (i: number, p: RtmpPublisher) => {
    const start = performance.now();
    const record = (tag: FlvTag, ts: number, t: number) => {
      const key = ts * 4 + typeCode(tag.type);
      sendTimes[i].set(key, t);
      hashes[i].set(key, clipHash.get(tag)!);
      if (t >= winStart && t < winEnd) sentInWindow[i]++;
    };
    if (clip.meta) {
      record(clip.meta, 0, performance.now());
      await p.sendTag(clip.meta, 0);
    }
    for (const h of clip.headers) {
      record(h, 0, performance.now());
      await p.sendTag(h, 0);
    }
    let k = 0;
    let loop = 0;
    while (!stop && !p.closed) {
      const tag = clip.media[k];
      const ts = loop * clip.durationMs + tag.timestamp;
      const due = start + ts;
      const wait = due - performance.now();
      if (wait >= 1) await sleep(wait);
      if (stop) break;
      const t = performance.now();
      if (t >= winStart && t < winEnd) lateness.push(t - due);
      record(tag, ts, t);
      await p.sendTag(tag, ts);
      if (++k === clip.media.length) {
        k = 0;
        loop++;
      }
    }
  };

  // Publishers, started 2 s / n apart so keyframes do not all align.
  const spread = Math.min(2000 / n, 200);
  const ffmpeg = cfg.publisher === "ffmpeg"
    ? new FfmpegPublishers(cfg.clip)
    : undefined;
  for (let i = 0; i < n && ffmpeg; i++) {
    ffmpeg.start(cfg.publish[i]);
    await sleep(spread);
  }
  for (let i = 0; i < n && !ffmpeg; i++) {
    const p = await RtmpPublisher.publish(cfg.publish[i]);
    pubs.push(p);
    runs.push(
      runPublisher(i, p).catch(() => {
        pubErrors++;
      }),
    );
    await sleep(spread);
  }

  emit({ event: "publishers_started", publishers: n });
  // Readers.
  const latency = new Samples();
  let delivered = 0;
  let deliveredBytes = 0;
  let unknownTags = 0;
  let ffmpegLost = 0;
  let corruptTags = 0;
  const corruptSamples: unknown[] = [];
  const readers: FlvReader[] = [];
  const perReaderDelivered: number[] = [];
  const continuity: TrackContinuity[] = [];
  for (let s = 0; s < n; s++) {
    for (let r = 0; r < cfg.readersPerStream; r++) {
      const idx = perReaderDelivered.length;
      perReaderDelivered.push(0);
      const times = sendTimes[s];
      const hs = hashes[s];
      const cont = ffmpeg && new TrackContinuity(clip);
      if (cont) continuity.push(cont);
      const onTag = (tag: FlvTag, at: number) => {
        if (cont) {
          // ffmpeg: counted by read time; losses by order (no send times).
          const gap = cont.push(tag);
          if (gap < 0 || at < winStart || at >= winEnd) return;
          ffmpegLost += gap;
          delivered++;
          perReaderDelivered[idx]++;
          deliveredBytes += tag.data.length + 15;
          return;
        }
        const key = tag.timestamp * 4 + typeCode(tag.type);
        const sent = times.get(key);
        if (sent === undefined) {
          unknownTags++;
          return;
        }
        if (sent >= winStart && sent < winEnd) {
          if (fnv(tag.data) !== hs.get(key)) {
            corruptTags++;
            if (corruptSamples.length < 5) {
              corruptSamples.push({
                stream: s,
                type: tag.type,
                ts: tag.timestamp,
                len: tag.data.length,
                head: Array.from(tag.data.subarray(0, 6)),
              });
            }
            return;
          }
          latency.push(at - sent);
          delivered++;
          perReaderDelivered[idx]++;
          deliveredBytes += tag.data.length + 15;
        }
      };
      emit({ event: "reader_connecting", url: cfg.play[s], r });
      readers.push(
        await FlvReader.open(cfg.play[s], {
          onTag,
          saveTo: s === 0 && r === 0 ? cfg.saveFlv : undefined,
        }),
      );
    }
  }
  emit({ event: "readers_connected", readers: readers.length });

  await sleep(cfg.warmupMs);
  const statsStart = fetchStats(cfg.stats);
  const cpu0 = cpuNow();
  winStart = performance.now();
  emit({ event: "measure_start" });
  await sleep(cfg.measureMs);
  winEnd = performance.now();
  emit({ event: "measure_end" });
  const statsEnd = await fetchStats(cfg.stats);
  const cpu1 = cpuNow();
  await sleep(cfg.graceMs);
  // Counting ends with the window: publishing on (hold) changes no number.
  stop = !cfg.holdAfterResultMs;

  const sent = ffmpeg
    ? (delivered + ffmpegLost) / cfg.readersPerStream
    : sentInWindow.reduce((a, b) => a + b, 0);
  for (const c of continuity) unknownTags += c.unknown;
  const lat = latency.sorted();
  const late = lateness.sorted();
  const readerErrors = readers.flatMap((r) =>
    r.result?.error ? [r.result.error] : []
  );
  const endedEarly = readers.filter((r) => r.result !== undefined).length;
  emit({
    event: "result",
    streams: n,
    readers: readers.length,
    windowMs: winEnd - winStart,
    tagsSent: sent,
    tagsExpected: sent * cfg.readersPerStream,
    tagsDelivered: delivered,
    deliveredBytes,
    minReaderDelivered: Math.min(...perReaderDelivered),
    unknownTags,
    corruptTags,
    corruptSamples,
    latency: {
      p50: percentile(lat, 50),
      p95: percentile(lat, 95),
      p99: percentile(lat, 99),
      max: lat.length ? lat[lat.length - 1] : NaN,
      min: lat.length ? lat[0] : NaN,
    },
    sendLateness: { p50: percentile(late, 50), p99: percentile(late, 99) },
    publisherErrors: pubErrors,
    publishersClosed: ffmpeg?.exited ?? pubs.filter((p) => p.closed).length,
    readerErrors: readerErrors.slice(0, 3),
    readersEndedEarly: endedEarly,
    agentCpuPct: 100 * (cpu1 - cpu0) / ((winEnd - winStart) / 1000),
    clipBitrate: clip.bitrate,
    statsStart: await statsStart,
    statsEnd,
  });
  if (cfg.holdAfterResultMs) {
    await sleep(cfg.holdAfterResultMs);
    stop = true;
  }
  await Promise.all(readers.map((r) => r.close()));
  await Promise.all(pubs.map((p) => p.dispose()));
  await ffmpeg?.stop();
  await Promise.race([Promise.all(runs), sleep(2000)]);
}

async function* stdinLines(): AsyncGenerator<string> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of Deno.stdin.readable) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
    }
  }
}

async function synth(cfg: SynthAgentConfig): Promise<void> {
  const pubs: RtmpPublisher[] = [];
  for (const url of cfg.publish) pubs.push(await RtmpPublisher.publish(url));
  const size = cfg.packetsPerTag * cfg.payloadSize - 11;
  const inter = new Uint8Array(size);
  inter.fill(0x5a);
  inter.set([0x27, 0x01, 0, 0, 0]);
  const key = inter.slice();
  key[0] = 0x17;
  let rate = 0; // RTP packets/s in total
  let t0 = performance.now();
  let sentAtRate = 0;
  let tagsSent = 0;
  let behind = 0;
  let stop = false;
  let ts = 0;
  let rr = 0;
  const loop = async () => {
    while (!stop) {
      await sleep(2);
      if (rate <= 0) continue;
      const tagRate = rate / cfg.packetsPerTag;
      const due = Math.floor(((performance.now() - t0) / 1000) * tagRate);
      let todo = due - sentAtRate;
      const cap = Math.max(1, Math.ceil(tagRate * 0.05)); // ≤ 50 ms per burst
      if (todo > cap) {
        behind += todo - cap;
        sentAtRate += todo - cap;
        todo = cap;
      }
      const writes: Promise<void>[] = [];
      for (let i = 0; i < todo; i++) {
        const p = pubs[rr++ % pubs.length];
        ts += 1;
        writes.push(
          p.sendTag({
            type: 9,
            timestamp: ts,
            data: tagsSent % 30 === 0 ? key : inter,
          }),
        );
        tagsSent++;
        sentAtRate++;
      }
      await Promise.all(writes);
    }
  };
  const running = loop();
  emit({ event: "ready" });
  for await (const line of stdinLines()) {
    const [cmd, arg] = line.split(/\s+/);
    if (cmd === "rate") {
      rate = Number(arg);
      t0 = performance.now();
      sentAtRate = 0;
      emit({ event: "rate", rate });
    } else if (cmd === "snap") {
      emit({
        event: "snap",
        t: performance.now(),
        tagsSent,
        packets: tagsSent * cfg.packetsPerTag,
        behindTags: behind,
        closed: pubs.filter((p) => p.closed).length,
      });
    } else if (cmd === "stop") break;
  }
  stop = true;
  await Promise.race([running, sleep(2000)]);
  await Promise.all(pubs.map((p) => p.dispose()));
}

function socketDrops(ports: Set<number>): number {
  let drops = 0;
  try {
    const lines = Deno.readTextFileSync("/proc/self/net/udp").split("\n")
      .slice(1);
    for (const l of lines) {
      const f = l.trim().split(/\s+/);
      if (f.length < 13) continue;
      const port = parseInt(f[1].split(":")[1], 16);
      if (ports.has(port)) drops += Number(f[f.length - 1]);
    }
  } catch {
    return NaN;
  }
  return drops;
}

async function udpsink(cfg: SinkAgentConfig): Promise<void> {
  let received = 0;
  let bytes = 0;
  let lost = 0;
  let late = 0;
  const expected = new Map<number, number>(); // (socket index, ssrc) → next seq
  const conns: Deno.DatagramConn[] = [];
  for (const port of cfg.ports) {
    const c = Deno.listenDatagram({
      transport: "udp",
      hostname: cfg.group ? "0.0.0.0" : cfg.hostname,
      port,
      reuseAddress: true,
    });
    if (cfg.group) await c.joinMulticastV4(cfg.group, cfg.hostname);
    conns.push(c);
  }
  let stop = false;
  const loops = conns.map(async (c, idx) => {
    const buf = new Uint8Array(2048);
    try {
      while (!stop) {
        const [d] = await c.receive(buf);
        if (d.length < 12) continue;
        const pt = d[1] & 0x7f;
        if (d[1] >= 192 && d[1] <= 223) continue; // RTCP (rtcp-mux)
        if (pt !== 100) continue;
        received++;
        bytes += d.length;
        const seq = (d[2] << 8) | d[3];
        const ssrc = ((d[8] << 24) | (d[9] << 16) | (d[10] << 8) | d[11]) >>>
          0;
        const k = ssrc * 64 + idx;
        const exp = expected.get(k);
        if (exp !== undefined) {
          const diff = (seq - exp) & 0xffff;
          if (diff === 0) {
            // in order
          } else if (diff < 32768) {
            lost += diff;
          } else {
            late++;
            continue;
          }
        }
        expected.set(k, (seq + 1) & 0xffff);
      }
    } catch {
      // closed
    }
  });
  const ports = new Set(cfg.ports);
  emit({ event: "ready" });
  for await (const line of stdinLines()) {
    if (line === "snap") {
      emit({
        event: "snap",
        t: performance.now(),
        received,
        bytes,
        lost,
        late,
        socketDrops: socketDrops(ports),
      });
    } else if (line === "stop") break;
  }
  stop = true;
  for (const c of conns) c.close();
  await Promise.race([Promise.all(loops), sleep(1000)]);
}

if (import.meta.main) {
  const cfg = JSON.parse(Deno.args[0] ?? "{}") as AgentConfig;
  const hard = setTimeout(() => {
    emit({
      event: "error",
      message: `agent exceeded maxRunMs ${cfg.maxRunMs}`,
    });
    Deno.exit(3);
  }, cfg.maxRunMs ?? 120_000);
  try {
    if (cfg.mode === "pipeline") await pipeline(cfg);
    else if (cfg.mode === "synth") await synth(cfg);
    else if (cfg.mode === "udpsink") await udpsink(cfg);
    else {throw new Error(
        `mode: expected pipeline|synth|udpsink, received ${
          JSON.stringify((cfg as { mode?: unknown }).mode)
        }`,
      );}
  } catch (e) {
    emit({ event: "error", message: (e as Error).stack ?? String(e) });
    Deno.exit(1);
  }
  clearTimeout(hard);
  Deno.exit(0);
}
