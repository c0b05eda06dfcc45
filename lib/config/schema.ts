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

/** Publish/play access by signed URL (the `auth:` section). */
export interface AuthConfig {
  /** Signing secret (node-media-server's scheme). */
  secret: string;
  /** True: RTMP publish needs `?sign=`. */
  publish: boolean;
  /** True: every play (cloud RTMP, edge players) needs `?sign=`. */
  play: boolean;
}

/** SRS-style HTTP callbacks (the `hooks:` section); empty URL = off. */
export interface HooksConfig {
  /** POSTed before a publish is accepted. */
  on_publish: string;
  /** POSTed when a publish ends. */
  on_unpublish: string;
  /** POSTed before a play is accepted. */
  on_play: string;
  /** POSTed when a play ends. */
  on_stop: string;
  /** No answer in time = refused (fail closed). */
  timeout_ms: number;
}

/** Resource limits of the cloud (the `limits:` section). */
export interface LimitsConfig {
  /** RTMP connections at the cloud (plain and RTMPS). */
  max_connections: number;
  /** Live publishes at the cloud. */
  max_streams: number;
  /** Largest RTMP message accepted. */
  max_message_bytes: number;
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
  /** Edge settings. */
  edge: EdgeConfig;
  /** Signed-URL access. */
  auth: AuthConfig;
  /** HTTP callbacks. */
  hooks: HooksConfig;
  /** Resource limits. */
  limits: LimitsConfig;
}

/** The nested sections of {@linkcode Config}. */
export type SectionName = "edge" | "auth" | "hooks" | "limits";

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

/** An http(s) URL or empty. */
const optionalUrl: Check = (v) => {
  const s = str(v) as string;
  if (s === "") return s;
  let u: URL | undefined;
  try {
    u = new URL(s);
  } catch { /* below */ }
  if (!u || (u.protocol !== "http:" && u.protocol !== "https:")) {
    throw new TypeError(
      `expected an http:// or https:// URL or "", got ${JSON.stringify(v)}`,
    );
  }
  return s;
};

/** Every top-level cloud key with its check, default and help text. */
export const CLOUD_KEYS: Record<Exclude<keyof Config, SectionName>, KeySpec> = {
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

/** Every key of the `auth:` section. */
export const AUTH_KEYS: Record<keyof AuthConfig, KeySpec> = {
  secret: {
    check: str,
    default: "",
    help: "signing secret (node-media-server's ?sign=EXPIRES-MD5 scheme)",
  },
  publish: {
    check: bool,
    default: false,
    help: "true: RTMP publish needs ?sign=",
  },
  play: {
    check: bool,
    default: false,
    help: "true: every play (RTMP, HTTP-FLV, WS-FLV, HLS) needs ?sign=",
  },
};

/** Every key of the `hooks:` section. */
export const HOOKS_KEYS: Record<keyof HooksConfig, KeySpec> = {
  on_publish: {
    check: optionalUrl,
    default: "",
    help: "URL POSTed before a publish; 2xx with 0 or {code:0} allows",
  },
  on_unpublish: {
    check: optionalUrl,
    default: "",
    help: "URL POSTed when a publish ends (duration, bytes)",
  },
  on_play: {
    check: optionalUrl,
    default: "",
    help: "URL POSTed before a play (cloud RTMP, edge players)",
  },
  on_stop: {
    check: optionalUrl,
    default: "",
    help: "URL POSTed when a play ends (duration, bytes)",
  },
  timeout_ms: {
    check: int(100, 60_000),
    default: 3000,
    help: "no answer in time = refused (fail closed)",
  },
};

/** Every key of the `limits:` section. */
export const LIMITS_KEYS: Record<keyof LimitsConfig, KeySpec> = {
  max_connections: {
    check: int(1, 1_000_000),
    default: 1000,
    help: "RTMP connections at the cloud (plain + RTMPS)",
  },
  max_streams: {
    check: int(1, 100_000),
    default: 256,
    help: "live publishes at the cloud",
  },
  max_message_bytes: {
    check: int(4096, 0xffffff - 1),
    default: 8 * 1024 * 1024,
    help: "largest RTMP message accepted (bytes)",
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

/** The nested sections and their keys. */
export const SECTIONS: Record<SectionName, Record<string, KeySpec>> = {
  edge: EDGE_KEYS,
  auth: AUTH_KEYS,
  hooks: HOOKS_KEYS,
  limits: LIMITS_KEYS,
};

/** The built-in defaults. */
export function defaultConfig(): Config {
  const cfg: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(CLOUD_KEYS)) {
    cfg[k] = structuredClone(s.default);
  }
  for (const [name, keys] of Object.entries(SECTIONS)) {
    const section: Record<string, unknown> = {};
    for (const [k, s] of Object.entries(keys)) {
      section[k] = structuredClone(s.default);
    }
    cfg[name] = section;
  }
  return cfg as unknown as Config;
}

/** Every dotted key (`rtp_port`, `edge.latency_ms`, `auth.publish`…). */
export function allKeys(): string[] {
  const out = Object.keys(CLOUD_KEYS);
  for (const [name, keys] of Object.entries(SECTIONS)) {
    for (const k of Object.keys(keys)) out.push(`${name}.${k}`);
  }
  return out;
}

/** Returns the spec of a dotted key (`rtp_port`, `edge.latency_ms`), if any. */
export function keySpec(path: string): KeySpec | undefined {
  const dot = path.indexOf(".");
  if (dot >= 0) {
    const keys = Object.hasOwn(SECTIONS, path.slice(0, dot))
      ? SECTIONS[path.slice(0, dot) as SectionName]
      : undefined;
    const k = path.slice(dot + 1);
    return keys && Object.hasOwn(keys, k) ? keys[k] : undefined;
  }
  return Object.hasOwn(SECTIONS, path) || !Object.hasOwn(CLOUD_KEYS, path)
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
  /** RTMPS listener, when `rtmps_addr` is set. */
  rtmps?: Address;
  /** Edge HTTPS/WSS listener, when `edge.https_addr` is set. */
  edgeHttps?: Address;
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
    rtmps: cfg.rtmps_addr ? listen(cfg.rtmps_addr) : undefined,
    edgeHttps: cfg.edge.https_addr ? listen(cfg.edge.https_addr) : undefined,
    edgeApi: listen(cfg.edge.api_addr),
    edgeHls: cfg.edge.enable_hls && cfg.edge.hls_addr
      ? listen(cfg.edge.hls_addr)
      : undefined,
    cloudQuic: cfg.edge.cloud_quic_addr
      ? parseAddress(cfg.edge.cloud_quic_addr, { allowEmptyHost: false })
      : undefined,
  };
}
