/**
 * Retransmission benchmark on loopback: a real {@linkcode RtxServer} in a
 * child process (so its CPU is measured alone) with an in-memory cache of
 * 1,200-byte RTP packets, and {@linkcode RtxClient}s in this process.
 *
 * Measures round trip p50/p99 for single requests and for bursts of 100,
 * packets/s over one connection and over 8, and the server's CPU time per
 * 1,000 retransmitted packets; then an independent client (Deno's QUIC
 * directly, Generic NACKs on one stream) against a native and a matrixai
 * server, saturated and paced at 20,000 packets/s. Run standalone to print a
 * table:
 *
 * ```sh
 * deno run -A scripts/bench/rtx.ts
 * ```
 *
 * @module
 */
import process from "node:process";
import {
  FrameDecoder,
  frameMessage,
  generateSelfSigned,
  pemBlocks,
  pinTarget,
  type QuicImpl,
  RTX_ALPN,
  RtxClient,
  type RtxResult,
  RtxServer,
} from "../../lib/quic/mod.ts";
import { encodeAuth, encodeNack } from "../../lib/rtcp/mod.ts";

/** One benchmark result. */
export interface BenchResult {
  /** What was measured. */
  name: string;
  /** The measured value. */
  value: number;
  /** Unit of `value`. */
  unit: string;
}

const SSRC = 0x5eed5eed;
/** Cached packets; every request stays below this sequence number. */
const CACHED = 8192;
const PAYLOAD = 1188; // 12-byte header + 1188 = 1200-byte packets

function makePacket(seq: number): Uint8Array {
  const p = new Uint8Array(12 + PAYLOAD);
  const v = new DataView(p.buffer);
  p[0] = 0x80;
  p[1] = 100;
  v.setUint16(2, seq);
  v.setUint32(4, seq * 90);
  v.setUint32(8, SSRC);
  p.fill(seq & 0xff, 12);
  return p;
}

/** Child-process mode: serve, answer `cpu` lines with the process CPU time. */
async function serve(impl: QuicImpl): Promise<void> {
  const cache: Uint8Array[] = [];
  for (let i = 0; i < CACHED; i++) cache.push(makePacket(i));
  const tls = await generateSelfSigned();
  const server = new RtxServer({
    hostname: "127.0.0.1",
    port: 0,
    certPem: tls.certPem,
    keyPem: tls.keyPem,
    secret: "bench",
    maxRequestsPerSecond: 1e9,
    lookup: (ssrc, seq) => ssrc === SSRC ? cache[seq % CACHED] : undefined,
    impl,
  });
  await server.start();
  const out = (o: unknown) =>
    Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(o) + "\n"));
  out({
    port: server.port,
    fingerprint: server.fingerprint,
    certPem: tls.certPem,
  });
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let buf = "";
  for await (const chunk of lines) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const cmd = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (cmd === "cpu") {
        const u = process.cpuUsage();
        out({ cpuUs: u.user + u.system, served: server.stats.packetsServed });
      }
    }
  }
  await server.stop();
}

/** A line-oriented handle on the server child. */
class ServerProcess {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<string>;
  #buf = "";

  constructor(impl: QuicImpl = "native") {
    const config = new URL("../../deno.json", import.meta.url).pathname;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        config,
        import.meta.filename!,
        `--serve=${impl}`,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#reader = this.#child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
  }

  async line(): Promise<Record<string, number & string>> {
    for (;;) {
      const i = this.#buf.indexOf("\n");
      if (i >= 0) {
        const l = this.#buf.slice(0, i);
        this.#buf = this.#buf.slice(i + 1);
        return JSON.parse(l);
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("Expected a line from the server, got EOF");
      this.#buf += value;
    }
  }

  async cpu(): Promise<{ cpuUs: number; served: number }> {
    await this.#writer.write(new TextEncoder().encode("cpu\n"));
    return await this.line() as unknown as { cpuUs: number; served: number };
  }

  async close(): Promise<void> {
    await this.#writer.close();
    await this.#reader.cancel();
    await this.#child.status;
  }
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length));
  return sorted[i];
}

function check(results: RtxResult[]): void {
  for (const r of results) {
    if (r.status !== "ok") {
      throw new Error(`Expected every packet served, received ${r.status}`);
    }
  }
}

/** Keeps `window` packets in flight on `client` for `ms`; returns packets received. */
async function pump(
  client: RtxClient,
  ms: number,
  window: number,
  start: number,
): Promise<number> {
  const end = performance.now() + ms;
  let seq = start;
  let received = 0;
  const BURST = 100;
  const lane = async () => {
    while (performance.now() < end) {
      const seqs = Array.from({ length: BURST }, (_, i) => (seq + i) % CACHED);
      seq += BURST;
      const res = await Promise.all(
        client.request(SSRC, seqs, { timeoutMs: 10_000 }),
      );
      check(res);
      received += res.length;
    }
  };
  await Promise.all(Array.from({ length: window / BURST }, lane));
  return received;
}

