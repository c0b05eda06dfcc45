/**
 * Retransmission benchmark on loopback: a real {@linkcode RtxServer} in a
 * child process (so its CPU is measured alone) with an in-memory cache of
 * 1,200-byte RTP packets, and {@linkcode RtxClient}s in this process.
 *
 * Measures round trip p50/p99 for single requests and for bursts of 100,
 * packets/s over one connection and over 8, and the server's CPU time per
 * 1,000 retransmitted packets. Run standalone to print a table:
 *
 * ```sh
 * deno run -A scripts/bench/rtx.ts
 * ```
 *
 * @module
 */
import process from "node:process";
import {
  generateSelfSigned,
  RtxClient,
  type RtxResult,
  RtxServer,
} from "../../lib/quic/mod.ts";

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
async function serve(): Promise<void> {
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
  });
  await server.start();
  const out = (o: unknown) =>
    Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(o) + "\n"));
  out({ port: server.port, fingerprint: server.fingerprint });
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

  constructor() {
    const config = new URL("../../deno.json", import.meta.url).pathname;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", config, import.meta.filename!, "--serve"],
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
  return results;
}

if (import.meta.main) {
  if (Deno.args.includes("--serve")) {
    await serve();
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
