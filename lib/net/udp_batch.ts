/**
 * Batched UDP sends with `sendmmsg(2)` through libc FFI, on the socket of a
 * `Deno.DatagramConn`: one synchronous, non-blocking call sends many
 * datagrams (Deno's `send` is one async op per datagram). Linux x86_64 /
 * aarch64 with FFI only; {@linkcode UdpBatchSender.open} returns `undefined`
 * elsewhere and callers keep `DatagramConn.send`.
 *
 * @module
 */
import { libcLoader } from "./libc.ts";
import { udpSocketFds } from "./socket_buffer.ts";

const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;
/** sizeof(struct mmsghdr) on LP64 Linux. */
const MMSGHDR = 64;
/** sizeof(struct iovec). */
const IOVEC = 16;

const SYMBOLS = {
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

const loadSend = libcLoader(SYMBOLS);
type SendSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** The struct layouts here are LP64: x86_64 and aarch64 only. */
const LP64 = Deno.build.arch === "x86_64" || Deno.build.arch === "aarch64";

function openLib() {
  return LP64 ? loadSend().symbols : undefined;
}

/** An IPv4 destination as a `sockaddr_in`. */
function sockaddrIn(addr: Deno.NetAddr): Uint8Array | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(addr.hostname);
  if (!m) return undefined;
  const sa = new Uint8Array(16);
  sa[0] = 2; // AF_INET, little-endian u16
  sa[2] = addr.port >> 8;
  sa[3] = addr.port & 0xff;
  for (let i = 0; i < 4; i++) sa[4 + i] = Number(m[i + 1]);
  return sa;
}

/** What one {@linkcode UdpBatchSender.send} call did. */
export interface BatchSendResult {
  /** Datagrams the kernel took, from the start of the list. */
  sent: number;
  /** Datagrams refused with an error other than "would block" (skipped). */
  failed: number;
  /** The last such error's errno. */
  errno: number;
}

/**
 * Sends lists of datagrams to one IPv4 destination with `sendmmsg`.
 *
 * @example Usage
 * ```ts ignore
 * const conn = Deno.listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
 * const batch = UdpBatchSender.open(conn, { hostname: "127.0.0.1", port: 5222 });
 * const r = batch?.send([a, b, c]); // { sent: 3, failed: 0, errno: 0 }
 * ```
 */
export class UdpBatchSender {
  #fd: number;
  #lib: SendSymbols;
  #name: Uint8Array;
  #namePtr: bigint;
  #max: number;
  #hdrs: Uint8Array;
  #hdrView: DataView;
  #iovs: Uint8Array;
  #iovView: DataView;
  #iovPtr: bigint;

