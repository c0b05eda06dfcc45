/**
 * The options of a `CloudNode`.
 *
 * @module
 */
import type { Address, AuthConfig, HooksConfig } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { QuicImpl } from "../quic/mod.ts";

/** Options for `CloudNode`. */
export interface CloudNodeOptions {
  /** RTMP listen address. */
  rtmp: Address;
  /** HTTP API listen address. */
  api: Address;
  /** QUIC retransmission listen address. */
  quic: Address;
  /** Local UDP address RTP is sent from. */
  rtpLocal: Address;
  /** RTP destinations (unicast edges or multicast groups). */
  destinations: Address[];
  /** Multicast TTL. */
  multicastTtl: number;
  /** Max RTP payload per packet. */
  payloadSize: number;
  /** Packets cached per stream. */
  cachePackets: number;
  /** Byte cap per stream cache. */
  cacheBytes: number;
  /** FEC: one XOR parity packet per this many media packets (0/absent = off). */
  fecBlock?: number;
  /** True: do not send RTP. */
  debug: boolean;
  /** Record every stream to FLV. */
  enableRecord: boolean;
  /** Where recordings go. */
  recordDir: string;
  /** QUIC shared secret; empty = no auth. */
  quicSecret: string;
  /** PEM certificate and key; generated when absent. */
  tls: { certPem: string; keyPem: string };
  /** QUIC implementation of the retransmission server; default `native`. */
  quicImpl?: QuicImpl;
  /** UDP send buffer for RTP (bytes, `udp_sndbuf`); 0 = kernel default. */
  udpSendBuffer?: number;
  /**
   * Protect RTP/RTCP with SRTP (a random master key and salt per publish,
   * handed to edges by `KEYS` over QUIC). Default false: plain RTP/RTCP.
   */
  srtp?: boolean;
  /** Logger. */
  logger?: Logger;
  /** How long an ended stream's cache still answers NACKs (ms). */
  retireMs?: number;
  /** Signed-URL access (`auth:`); default off. */
  auth?: AuthConfig;
  /** HTTP callbacks (`hooks:`); default off. */
  hooks?: HooksConfig;
  /** Most RTMP connections (plain + RTMPS); default 1000. */
  maxConnections?: number;
  /** Most live publishes; default 256. */
  maxStreams?: number;
  /** Largest RTMP message; default 8 MiB. */
  maxMessageBytes?: number;
  /** RTMP over TLS: listen address and PEMs; default off. */
  rtmps?: { address: Address; certPem: string; keyPem: string };
  /** Bearer token for the API (`/healthz` stays open); empty = open. */
  apiToken?: string;
}
