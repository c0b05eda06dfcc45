/**
 * A raw RTP/RTCP recorder for end-to-end tests: binds a UDP port (joining a
 * multicast group if asked), keeps every datagram and writes them to a file
 * when the sender says goodbye (the first RTCP BYE), on SIGTERM, or when the
 * byte cap is reached. Usable as a library ({@linkcode dumpRtp},
 * {@linkcode parseDump}) or as a program inside a network namespace:
 *
 * ```sh
 * deno run -A --unstable-net tests/support/rtp_dump.ts \
 *   --port 5224 --group 239.255.1.2 --iface 198.18.0.2 --out /tmp/rx.dump
 * ```
 *
 * The program prints JSON lines on stdout: `{"event":"ready",...}` once the
 * socket is bound and the group joined, then one `{"event":"result",...}`
 * ({@linkcode DumpResult}) after the file is written. Exit 0 after the result,
 * 1 on errors, 2 on bad arguments.
 *
 * File format: the datagrams in arrival order, each as a u16 big-endian
 * length followed by its bytes (the repair link's framing, lib/quic's
 * `frameMessages`).
 *
 * @module
 */
import { SrtpGate } from "../../lib/edge/srtp_gate.ts";
import { FrameDecoder, frameMessages, RtxClient } from "../../lib/quic/mod.ts";
import { parseKeysAnswer, parseRtcp } from "../../lib/rtcp/mod.ts";
import { isRtcp } from "../../lib/rtp/mod.ts";
import { parseFlagPairs, runProgram } from "../../testkit/cli.ts";

/** Options for {@linkcode dumpRtp}. */
export interface DumpOptions {
  /** UDP port to bind. */
  port: number;
  /** Multicast group to join (IPv4), if any. */
  group?: string;
  /** Local interface address to join on; default `0.0.0.0`. */
  iface?: string;
  /** File the datagrams are written to. */
  out: string;
  /** Stop keeping datagrams beyond this many bytes; default 64 MiB. */
  maxBytes?: number;
  /** Called once the socket is bound (and the group joined). */
  onReady?: (info: { port: number }) => void;
  /**
   * SRTP: ask this cloud for each SSRC's keys (`KEYS`, as an edge does)
   * and dump the decrypted RTP/RTCP; datagrams that do not authenticate
   * are left out and counted.
   */
  keys?: { host: string; port: number; secret: string; fingerprint: string };
  /** Aborting stops the recorder (reason `"aborted"`). */
  signal?: AbortSignal;
}

/** What {@linkcode dumpRtp} reports. */
export interface DumpResult {
  /** Always `"result"` (JSON-lines event name). */
  event: "result";
  /** Why it stopped. */
  reason: "bye" | "aborted" | "full";
  /** Datagrams kept (and written). */
  datagrams: number;
  /** Of those, RTCP compounds. */
  rtcp: number;
  /** Bytes of the kept datagrams. */
  bytes: number;
}

/**
 * Records datagrams until the first RTCP BYE, an abort, or `maxBytes`, then
 * writes them to `out`.
 */