/**
 * Runs the retransmission benchmark.
 *
 * @returns Latency percentiles, throughput and server CPU per 1,000 packets.
 */
export async function benchRtx(): Promise<BenchResult[]> {
  const server = new ServerProcess();
  const results: BenchResult[] = [];
  const clients: RtxClient[] = [];
  try {
    const { port, fingerprint } = await server.line();
    const newClient = () => {
      const c = new RtxClient({
        host: "127.0.0.1",
        port: Number(port),
        secret: "bench",
        fingerprint: String(fingerprint),
      });
      clients.push(c);
      return c;
    };
    const client = newClient();
    // Warm up (connect, JIT).
    check(await Promise.all(client.request(SSRC, [0], { timeoutMs: 10_000 })));
    await pump(client, 500, 1000, 0);

    // Single-packet round trips, one at a time.
    const single: number[] = [];
    for (let i = 0; i < 500; i++) {
      const t = performance.now();
      check(await Promise.all(client.request(SSRC, [i], { timeoutMs: 5000 })));
      single.push(performance.now() - t);
    }
    single.sort((a, b) => a - b);
    results.push(
      {
        name: "rtx round trip, 1 packet, p50",
        value: percentile(single, 50),
        unit: "ms",
      },
      {
        name: "rtx round trip, 1 packet, p99",
        value: percentile(single, 99),
        unit: "ms",
      },
    );

    // Bursts of 100 lost packets: time until all 100 are back.
    const burst: number[] = [];
    for (let i = 0; i < 100; i++) {
      const seqs = Array.from(
        { length: 100 },
        (_, j) => (i * 100 + j) % CACHED,
      );
      const t = performance.now();
      check(await Promise.all(client.request(SSRC, seqs, { timeoutMs: 5000 })));
      burst.push(performance.now() - t);
    }
    burst.sort((a, b) => a - b);
    results.push(
      {
        name: "rtx round trip, burst of 100, p50",
        value: percentile(burst, 50),
        unit: "ms",
      },
      {
        name: "rtx round trip, burst of 100, p99",
        value: percentile(burst, 99),
        unit: "ms",
      },
    );

    // Throughput over one connection, with the server's CPU.
    const DURATION = 2000;
    let cpu0 = await server.cpu();
    let t0 = performance.now();
    const one = await pump(client, DURATION, 2000, 0);
    let secs = (performance.now() - t0) / 1000;
    let cpu1 = await server.cpu();
    results.push({
      name: "rtx served over 1 connection",
      value: one / secs,
      unit: "packets/s",
    });
    results.push({
      name: "rtx server CPU per 1,000 packets (1 connection)",
      value: ((cpu1.cpuUs - cpu0.cpuUs) / 1000) /
        ((cpu1.served - cpu0.served) / 1000),
      unit: "ms",
    });

    // Over 8 connections at once.
    const eight = [client, ...Array.from({ length: 7 }, newClient)];
    await Promise.all(
      eight.map((c) =>
        Promise.all(c.request(SSRC, [1], { timeoutMs: 10_000 }))
      ),
    );
    cpu0 = await server.cpu();
    t0 = performance.now();
    const counts = await Promise.all(
      eight.map((c, i) => pump(c, DURATION, 500, i * 8000)),
    );
    secs = (performance.now() - t0) / 1000;
    cpu1 = await server.cpu();
    const total = counts.reduce((a, b) => a + b, 0);
    results.push({
      name: "rtx served over 8 connections",
      value: total / secs,
      unit: "packets/s",
    });
    results.push({
      name: "rtx server CPU per 1,000 packets (8 connections)",
      value: ((cpu1.cpuUs - cpu0.cpuUs) / 1000) /
        ((cpu1.served - cpu0.served) / 1000),
      unit: "ms",
    });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  }
  // The repair goal: an independent client, saturated and at 20,000/s.
  results.push(
    ...await benchRtxIndependent("native"),
    ...await benchRtxIndependent("native", 3000, 20_000),
    ...await benchRtxIndependent("matrixai", 1500, 20_000),
  );
  return results;
}

/**
 * An independent repair client: Deno's QUIC directly (no RtxClient), one
 * stream, AUTH, then Generic NACKs of 17 packets each (PID + BLP 0xffff),
 * `window` of them in flight; a NACK's round trip ends with its 17th packet.
 */
