/**
 * The access sections of the configuration: `auth:` (signed URLs),
 * `hooks:` (HTTP callbacks) and `limits:` (the cloud's resource caps).
 *
 * @module
 */
import { bool, int, type KeySpec, optionalUrl, str } from "./checks.ts";

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
