/**
 * Glue between flvcast and `@matrixai/quic`: crypto callbacks, a logger
 * adaptor and the shared constants. Internal to lib/quic.
 *
 * @module
 */
import quic from "@matrixai/quic";
import type { Logger } from "../log/mod.ts";

/** ALPN protocol id of the retransmission service. */
export const RTX_ALPN = "flvcast-rtx/1";

/** QUIC application close codes the server uses. */
export const CLOSE_CODES = {
  /** The first message was not a valid AUTH. */
  authFailed: 1,
  /** A frame or RTCP message was malformed or not allowed. */
  protocolError: 2,
  /** No AUTH arrived in time. */
  authTimeout: 3,
  /** The connection opened a second stream. */
  tooManyStreams: 4,
  /** The server has `maxConnections` already. */
  tooManyConnections: 5,
} as const;

const hmacKeys = new WeakMap<ArrayBuffer, Promise<CryptoKey>>();

function hmacKey(key: ArrayBuffer): Promise<CryptoKey> {
  let k = hmacKeys.get(key);
  if (!k) {
    k = crypto.subtle.importKey(
      "raw",
      key,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    hmacKeys.set(key, k);
  }
  return k;
}

/** Crypto callbacks the QUIC library wants (HMAC-SHA256 for retry tokens). */
export const cryptoOps = {
  randomBytes(data: ArrayBuffer): Promise<void> {
    crypto.getRandomValues(new Uint8Array(data));
    return Promise.resolve();
  },
  async sign(key: ArrayBuffer, data: ArrayBuffer): Promise<ArrayBuffer> {
    return await crypto.subtle.sign("HMAC", await hmacKey(key), data);
  },
  async verify(
    key: ArrayBuffer,
    data: ArrayBuffer,
    sig: ArrayBuffer,
  ): Promise<boolean> {
    return await crypto.subtle.verify("HMAC", await hmacKey(key), sig, data);
  },
};

/** A fresh 256-bit HMAC key for the server's retry tokens. */
export function newHmacKey(): ArrayBuffer {
  return crypto.getRandomValues(new Uint8Array(32)).buffer;
}

/** The subset of `@matrixai/logger`'s Logger the library calls. */
interface LibLogger {
  getChild(key: string): LibLogger;
  debug(msg: unknown): void;
  info(msg: unknown): void;
  warn(msg: unknown): void;
  error(msg: unknown): void;
}

/**
 * Adapts a flvcast {@linkcode Logger} for the QUIC library: its chatter
 * (one line per stream and connection) goes to `debug`.
 */
export function libLogger(log: Logger, key = "quic"): LibLogger {
  const line = (m: unknown) => `${key}: ${m instanceof Error ? m.message : m}`;
  return {
    getChild: (k: string) => libLogger(log, k),
    debug: (m) => log.debug(line(m)),
    info: (m) => log.debug(line(m)),
    warn: (m) => log.debug(line(m)),
    error: (m) => log.debug(line(m)),
  };
}

/** Calls `fn` at most once per `intervalMs`, reporting how many calls were dropped. */
export class RateLimitedLog {
  #intervalMs: number;
  #last = -Infinity;
  #suppressed = 0;

  /** @param intervalMs Minimum time between two emitted lines. */
  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /**
   * Emits via `fn(suppressed)` when the interval has passed, else counts.
   *
   * @param fn Receives how many calls were swallowed since the last line.
   */
  emit(fn: (suppressed: number) => void): void {
    const now = performance.now();
    if (now - this.#last >= this.#intervalMs) {
      this.#last = now;
      const s = this.#suppressed;
      this.#suppressed = 0;
      fn(s);
    } else {
      this.#suppressed++;
    }
  }
}

/** Token bucket: `rate` tokens a second, at most `burst` stored. */
export class TokenBucket {
  #rate: number;
  #burst: number;
  #tokens: number;
  #last: number;

  /**
   * @param rate Tokens added per second.
   * @param burst Capacity; default `rate` (one second's worth).
   */
  constructor(rate: number, burst = rate) {
    this.#rate = rate;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = performance.now();
  }

  /**
   * Takes up to `n` tokens.
   *
   * @param n Tokens wanted.
   * @returns How many were granted (0..n).
   */
  take(n: number): number {
    const now = performance.now();
    this.#tokens = Math.min(
      this.#burst,
      this.#tokens + ((now - this.#last) / 1000) * this.#rate,
    );
    this.#last = now;
    const granted = Math.min(n, Math.floor(this.#tokens));
    this.#tokens -= granted;
    return granted;
  }
}

/** Returns whether the frame is RTCP by RFC 5761 (second byte 192..223). */
export function looksLikeRtcp(msg: Uint8Array): boolean {
  return msg.length >= 2 && msg[1] >= 192 && msg[1] <= 223;
}

/** Compares two strings' UTF-8 bytes in time independent of where they differ. */
export function safeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** UDP datagrams the QUIC library's sockets could not send (process-wide). */
export const udpSendFailures: { count: number; lastError: string } = {
  count: 0,
  lastError: "",
};

/**
 * `@matrixai/quic` rethrows "internal" errors from its own event handlers,
 * and under Deno's node:dgram every send errno arrives as `UNKNOWN`, so one
 * refused UDP send (a firewall rule, a route gone) became an uncaught
 * exception that killed the whole cloud or edge. A datagram that could not be
 * sent is packet loss: count it and let QUIC recover or idle out.
 */
function swallowSendErrors(): void {
  const proto = quic.QUICSocket.prototype as unknown as {
    send_(...params: unknown[]): Promise<unknown>;
  };
  const original = proto.send_;
  proto.send_ = async function (this: unknown, ...params: unknown[]) {
    try {
      return await original.apply(this, params);
    } catch (e) {
      if ((e as { syscall?: string }).syscall !== "send") throw e;
      udpSendFailures.count++;
      udpSendFailures.lastError = (e as Error).message;
    }
  };
}
swallowSendErrors();
