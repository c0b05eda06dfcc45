/**
 * Repair answers as plain UDP datagrams (the `RMOD` udp mode, SPEC §6
 * extension): the cloud sends each answered RTP packet — the exact cached
 * bytes — to the edge's answer port, `copies` times, `spacingMs` apart, so a
 * lossy path loses an answer only when it loses every copy, and no answer
 * waits behind another (no head-of-line blocking, no congestion window). The
 * NACKs and NAVLs stay on the authenticated QUIC stream.
 *
 * {@linkcode UdpAnswerSender} is the cloud's socket; {@linkcode
 * UdpAnswerReceiver} the edge's.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { nullLogger } from "../log/mod.ts";

/** Counters of a {@linkcode UdpAnswerSender}. */
export interface UdpAnswerSenderStats {
  /** First copies sent. */
  answersSent: number;
  /** Extra copies sent (beyond the first). */
  copiesSent: number;
  /** Extra copies not sent because too many were already scheduled. */
  copiesShed: number;
  /** Sends the kernel refused. */
  sendErrors: number;
}

/** Options of {@linkcode UdpAnswerSender}. */
export interface UdpAnswerSenderOptions {
  /** Local address to bind (default `0.0.0.0`). */
  hostname?: string;
  /** Most bytes of extra copies waiting for their time (default 4 MiB). */
  maxScheduledBytes?: number;
  /**
   * Most of those bytes for one target (address and port; default 1 MiB), so
   * one edge asking for many copies cannot shed every other edge's.
   */
  maxScheduledBytesPerTarget?: number;
  /** Logger. */
  logger?: Logger;
}

/** Where one edge wants its answers. */
export interface UdpAnswerTarget {
  /** The edge's address (its QUIC connection's). */
  hostname: string;
  /** The edge's answer port. */
  port: number;
  /** Times each answer is sent. */
  copies: number;
  /** Milliseconds between copies. */
  spacingMs: number;
}

/**
 * The cloud's answer socket, opened on first use and shared by every edge
 * connection. Bounded: extra copies waiting for their time never exceed
 * `maxScheduledBytes`, nor `maxScheduledBytesPerTarget` for one target
 * (beyond, they are shed and counted; the first copy is always sent).
 */
export class UdpAnswerSender {
  #opts: UdpAnswerSenderOptions;
  #log: Logger;
  #conn?: Deno.DatagramConn;
  #scheduled = 0;
  #scheduledBy = new Map<string, number>();
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #errorLoggedAt = 0;
  #shedLoggedAt = -Infinity;
  #stats: UdpAnswerSenderStats = {
    answersSent: 0,
    copiesSent: 0,
    copiesShed: 0,
    sendErrors: 0,
  };

  /** Creates a sender; the socket is bound at the first send. */
  constructor(opts: UdpAnswerSenderOptions = {}) {
    this.#opts = opts;
    this.#log = opts.logger ?? nullLogger;
  }

  /** Live counters. */
  get stats(): Readonly<UdpAnswerSenderStats> {
    return this.#stats;
  }

  /** Sends `packets` to `to`: all of them now, then the extra copies. */
  send(packets: Uint8Array[], to: UdpAnswerTarget): void {
    if (packets.length === 0) return;
    this.#conn ??= Deno.listenDatagram({
      transport: "udp",
      hostname: this.#opts.hostname ?? "0.0.0.0",
      port: 0,
    });
    const addr: Deno.NetAddr = {
      transport: "udp",
      hostname: to.hostname,
      port: to.port,
    };
    this.#sendAll(packets, addr);
    this.#stats.answersSent += packets.length;
    const bytes = packets.reduce((n, p) => n + p.length, 0);
    const max = this.#opts.maxScheduledBytes ?? 4 * 1024 * 1024;
    const maxMine = this.#opts.maxScheduledBytesPerTarget ?? 1024 * 1024;
    const target = `${to.hostname}:${to.port}`;
    for (let i = 1; i < to.copies; i++) {
      const mine = this.#scheduledBy.get(target) ?? 0;
      if (this.#scheduled + bytes > max || mine + bytes > maxMine) {
        this.#stats.copiesShed += packets.length * (to.copies - i);
        const now = performance.now();
        if (now - this.#shedLoggedAt > 5000) {
          this.#shedLoggedAt = now;
          this.#log.warn("repair answer copies shed: too many waiting", {
            to: target,
            reason: mine + bytes > maxMine
              ? "maxScheduledBytesPerTarget"
              : "maxScheduledBytes",
            copiesShed: this.#stats.copiesShed,
          });
        }
        break;
      }
      this.#scheduled += bytes;
      this.#scheduledBy.set(target, mine + bytes);
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#scheduled -= bytes;
        const left = (this.#scheduledBy.get(target) ?? bytes) - bytes;
        if (left > 0) this.#scheduledBy.set(target, left);
        else this.#scheduledBy.delete(target);
        if (!this.#conn) return;
        this.#sendAll(packets, addr);
        this.#stats.copiesSent += packets.length;
      }, to.spacingMs * i);
      this.#timers.add(timer);
    }
  }

  /** Cancels scheduled copies and closes the socket. */
  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#scheduled = 0;
    this.#scheduledBy.clear();
    try {
      this.#conn?.close();
    } catch {
      // Already closed.
    }
    this.#conn = undefined;
  }

  #sendAll(packets: Uint8Array[], addr: Deno.NetAddr): void {
    const conn = this.#conn!;
    for (const p of packets) {
      conn.send(p, addr).catch((e) => {
        this.#stats.sendErrors++;
        const now = performance.now();
        if (now - this.#errorLoggedAt > 5000) {
          this.#errorLoggedAt = now;
          this.#log.warn("repair answer send failed", {
            to: `${addr.hostname}:${addr.port}`,
            error: e,
            sendErrors: this.#stats.sendErrors,
          });
        }
      });
    }
  }
}

