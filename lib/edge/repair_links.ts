/**
 * The edge's QUIC repair links, one {@linkcode RtxClient} per cloud: the
 * link a stream's repairs go over is the configured cloud (`cloudQuic`), or
 * the stream's RTP source address with `quicPort`. A link is opened as soon
 * as it is named (not at the first NACK), so the QUIC handshake is over
 * before the first loss needs it.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { RtxClient } from "../quic/mod.ts";
import type { EdgeNodeOptions } from "./edge_options.ts";
import type { PeerAddress } from "./receiver_types.ts";

/**
 * Repair links by cloud.
 *
 * @example Usage
 * ```ts ignore
 * const links = new RepairLinks(options, log);
 * links.forSource({ hostname: "10.0.0.1", port: 5220 }).request(ssrc, seqs);
 * ```
 */
export class RepairLinks {
  #opts: EdgeNodeOptions;
  #log: Logger;
  #links = new Map<string, RtxClient>();
  #initialCopies: number;

  /** Links are made from the node's options (secret, verification, QUIC
   * implementation, UDP answers); a new link asks for `initialCopies` of
   * each answer until the policy has measured it. */
  constructor(options: EdgeNodeOptions, logger: Logger, initialCopies = 1) {
    this.#opts = options;
    this.#log = logger;
    this.#initialCopies = initialCopies;
  }

  /** The open links, by `host:port` of the cloud. */
  entries(): [string, RtxClient][] {
    return [...this.#links.entries()];
  }

  /** The link a stream from `source` repairs over. */
  forSource(source: PeerAddress): RtxClient {
    const cq = this.#opts.cloudQuic;
    return this.open(
      cq?.host ?? source.hostname,
      cq?.port ?? this.#opts.quicPort,
    );
  }

  /** How the link of `source` is doing, for log lines. */
  stateOf(source: PeerAddress): Record<string, unknown> {
    const link = this.forSource(source);
    return {
      rtxConnected: link.connected,
      rtxError: link.lastError || undefined,
    };
  }

  /** The link to `host:port`, opened now if it is not open. */
  open(host: string, port: number): RtxClient {
    const id = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    let client = this.#links.get(id);
    if (!client) {
      const o = this.#opts;
      client = new RtxClient({
        host,
        port,
        secret: o.secret || undefined,
        fingerprint: o.fingerprint,
        caPem: o.caPem,
        insecureSkipVerify: o.insecureSkipVerify,
        impl: o.quicImpl,
        logger: this.#log.child("rtx"),
        udpAnswers: (o.repairAnswers ?? "udp") === "udp"
          ? {
            // A fixed port serves the first cloud link; more get any port.
            port: this.#links.size === 0 ? o.repairUdpPort ?? 0 : 0,
            // Nothing measured yet: the policy's first guess.
            copies: this.#initialCopies,
          }
          : undefined,
      });
      this.#links.set(id, client);
      // An empty request only opens the connection (the client is lazy).
      client.request(0, [], { timeoutMs: 0 });
    }
    return client;
  }

  /** Closes every link. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#links.values()].map((c) => c.close()));
    this.#links.clear();
  }
}