async function independentClient(
  port: number,
  certPem: string,
  ms: number,
  window: number,
  pps = 0,
): Promise<{ packets: number; secs: number; rtt: number[] }> {
  const pin = pinTarget(pemBlocks(certPem, "CERTIFICATE")[0]);
  const conn = await Deno.connectQuic({
    hostname: "127.0.0.1",
    port,
    alpnProtocols: [RTX_ALPN],
    caCerts: [pin.certPem],
    serverName: pin.serverName,
    congestionControl: "low-latency",
  });
  const stream = await conn.createBidirectionalStream();
  const writer = stream.writable.getWriter();
  await writer.write(frameMessage(encodeAuth("bench")));
  const PER = 17;
  const slots = Math.floor(CACHED / PER);
  const sentAt = new Float64Array(slots);
  const left = new Int32Array(slots);
  const rtt: number[] = [];
  let next = 0;
  let packets = 0;
  let inFlight = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  let stop = false;
  let wake: (() => void) | undefined;
  const reading = (async () => {
    const reader = stream.readable.getReader();
    const dec = new FrameDecoder();
    while (!stop || inFlight > 0) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const m of dec.push(value)) {
        const seq = (m[2] << 8) | m[3];
        const slot = Math.floor(seq / PER);
        packets++;
        if (--left[slot] === 0) {
          rtt.push(performance.now() - sentAt[slot]);
          inFlight--;
          wake?.();
        }
      }
    }
    reader.releaseLock();
  })();
  const batch: Uint8Array[] = [];
  let asked = 0;
  while (performance.now() < end) {
    // Paced (pps > 0): what the rate allows by now, 2 ms ticks; else the
    // window refilled.
    const due = pps > 0
      ? Math.floor((performance.now() - t0) / 1000 * pps / PER) - asked
      : window - inFlight;
    for (let k = 0; k < due && inFlight < window; k++) {
      asked++;
      const slot = next++ % slots;
      const seqs = Array.from({ length: PER }, (_, i) => slot * PER + i);
      left[slot] = PER;
      sentAt[slot] = performance.now();
      batch.push(frameMessage(encodeNack(1, SSRC, seqs)));
      inFlight++;
    }
    const n = batch.reduce((a, b) => a + b.length, 0);
    const buf = new Uint8Array(n);
    let o = 0;
    for (const b of batch.splice(0)) {
      buf.set(b, o);
      o += b.length;
    }
    if (n > 0) await writer.write(buf);
    if (pps > 0) await new Promise((r) => setTimeout(r, 2));
    else await new Promise<void>((r) => wake = r);
  }
  stop = true;
  while (inFlight > 0) await new Promise<void>((r) => wake = r);
  const secs = (performance.now() - t0) / 1000;
  conn.close({ closeCode: 0, reason: "done" });
  await reading.catch(() => {});
  return { packets, secs, rtt };
}

/**
 * The repair goal's measurement: an independent client pulling cached
 * packets over one connection from a server of `impl` in a child process.
 *
 * @returns Packets/s, server CPU µs per packet, NACK round trip p50/p99.
 */
export async function benchRtxIndependent(
  impl: QuicImpl = "native",
  ms = 3000,
  pps = 0,
): Promise<BenchResult[]> {
  const server = new ServerProcess(impl);
  try {
    const { port, certPem } = await server.line();
    await independentClient(Number(port), String(certPem), 300, 64);
    const cpu0 = await server.cpu();
    const r = await independentClient(
      Number(port),
      String(certPem),
      ms,
      pps > 0 ? 400 : 64,
      pps,
    );
    const cpu1 = await server.cpu();
    r.rtt.sort((a, b) => a - b);
    const label = `rtx independent client, 1 connection, ${impl} server, ${
      pps > 0 ? `paced ${pps}/s` : "saturated"
    }`;
    return [
      {
        name: `${label}: served`,
        value: r.packets / r.secs,
        unit: "packets/s",
      },
      {
        name: `${label}: server CPU per packet`,
        value: (cpu1.cpuUs - cpu0.cpuUs) / (cpu1.served - cpu0.served),
        unit: "µs",
      },
      {
        name: `${label}: NACK round trip p50`,
        value: percentile(r.rtt, 50),
        unit: "ms",
      },
      {
        name: `${label}: NACK round trip p99`,
        value: percentile(r.rtt, 99),
        unit: "ms",
      },
    ];
  } finally {
    await server.close();
  }
}

if (import.meta.main) {
  const serveArg = Deno.args.find((a) => a.startsWith("--serve"));
  if (serveArg) {
    await serve(serveArg === "--serve=matrixai" ? "matrixai" : "native");
  } else {
    const rows = await benchRtx();
    for (const r of rows) {
      console.log(
        `${r.name.padEnd(52)} ${
          r.value.toFixed(r.value < 100 ? 2 : 0).padStart(10)
        } ${r.unit}`,
      );
    }
  }
}
