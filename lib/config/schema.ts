/**
 * The flvcast configuration: its keys, types, defaults and validation.
 *
 * @module
 */
import { type Address, isMulticastV4, parseAddress } from "./address.ts";

/** Log levels accepted by `log_level`. */
export type ConfigLogLevel = "debug" | "info" | "warn" | "error";

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
}

/** The whole validated configuration. */
export interface Config {
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
  /** Edge settings. */
  edge: EdgeConfig;
}

/** A configuration error: which key, which file, what was expected. */
export class ConfigError extends Error {
  /** Creates the error; `message` is the one line shown to the operator. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Validates one raw value and returns it converted; throws a TypeError. */
export type Check = (value: unknown) => unknown;

const int = (min: number, max: number): Check => (v) => {
  const n = typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw new TypeError(
      `expected an integer ${min}..${max}, got ${JSON.stringify(v)}`,
    );
  }
  return n;
};

const num = (min: number, max: number): Check => (v) => {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n) || n < min || n > max) {
    throw new TypeError(
      `expected a number ${min}..${max}, got ${JSON.stringify(v)}`,
    );
  }
  return n;
};

const bool: Check = (v) => {
  if (typeof v === "boolean") return v;
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw new TypeError(`expected true or false, got ${JSON.stringify(v)}`);
};

const str: Check = (v) => {
  if (typeof v === "string") return v;
  if (v === null) return "";
  throw new TypeError(`expected a string, got ${JSON.stringify(v)}`);
};

const nonEmptyStr: Check = (v) => {
  const s = str(v) as string;
  if (s === "") throw new TypeError(`expected a non-empty path, got ""`);
  return s;
};

const oneOf = (...allowed: string[]): Check => (v) => {
  if (typeof v !== "string" || !allowed.includes(v)) {
    throw new TypeError(
      `expected one of ${allowed.join(" | ")}, got ${JSON.stringify(v)}`,
    );
  }
  return v;
};

/** A listen address: `:port` or `host:port`, port 0 = any free port. */
const listenAddr: Check = (v) => {
  const s = str(v) as string;
  parseAddress(s, { allowZeroPort: true });
  return s;
};

/** A listen address (port 0 = any free port) or empty. */
const optionalListenAddr: Check = (v) => {
  const s = str(v) as string;
  if (s !== "") parseAddress(s, { allowZeroPort: true });
  return s;
};

/** A listen address or empty. */
const optionalHostPort: Check = (v) => {
  const s = str(v) as string;
  if (s !== "") parseAddress(s, { allowEmptyHost: false });
  return s;
};

const optionalIp: Check = (v) => {
  const s = str(v) as string;
  if (s !== "" && !/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) {
    throw new TypeError(
      `expected an IPv4 address or "", got ${JSON.stringify(v)}`,
    );
  }
  return s;
};

const fingerprint: Check = (v) => {
  const s = (str(v) as string).replaceAll(":", "").toLowerCase();
  if (s !== "" && !/^[0-9a-f]{64}$/.test(s)) {
    throw new TypeError(
      `expected 64 hex digits (SHA-256, colons allowed) or "", got ${
        JSON.stringify(v)
      }`,
    );
  }
  return s;
};

const udpAddr: Check = (v) => {
  const s = str(v) as string;
  const a = parseAddress(s, { allowZeroPort: true });
  if (
    !s.startsWith(":") && !isMulticastV4(a.hostname) &&
    !/^[\d.]+$|^[0-9a-f:]+$/i.test(a.hostname)
  ) {
    throw new TypeError(
      `expected ":port", "ip:port" or a multicast "239.x.x.x:port", got ${
        JSON.stringify(v)
      }`,
    );
  }
  return s;
};

const addrList: Check = (v) => {
  const list = typeof v === "string" ? v.split(",").map((x) => x.trim()) : v;
  if (!Array.isArray(list)) {
    throw new TypeError(
      `expected a list of "host:port", got ${JSON.stringify(v)}`,
    );
  }
  return list.map((item) => {
    if (typeof item !== "string") {
      throw new TypeError(
        `expected "host:port" items, got ${JSON.stringify(item)}`,
      );
    }
    parseAddress(item, { allowEmptyHost: false });
    return item;
  });
};

/** One configuration key: its check, built-in default and help text. */
export interface KeySpec {
  /** Validates and converts a raw value. */
  check: Check;
  /** The built-in default. */
  default: unknown;
  /** One line for `--help`. */
  help: string;
}

/** Every top-level cloud key with its check, default and help text. */
export const CLOUD_KEYS: Record<Exclude<keyof Config, "edge">, KeySpec> = {
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
};

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
    default: 500,
    help:
      "most packets asked for repair per second; past it losses are given up (no repair storm)",
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
};

/** The built-in defaults. */
export function defaultConfig(): Config {
  const cfg: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(CLOUD_KEYS)) {
    cfg[k] = structuredClone(s.default);
  }
  const edge: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(EDGE_KEYS)) edge[k] = s.default;
  cfg.edge = edge;
  return cfg as unknown as Config;
}

/** Returns the spec of a dotted key (`rtp_port`, `edge.latency_ms`), if any. */
export function keySpec(path: string): KeySpec | undefined {
  if (path.startsWith("edge.")) {
    return (EDGE_KEYS as Record<string, KeySpec>)[path.slice(5)];
  }
  return path === "edge"
    ? undefined
    : (CLOUD_KEYS as Record<string, KeySpec>)[path];
}

/** Parsed listen/send addresses, derived from a {@linkcode Config}. */
export interface ResolvedAddresses {
  /** RTMP listener. */
  rtmp: Address;
  /** Cloud API listener. */
  api: Address;
  /** QUIC listener. */
  quic: Address;
  /** RTP destinations. */
  clients: Address[];
  /** Edge UDP listener, with the multicast group when it is one. */
  edgeUdp: Address & { group?: string };
  /** Edge HTTP-FLV listener. */
  edgeFlv: Address;
  /** Edge API listener. */
  edgeApi: Address;
  /** Edge HLS listener, when HLS is on and `edge.hls_addr` is set. */
  edgeHls?: Address;
  /** Cloud QUIC address the edge dials, when given. */
  cloudQuic?: Address;
}

/** Parses every address in a validated config. */
export function resolveAddresses(cfg: Config): ResolvedAddresses {
  const listen = (s: string) => parseAddress(s, { allowZeroPort: true });
  const udp = listen(cfg.edge.udp_addr);
  const edgeUdp: Address & { group?: string } = isMulticastV4(udp.hostname)
    ? { hostname: "0.0.0.0", port: udp.port, group: udp.hostname }
    : udp;
  return {
    rtmp: listen(cfg.rtmp_addr),
    api: listen(cfg.api_addr),
    quic: listen(cfg.quic_addr),
    clients: cfg.client_addr_list.map((s) =>
      parseAddress(s, { allowEmptyHost: false })
    ),
    edgeUdp,
    edgeFlv: listen(cfg.edge.flv_addr),
    edgeApi: listen(cfg.edge.api_addr),
    edgeHls: cfg.edge.enable_hls && cfg.edge.hls_addr
      ? listen(cfg.edge.hls_addr)
      : undefined,
    cloudQuic: cfg.edge.cloud_quic_addr
      ? parseAddress(cfg.edge.cloud_quic_addr, { allowEmptyHost: false })
      : undefined,
  };
}
