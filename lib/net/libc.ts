/**
 * The one way lib/net reaches libc: {@linkcode libcLoader} opens
 * `libc.so.6` with a module's symbols once (Linux with `--allow-ffi` only,
 * else it keeps the reason), and {@linkcode ownSockets} finds this
 * process's UDP or TCP sockets on a local port (scan `/proc/self/fd`, match
 * `getsockname`).
 *
 * @module
 */

/** `SOL_SOCKET` (Linux). */
export const SOL_SOCKET = 1;
const SO_TYPE = 3;
/** `AF_INET` (Linux). */
export const AF_INET = 2;
/** `AF_INET6` (Linux). */
export const AF_INET6 = 10;

/** What a {@linkcode libcLoader} gives: the symbols, or why there are none. */
export interface LoadedLibc<S extends Deno.ForeignLibraryInterface> {
  /** The symbols (undefined where libc cannot be used). */
  symbols?: Deno.DynamicLibrary<S>["symbols"];
  /** Why `symbols` is undefined ("" when it is not). */
  error: string;
}

/**
 * A loader of `libc.so.6` with `symbols`: the first call opens it (on Linux
 * with FFI permission), later calls return the same result.
 *
 * @example Usage
 * ```ts ignore
 * const libc = libcLoader({ shutdown: { parameters: ["i32", "i32"], result: "i32" } });
 * libc().symbols?.shutdown(fd, 2);
 * ```
 */
export function libcLoader<const S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): () => LoadedLibc<S> {
  let loaded: LoadedLibc<S> | undefined;
  return () => {
    if (loaded) return loaded;
    if (Deno.build.os !== "linux") {
      loaded = { error: `not Linux (${Deno.build.os})` };
    } else if (
      Deno.permissions.querySync({ name: "ffi" }).state !== "granted"
    ) {
      loaded = { error: "no FFI permission (run with -A or --allow-ffi)" };
    } else {
      try {
        loaded = {
          symbols: Deno.dlopen("libc.so.6", symbols).symbols,
          error: "",
        };
      } catch (e) {
        loaded = { error: `cannot load libc.so.6: ${(e as Error).message}` };
      }
    }
    return loaded;
  };
}

const SOCKET_SYMBOLS = {
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "buffer"],
    result: "i32",
  },
} as const;
const loadSocketSymbols = libcLoader(SOCKET_SYMBOLS);
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;

/**
 * The descriptors of this process's IPv4/IPv6 `udp` or `tcp` sockets bound
 * to local `port` (found by `getsockopt(SO_TYPE)` and `getsockname` over
 * `/proc/self/fd`); none where libc or the list cannot be reached.
 */
export function ownSockets(type: "udp" | "tcp", port: number): number[] {
  const c = loadSocketSymbols().symbols;
  if (!c) return [];
  const want = type === "udp" ? SOCK_DGRAM : SOCK_STREAM;
  const opt = new Int32Array(1);
  const optLen = new Uint32Array(1);
  const sa = new Uint8Array(128);
  const saLen = new Uint32Array(1);
  const out: number[] = [];
  for (const fd of ownSocketFds()) {
    optLen[0] = 4;
    if (c.getsockopt(fd, SOL_SOCKET, SO_TYPE, opt, optLen) !== 0) continue;
    if (opt[0] !== want) continue;
    saLen[0] = sa.length;
    if (c.getsockname(fd, sa, saLen) !== 0) continue;
    const family = sa[0] | (sa[1] << 8);
    if (family !== AF_INET && family !== AF_INET6) continue;
    if (((sa[2] << 8) | sa[3]) === port) out.push(fd);
  }
  return out;
}

/**
 * This process's socket descriptors (the `/proc/self/fd` links naming a
 * `socket:`); none where they cannot be listed.
 */
function* ownSocketFds(): Generator<number> {
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc/self/fd");
  } catch {
    return;
  }
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
    yield fd;
  }
}
