/**
 * HLS / LL-HLS bench: one 2.5 Mbit/s stream with a 1 s GOP (paced RTMP
 * replay) → cloud → edge (separate processes on loopback).
 *
 * 1. Edge CPU and memory with 50 HTTP-FLV viewers, then 50 LL-HLS viewers
 *    (blocking playlist reloads + parts, as hls.js in low-latency mode
 *    does), each against a baseline without viewers.
 * 2. Latency on one clock: publisher send → LL-HLS part fetchable (a client
 *    chasing the preload hint) and → classic segment fetchable (blocking
 *    reload on `_HLS_msn` alone), per video frame.
 * 3. hls.js in headless Chromium, LL-HLS and classic: its own `latency`
 *    (distance to the live edge) and the end-to-end latency from the
 *    playlist's `EXT-X-PROGRAM-DATE-TIME` (`Date.now() − hls.playingDate`).
 *
 * ```sh
 * flock /tmp/flvcast-heavy.lock deno run -A scripts/bench/hls.ts [--quick]
 * ```
 *
 * @module
 */
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS } from "../../testkit/chromium.ts";
import { findBox, readBoxes } from "../../lib/fmp4/mod.ts";
import { FlvReader } from "../../testkit/flv_reader.ts";
import { type ClipSpec, ensureClip, loadClip } from "./media.ts";
import { makeTls, startCloud, startEdge } from "./nodes.ts";
import { RtmpPublisher } from "../../testkit/rtmp_client.ts";
import {
  cpuSeconds,
  disposeAll,
  fmt,
  freeTcpPort,
  freeUdpPorts,
  memoryMiB,
  percentile,
  sleep,
  table,
  track,
} from "./util.ts";

/** The HLS bench clip: as the pipeline's, with a 1 s GOP. */
export const HLS_CLIP: ClipSpec = {
  seconds: 10,
  width: 1280,
  height: 720,
  fps: 30,
  gop: 30,
  videoKbps: 2350,
  audioKbps: 128,
};

/** Options for {@linkcode runHlsBench}. */
export interface HlsBenchOptions {
  /** Shorter windows. */
  quick?: boolean;
  /** Viewers for the CPU comparison (default 50). */
  viewers?: number;
}

/** One CPU/memory row. */
export interface HlsCpuRow {
  /** What ran. */
  label: string;
  /** Edge CPU in % of one core. */
  cpuPct: number;
  /** Edge RSS at the end, MiB. */
  rssMiB: number;
  /** Bytes the viewers received per second (all of them), Mbit/s. */
  mbps: number;
}

/** Latency percentiles in ms. */
export interface Lat {
  /** Samples. */
  n: number;
  /** Median. */
  p50: number;
  /** 99th percentile. */
  p99: number;
}

/** What {@linkcode runHlsBench} measured. */
export interface HlsBenchResult {
  /** Viewers per row. */
  viewers: number;
  /** Baseline, HTTP-FLV and LL-HLS rows. */
  cpu: HlsCpuRow[];
  /** Publisher send → LL-HLS part fetchable. */
  part: Lat;
  /** Publisher send → classic segment fetchable. */
  segment: Lat;
  /** hls.js in Chromium, seconds (median of 1 s samples). */
  hlsjs: {
    ll: { latency: number; endToEnd: number; samples: number } | string;
    classic: { latency: number; endToEnd: number; samples: number } | string;
  };
}

const wall = () => performance.timeOrigin + performance.now();
const started = performance.now();
const progress = (what: string) =>
  console.error(
    `[hls bench ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s] ${what}`,
  );

function lat(samples: number[]): Lat {
  const s = [...samples].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99) };
}

/** Video sample decode times (ms) of every `moof` in `bytes` (track 1, 90 kHz). */
export function videoDts(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (const b of readBoxes(bytes)) {
    if (b.type !== "moof") continue;
    for (const traf of readBoxes(b.payload)) {
      if (traf.type !== "traf") continue;
      const tfhd = findBox(traf.payload, "tfhd")!.payload;
      const dv = (p: Uint8Array) =>
        new DataView(p.buffer, p.byteOffset, p.byteLength);
      if (dv(tfhd).getUint32(4) !== 1) continue;
      const tfdt = dv(findBox(traf.payload, "tfdt")!.payload);
      let t = tfdt.getUint32(4) * 2 ** 32 + tfdt.getUint32(8);
      const trun = dv(findBox(traf.payload, "trun")!.payload);
      const n = trun.getUint32(4);
      for (let i = 0; i < n; i++) {
        out.push(t / 90);
        t += trun.getUint32(12 + 16 * i);
      }
    }
  }
  return out;
}

