/**
 * The options of an `EdgeNode`, and the check that they say how to verify
 * the cloud.
 *
 * @module
 */
import type { AuthConfig, HooksConfig } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { QuicImpl } from "../quic/mod.ts";

/** A host and port to listen on. */
export interface ListenAddress {
  /** Local address; `0.0.0.0` for all. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
}

/** Options for {@linkcode EdgeNode}. */
export interface EdgeNodeOptions {
  /** Where RTP/RTCP arrive (rtcp-mux on one port). */
  udp: ListenAddress & {
    /** Multicast group (239.x.x.x) to join; unicast when absent. */
    group?: string;
    /** Local address of the interface to join the group on. */
    multicastInterface?: string;
  };
  /** HTTP-FLV / WebSocket-FLV / status page. */
  flv: ListenAddress;
  /** Edge API (`/api/streams`, `/metrics`, `/healthz`). */
  api: ListenAddress;
  /** The cloud's QUIC retransmission service; default: the RTP source
   * address with {@linkcode EdgeNodeOptions.quicPort}. */
  cloudQuic?: { host: string; port: number };
  /** QUIC port used with the RTP source address when `cloudQuic` is absent. */
  quicPort: number;
  /** Shared secret presented to the cloud (`AUTH`); empty: none. */
  secret?: string;
  /** Pinned SHA-256 fingerprint of the cloud certificate. */
  fingerprint?: string;
  /** CA PEM that signs the cloud certificate. */
  caPem?: string;
  /** Accept any cloud certificate (explicit, logged). */
  insecureSkipVerify?: boolean;
  /** QUIC implementation of the repair link; default `native`. */
  quicImpl?: QuicImpl;
  /**
   * Reorder + repair budget in ms. Default 200. `"auto"`: each stream's
   * budget follows its link's measured round trip and loss
   * (`autoBudget`; 400 until the link has measured).
   */
  latencyMs?: number | "auto";
  /**
   * Accept SRTP/SRTCP only, with keys from the cloud (`KEYS` over the
   * repair link); plain RTP is refused. Default false (plain RTP/RTCP).
   */
  srtp?: boolean;
  /** Simulated random loss of incoming RTP packets (0..1), for demos. */
  packLoss?: number;
  /** Random numbers in [0, 1) for `packLoss` (seeded in tests). */
  random?: () => number;
  /** Record every stream to FLV in `recordDir`. */
  enableRecord?: boolean;
  /** Where recordings go. Default `./record`. */
  recordDir?: string;
  /** A stream silent this long is ended (ms). Default 5000. */
  streamTimeoutMs?: number;
  /** Logger. */
  logger?: Logger;
  /** Bytes a player may fall behind before it is cut off. Default 8 MiB. */
  playerQueueBytes?: number;
  /** Packets held per SSRC not yet named by SDES. Default 512. */
  maxHeldPackets?: number;
  /** SSRCs not yet named that are held at once. Default 16. */
  maxHeldSsrcs?: number;
  /** Most streams served at once; SDES naming more is refused. Default 1000. */
  maxStreams?: number;
  /**
   * Most packets requested for repair per second, over all streams (token
   * bucket, one second of burst). Past it, missing packets are given up at
   * once instead of asked for, so a loss storm cannot turn into a repair
   * storm that starves the node and the cloud. Default
   * `DEFAULT_REPAIR_MAX_PPS` (5,000; README "Repair budget").
   */
  maxRepairPerSecond?: number;
  /**
   * UDP receive buffer to ask the kernel for (bytes; `edge.udp_rcvbuf`),
   * set through the libc helper of lib/net; 0 leaves the kernel default.
   * Default 8 MiB.
   */
  udpReceiveBuffer?: number;
  /** Serve the web page (stream list + mpegts.js player) on the FLV port.
   * Default true. */
  webPage?: boolean;
  /**
   * HLS / LL-HLS (`/live/NAME.m3u8`): on the FLV port, and on `addr` when
   * given; `false` turns it off. Default: on, FLV port only.
   */
  hls?: false | {
    /** Own listener (the seed's `:7002`). */
    addr?: ListenAddress;
    /** LL-HLS part target (ms). Default 200. */
    partMs?: number;
    /** Segments in the live window. Default 6. */
    segments?: number;
  };
  /**
   * Where repair answers come: `"udp"` (default) asks the cloud (`RMOD`) to
   * send them as UDP datagrams to an answer socket of the edge, each sent as
   * many times as the measured loss, round trip and budget call for;
   * `"stream"` keeps them on the QUIC stream (SPEC §6 as first written).
   */
  repairAnswers?: "udp" | "stream";
  /** UDP port of the answer socket (`repairAnswers: "udp"`); 0 = any. */
  repairUdpPort?: number;
  /** Signed-URL play access (`auth:`); default off. */
  auth?: AuthConfig;
  /** HTTP callbacks `on_play` / `on_stop` (`hooks:`); default off. */
  hooks?: HooksConfig;
  /** Most players at once. Default 10000. */
  maxPlayers?: number;
  /** Most players from one IP. Default 64. */
  maxPlayersPerIp?: number;
  /** All players' unsent bytes together. Default 256 MiB. */
  playerBufferBytes?: number;
  /** The player routes over TLS (HTTPS/WSS); default off. */
  https?: { address: ListenAddress; certPem: string; keyPem: string };
  /** Bearer token for the API port (`/healthz` stays open). */
  apiToken?: string;
}

/**
 * Throws unless `options` say how to verify the cloud's certificate.
 *
 * @throws {TypeError} without any of `fingerprint`, `caPem` or
 *   `insecureSkipVerify`.
 */
export function checkCloudVerification(options: EdgeNodeOptions): void {
  if (!options.fingerprint && !options.caPem && !options.insecureSkipVerify) {
    throw new TypeError(
      "EdgeNode: expected one of fingerprint, caPem or insecureSkipVerify to verify the cloud, received none",
    );
  }
}