/** Counters of a {@linkcode UdpAnswerReceiver}. */
export interface UdpAnswerReceiverStats {
  /** Datagrams from the cloud handed on. */
  received: number;
  /** Datagrams from any other address (dropped). */
  foreign: number;
}

/**
 * The edge's answer socket: binds `hostname:port` (port 0 = any), hands
 * every datagram from the expected source address to `onPacket` (a copy),
 * drops the rest (counted).
 */
export class UdpAnswerReceiver {
  #conn: Deno.DatagramConn;
  #sources: string[] = [];
  #onPacket: (packet: Uint8Array) => void;
  #closed = false;
  #loop: Promise<void>;
  #stats: UdpAnswerReceiverStats = { received: 0, foreign: 0 };

  /**
   * Binds and starts receiving.
   *
   * @throws {Deno.errors.AddrInUse} and the like when the port cannot be bound.
   */
  constructor(opts: {
    hostname?: string;
    port?: number;
    onPacket: (packet: Uint8Array) => void;
  }) {
    this.#onPacket = opts.onPacket;
    this.#conn = Deno.listenDatagram({
      transport: "udp",
      hostname: opts.hostname ?? "0.0.0.0",
      port: opts.port ?? 0,
    });
    this.#loop = this.#run();
  }

  /** The bound port. */
  get port(): number {
    return (this.#conn.addr as Deno.NetAddr).port;
  }

  /** Live counters. */
  get stats(): Readonly<UdpAnswerReceiverStats> {
    return this.#stats;
  }

  /** Only datagrams from these addresses are accepted (the cloud's). */
  set sources(hostnames: string[]) {
    this.#sources = hostnames;
  }

  /** Stops receiving and closes the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    await this.#loop;
  }

  async #run(): Promise<void> {
    const buf = new Uint8Array(65_536);
    while (!this.#closed) {
      let n: number;
      let from: Deno.NetAddr;
      try {
        const [data, addr] = await this.#conn.receive(buf);
        n = data.length;
        from = addr as Deno.NetAddr;
      } catch {
        if (this.#closed) return;
        await new Promise((r) => setTimeout(r, 10)); // no busy loop
        continue;
      }
      if (!this.#sources.includes(from.hostname)) {
        this.#stats.foreign++;
        continue;
      }
      this.#stats.received++;
      this.#onPacket(buf.slice(0, n));
    }
  }
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * The addresses answers may come from, given a QUIC peer `host:port`: the
 * address itself, or what its name resolves to (A and AAAA).
 */
export async function answerSources(remote: string): Promise<string[]> {
  const host = hostOf(remote);
  if (IPV4.test(host) || host.includes(":")) return [host];
  const out: string[] = [];
  for (const type of ["A", "AAAA"] as const) {
    try {
      out.push(...await Deno.resolveDns(host, type));
    } catch {
      // No such record.
    }
  }
  if (host === "localhost") out.push("127.0.0.1", "::1");
  return out;
}

/** The address part of `host:port` / `[v6]:port`. */
export function hostOf(remote: string): string {
  const i = remote.lastIndexOf(":");
  const host = i < 0 ? remote : remote.slice(0, i);
  return host.startsWith("[") ? host.slice(1, -1) : host;
}
