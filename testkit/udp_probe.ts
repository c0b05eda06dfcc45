/**
 * A small UDP probe for network tests: a paced sender of numbered datagrams
 * and a receiver that counts the distinct sequence numbers it gets.
 *
 * Usable as a library ({@linkcode sendProbe}, {@linkcode receiveProbe}) or as a
 * program, typically run inside a network namespace by the netns harness:
 *
 * ```sh
 * deno run -A --unstable-net testkit/udp_probe.ts recv \
 *   --port 5222 --group 239.255.0.1 --iface 198.18.0.2 --count 2000 --timeout-ms 10000
 * deno run -A --unstable-net testkit/udp_probe.ts send \
 *   --to 239.255.0.1:5222 --count 2000 --rate 4000
 * ```
 *
 * The program prints JSON lines on stdout: the receiver first
 * `{"event":"ready",...}` once its socket is bound (and the group joined), then
 * one `{"event":"result",...}` line; the sender prints one result line. It
 * exits 0 after printing the result, 2 on bad arguments, 1 on other errors.
 *
 * Datagram layout (big-endian): magic `FCPB` (u32), sequence (u32), total count
 * (u32), then zero padding up to `size` bytes. Datagrams without the magic are
 * counted as `foreign` and otherwise ignored.
 *
 * @module
 */

import { setSocketBuffer } from "../lib/net/mod.ts";

/** The 4-byte magic that starts every probe datagram (`FCPB`). */
export const PROBE_MAGIC = 0x46435042;

/** Smallest datagram the probe sends: magic + sequence + count. */
export const PROBE_HEADER_SIZE = 12;

/** Options for {@linkcode sendProbe}. */
export interface SendProbeOptions {
  /** Destination address (unicast or an IPv4 multicast group). */
  host: string;
  /** Destination UDP port. */
  port: number;
  /** Number of datagrams to send, with sequence numbers `0..count-1`. */
  count: number;
  /** Sending rate in datagrams per second (paced, small bursts per timer tick). */
  rate: number;
  /** Datagram size in bytes (at least {@linkcode PROBE_HEADER_SIZE}); default 200. */
  size?: number;
  /**
   * Multicast TTL. When set, the sender joins `host` on `iface` to get a
   * membership handle, sets the TTL and disables loopback. Linux's default is 1.
   */
  ttl?: number;
  /** Local interface address used with `ttl`; default `0.0.0.0`. */
  iface?: string;
  /** Local address to bind; default `0.0.0.0`. */
  bind?: string;
}

/** What {@linkcode sendProbe} reports. */
export interface SendProbeResult {
  /** Always `"result"` (JSON-lines event name). */
  event: "result";
  /** Always `"send"`. */
  mode: "send";
  /** Datagrams handed to the kernel. */
  sent: number;
  /** Wall time from the first to the last send, in ms. */
  elapsedMs: number;
  /** Achieved rate in datagrams per second. */
  ratePps: number;
}

/** Options for {@linkcode receiveProbe}. */
export interface ReceiveProbeOptions {
  /** UDP port to bind. */
  port: number;
  /** Address to bind; default `0.0.0.0`. */
  hostname?: string;
  /** Multicast group to join (IPv4), if any. */
  group?: string;
  /** Local interface address to join the group on; default `0.0.0.0`. */
  iface?: string;
  /** Expected number of distinct sequence numbers (`0..count-1`); done when all arrived. */
  count: number;
  /** Give up after this many ms in total (from ready). */
  timeoutMs: number;
  /** Also stop when nothing arrived for this many ms after the first datagram. */
  idleMs?: number;
  /** Called once the socket is bound and the group joined. */
  onReady?: (info: { port: number }) => void;
  /** Aborting stops the receiver early with reason `"aborted"`. */
  signal?: AbortSignal;
}

/** Why {@linkcode receiveProbe} stopped. */
export type ReceiveStopReason = "complete" | "idle" | "timeout" | "aborted";

/** What {@linkcode receiveProbe} reports. */
export interface ReceiveProbeResult {
  /** Always `"result"` (JSON-lines event name). */
  event: "result";
  /** Always `"recv"`. */
  mode: "recv";
  /** Distinct in-range sequence numbers received. */
  received: number;
  /** The expected count. */
  expected: number;
  /** Datagrams whose sequence number had already been seen. */
  duplicates: number;
  /** Probe datagrams with a sequence number `>= expected`. */
  outOfRange: number;
  /** Datagrams without the probe magic or too short. */
  foreign: number;
  /** Up to 20 missing sequence numbers, lowest first. */
  missingSample: number[];
  /** Why the receiver stopped. */
  reason: ReceiveStopReason;
  /** Time from the first to the last probe datagram, in ms (0 if fewer than two). */
  spanMs: number;
}

/**
 * Sends `count` numbered datagrams to `host:port`, paced at `rate` per second.
 *
 * @throws {RangeError} on invalid options.
 */
