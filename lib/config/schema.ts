/**
 * The flvcast configuration: the whole {@linkcode Config} made of the
 * top-level keys (`cloud_keys.ts`) and the `edge:` (`edge_keys.ts`) and
 * `auth:`/`hooks:`/`limits:` (`access_keys.ts`) sections, its defaults,
 * key lookup and resolved addresses.
 *
 * @module
 */
import { type Address, isMulticastV4, parseAddress } from "./address.ts";
import {
  AUTH_KEYS,
  type AuthConfig,
  HOOKS_KEYS,
  type HooksConfig,
  LIMITS_KEYS,
  type LimitsConfig,
} from "./access_keys.ts";
import type { KeySpec } from "./checks.ts";
import { CLOUD_KEYS, type CloudConfig } from "./cloud_keys.ts";
import { EDGE_KEYS, type EdgeConfig } from "./edge_keys.ts";

/** The whole validated configuration. */
export interface Config extends CloudConfig {
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
