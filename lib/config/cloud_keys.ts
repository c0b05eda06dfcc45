/**
 * The top-level keys of the configuration: RTMP/RTMPS ingest, the RTP
 * fan-out and its cache, the QUIC repair service, SRTP, logging, recording
 * and the cloud API.
 *
 * @module
 */
import {
  addrList,
  bool,
  int,
  type KeySpec,
  listenAddr,
  nonEmptyStr,
  oneOf,
  optionalListenAddr,
  str,
} from "./checks.ts";

/** Log levels accepted by `log_level`. */
export type ConfigLogLevel = "debug" | "info" | "warn" | "error";

/** The top-level (cloud and shared) settings of the whole `Config`. */
export interface CloudConfig {
  /** RTP packets cached per stream for retransmission. */
  rtp_cache_size: number;
  /** Byte cap of one stream's retransmission cache. */
  rtp_cache_bytes: number;
  /** QUIC retransmission service listen address. */
  quic_addr: string;
  /** Edges (unicast host:port) or multicast groups. */
  client_addr_list: string[];
  /** Record each published stream to FLV. */
  enable_record: boolean;
  /** Local UDP port RTP is sent from. */
  rtp_port: number;
  /** RTMP listen address. */
  rtmp_addr: string;
  /** Cloud HTTP API listen address. */
  api_addr: string;
  /** True: do not send RTP. */
  debug: boolean;
  /** Lowest log level written. */
  log_level: ConfigLogLevel;
  /** Also append logs to `log_file`. */
  enable_log_file: boolean;
  /** Log file path. */
  log_file: string;
  /** Max RTP payload bytes per packet. */
  rtp_payload_size: number;
  /** FEC: one XOR parity packet per this many RTP packets (0 = off). */
  fec_block: number;
  /** TTL of multicast RTP. */
  multicast_ttl: number;
  /** Directory recordings go to. */
  record_dir: string;
  /** Shared secret edges present to the QUIC service (required in the
   * `cloud` and `edge` roles unless `allow_insecure_repair`). */
  quic_secret: string;
  /** Allow an empty `quic_secret` in the `cloud`/`edge` roles (anyone may
   * ask for repairs). */
  allow_insecure_repair: boolean;
  /** Directory for what the process makes and keeps (its certificates). */
  state_dir: string;
  /** PEM certificate file for QUIC; empty = self-signed, kept in `state_dir`. */
  quic_cert: string;
  /** PEM key file for QUIC. */
  quic_key: string;
  /** UDP send buffer of the RTP socket to ask for (bytes); 0 = kernel default. */
  udp_sndbuf: number;
  /** QUIC implementation of the retransmission service (cloud and edge). */
  quic_impl: "native" | "matrixai";
  /** RTMPS listen address; empty = off. */
  rtmps_addr: string;
  /** PEM certificate for RTMPS; empty = self-signed (state_dir). */
  tls_cert: string;
  /** PEM key for `tls_cert`. */
  tls_key: string;
  /** Bearer token for `/api/*`, `/stat/*`, `/metrics`; empty = open. */
  api_token: string;
  /** Protect RTP/RTCP to edges with SRTP/SRTCP (keys over QUIC). */
  srtp: boolean;
}

/** Every top-level cloud key with its check, default and help text. */
export const CLOUD_KEYS: Record<keyof CloudConfig, KeySpec> = {
  rtp_cache_size: {
    check: int(16, 65536), // one slot per 16-bit sequence number
    default: 5000,
    help: "RTP packets cached per stream for retransmission",
  },
  rtp_cache_bytes: {
    check: int(65536, 4 * 1024 ** 3),
    default: 64 * 1024 * 1024,
    help: "byte cap of one stream's retransmission cache",
  },
  quic_addr: {
    check: listenAddr,
    default: ":4242",
    help: "QUIC retransmission service",
  },
  client_addr_list: {
    check: addrList,
    default: ["127.0.0.1:5222"],
    help:
      "edges (unicast host:port) or multicast groups (239.x.x.x:port); flag: comma-separated",
  },
  enable_record: {
    check: bool,
    default: false,
    help: "record each stream to FLV",
  },
  rtp_port: {
    check: int(0, 65535),
    default: 5220,
    help: "local UDP port RTP is sent from",
  },
  rtmp_addr: {
    check: listenAddr,
    default: ":1935",
    help: "RTMP listen address",
  },
  api_addr: {
    check: listenAddr,
    default: ":8090",
    help: "cloud HTTP API listen address",
  },
  debug: {
    check: bool,
    default: false,
    help: "true: do not send RTP (debugging)",
  },
  log_level: {
    check: oneOf("debug", "info", "warn", "error"),
    default: "info",
    help: "debug | info | warn | error",
  },
  enable_log_file: {
    check: bool,
    default: false,
    help: "also append logs to log_file",
  },
  log_file: {
    check: str,
    default: "./logs/flvcast.log",
    help: "log file path",
  },
  rtp_payload_size: {
    check: int(64, 65000),
    default: 1180,
    help: "max RTP payload bytes per packet",
  },
  fec_block: {
    check: (v) => {
      const n = int(0, 64)(v) as number;
      if (n === 1) throw new TypeError("expected 0 (off) or 2..64, got 1");
      return n;
    },
    default: 0,
    help:
      "FEC: one XOR parity packet (PT 101) per this many RTP packets, repairing one loss per block with no round trip; 0 = off (edges decode it when present)",
  },
  multicast_ttl: {
    check: int(0, 255),
    default: 1,
    help: "TTL of multicast RTP",
  },
  record_dir: {
    check: str,
    default: "./record",
    help: "directory for recordings",
  },
  quic_secret: {
    check: str,
    default: "",
    help:
      "shared secret edges present to the cloud; required in the cloud and edge roles",
  },
  allow_insecure_repair: {
    check: bool,
    default: false,
    help:
      "true: allow an empty quic_secret in the cloud/edge roles (anyone may ask for repairs)",
  },
  state_dir: {
    check: nonEmptyStr,
    default: "./state",
    help: "directory for state kept across restarts (self-signed certificates)",
  },
  quic_cert: {
    check: str,
    default: "",
    help:
      "PEM certificate; empty = self-signed, made once and kept in state_dir",
  },
  quic_key: { check: str, default: "", help: "PEM private key for quic_cert" },
  udp_sndbuf: {
    check: int(0, 1 << 30),
    default: 4 << 20,
    help:
      "UDP send buffer of the RTP socket (bytes; 0 = kernel default; past wmem_max needs CAP_NET_ADMIN)",
  },
  quic_impl: {
    check: oneOf("native", "matrixai"),
    default: "native",
    help: "QUIC implementation: native (Deno's) | matrixai (@matrixai/quic)",
  },
  rtmps_addr: {
    check: optionalListenAddr,
    default: "",
    help: 'RTMP over TLS listen address, e.g. ":1936"; empty = off',
  },
  tls_cert: {
    check: str,
    default: "",
    help: "PEM certificate for RTMPS; empty = self-signed, kept in state_dir",
  },
  tls_key: { check: str, default: "", help: "PEM private key for tls_cert" },
  api_token: {
    check: str,
    default: "",
    help:
      'non-empty: /api/*, /stat/*, /metrics need "Authorization: Bearer TOKEN"',
  },
  srtp: {
    check: bool,
    default: true,
    help:
      "protect RTP/RTCP with SRTP (AES_CM_128_HMAC_SHA1_80, keys per publish handed to edges over QUIC); false = plain (debugging, warned)",
  },
};
