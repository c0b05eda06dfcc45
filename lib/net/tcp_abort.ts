/**
 * Ending a TCP connection Deno holds but offers no way to abort (a
 * WebSocket whose peer never reads keeps its unsent frames in the runtime
 * until the socket fails): find this process's socket by its local port
 * and peer address (scan `/proc/self/fd`, match `getsockname` /
 * `getpeername`) and `shutdown(SHUT_RDWR)` it, so pending writes fail at
 * once and the runtime frees them; the descriptor stays Deno's, which
 * closes it when it sees the end. Linux + FFI only; elsewhere a no-op that
 * says so.
 *
 * @module
 */

import {
  AF_INET,
  AF_INET6,
  libcLoader,
  ownSockets,
  SOL_SOCKET,
} from "./libc.ts";

const SHUT_RDWR = 2;
const SO_ACCEPTCONN = 30;

const SYMBOLS = {
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "buffer"],
    result: "i32",
  },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
const loadLibc = libcLoader(SYMBOLS);
const openLibc = (): Libc | undefined => loadLibc().symbols;

/** `ip:port` of a sockaddr (IPv4, IPv6, IPv4-mapped IPv6 as IPv4). */
function addrOf(sa: Uint8Array): string | undefined {
  const family = sa[0] | (sa[1] << 8);
  const port = (sa[2] << 8) | sa[3];
  if (family === AF_INET) return `${sa[4]}.${sa[5]}.${sa[6]}.${sa[7]}:${port}`;
  if (family !== AF_INET6) return undefined;
  const b = sa.subarray(8, 24);
  if (
    b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff
  ) {
    return `${b[12]}.${b[13]}.${b[14]}.${b[15]}:${port}`;
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    groups.push(((b[i] << 8) | b[i + 1]).toString(16));
  }
  return `[${groups.join(":")}]:${port}`;
}

/**
 * The key of a TCP peer: `a.b.c.d:port` for IPv4 (and IPv4-mapped IPv6),
 * `[x:x:x:x:x:x:x:x]:port` (8 lowercase groups, no leading zeros) for IPv6,
 * whatever form the address came in.
 *
 * @example Usage
 * ```ts
 * peerKey("::ffff:127.0.0.1", 5000); // "127.0.0.1:5000"
 * ```
 */
export function peerKey(host: string, port: number): string {
  const h = host.replace(/^\[|\]$/g, "");
  if (!h.includes(":")) return `${h}:${port}`;
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  let groups: number[];
  {
    let text = h;
    let tail: number[] = [];
    if (dotted) {
      const b = dotted[2].split(".").map(Number);
      tail = [(b[0] << 8) | b[1], (b[2] << 8) | b[3]];
      text = dotted[1].endsWith("::") ? dotted[1] : dotted[1].slice(0, -1);
    }
    const [head, rest = ""] = text.split("::");
    const hs = head ? head.split(":").map((g) => parseInt(g, 16)) : [];
    const ts = rest ? rest.split(":").map((g) => parseInt(g, 16)) : [];
    const fill = text.includes("::")
      ? new Array(8 - hs.length - ts.length - tail.length).fill(0)
      : [];
    groups = [...hs, ...fill, ...ts, ...tail];
  }
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const a = groups[6], b = groups[7];
    return `${a >> 8}.${a & 0xff}.${b >> 8}.${b & 0xff}:${port}`;
  }
  return `[${groups.map((g) => g.toString(16)).join(":")}]:${port}`;
}

/**
 * Shuts down (both directions) this process's TCP connection from
 * `localPort` to `remote`. Returns whether a socket was found and shut
 * down; never throws.
 *
 * @example Usage
 * ```ts ignore
 * abortTcp(7001, { hostname: "10.0.0.5", port: 51234 });
 * ```
 */
export function abortTcp(
  localPort: number,
  remote: { hostname: string; port: number },
): boolean {
  return abortTcpPeers(localPort, [peerKey(remote.hostname, remote.port)]) > 0;
}

/**
 * Shuts down this process's TCP connections from `localPort` to each of
 * `peers` ({@linkcode peerKey} form), with one scan of the descriptors.
 * Returns how many were shut down; never throws.
 */
export function abortTcpPeers(
  localPort: number,
  peers: Iterable<string>,
): number {
  const c = openLibc();
  if (!c) return 0;
  const want = new Set(peers);
  if (want.size === 0) return 0;
  const sa = new Uint8Array(128);
  const len = new Uint32Array(1);
  let done = 0;
  for (const { fd } of tcpSockets(localPort)) {
    len[0] = sa.length;
    if (c.getpeername(fd, sa, len) !== 0) continue;
    const peer = addrOf(sa);
    if (peer === undefined || !want.has(peer)) continue;
    if (c.shutdown(fd, SHUT_RDWR) === 0) done++;
    want.delete(peer);
    if (want.size === 0) break;
  }
  return done;
}

/** This process's TCP sockets bound to `localPort`: descriptor and inode. */
function* tcpSockets(
  localPort: number,
): Generator<{ fd: number; inode: string }> {
  for (const fd of ownSockets("tcp", localPort)) {
    try {
      yield { fd, inode: Deno.readLinkSync(`/proc/self/fd/${fd}`) };
    } catch {
      // closed meanwhile
    }
  }
}

function isListening(c: Libc, fd: number): boolean {
  const opt = new Int32Array(1);
  const optLen = new Uint32Array([4]);
  return c.getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, opt, optLen) === 0 &&
    opt[0] === 1;
}

/**
 * The inodes (`socket:[N]`) of this process's listening TCP sockets on
 * `localPort` (several with SO_REUSEPORT); empty where FFI cannot run.
 *
 * @example Usage
 * ```ts ignore
 * listeningSockets(7443); // ["socket:[1849847]"]
 * ```
 */
export function listeningSockets(localPort: number): string[] {
  const c = openLibc();
  if (!c) return [];
  const out: string[] = [];
  for (const { fd, inode } of tcpSockets(localPort)) {
    if (isListening(c, fd)) out.push(inode);
  }
  return out;
}

/**
 * Makes the listening sockets `inodes` (from {@linkcode listeningSockets})
 * stop accepting, without closing anything already accepted: `shutdown()`
 * takes a listening socket out of LISTEN (and out of its SO_REUSEPORT
 * group) at once, so the kernel queues no new connection on it; the
 * descriptor stays its owner's. Returns how many were stopped; never
 * throws.
 */
export function stopListening(localPort: number, inodes: string[]): number {
  const c = openLibc();
  if (!c || inodes.length === 0) return 0;
  const want = new Set(inodes);
  let done = 0;
  for (const { fd, inode } of tcpSockets(localPort)) {
    if (!want.has(inode) || !isListening(c, fd)) continue;
    if (c.shutdown(fd, SHUT_RDWR) === 0) done++;
  }
  return done;
}

/** Why {@linkcode abortTcp} cannot work here ("" when it can). */
export function abortTcpUnavailable(): string {
  return loadLibc().error;
}