  private constructor(
    fd: number,
    l: SendSymbols,
    name: Uint8Array,
    max: number,
  ) {
    this.#fd = fd;
    this.#lib = l;
    this.#name = name;
    this.#namePtr = BigInt(
      Deno.UnsafePointer.value(Deno.UnsafePointer.of(name)),
    );
    this.#max = max;
    this.#hdrs = new Uint8Array(max * MMSGHDR);
    this.#hdrView = new DataView(this.#hdrs.buffer);
    this.#iovs = new Uint8Array(max * IOVEC);
    this.#iovView = new DataView(this.#iovs.buffer);
    this.#iovPtr = BigInt(
      Deno.UnsafePointer.value(Deno.UnsafePointer.of(this.#iovs)),
    );
    for (let i = 0; i < max; i++) {
      const h = i * MMSGHDR;
      this.#hdrView.setBigUint64(h, this.#namePtr, true);
      this.#hdrView.setUint32(h + 8, name.length, true);
      this.#hdrView.setBigUint64(
        h + 16,
        this.#iovPtr + BigInt(i * IOVEC),
        true,
      );
      this.#hdrView.setBigUint64(h + 24, 1n, true);
    }
  }

  /**
   * A sender on `conn`'s socket to `dest`, or `undefined` where batching is
   * unavailable (not Linux, no FFI permission, not IPv4, socket not found).
   *
   * @param conn The socket (its local port identifies it).
   * @param dest An IPv4 destination.
   * @param max Most datagrams per call; default 64.
   */
  static open(
    conn: Deno.DatagramConn,
    dest: Deno.NetAddr,
    max = 64,
  ): UdpBatchSender | undefined {
    const l = openLib();
    if (!l) return undefined;
    const name = sockaddrIn(dest);
    if (!name) return undefined;
    const fds = udpSocketFds((conn.addr as Deno.NetAddr).port);
    if (fds.length !== 1) return undefined;
    return new UdpBatchSender(fds[0], l, name, max);
  }

  /** Most datagrams one {@linkcode UdpBatchSender.send} call takes. */
  get max(): number {
    return this.#max;
  }

  /**
   * Sends up to {@linkcode UdpBatchSender.max} datagrams without blocking.
   * Stops at the first "would block" (the caller sends the rest another
   * way); a datagram refused with another error is counted and skipped.
   *
   * @param datagrams The datagrams, in order.
   * @param from Index of the first one to send. Default 0.
   * @returns How many were sent and failed, from `from` on.
   */
  send(datagrams: readonly Uint8Array[], from = 0): BatchSendResult {
    const r: BatchSendResult = { sent: 0, failed: 0, errno: 0 };
    let i = from;
    while (i < datagrams.length) {
      const n = Math.min(this.#max, datagrams.length - i);
      for (let k = 0; k < n; k++) {
        const d = datagrams[i + k];
        const o = k * IOVEC;
        this.#iovView.setBigUint64(
          o,
          BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(d))),
          true,
        );
        this.#iovView.setBigUint64(o + 8, BigInt(d.length), true);
      }
      const got = this.#lib.sendmmsg(this.#fd, this.#hdrs, n, MSG_DONTWAIT);
      if (got > 0) {
        r.sent += got;
        i += got;
        if (got < n) continue;
      } else {
        const errno = this.#errno();
        if (errno === EAGAIN) break;
        // The first datagram was refused: skip it, go on with the rest.
        r.failed++;
        r.errno = errno;
        i++;
      }
    }
    return r;
  }

  #errno(): number {
    const p = this.#lib.__errno_location();
    return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
  }
}

const RECV_SYMBOLS = {
  recvmmsg: {
    parameters: ["i32", "buffer", "u32", "i32", "pointer"],
    result: "i32",
  },
} as const;

const loadRecv = libcLoader(RECV_SYMBOLS);
type RecvSymbols = Deno.DynamicLibrary<typeof RECV_SYMBOLS>["symbols"];

function openRecvLib() {
  return LP64 ? loadRecv().symbols : undefined;
}

/** sizeof(struct sockaddr_in6), room for either family. */
const NAME = 28;

/**
 * Drains what is already queued on a `Deno.DatagramConn`'s socket with
 * `recvmmsg(2)` (non-blocking) after an `await conn.receive()` woke up: one
 * call for up to `max` datagrams instead of one async op each. Linux with
 * FFI only ({@linkcode UdpBatchReceiver.open} returns `undefined` elsewhere).
 *
 * @example Usage
 * ```ts ignore
 * const rx = UdpBatchReceiver.open(conn);
 * const [first, from] = await conn.receive(buf);
 * handle(first, from);
 * rx?.drain((data, addr) => handle(data, addr)); // views valid during the call
 * ```
 */
export class UdpBatchReceiver {
  #fd: number;
  #lib: RecvSymbols;
  #max: number;
  #size: number;
  #bufs: Uint8Array;
  #names: Uint8Array;
  #hdrs: Uint8Array;
  #hdrView: DataView;
  #iovs: Uint8Array;
  #port: number;
  #lastName = new Uint8Array(NAME);
  #lastAddr: Deno.NetAddr | undefined;

