/**
 * Retransmission benchmark on loopback: a real {@linkcode RtxServer} in a
 * child process (so its CPU is measured alone) with an in-memory cache of
 * 1,200-byte RTP packets, and {@linkcode RtxClient}s in this process.
 *
 * Measures round trip p50/p99 for single requests and for bursts of 100,
 * packets/s over one connection and over 8, and the server's CPU time per
 * 1,000 retransmitted packets; then an independent client (Deno's QUIC
 * directly, Generic NACKs on one stream) against a native and a matrixai
 * server, closed loop and at defined offered rates (5–40 k packets/s), with
 * answers on the stream and as UDP datagrams. Run standalone to print a
 * table:
 *
 * ```sh
 * deno run -A scripts/bench/rtx.ts                       # everything
 * deno run -A scripts/bench/rtx.ts --rates=0,5000,20000  # independent client only (--udp: UDP answers)
 * RTX_BENCH_PROF_DIR=/tmp/p deno run -A --cpu-prof --cpu-prof-dir=/tmp/p scripts/bench/rtx.ts --rates=20000
 * ```
 *
 * @module
 */
import process from "node:process";
import {
  generateSelfSigned,
  type QuicImpl,
  RtxClient,
  type RtxResult,
  RtxServer,
} from "../../lib/quic/mod.ts";
import { independentClient } from "./rtx_independent.ts";

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

/**
 * `--cpu-prof` for the server child when `RTX_BENCH_PROF_DIR` names a
 * directory (run the bench itself with `--cpu-prof` to profile the client).
 */
function profileFlags(): string[] {
  const dir = Deno.env.get("RTX_BENCH_PROF_DIR");
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
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
        ...profileFlags(),
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
    /** Packets/s `run` gets served over `label`, and the server's CPU. */
    const served = async (label: string, run: () => Promise<number>) => {
      const cpu0 = await server.cpu();
      const t0 = performance.now();
      const packets = await run();
      const secs = (performance.now() - t0) / 1000;
      const cpu1 = await server.cpu();
      results.push({
        name: `rtx served over ${label}`,
        value: packets / secs,
        unit: "packets/s",
      }, {
        name: `rtx server CPU per 1,000 packets (${label})`,
        value: ((cpu1.cpuUs - cpu0.cpuUs) / 1000) /
          ((cpu1.served - cpu0.served) / 1000),
        unit: "ms",
      });
    };
    await served("1 connection", () => pump(client, DURATION, 2000, 0));

    // Over 8 connections at once.
    const eight = [client, ...Array.from({ length: 7 }, newClient)];
    await Promise.all(
      eight.map((c) =>
        Promise.all(c.request(SSRC, [1], { timeoutMs: 10_000 }))
      ),
    );
    await served("8 connections", async () => {
      const counts = await Promise.all(
        eight.map((c, i) => pump(c, DURATION, 500, i * 8000)),
      );
      return counts.reduce((a, b) => a + b, 0);
    });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  }
  // The repair goal: an independent client, closed loop (throughput) and
  // open loop at defined offered rates (latency), answers on the stream and
  // as UDP datagrams (the edge's default); matrixai at 20,000/s.
  results.push(
    ...await benchRtxIndependent("native", {
      rates: [0, 5000, 10_000, 20_000, 40_000],
    }),
    ...await benchRtxIndependent("native", {
      rates: [5000, 20_000],
      answers: "udp",
    }),
    ...await benchRtxIndependent("matrixai", { rates: [20_000], ms: 1500 }),
  );
  return results;
}

/** Options of {@linkcode benchRtxIndependent}. */
export interface IndependentBenchOptions {
  /** Offered packets/s, one run each; 0 = closed loop (64 NACKs in flight). */
  rates: number[];
  /** Duration of each run (ms). Default 3000. */
  ms?: number;
  /** Answers on the stream (SPEC §6) or as UDP datagrams (`RMOD`). */
  answers?: "stream" | "udp";
}

/**
 * The repair goal's measurement: an independent client
 * ({@linkcode independentClient}) pulling cached packets over one
 * connection from a server of `impl` in a child process.
 *
 * @returns Per rate: packets/s, server CPU µs per packet, NACK round trip
 * p50/p99 and the client's own timer lateness p99.
 */
export async function benchRtxIndependent(
  impl: QuicImpl = "native",
  opts: IndependentBenchOptions,
): Promise<BenchResult[]> {
  const server = new ServerProcess(impl);
  const rows: BenchResult[] = [];
  try {
    const { port, certPem } = await server.line();
    const base = {
      port: Number(port),
      certPem: String(certPem),
      secret: "bench",
      ssrc: SSRC,
      cached: CACHED,
      answers: opts.answers ?? "stream",
    };
    await independentClient({ ...base, ms: 300, window: 64 });
    for (const pps of opts.rates) {
      const cpu0 = await server.cpu();
      const r = await independentClient({
        ...base,
        ms: opts.ms ?? 3000,
        window: pps > 0 ? 400 : 64,
        pps,
      });
      const cpu1 = await server.cpu();
      const label = `rtx independent, ${impl}, ${base.answers} answers, ${
        pps > 0 ? `offered ${pps}/s` : "closed loop"
      }`;
      rows.push(
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
      );
      if (pps > 0) {
        rows.push({
          name: `${label}: client timer lateness p99`,
          value: percentile(r.lateness, 99),
          unit: "ms",
        });
      }
      if (r.unanswered > 0) {
        rows.push({
          name: `${label}: NACKs unanswered`,
          value: r.unanswered,
          unit: "NACKs",
        });
      }
    }
    return rows;
  } finally {
    await server.close();
  }
}

if (import.meta.main) {
  const serveArg = Deno.args.find((a) => a.startsWith("--serve"));
  const ratesArg = Deno.args.find((a) => a.startsWith("--rates="));
  if (serveArg) {
    await serve(serveArg === "--serve=matrixai" ? "matrixai" : "native");
  } else {
    // --rates=0,5000,20000 [--udp]: only the independent client, those rates.
    const rows = ratesArg
      ? await benchRtxIndependent("native", {
        rates: ratesArg.slice(8).split(",").map(Number),
        answers: Deno.args.includes("--udp") ? "udp" : "stream",
      })
      : await benchRtx();
    for (const r of rows) {
      console.log(
        `${r.name.padEnd(72)} ${
          r.value.toFixed(r.value < 100 ? 2 : 0).padStart(10)
        } ${r.unit}`,
      );
    }
  }
}