export async function dumpRtp(opts: DumpOptions): Promise<DumpResult> {
  const maxBytes = opts.maxBytes ?? 64 << 20;
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: "0.0.0.0",
    port: opts.port,
    reuseAddress: opts.group !== undefined,
  });
  const kept: Uint8Array[] = [];
  let bytes = 0;
  let rtcp = 0;
  let reason: DumpResult["reason"] | undefined;
  let closed = false;
  const stop = (why: DumpResult["reason"]) => {
    reason ??= why;
    if (!closed) {
      closed = true;
      conn.close();
    }
  };
  const onAbort = () => stop("aborted");
  let client: RtxClient | undefined;
  let gate: SrtpGate | undefined;
  const asks: Promise<void>[] = [];
  const keep = (data: Uint8Array) => {
    if (bytes + data.length > maxBytes) {
      stop("full");
      return;
    }
    kept.push(data);
    bytes += data.length;
    if (isRtcp(data)) {
      rtcp++;
      let bye = false;
      try {
        bye = parseRtcp(data).some((p) => p.type === "bye");
      } catch {
        // Not ours to judge: the test parses the dump.
      }
      if (bye) stop("bye");
    }
  };
  if (opts.keys) {
    const k = opts.keys;
    const c = client = new RtxClient({
      host: k.host,
      port: k.port,
      secret: k.secret,
      fingerprint: k.fingerprint,
    });
    const g = gate = new SrtpGate({
      requestKeys: (ssrc) => {
        asks.push(
          c.requestApp("KEYS", ssrc, { timeoutMs: 2000 }).then((app) => {
            const answer = app ? parseKeysAnswer(app) : undefined;
            for (const r of g.keys(ssrc, answer, performance.now())) {
              if (!closed) keep(r.bytes);
            }
          }),
        );
      },
    });
  }
  try {
    if (opts.group !== undefined) {
      await conn.joinMulticastV4(opts.group, opts.iface ?? "0.0.0.0");
    }
    if (opts.signal?.aborted) stop("aborted");
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    opts.onReady?.({ port: (conn.addr as Deno.NetAddr).port });
    const buf = new Uint8Array(65536);
    while (!closed) {
      let data: Uint8Array;
      try {
        [data] = await conn.receive(buf);
      } catch (err) {
        if (closed) break;
        throw err;
      }
      if (gate) {
        gate.tick(performance.now());
        const v = gate.inbound(data, null, performance.now());
        // A view of the gate's scratch buffer: keep a copy.
        if (v.pass) keep(v.bytes.slice());
      } else {
        keep(data.slice());
      }
    }
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    if (!closed) {
      closed = true;
      conn.close();
    }
    await Promise.allSettled(asks);
    await client?.close();
  }
  await Deno.writeFile(opts.out, frameMessages(kept));
  return {
    event: "result",
    reason: reason ?? "aborted",
    datagrams: kept.length,
    rtcp,
    bytes,
    ...(gate
      ? { srtpFailures: gate.stats.authFailures + gate.stats.replays }
      : {}),
  };
}

/**
 * Splits a dump file back into its datagrams (subarrays of `bytes`).
 *
 * @throws {RangeError} when the file ends inside a datagram.
 */
export function parseDump(bytes: Uint8Array): Uint8Array[] {
  const decoder = new FrameDecoder();
  const out = decoder.push(bytes);
  if (decoder.buffered > 0) {
    throw new RangeError(
      `dump: expected whole datagrams, received ${decoder.buffered} trailing byte(s) of an incomplete one`,
    );
  }
  return out;
}

function parseArgs(args: string[]): DumpOptions {
  const flags = parseFlagPairs(args);
  const take = flags.take;
  const port = Number(take("port"));
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`--port: expected an integer in 1..65535`);
  }
  const out = take("out");
  if (out === undefined) throw new TypeError("missing required --out FILE");
  const maxRaw = take("max-bytes");
  const cloud = take("keys-from");
  const secret = take("secret");
  const fingerprint = take("fingerprint");
  const opts: DumpOptions = {
    port,
    out,
    group: take("group"),
    iface: take("iface"),
    maxBytes: maxRaw === undefined ? undefined : Number(maxRaw),
  };
  if (cloud !== undefined) {
    const m = /^(.+):(\d+)$/.exec(cloud);
    if (!m || secret === undefined || fingerprint === undefined) {
      throw new TypeError(
        "--keys-from HOST:PORT needs --secret and --fingerprint too",
      );
    }
    opts.keys = { host: m[1], port: Number(m[2]), secret, fingerprint };
  }
  flags.rejectUnknown();
  return opts;
}

/**
 * Runs the recorder program with `args`, writing JSON lines to stdout.
 *
 * @returns the exit code (0 ok, 1 error, 2 bad arguments).
 */
export function runDump(args: string[]): Promise<number> {
  return runProgram(args, {
    name: "rtp_dump",
    parse: parseArgs,
    async body(opts, { print, signal }) {
      print(
        await dumpRtp({
          ...opts,
          signal,
          onReady: ({ port }) => print({ event: "ready", port }),
        }),
      );
      return 0;
    },
    describeError: (err) => `${(err as Error).stack ?? err}`,
  });
}

if (import.meta.main) {
  Deno.exit(await runDump(Deno.args));
}
