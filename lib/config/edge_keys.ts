/**
 * The `edge:` section of the configuration: RTP input, the repair link to
 * the cloud, the player ports (HTTP-FLV, WebSocket-FLV, HTTPS, HLS) and
 * their limits.
 *
 * @module
 */
import {
  bool,
  fingerprint,
  int,
  type KeySpec,
  listenAddr,
  num,
  oneOf,
  optionalHostPort,
  optionalIp,
  optionalListenAddr,
  str,
  udpAddr,
} from "./checks.ts";

/** Edge settings (the `edge:` section). */
export interface EdgeConfig {
  /** `:port` unicast or `239.x.x.x:port` multicast group to receive RTP on. */
  udp_addr: string;
  /** Local address of the interface to join the multicast group on. */
  multicast_interface: string;
  /** HTTP-FLV / WebSocket-FLV / status page listen address. */
  flv_addr: string;
  /** Edge API listen address. */
  api_addr: string;
  /** Cloud QUIC address; required in the edge role (empty with no
   * subcommand: the in-process cloud). */
  cloud_quic_addr: string;
  /** SHA-256 fingerprint (hex) of the cloud's certificate to pin. */
  cloud_fingerprint: string;
  /** PEM CA file that signs the cloud's certificate. */
  cloud_ca: string;
  /** Accept any cloud certificate (explicit, logged). */
  insecure_skip_verify: boolean;
  /** Reorder + repair budget in milliseconds, or `auto` (from RTT and loss). */
  latency_ms: number | "auto";
  /** Simulated input loss (0..1) for demos. */
  pack_loss: number;
  /** Record each stream received at the edge to FLV. */
  enable_record: boolean;
  /** A stream silent for this long is ended (ms). */
  stream_timeout_ms: number;
  /** Most packets asked for repair per second (all streams). */
  repair_max_pps: number;
  /** Accept only SRTP/SRTCP with keys from the cloud; false = plain only. */
  srtp: boolean;
  /** UDP receive buffer to ask for (bytes); 0 = kernel default. */
  udp_rcvbuf: number;
  /** Serve HLS / LL-HLS (`/live/NAME.m3u8`) on `hls_addr` and the player port. */
  enable_hls: boolean;
  /** HLS listen address; `""` = only on the player port (`flv_addr`). */
  hls_addr: string;
  /** Complete segments kept in the HLS live window. */
  hls_segments: number;
  /** LL-HLS part target (ms). */
  hls_part_ms: number;
  /** Where repair answers come: `udp` (asked after AUTH) or `stream`. */
  repair_answers: "udp" | "stream";
  /** UDP port of the edge's repair answer socket (0 = any). */
  repair_udp_port: number;
  /** HTTPS/WSS listen address for the player routes; empty = off. */
  https_addr: string;
  /** PEM certificate for `https_addr`; empty = self-signed (state_dir). */
  tls_cert: string;
  /** PEM key for `tls_cert`. */
  tls_key: string;
  /** Most players (HTTP-FLV, WebSocket-FLV) at once. */
  max_players: number;
  /** Most open connections from one IP on the player ports. */
  max_connections_per_ip: number;
  /** All players' unsent bytes together; past it the slowest are cut. */
  player_buffer_bytes: number;
}

/** Every key of the `edge:` section with its check, default and help text. */
export const EDGE_KEYS: Record<keyof EdgeConfig, KeySpec> = {
  udp_addr: {
    check: udpAddr,
    default: ":5222",
    help: '":port" unicast, "239.x.x.x:port" multicast group',
  },
  multicast_interface: {
    check: optionalIp,
    default: "",
    help: "local address of the interface to join on",
  },
  flv_addr: {
    check: listenAddr,
    default: ":7001",
    help: "HTTP-FLV / WebSocket-FLV / status page",
  },
  api_addr: {
    check: listenAddr,
    default: ":8091",
    help: "edge API listen address",
  },
  cloud_quic_addr: {
    check: optionalHostPort,
    default: "",
    help:
      "host:port of the cloud's QUIC service; required in the edge role (no subcommand: the local cloud)",
  },
  cloud_fingerprint: {
    check: fingerprint,
    default: "",
    help: "SHA-256 of the cloud's certificate (hex) to pin",
  },
  cloud_ca: {
    check: str,
    default: "",
    help: "CA file that signs the cloud's certificate",
  },
  insecure_skip_verify: {
    check: bool,
    default: false,
    help: "accept any cloud certificate (logged)",
  },
  latency_ms: {
    check: (v) => v === "auto" ? "auto" : int(20, 10_000)(v),
    default: 200,
    help:
      'reorder + repair budget (ms), or "auto": 4 × the measured repair round trip (5 × above 15 % loss), at least 120',
  },
  pack_loss: {
    check: num(0, 1),
    default: 0,
    help: "simulated input loss for demos (0..1)",
  },
  enable_record: {
    check: bool,
    default: false,
    help: "record streams at the edge",
  },
  stream_timeout_ms: {
    check: int(500, 600_000),
    default: 5000,
    help: "a stream silent this long is ended (ms)",
  },
  repair_max_pps: {
    check: int(1, 1_000_000),
    // DEFAULT_REPAIR_MAX_PPS of lib/quic (README "Repair budget").
    default: 5000,
    help:
      "most packets asked for repair per second; past it losses are given up (no repair storm)",
  },
  srtp: {
    check: bool,
    default: true,
    help:
      "accept only SRTP/SRTCP, keyed by the cloud over QUIC; false = plain RTP only (for a cloud with srtp: false)",
  },

  udp_rcvbuf: {
    check: int(0, 1 << 30),
    default: 8 << 20,
    help:
      "UDP receive buffer (bytes; 0 = kernel default; past rmem_max needs CAP_NET_ADMIN)",
  },
  enable_hls: {
    check: bool,
    default: true,
    help: "serve HLS / LL-HLS at /live/NAME.m3u8 (hls_addr and flv_addr)",
  },
  hls_addr: {
    check: optionalListenAddr,
    default: ":7002",
    help: 'HLS listen address; "" = only on the player port (flv_addr)',
  },
  hls_segments: {
    check: int(3, 100),
    default: 6,
    help: "complete segments kept in the HLS live window",
  },
  hls_part_ms: {
    check: int(50, 2000),
    default: 200,
    help: "LL-HLS part target (ms)",
  },
  repair_answers: {
    check: oneOf("udp", "stream"),
    default: "udp",
    help:
      "udp: the cloud sends repair answers as UDP datagrams (copies by measured loss); stream: on the QUIC stream",
  },
  repair_udp_port: {
    check: int(0, 65535),
    default: 0,
    help: "UDP port the edge receives repair answers on (0 = any free port)",
  },
  https_addr: {
    check: optionalListenAddr,
    default: "",
    help: 'player routes over TLS (HTTPS/WSS), e.g. ":7443"; empty = off',
  },
  tls_cert: {
    check: str,
    default: "",
    help: "PEM certificate for https_addr; empty = self-signed in state_dir",
  },
  tls_key: { check: str, default: "", help: "PEM private key for tls_cert" },
  max_players: {
    check: int(1, 1_000_000),
    default: 10000,
    help: "most players at once",
  },
  max_connections_per_ip: {
    check: int(1, 1_000_000),
    default: 64,
    help: "most open connections from one IP on the player ports",
  },
  player_buffer_bytes: {
    check: int(1024 * 1024, 64 * 1024 ** 3),
    default: 256 * 1024 * 1024,
    help: "all players' unsent data together; past it the slowest are cut",
  },
};