/** Paced replay of the clip, looping, remembering when each video tag left. */
class Replay {
  sentAt = new Map<number, number>();
  #stop = false;
  #done: Promise<void>;

  constructor(pub: RtmpPublisher, clip: Awaited<ReturnType<typeof loadClip>>) {
    this.#done = (async () => {
      if (clip.meta) await pub.sendTag(clip.meta, 0);
      for (const h of clip.headers) await pub.sendTag(h, 0);
      const t0 = performance.now();
      for (let loop = 0; !this.#stop; loop++) {
        const base = loop * clip.durationMs;
        for (const tag of clip.media) {
          if (this.#stop) break;
          const ts = base + tag.timestamp;
          const wait = t0 + ts - performance.now();
          if (wait > 1) await sleep(wait);
          if (tag.type === 9) this.sentAt.set(ts, wall());
          await pub.sendTag(tag, ts);
        }
        // forget old send times (bounded map)
        if (this.sentAt.size > 10_000) {
          const keys = [...this.sentAt.keys()].slice(0, 5_000);
          for (const k of keys) this.sentAt.delete(k);
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#done;
  }
}

/** A viewer like hls.js in low-latency mode: blocking reloads, then the new parts. */
async function llViewer(
  base: string,
  until: () => boolean,
  onBytes: (n: number) => void,
): Promise<void> {
  let res = await fetch(`${base}.m3u8`);
  let text = await res.text();
  const seen = new Set<string>();
  while (!until()) {
    const parts = [...text.matchAll(/#EXT-X-PART:[^\n]*URI="([^"]+)"/g)].map(
      (m) => m[1],
    );
    for (const uri of parts) {
      if (seen.has(uri)) continue;
      seen.add(uri);
      const r = await fetch(new URL(uri, `${base}.m3u8`));
      onBytes((await r.arrayBuffer()).byteLength);
    }
    if (seen.size > 200) seen.clear();
    const msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0) +
      (text.match(/#EXTINF/g)?.length ?? 0);
    // parts listed after the last complete segment belong to segment `msn`
    const last = text.lastIndexOf("#EXTINF");
    const tail = last < 0 ? text : text.slice(last);
    const part = tail.match(/#EXT-X-PART:/g)?.length ?? 0;
    res = await fetch(`${base}.m3u8?_HLS_msn=${msn}&_HLS_part=${part}`);
    text = await res.text();
    onBytes(text.length);
  }
}

async function measureCpu(
  pid: number,
  seconds: number,
): Promise<{ cpuPct: number; rssMiB: number }> {
  const c0 = cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const c1 = cpuSeconds(pid);
  const t1 = performance.now();
  return {
    cpuPct: (c1 - c0) / ((t1 - t0) / 1000) * 100,
    rssMiB: memoryMiB(pid).rss,
  };
}

async function hlsjsLatency(
  origin: string,
  key: string,
  lowLatency: boolean,
  seconds: number,
): Promise<{ latency: number; endToEnd: number; samples: number } | string> {
  const profile = await Deno.makeTempDir({ prefix: "flvcast_bench_chromium_" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS],
  });
  try {
    const page = context.pages()[0] ?? await context.newPage();
    await page.goto(`${origin}/`);
    await page.evaluate(
      ([url, ll]) => {
        // deno-lint-ignore no-explicit-any
        const g = globalThis as any;
        const v = g.document.createElement("video");
        v.muted = true;
        v.autoplay = true;
        g.document.body.appendChild(v);
        const hls = new g.Hls({
          lowLatencyMode: ll,
          maxLiveSyncPlaybackRate: 1.5,
        });
        hls.loadSource(url);
        hls.attachMedia(v);
        v.play().catch(() => {});
        g.benchHls = hls;
        g.benchVideo = v;
      },
      [`${origin}/${key}.m3u8`, lowLatency] as const,
    );
    // warm up: playback started and settled
    const deadline = Date.now() + 20_000;
    while (
      !(await page.evaluate(() =>
        // deno-lint-ignore no-explicit-any
        ((globalThis as any).benchVideo.currentTime as number) > 1
      ))
    ) {
      if (Date.now() > deadline) return "did not start in 20 s";
      await sleep(200);
    }
    await sleep(6000);
    const lats: number[] = [];
    const e2e: number[] = [];
    for (let i = 0; i < seconds; i++) {
      const s = await page.evaluate(() => {
        // deno-lint-ignore no-explicit-any
        const g = globalThis as any;
        const d = g.benchHls.playingDate as Date | null;
        return {
          latency: g.benchHls.latency as number,
          e2e: d ? Date.now() - d.getTime() : NaN,
        };
      });
      if (Number.isFinite(s.latency)) lats.push(s.latency);
      if (Number.isFinite(s.e2e)) e2e.push(s.e2e / 1000);
      await sleep(1000);
    }
    const med = (a: number[]) => percentile([...a].sort((x, y) => x - y), 50);
    return { latency: med(lats), endToEnd: med(e2e), samples: lats.length };
  } finally {
    await context.close();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

/** Runs the HLS bench (see the module doc). */
export async function runHlsBench(
  o: HlsBenchOptions = {},
): Promise<HlsBenchResult> {
  const viewers = o.viewers ?? 50;
  const cpuWindow = o.quick ? 5 : 15;
  const latSeconds = o.quick ? 8 : 20;
  const dir = await Deno.makeTempDir({ prefix: "flvcast_bench_hls_" });
  const clip = await loadClip(await ensureClip(HLS_CLIP), HLS_CLIP.fps);
  const tls = await makeTls(dir);
  const udp = freeUdpPorts(2);
  const quic = udp + 1;
  const flvPort = freeTcpPort();
  const hlsPort = freeTcpPort();
  const edge = track(
    await startEdge({
      place: {},
      dir,
      bind: "127.0.0.1",
      udpAddr: `127.0.0.1:${udp}`,
      flvPort,
      apiPort: freeTcpPort(),
      cloudQuic: `127.0.0.1:${quic}`,
      fingerprint: tls.fingerprint,
      latencyMs: 200,
      hlsAddr: `127.0.0.1:${hlsPort}`,
    }),
  );
  const rtmpPort = freeTcpPort();
  track(
    await startCloud({
      place: {},
      dir,
      bind: "127.0.0.1",
      rtmpPort,
      apiPort: freeTcpPort(),
      quicPort: quic,
      rtpPort: 0,
      destinations: [`127.0.0.1:${udp}`],
      tls,
    }),
  );
  const key = "live/hlsbench";
  const pub = await RtmpPublisher.publish(
    `rtmp://127.0.0.1:${rtmpPort}/${key}`,
  );
  const replay = new Replay(pub, clip);
  const cpu: HlsCpuRow[] = [];
  try {
    await sleep(3000);
    progress("baseline");
    // 1. baseline, 50 HTTP-FLV viewers, 50 LL-HLS viewers
    cpu.push({
      label: "stream, no viewers",
      ...(await measureCpu(edge.pid, cpuWindow)),
      mbps: 0,
    });
    let bytes = 0;
    const readers = await Promise.all(
      Array.from(
        { length: viewers },
        () =>
          FlvReader.open(`http://127.0.0.1:${flvPort}/${key}.flv`, {
            onTag: (t) => (bytes += t.data.length + 15),
          }),
      ),
    );
    await sleep(2000);
    progress(`${viewers} HTTP-FLV viewers`);
    bytes = 0;
    let t0 = performance.now();
    const flv = await measureCpu(edge.pid, cpuWindow);
    cpu.push({
      label: `${viewers} HTTP-FLV viewers`,
      ...flv,
      mbps: bytes * 8 / ((performance.now() - t0) * 1000),
    });
    for (const r of readers) await r.close();
    await sleep(2000);
    let stop = false;
    let hlsBytes = 0;
    const hlsViewers = Array.from(
      { length: viewers },
      () =>
        llViewer(
          `http://127.0.0.1:${hlsPort}/${key}`,
          () => stop,
          (n) => (hlsBytes += n),
        ).catch((e) => console.error(`hls viewer: ${e.message}`)),
    );
    await sleep(3000);
    progress(`${viewers} LL-HLS viewers`);
    hlsBytes = 0;
    t0 = performance.now();
    const hls = await measureCpu(edge.pid, cpuWindow);
    cpu.push({
      label: `${viewers} LL-HLS viewers`,
      ...hls,
      mbps: hlsBytes * 8 / ((performance.now() - t0) * 1000),
    });
    stop = true;
    await Promise.all(hlsViewers);

    progress("latency: part / segment fetchable");
    // 2. send → part / segment fetchable
    const partLat: number[] = [];
    const segLat: number[] = [];
    const base = `http://127.0.0.1:${hlsPort}/${key}`;
    const end = performance.now() + latSeconds * 1000;
    const pl = await (await fetch(`${base}.m3u8`)).text();
    let next = Number(
      /PRELOAD-HINT:TYPE=PART,URI="[^"]*p(\d+)\.m4s"/.exec(pl)![1],
    );
    let msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(pl)![1]) +
      (pl.match(/#EXTINF/g)?.length ?? 0);
    await Promise.all([
      (async () => {
        while (performance.now() < end) {
          const r = await fetch(`${base}/p${next}.m4s`);
          const body = new Uint8Array(await r.arrayBuffer());
          const at = wall();
          if (r.status !== 200) {
            next++;
            continue;
          }
          for (const dts of videoDts(body)) {
            const sent = replay.sentAt.get(Math.round(dts));
            if (sent !== undefined) partLat.push(at - sent);
          }
          next++;
        }
      })(),
      (async () => {
        while (performance.now() < end) {
          const r = await fetch(`${base}.m3u8?_HLS_msn=${msn}`);
          await r.text();
          const at = wall();
          if (r.status === 200) {
            const seg = await fetch(`${base}/s${msn}.m4s`);
            const body = new Uint8Array(await seg.arrayBuffer());
            for (const dts of videoDts(body)) {
              const sent = replay.sentAt.get(Math.round(dts));
              if (sent !== undefined) segLat.push(at - sent);
            }
          }
          msn++;
        }
      })(),
    ]);

    progress("hls.js in Chromium");
    // 3. hls.js in Chromium
    const origin = `http://127.0.0.1:${flvPort}`;
    const ll = await hlsjsLatency(origin, key, true, latSeconds).catch((e) =>
      `failed: ${e.message}`
    );
    const classic = await hlsjsLatency(origin, key, false, latSeconds).catch(
      (e) => `failed: ${e.message}`,
    );
    return {
      viewers,
      cpu,
      part: lat(partLat),
      segment: lat(segLat),
      hlsjs: { ll, classic },
    };
  } finally {
    await replay.stop().catch(() => {});
    pub.close();
    await disposeAll();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The result as Markdown tables. */
export function renderHls(r: HlsBenchResult): string {
  const base = r.cpu[0];
  const per = (row: HlsCpuRow) =>
    row === base ? "—" : fmt((row.cpuPct - base.cpuPct) / r.viewers, 3);
  const perMem = (row: HlsCpuRow) =>
    row === base ? "—" : fmt((row.rssMiB - base.rssMiB) / r.viewers * 1024, 0);
  const js = (x: HlsBenchResult["hlsjs"]["ll"]) =>
    typeof x === "string" ? [x, x] : [fmt(x.latency, 2), fmt(x.endToEnd, 2)];
  return [
    table(
      [
        "edge, 1 stream × viewers",
        "edge CPU %",
        "per viewer CPU %",
        "RSS MiB",
        "per viewer KiB",
        "delivered Mbit/s",
      ],
      r.cpu.map((row) => [
        row.label,
        fmt(row.cpuPct, 1),
        per(row),
        fmt(row.rssMiB, 0),
        perMem(row),
        fmt(row.mbps, 1),
      ]),
    ),
    "",
    table(
      ["latency (1 s GOP, 200 ms parts)", "p50 ms", "p99 ms", "frames"],
      [
        [
          "publisher send → LL-HLS part fetchable",
          fmt(r.part.p50, 0),
          fmt(r.part.p99, 0),
          r.part.n,
        ],
        [
          "publisher send → segment fetchable",
          fmt(r.segment.p50, 0),
          fmt(r.segment.p99, 0),
          r.segment.n,
        ],
      ],
    ),
    "",
    table(
      [
        "hls.js 1.7.4 in Chromium",
        "hls.js latency s",
        "send → display s (PROGRAM-DATE-TIME)",
      ],
      [
        ["LL-HLS (lowLatencyMode)", ...js(r.hlsjs.ll)],
        ["classic HLS (lowLatencyMode off)", ...js(r.hlsjs.classic)],
      ],
    ),
  ].join("\n");
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const viewersArg = Deno.args.find((a) => a.startsWith("--viewers="));
  try {
    const r = await runHlsBench({
      quick,
      viewers: viewersArg ? Number(viewersArg.slice(10)) : undefined,
    });
    console.log(renderHls(r));
  } finally {
    await disposeAll();
  }
}
