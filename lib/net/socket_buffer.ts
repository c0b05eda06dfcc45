/**
 * Socket buffer sizes for Deno's UDP sockets, which Deno cannot set itself:
 * a small libc FFI helper finds the process's own socket (scan
 * `/proc/self/fd`, match `getsockname`), sets `SO_RCVBUF`/`SO_SNDBUF` (the
 * `…FORCE` variant first, which passes `net.core.rmem_max`/`wmem_max` with
 * root or CAP_NET_ADMIN) and reads the effective size back. Linux only and
 * needs `--allow-ffi` (`-A`); elsewhere it reports why it did nothing.
 *
 * @module
 */
import { libcLoader, ownSockets, SOL_SOCKET } from "./libc.ts";

/** Which buffer. */
export type SocketBufferKind = "receive" | "send";

/** What {@linkcode setSocketBuffer} did. */
export interface SocketBufferResult {
  /** Which buffer. */
  kind: SocketBufferKind;
  /** Bytes asked for. */
  requested: number;
  /**
   * The size the kernel reports now (`getsockopt`; Linux reports twice the
   * value set, the other half being its bookkeeping), or the kernel default
   * when nothing could be set (0 when unknown).
   */
  effective: number;
  /** How: `force` (past the sysctl cap), `capped` (up to the cap), `default` (not set). */
  method: "force" | "capped" | "default";
  /** Why the size is below what was asked for, when it is. */
  warning?: string;
}

const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;

const SYMBOLS = {
  getsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "buffer"],
    result: "i32",
  },
  setsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "u32"],
    result: "i32",
  },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** libc, opened once; no symbols (with the reason) where FFI is unusable. */
const openLibc = libcLoader(SYMBOLS);

/**
 * The file descriptors of this process's UDP sockets bound to `port`.
 *
 * @param port Local UDP port.
 * @returns Descriptors (empty where they cannot be listed).
 */
export function udpSocketFds(port: number): number[] {
  return ownSockets("udp", port);
}

function getInt(c: Libc, fd: number, opt: number): number {
  const v = new Int32Array(1);
  const len = new Uint32Array([4]);
  return c.getsockopt(fd, SOL_SOCKET, opt, v, len) === 0 ? v[0] : 0;
}

function setInt(c: Libc, fd: number, opt: number, value: number): boolean {
  return c.setsockopt(fd, SOL_SOCKET, opt, new Int32Array([value]), 4) === 0;
}

function kernelDefault(kind: SocketBufferKind): number {
  try {
    const f = kind === "receive" ? "rmem_default" : "wmem_default";
    return Number(Deno.readTextFileSync(`/proc/sys/net/core/${f}`).trim()) ||
      0;
  } catch {
    return 0;
  }
}

/**
 * Sets the receive or send buffer of this process's UDP socket on `port`
 * (every one, when several share it) and reads the effective size back.
 * Never throws: where it cannot, the result says why (`method: "default"`).
 *
 * @example Usage
 * ```ts ignore
 * const conn = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 5222 });
 * const r = setSocketBuffer((conn.addr as Deno.NetAddr).port, "receive", 8 << 20);
 * console.log(r.effective, r.method, r.warning);
 * ```
 *
 * @param port The socket's local UDP port.
 * @param kind `receive` (SO_RCVBUF) or `send` (SO_SNDBUF).
 * @param bytes Size to ask for.
 * @returns What the kernel gave.
 */
export function setSocketBuffer(
  port: number,
  kind: SocketBufferKind,
  bytes: number,
): SocketBufferResult {
  const fallback = (warning: string): SocketBufferResult => ({
    kind,
    requested: bytes,
    effective: kernelDefault(kind),
    method: "default",
    warning,
  });
  const { symbols: c, error } = openLibc();
  if (!c) return fallback(`socket buffer not set: ${error}`);
  const fds = udpSocketFds(port);
  if (fds.length === 0) {
    return fallback(`socket buffer not set: no UDP socket on port ${port}`);
  }
  const [force, plain] = kind === "receive"
    ? [SO_RCVBUFFORCE, SO_RCVBUF]
    : [SO_SNDBUFFORCE, SO_SNDBUF];
  let method: SocketBufferResult["method"] = "force";
  let effective = Infinity;
  for (const fd of fds) {
    if (!setInt(c, fd, force, bytes)) {
      method = "capped";
      setInt(c, fd, plain, bytes);
    }
    effective = Math.min(effective, getInt(c, fd, plain));
  }
  const r: SocketBufferResult = { kind, requested: bytes, effective, method };
  // Linux doubles the value set (bookkeeping): compare against half.
  if (effective / 2 < bytes) {
    const sysctl = kind === "receive" ? "rmem_max" : "wmem_max";
    r.warning =
      `socket ${kind} buffer is ${effective} bytes, below the ${bytes} asked for: grant CAP_NET_ADMIN (AmbientCapabilities in the systemd unit) or raise net.core.${sysctl}`;
  }
  return r;
}
