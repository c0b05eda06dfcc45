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
 * whose local port is `port`. Pure. It looks only at the lines where
 * `:PORT ` ends the local address (found with `indexOf`), so a table of
 * thousands of other connections costs little: the connection guard reads
 * it once a second on every HTTP port.
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
  const want = `:${port.toString(16).toUpperCase().padStart(4, "0")} `;
  for (let at = text.indexOf(want); at !== -1; at = text.indexOf(want, at)) {
    const hit = at;
    at += want.length;
    // The local address is the line's first field after "sl: ": 8 hex
    // digits (IPv4) or 32 (IPv6), right after ": ".
    const width = localAddressWidth(text, hit);
    if (width === 0) continue;
    const remoteEnd = text.indexOf(" ", at);
    if (remoteEnd === -1) break;
    const state = text.slice(remoteEnd + 1, remoteEnd + 3);
    if (state !== ESTABLISHED) continue;
    const [rAddr, rPort] = text.slice(at, remoteEnd).split(":");
    if (rPort === undefined) continue;
    const host = rAddr.length === 8 ? v4(rAddr) : v6(rAddr);
    out.push(peerKey(host, parseInt(rPort, 16)));
  }
  return out;
}

/** 8 or 32 when the hex run ending at `end` is a line's local address, else 0. */
function localAddressWidth(text: string, end: number): number {
  for (const width of [8, 32]) {
    const start = end - width;
    if (
      start >= 2 && text.charCodeAt(start - 1) === 0x20 &&
      text.charCodeAt(start - 2) === 0x3a && isHex(text, start, end)
    ) return width;
  }
  return 0;
}

function isHex(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    const digit = c >= 0x30 && c <= 0x39;
    const upper = c >= 0x41 && c <= 0x46;
    if (!digit && !upper) return false;
  }
  return true;
}

/** How long one read of the tables serves every listener (ms). */
const TABLE_TTL_MS = 900;

const tables = new Map<string, { at: number; text: string }>();

/**
 * The text of `/proc/net/tcp` or `tcp6`, read at most once per
 * {@linkcode TABLE_TTL_MS} for the whole process: the kernel walks its whole
 * connection hash for each read (~10 ms per file on this 2-core machine,
 * whatever the number of sockets), and every HTTP listener's guard sweeps
 * once a second — two listeners reading both files cost an edge ~4 % of a
 * core before this.
 */
function tableText(file: string, now: number): string {
  const t = tables.get(file);
  if (t && now - t.at < TABLE_TTL_MS) return t.text;
  const text = Deno.readTextFileSync(file);
  tables.set(file, { at: now, text });
  return text;
}

/**
 * The peers of this host's established TCP connections on local `port`.
 *
 * @param port The local port.
 * @param hostname The listener's address: an IPv4 one (`0.0.0.0` included,
 *   which Deno binds IPv4-only) reads only `/proc/net/tcp`; any other (or
 *   none) reads `tcp6` too.
 * @param now Clock (ms) for the shared read; default `performance.now()`.
 */
export function establishedPeers(
  port: number,
  hostname?: string,
  now: number = performance.now(),
): string[] {
  const out: string[] = [];
  const v4Only = hostname !== undefined &&
    /^\d+\.\d+\.\d+\.\d+$/.test(hostname);
  for (
    const f of v4Only ? ["/proc/net/tcp"] : ["/proc/net/tcp", "/proc/net/tcp6"]
  ) {
    try {
      out.push(...parseTcpTable(tableText(f, now), port));
    } catch { /* not Linux, or no IPv6 */ }
  }
  return out;
}
