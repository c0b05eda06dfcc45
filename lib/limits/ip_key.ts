/**
 * The key a per-IP cap counts under (pure): an IPv4 address is one key; an
 * IPv6 address counts with its /64, because one subscriber usually holds a
 * whole /64 and can pick a fresh address in it for every connection.
 *
 * @module
 */
import { peerKey } from "../net/mod.ts";

/**
 * The per-IP cap key of `ip`: `a.b.c.d` for IPv4 (and IPv4-mapped IPv6),
 * `g0:g1:g2:g3::/64` (lowercase, no leading zeros) for IPv6, whatever form
 * the address came in (brackets, `::` shortening, a zone stays out).
 *
 * @example Usage
 * ```ts
 * import { ipCapKey } from "./ip_key.ts";
 * ipCapKey("2001:db8:1:2::5"); // "2001:db8:1:2::/64"
 * ipCapKey("2001:db8:1:2:aaaa::1"); // "2001:db8:1:2::/64"
 * ipCapKey("::ffff:10.0.0.1"); // "10.0.0.1"
 * ```
 */
export function ipCapKey(ip: string): string {
  const bare = ip.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const key = peerKey(bare, 0);
  if (!key.startsWith("[")) return key.slice(0, key.lastIndexOf(":"));
  const groups = key.slice(1, key.indexOf("]")).split(":");
  return `${groups.slice(0, 4).join(":")}::/64`;
}
