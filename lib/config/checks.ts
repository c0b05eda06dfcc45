/**
 * The one validation mechanism of the configuration: a {@linkcode KeySpec}
 * per key, whose {@linkcode Check} converts a raw YAML or flag value or
 * throws a TypeError saying what was expected and what it got; and the
 * checks every section's keys are built from.
 *
 * @module
 */
import { isMulticastV4, parseAddress } from "./address.ts";

/** Validates one raw value and returns it converted; throws a TypeError. */
export type Check = (value: unknown) => unknown;

/** An integer `min..max` (a string of digits counts). */
export const int = (min: number, max: number): Check => (v) => {
  const n = typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw new TypeError(
      `expected an integer ${min}..${max}, got ${JSON.stringify(v)}`,
    );
  }
  return n;
};

/** A finite number `min..max` (a numeric string counts). */
export const num = (min: number, max: number): Check => (v) => {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n) || n < min || n > max) {
    throw new TypeError(
      `expected a number ${min}..${max}, got ${JSON.stringify(v)}`,
    );
  }
  return n;
};

/** `true`/`false` (also the strings `true`, `false`, `1`, `0`). */
export const bool: Check = (v) => {
  if (typeof v === "boolean") return v;
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw new TypeError(`expected true or false, got ${JSON.stringify(v)}`);
};

/** A string (YAML `null` counts as `""`). */
export const str: Check = (v) => {
  if (typeof v === "string") return v;
  if (v === null) return "";
  throw new TypeError(`expected a string, got ${JSON.stringify(v)}`);
};

/** A non-empty string (a path). */
export const nonEmptyStr: Check = (v) => {
  const s = str(v) as string;
  if (s === "") throw new TypeError(`expected a non-empty path, got ""`);
  return s;
};

/** One of the `allowed` strings. */
export const oneOf = (...allowed: string[]): Check => (v) => {
  if (typeof v !== "string" || !allowed.includes(v)) {
    throw new TypeError(
      `expected one of ${allowed.join(" | ")}, got ${JSON.stringify(v)}`,
    );
  }
  return v;
};

/** A listen address: `:port` or `host:port`, port 0 = any free port. */
export const listenAddr: Check = (v) => {
  const s = str(v) as string;
  parseAddress(s, { allowZeroPort: true });
  return s;
};

/** A listen address (port 0 = any free port) or empty. */
export const optionalListenAddr: Check = (v) => {
  const s = str(v) as string;
  if (s !== "") parseAddress(s, { allowZeroPort: true });
  return s;
};

/** A listen address or empty. */
export const optionalHostPort: Check = (v) => {
  const s = str(v) as string;
  if (s !== "") parseAddress(s, { allowEmptyHost: false });
  return s;
};

/** An IPv4 address or empty. */
export const optionalIp: Check = (v) => {
  const s = str(v) as string;
  if (s !== "" && !/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) {
    throw new TypeError(
      `expected an IPv4 address or "", got ${JSON.stringify(v)}`,
    );
  }
  return s;
};

/** A SHA-256 fingerprint (64 hex digits, colons allowed), lower-cased, or empty. */
export const fingerprint: Check = (v) => {
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

/** An RTP listen address: `:port`, `ip:port` or a multicast `239.x.x.x:port`. */
export const udpAddr: Check = (v) => {
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

/** A list of `host:port` (or one comma-separated string of them). */
export const addrList: Check = (v) => {
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

/** An http(s) URL or empty. */
export const optionalUrl: Check = (v) => {
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

/** One configuration key: its check, built-in default and help text. */
export interface KeySpec {
  /** Validates and converts a raw value. */
  check: Check;
  /** The built-in default. */
  default: unknown;
  /** One line for `--help`. */
  help: string;
}
