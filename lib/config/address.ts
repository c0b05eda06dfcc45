/**
 * Parsing of the `host:port` / `:port` addresses used throughout the config.
 *
 * @module
 */

/** A parsed socket address. */
export interface Address {
  /** Host name or IP literal (without IPv6 brackets). */
  hostname: string;
  /** Port number, 0 allowed only where `allowZeroPort` was given. */
  port: number;
}

/** Options for {@linkcode parseAddress}. */
export interface ParseAddressOptions {
  /** Hostname used for the `:port` form; default `0.0.0.0`. */
  defaultHost?: string;
  /** Whether the host may be omitted (listen addresses); default true. */
  allowEmptyHost?: boolean;
  /** Whether port 0 (pick any free port) is accepted; default false. */
  allowZeroPort?: boolean;
}

/**
 * Parses `host:port`, `:port` or `[v6]:port`.
 *
 * @example Usage
 * ```ts
 * import { parseAddress } from "./address.ts";
 * parseAddress(":1935"); // { hostname: "0.0.0.0", port: 1935 }
 * parseAddress("239.0.0.1:5222"); // { hostname: "239.0.0.1", port: 5222 }
 * ```
 * @throws {TypeError} naming what was expected and what was received.
 */
export function parseAddress(
  text: string,
  options: ParseAddressOptions = {},
): Address {
  const { defaultHost = "0.0.0.0", allowEmptyHost = true, allowZeroPort } =
    options;
  const expected = allowEmptyHost ? '"host:port" or ":port"' : '"host:port"';
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s\[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) {
    throw new TypeError(`expected ${expected}, got ${JSON.stringify(text)}`);
  }
  const host = m[1] ?? m[2];
  const port = Number(m[3]);
  if (port > 65535 || (port === 0 && !allowZeroPort)) {
    throw new TypeError(
      `expected a port 1..65535 in ${expected}, got ${JSON.stringify(text)}`,
    );
  }
  if (host === "" && !allowEmptyHost) {
    throw new TypeError(`expected ${expected}, got ${JSON.stringify(text)}`);
  }
  return { hostname: host === "" ? defaultHost : host, port };
}

/** True for an IPv4 multicast address (224.0.0.0/4). */
export function isMulticastV4(hostname: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(hostname);
  if (!m) return false;
  const first = Number(m[1]);
  return first >= 224 && first <= 239 && m.slice(2).every((x) => +x < 256);
}

/** Formats an address back to `host:port` (brackets for IPv6). */
export function formatAddress(addr: Address): string {
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}
