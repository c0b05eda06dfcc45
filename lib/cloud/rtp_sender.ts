/**
 * UDP fan-out of RTP/RTCP datagrams to every `client_addr_list` entry.
 *
 * Sends are issued in batches without awaiting each one (one core awaits
 * ~40k sends/s one by one, ~110k/s in batches); the queue between the stream
 * code and the socket is bounded and counts what it had to drop.
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import type { Address } from "../config/mod.ts";
import { isMulticastV4 } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { nullLogger, RateLimitedLog } from "../log/mod.ts";
import { ChunkQueue } from "../bytes/mod.ts";
import {
  setSocketBuffer,
  type SocketBufferResult,
  UdpBatchSender,
} from "../net/mod.ts";

/** Options for {@linkcode RtpSender}. */
export interface RtpSenderOptions {
  /** Local address to send from (`rtp_port`). */
  local: Address;
  /** Destinations: unicast edges or multicast groups. */
  destinations: Address[];
  /** TTL for multicast destinations. */
  multicastTtl?: number;
  /** True: open nothing and send nothing (`debug: true`). */
  disabled?: boolean;
  /** Most datagrams waiting to be sent; beyond it new ones are dropped. */
  maxQueue?: number;
  /**
   * UDP send buffer to ask the kernel for (bytes; `udp_sndbuf`), set through
   * the libc helper of lib/net; 0 leaves the kernel default. Default 4 MiB.
   */
  sendBuffer?: number;
  /**
   * Batch sends with `sendmmsg` (lib/net) where available; default true.
   * False: one `DatagramConn.send` per datagram.
   */
  batchSends?: boolean;
  /** Logger. */
  logger?: Logger;
}

/** Counters of an {@linkcode RtpSender}. */
export interface RtpSenderStats {
  /** Datagrams handed to the kernel (one per destination). */
  datagramsSent: number;
  /** Bytes handed to the kernel. */
  bytesSent: number;
  /** Datagrams dropped because the queue was full. */
  queueDrops: number;
  /** Sends the kernel refused. */
  sendErrors: number;
}

const BATCH = 64;

/**
 * Sends datagrams to every destination from one UDP socket.
 *
 * @example Usage
 * ```ts ignore
 * const sender = new RtpSender({
 *   local: { hostname: "0.0.0.0", port: 5220 },
 *   destinations: [{ hostname: "127.0.0.1", port: 5222 }],
 * });
 * await sender.start();
 * sender.send([packet]);
 * await sender.close();
 * ```
 */