  private constructor(
    fd: number,
    l: RecvSymbols,
    max: number,
    size: number,
    port: number,
  ) {
    this.#fd = fd;
    this.#lib = l;
    this.#max = max;
    this.#size = size;
    this.#port = port;
    this.#bufs = new Uint8Array(max * size);
    this.#names = new Uint8Array(max * NAME);
    this.#hdrs = new Uint8Array(max * MMSGHDR);
    this.#hdrView = new DataView(this.#hdrs.buffer);
    this.#iovs = new Uint8Array(max * IOVEC);
    const iovView = new DataView(this.#iovs.buffer);
    const ptr = (b: Uint8Array) =>
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
    const bufPtr = ptr(this.#bufs);
    const namePtr = ptr(this.#names);
    const iovPtr = ptr(this.#iovs);
    for (let i = 0; i < max; i++) {
      iovView.setBigUint64(i * IOVEC, bufPtr + BigInt(i * size), true);
      iovView.setBigUint64(i * IOVEC + 8, BigInt(size), true);
      const h = i * MMSGHDR;
      this.#hdrView.setBigUint64(h, namePtr + BigInt(i * NAME), true);
      this.#hdrView.setBigUint64(h + 16, iovPtr + BigInt(i * IOVEC), true);
      this.#hdrView.setBigUint64(h + 24, 1n, true);
    }
  }

  /**
   * A receiver on `conn`'s socket, or `undefined` where unavailable.
   *
   * @param conn The socket.
   * @param max Most datagrams per call; default 64.
   * @param size Largest datagram kept whole; default 2048 (longer ones are
   *   truncated, as a `receive` into a buffer of that size would).
   */
  static open(
    conn: Deno.DatagramConn,
    max = 64,
    size = 2048,
  ): UdpBatchReceiver | undefined {
    const l = openRecvLib();
    if (!l) return undefined;
    const port = (conn.addr as Deno.NetAddr).port;
    const fds = udpSocketFds(port);
    if (fds.length !== 1) return undefined;
    return new UdpBatchReceiver(fds[0], l, max, size, port);
  }

  /**
   * Hands every datagram already queued (up to `limit`) to `fn`, then
   * returns how many there were. The views are only valid during `fn`.
   *
   * @param fn Called per datagram with its bytes and source.
   * @param limit Most datagrams this call; default 4 × max.
   */
  drain(
    fn: (data: Uint8Array, from: Deno.NetAddr) => void,
    limit = 4 * this.#max,
  ): number {
    let total = 0;
    while (total < limit) {
      const n = Math.min(this.#max, limit - total);
      for (let i = 0; i < n; i++) {
        this.#hdrView.setUint32(i * MMSGHDR + 8, NAME, true);
      }
      const got = this.#lib.recvmmsg(
        this.#fd,
        this.#hdrs,
        n,
        MSG_DONTWAIT,
        null,
      );
      if (got <= 0) break;
      for (let i = 0; i < got; i++) {
        const len = this.#hdrView.getUint32(i * MMSGHDR + 56, true);
        const off = i * this.#size;
        fn(
          this.#bufs.subarray(off, off + Math.min(len, this.#size)),
          this.#addr(i),
        );
      }
      total += got;
      if (got < n) break;
    }
    return total;
  }

  /** The source of datagram `i` (one object reused while it repeats). */
  #addr(i: number): Deno.NetAddr {
    const name = this.#names.subarray(i * NAME, i * NAME + NAME);
    const family = name[0] | (name[1] << 8);
    const len = family === 10 ? 24 : 8;
    let same = this.#lastAddr !== undefined;
    for (let k = 0; same && k < len; k++) {
      same = name[k] === this.#lastName[k];
    }
    if (same) return this.#lastAddr!;
    this.#lastName.set(name);
    const port = (name[2] << 8) | name[3];
    let hostname: string;
    if (family === 10) {
      const v = new DataView(name.buffer, name.byteOffset + 8, 16);
      const parts: string[] = [];
      for (let k = 0; k < 8; k++) parts.push(v.getUint16(k * 2).toString(16));
      hostname = parts.join(":");
      // IPv4-mapped (::ffff:a.b.c.d) as Deno reports it: the IPv4 form.
      if (parts.slice(0, 5).every((p) => p === "0") && parts[5] === "ffff") {
        hostname = `${name[20]}.${name[21]}.${name[22]}.${name[23]}`;
      }
    } else {
      hostname = `${name[4]}.${name[5]}.${name[6]}.${name[7]}`;
    }
    this.#lastAddr = { transport: "udp", hostname, port };
    return this.#lastAddr;
  }

  /** The socket's local port. */
  get port(): number {
    return this.#port;
  }
}
