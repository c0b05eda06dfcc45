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

const SOL_SOCKET = 1;
const SO_TYPE = 3;
const SOCK_STREAM = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const SHUT_RDWR = 2;

const SYMBOLS = {
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "buffer"],
    result: "i32",
  },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  malloc_trim: { parameters: ["usize"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let libc: Libc | undefined;
let libcError = "";

function openLibc(): Libc | undefined {
  if (libc || libcError) return libc;
  if (Deno.build.os !== "linux") {
    libcError = `not Linux (${Deno.build.os})`;
  } else if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    libcError = "no FFI permission";
  } else {
    try {
      libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
    } catch (e) {
      libcError = `cannot load libc.so.6: ${(e as Error).message}`;
    }
  }
  return libc;
}

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

function normalize(host: string, port: number): string {
  const h = host.replace(/^\[|\]$/g, "").replace(/^::ffff:/i, "");
  if (!h.includes(":")) return `${h}:${port}`;
  // Expand for comparison with the kernel's form.
  const [head, tail = ""] = h.split("::");
  const hs = head ? head.split(":") : [];
  const ts = tail ? tail.split(":") : [];
  const mid = new Array(8 - hs.length - ts.length).fill("0");
  const all = h.includes("::") ? [...hs, ...mid, ...ts] : hs;
  return `[${all.map((g) => parseInt(g, 16).toString(16)).join(":")}]:${port}`;
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
  const c = openLibc();
  if (!c) return false;
  const want = normalize(remote.hostname, remote.port);
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc/self/fd");
  } catch {
    return false;
  }
  const sa = new Uint8Array(128);
  const len = new Uint32Array(1);
  const opt = new Int32Array(1);
  const optLen = new Uint32Array(1);
  for (const e of entries) {
    const fd = Number(e.name);
    if (!Number.isInteger(fd)) continue;
    try {
      if (!Deno.readLinkSync(`/proc/self/fd/${fd}`).startsWith("socket:")) {
        continue;
      }
    } catch {
      continue;
    }
    optLen[0] = 4;
    if (c.getsockopt(fd, SOL_SOCKET, SO_TYPE, opt, optLen) !== 0) continue;
    if (opt[0] !== SOCK_STREAM) continue;
    len[0] = sa.length;
    if (c.getsockname(fd, sa, len) !== 0) continue;
    if (((sa[2] << 8) | sa[3]) !== localPort) continue;
    len[0] = sa.length;
    if (c.getpeername(fd, sa, len) !== 0) continue;
    if (addrOf(sa) !== want) continue;
    return c.shutdown(fd, SHUT_RDWR) === 0;
  }
  return false;
}

/** Why {@linkcode abortTcp} cannot work here ("" when it can). */
export function abortTcpUnavailable(): string {
  openLibc();
  return libc ? "" : libcError;
}

/**
 * Gives freed heap memory back to the operating system (glibc
 * `malloc_trim(0)`): after many large buffers of cut players are freed,
 * the allocator would otherwise keep them and RSS would stay high. A no-op
 * where libc cannot be reached.
 */
export function releaseFreedMemory(): void {
  const c = openLibc();
  if (!c) return;
  try {
    c.malloc_trim(0n);
  } catch { /* not glibc */ }
}