export class RtpSender {
  #opts: RtpSenderOptions;
  #conn?: Deno.DatagramConn;
  #targets: Deno.NetAddr[];
  #queue = new ChunkQueue();
  #sndbuf: SocketBufferResult | undefined;
  #batch: (UdpBatchSender | undefined)[] = [];
  #pumping = false;
  #idle?: PromiseWithResolvers<void>;
  #closed = false;
  #log: Logger;
  #stats: RtpSenderStats = {
    datagramsSent: 0,
    bytesSent: 0,
    queueDrops: 0,
    sendErrors: 0,
  };
  #errorLog: RateLimitedLog;

  /** Creates a sender; call {@linkcode RtpSender.start} to open the socket. */
  constructor(options: RtpSenderOptions) {
    this.#opts = options;
    this.#log = options.logger ?? nullLogger;
    this.#errorLog = new RateLimitedLog(this.#log, { intervalMs: 5000 });
    this.#targets = options.destinations.map((d) => ({
      transport: "udp",
      hostname: d.hostname,
      port: d.port,
    }));
  }

  /** Counters (live object). */
  get stats(): Readonly<RtpSenderStats> {
    return this.#stats;
  }

  /** What the kernel gave for the send buffer (after `start`). */
  get sendBuffer(): SocketBufferResult | undefined {
    return this.#sndbuf;
  }

  /** The local port datagrams are sent from (0 when disabled). */
  get port(): number {
    return (this.#conn?.addr as Deno.NetAddr | undefined)?.port ?? 0;
  }

  /** Opens the socket (throws `AddrInUse` etc. for the caller to report). */
  async start(): Promise<void> {
    if (this.#opts.disabled) return;
    // Resolve host names once: Deno would resolve them on every send.
    for (const t of this.#targets) {
      if (/^[\d.]+$|:/.test(t.hostname)) continue; // IP literal
      try {
        t.hostname = (await lookup(t.hostname, { family: 4 })).address;
      } catch (e) {
        throw new Error(
          `client_addr_list: expected a resolvable host, got ${t.hostname}: ${
            (e as Error).message
          }`,
        );
      }
    }
    this.#conn = Deno.listenDatagram({
      transport: "udp",
      hostname: this.#opts.local.hostname,
      port: this.#opts.local.port,
    });
    const bytes = this.#opts.sendBuffer ?? 4 << 20;
    if (bytes > 0) {
      const r = setSocketBuffer(this.port, "send", bytes);
      this.#sndbuf = r;
      const fields = {
        requested: r.requested,
        effective: r.effective,
        method: r.method,
      };
      if (r.warning) this.#log.warn(r.warning, fields);
      else this.#log.info("cloud UDP send buffer set", fields);
    }
    this.#batch = this.#opts.batchSends === false
      ? []
      : this.#targets.map((t) => UdpBatchSender.open(this.#conn!, t, BATCH));
    const ttl = this.#opts.multicastTtl ?? 1;
    const group = this.#targets.find((t) => isMulticastV4(t.hostname));
    if (group && ttl !== 1) {
      // Deno exposes IP_MULTICAST_TTL (socket-wide) only through a membership.
      const m = await this.#conn.joinMulticastV4(group.hostname, "0.0.0.0");
      await m.setTTL(ttl);
    }
    this.#drain();
  }

  /** Reads and discards anything arriving on the send port. */
  async #drain(): Promise<void> {
    const buf = new Uint8Array(2048);
    const conn = this.#conn!;
    try {
      while (!this.#closed) await conn.receive(buf);
    } catch {
      // closed
    }
  }

  /**
   * Queues datagrams for every destination; returns at once. Returns false
   * when the queue was full and the datagrams were dropped.
   */
  send(datagrams: Uint8Array[]): boolean {
    if (!this.#conn || this.#closed) return true;
    const max = this.#opts.maxQueue ?? 16384;
    if (this.#queue.length + datagrams.length > max) {
      this.#stats.queueDrops += datagrams.length * this.#targets.length;
      return false;
    }
    for (const d of datagrams) this.#queue.push(d);
    if (!this.#pumping) this.#pump();
    return true;
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    const conn = this.#conn!;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const chunk = this.#queue.takeMany(BATCH);
        const sends: Promise<number>[] = [];
        for (let t = 0; t < this.#targets.length; t++) {
          const target = this.#targets[t];
          // sendmmsg: one call for the chunk; what would block (or every
          // datagram, without the batch sender) goes through Deno's send.
          let from = 0;
          const batch = this.#batch[t];
          if (batch) {
            const r = batch.send(chunk);
            from = r.sent + r.failed;
            for (let i = 0; i < r.sent; i++) {
              this.#stats.bytesSent += chunk[i].length;
            }
            this.#stats.datagramsSent += r.sent;
            for (let i = 0; i < r.failed; i++) {
              this.#sendError(new Error(`sendmmsg: errno ${r.errno}`));
            }
          }
          for (let i = from; i < chunk.length; i++) {
            const d = chunk[i];
            sends.push(conn.send(d, target).catch(this.#onSendError));
            this.#stats.datagramsSent++;
            this.#stats.bytesSent += d.length;
          }
        }
        if (sends.length > 0) await Promise.all(sends);
        else await new Promise<void>((r) => queueMicrotask(r));
      }
    } finally {
      this.#queue.clear();
      this.#pumping = false;
      this.#idle?.resolve();
      this.#idle = undefined;
    }
  }

  #onSendError = (e: unknown): number => this.#sendError(e);

  #sendError(e: unknown): number {
    this.#stats.sendErrors++;
    this.#errorLog.log(performance.now(), "udp send failed", {
      error: (e as Error).message,
    });
    return 0;
  }

  /** Resolves when everything queued so far has been handed to the kernel. */
  flushed(): Promise<void> {
    if (!this.#pumping) return Promise.resolve();
    this.#idle ??= Promise.withResolvers();
    return this.#idle.promise;
  }

  /** Flushes and closes the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flushed();
    this.#closed = true;
    try {
      this.#conn?.close();
    } catch {
      // already closed
    }
  }
}