export async function sendProbe(
  opts: SendProbeOptions,
): Promise<SendProbeResult> {
  const size = opts.size ?? 200;
  checkInt("count", opts.count, 1, 0xffffffff);
  checkInt("port", opts.port, 1, 65535);
  checkInt("size", size, PROBE_HEADER_SIZE, 65507);
  if (!(opts.rate > 0) || !Number.isFinite(opts.rate)) {
    throw new RangeError(
      `rate: expected a positive number of datagrams per second, received ${opts.rate}`,
    );
  }
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: opts.bind ?? "0.0.0.0",
    port: 0,
  });
  try {
    if (opts.ttl !== undefined) {
      checkInt("ttl", opts.ttl, 0, 255);
      const membership = await conn.joinMulticastV4(
        opts.host,
        opts.iface ?? "0.0.0.0",
      );
      await membership.setTTL(opts.ttl);
      await membership.setLoopback(false);
    }
    const packet = new Uint8Array(size);
    const view = new DataView(packet.buffer);
    view.setUint32(0, PROBE_MAGIC);
    view.setUint32(8, opts.count);
    const addr: Deno.NetAddr = {
      transport: "udp",
      hostname: opts.host,
      port: opts.port,
    };
    const start = performance.now();
    let seq = 0;
    while (seq < opts.count) {
      const elapsed = performance.now() - start;
      const due = Math.min(
        opts.count,
        Math.floor(elapsed * opts.rate / 1000) + 1,
      );
      while (seq < due) {
        view.setUint32(4, seq);
        await conn.send(packet, addr);
        seq++;
      }
      if (seq < opts.count) {
        const wait = seq * 1000 / opts.rate - (performance.now() - start);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    }
    const elapsedMs = performance.now() - start;
    return {
      event: "result",
      mode: "send",
      sent: seq,
      elapsedMs: round(elapsedMs),
      ratePps: round(seq / Math.max(elapsedMs, 1) * 1000),
    };
  } finally {
    conn.close();
  }
}

/**
 * Binds a UDP socket (joining `group` if given) and counts the distinct
 * sequence numbers of probe datagrams until all `count` arrived, the line goes
 * idle for `idleMs`, `timeoutMs` passes, or `signal` aborts.
 *
 * Receives into one preallocated buffer with `await conn.receive(buf)`.
 *
 * @throws {RangeError} on invalid options.
 */
export async function receiveProbe(
  opts: ReceiveProbeOptions,
): Promise<ReceiveProbeResult> {
  checkInt("count", opts.count, 1, 0x7fffffff);
  checkInt("port", opts.port, 0, 65535);
  checkInt("timeoutMs", opts.timeoutMs, 1, 0x7fffffff);
  if (opts.idleMs !== undefined) checkInt("idleMs", opts.idleMs, 1, 0x7fffffff);

  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: opts.hostname ?? "0.0.0.0",
    port: opts.port,
  });
  // What the product does for its own sockets: a receiver the scheduler
  // leaves waiting for a while (a loaded machine) must not overflow the
  // kernel's 208 KiB default and count that as network loss.
  setSocketBuffer((conn.addr as Deno.NetAddr).port, "receive", 4 << 20);
  const seen = new Uint8Array(opts.count);
  let received = 0, duplicates = 0, outOfRange = 0, foreign = 0;
  let firstAt = 0, lastAt = 0;
  let reason: ReceiveStopReason | undefined;
  let closed = false;
  const stop = (why: ReceiveStopReason) => {
    if (reason === undefined) reason = why;
    if (!closed) {
      closed = true;
      conn.close();
    }
  };
  const onAbort = () => stop("aborted");
  let timeout: ReturnType<typeof setTimeout> | undefined;
  let idleTimer: ReturnType<typeof setInterval> | undefined;
  try {
    if (opts.group !== undefined) {
      await conn.joinMulticastV4(opts.group, opts.iface ?? "0.0.0.0");
    }
    const port = (conn.addr as Deno.NetAddr).port;
    if (opts.signal?.aborted) stop("aborted");
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    timeout = setTimeout(() => stop("timeout"), opts.timeoutMs);
    if (opts.idleMs !== undefined) {
      const idleMs = opts.idleMs;
      idleTimer = setInterval(() => {
        if (firstAt !== 0 && performance.now() - lastAt >= idleMs) stop("idle");
      }, Math.max(10, Math.min(100, idleMs / 4)));
    }
    opts.onReady?.({ port });

    const buf = new Uint8Array(65536);
    const view = new DataView(buf.buffer);
    while (!closed) {
      let n: number;
      try {
        n = (await conn.receive(buf))[0].byteLength;
      } catch (err) {
        if (closed) break;
        throw err;
      }
      if (n < PROBE_HEADER_SIZE || view.getUint32(0) !== PROBE_MAGIC) {
        foreign++;
        continue;
      }
      const now = performance.now();
      if (firstAt === 0) firstAt = now;
      lastAt = now;
      const seq = view.getUint32(4);
      if (seq >= opts.count) {
        outOfRange++;
      } else if (seen[seq]) {
        duplicates++;
      } else {
        seen[seq] = 1;
        if (++received === opts.count) stop("complete");
      }
    }
  } finally {
    clearTimeout(timeout);
    clearInterval(idleTimer);
    opts.signal?.removeEventListener("abort", onAbort);
    if (!closed) {
      closed = true;
      conn.close();
    }
  }
  const missingSample: number[] = [];
  for (let i = 0; i < opts.count && missingSample.length < 20; i++) {
    if (!seen[i]) missingSample.push(i);
  }
  return {
    event: "result",
    mode: "recv",
    received,
    expected: opts.count,
    duplicates,
    outOfRange,
    foreign,
    missingSample,
    reason: reason ?? "aborted",
    spanMs: round(lastAt - firstAt),
  };
}

