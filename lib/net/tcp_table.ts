/**
 * This host's established TCP connections on a local port, from
 * `/proc/net/tcp` and `/proc/net/tcp6` (Linux; elsewhere empty), as peer
 * keys in {@linkcode peerKey}'s form.
 *
 * @module
 */
import { peerKey } from "./tcp_abort.ts";

const ESTABLISHED = "01";

function v4(hex: string): string {
  // Little-endian u32 of the address.
  const n = parseInt(hex, 16);
  return `${n & 0xff}.${(n >>> 8) & 0xff}.${(n >>> 16) & 0xff}.${n >>> 24}`;
}

function v6(hex: string): string {
  // Four little-endian u32 words.
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let i = 3; i >= 0; i--) {
      bytes.push(parseInt(word.slice(i * 2, i * 2 + 2), 16));
    }
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  }
  return groups.join(":");
}

/**
 * Parses one `/proc/net/tcp{,6}` text: the peers of ESTABLISHED sockets
 * whose local port is `port`. Pure.
 *
 * @example Usage
 * ```ts
 * import { parseTcpTable } from "./tcp_table.ts";
 * const text = "  sl  local_address rem_address   st\n" +
 *   "   0: 0100007F:1B59 0100007F:C350 01 0\n";
 * parseTcpTable(text, 7001); // ["127.0.0.1:50000"]
 * ```
 */
export function parseTcpTable(text: string, port: number): string[] {
  const out: string[] = [];
  const want = port.toString(16).toUpperCase().padStart(4, "0");
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== ESTABLISHED) continue;
    const [lAddr, lPort] = f[1].split(":");
    if (lPort !== want || lAddr === undefined) continue;
    const [rAddr, rPort] = f[2].split(":");
    const host = rAddr.length === 8 ? v4(rAddr) : v6(rAddr);
    out.push(peerKey(host, parseInt(rPort, 16)));
  }
  return out;
}

/** The peers of this host's established TCP connections on local `port`. */
export function establishedPeers(port: number): string[] {
  const out: string[] = [];
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    try {
      out.push(...parseTcpTable(Deno.readTextFileSync(f), port));
    } catch { /* not Linux, or no IPv6 */ }
  }
  return out;
}