function checkInt(name: string, value: number, min: number, max: number) {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `${name}: expected an integer in ${min}..${max}, received ${value}`,
    );
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Parsed command line of the probe program. */
export type ProbeCommand =
  | { mode: "send"; options: SendProbeOptions }
  | { mode: "recv"; options: ReceiveProbeOptions };

/**
 * Parses the probe program's arguments:
 *
 * - `send --to HOST:PORT --count N --rate PPS [--size B] [--ttl T] [--iface ADDR] [--bind ADDR]`
 * - `recv --port P --count N --timeout-ms MS [--idle-ms MS] [--group G] [--iface ADDR] [--hostname ADDR]`
 *
 * @throws {TypeError} naming the bad or missing argument.
 */
export function parseProbeArgs(args: string[]): ProbeCommand {
  const [mode, ...rest] = args;
  const flags = new Map<string, string>();
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i];
    const value = rest[i + 1];
    if (!key.startsWith("--") || value === undefined) {
      throw new TypeError(
        `expected "--flag value" pairs, received ${
          JSON.stringify(rest.slice(i))
        }`,
      );
    }
    flags.set(key.slice(2), value);
  }
  const num = (name: string, required: boolean): number | undefined => {
    const raw = flags.get(name);
    flags.delete(name);
    if (raw === undefined) {
      if (required) throw new TypeError(`missing required --${name}`);
      return undefined;
    }
    const n = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(n)) {
      throw new TypeError(`--${name}: expected a number, received "${raw}"`);
    }
    return n;
  };
  const str = (name: string): string | undefined => {
    const v = flags.get(name);
    flags.delete(name);
    return v;
  };
  let cmd: ProbeCommand;
  if (mode === "send") {
    const to = str("to");
    if (to === undefined) {
      throw new TypeError("missing required --to HOST:PORT");
    }
    const colon = to.lastIndexOf(":");
    const port = Number(to.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port)) {
      throw new TypeError(`--to: expected HOST:PORT, received "${to}"`);
    }
    cmd = {
      mode,
      options: {
        host: to.slice(0, colon),
        port,
        count: num("count", true)!,
        rate: num("rate", true)!,
        size: num("size", false),
        ttl: num("ttl", false),
        iface: str("iface"),
        bind: str("bind"),
      },
    };
  } else if (mode === "recv") {
    cmd = {
      mode,
      options: {
        port: num("port", true)!,
        count: num("count", true)!,
        timeoutMs: num("timeout-ms", true)!,
        idleMs: num("idle-ms", false),
        group: str("group"),
        iface: str("iface"),
        hostname: str("hostname"),
      },
    };
  } else {
    throw new TypeError(`expected mode "send" or "recv", received "${mode}"`);
  }
  if (flags.size > 0) {
    throw new TypeError(
      `unknown flag(s) for ${mode}: ${
        [...flags.keys()].map((k) => "--" + k).join(", ")
      }`,
    );
  }
  return cmd;
}

/**
 * Runs the probe program with `args`, writing JSON lines to stdout.
 * SIGTERM stops a receiver early (reason `"aborted"`) and still prints its result.
 *
 * @returns the exit code (0 ok, 2 bad arguments, 1 other error).
 */
export async function runProbe(args: string[]): Promise<number> {
  let cmd: ProbeCommand;
  try {
    cmd = parseProbeArgs(args);
  } catch (err) {
    console.error(`udp_probe: ${(err as Error).message}`);
    return 2;
  }
  const print = (obj: unknown) => console.log(JSON.stringify(obj));
  try {
    if (cmd.mode === "send") {
      print(await sendProbe(cmd.options));
    } else {
      const abort = new AbortController();
      const onTerm = () => abort.abort();
      Deno.addSignalListener("SIGTERM", onTerm);
      try {
        print(
          await receiveProbe({
            ...cmd.options,
            signal: abort.signal,
            onReady: ({ port }) =>
              print({ event: "ready", mode: "recv", port }),
          }),
        );
      } finally {
        Deno.removeSignalListener("SIGTERM", onTerm);
      }
    }
    return 0;
  } catch (err) {
    console.error(`udp_probe: ${(err as Error).stack ?? err}`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await runProbe(Deno.args));
}
