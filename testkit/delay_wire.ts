/**
 * A userspace delay wire for network tests (the kernel's `netem` is not
 * available): copies every Ethernet frame arriving on interface `a` out of
 * interface `b` after `delay-ms`, and every frame arriving on `b` out of `a`
 * after the same delay. Run inside a network namespace by the netns harness
 * ({@linkcode ../netns.ts}), between a host's veth and the bridge.
 *
 * ```sh
 * deno run -A testkit/delay_wire.ts --a fcw0 --b fcv0 --delay-ms 50
 * ```
 *
 * Raw `AF_PACKET` sockets through `Deno.dlopen("libc.so.6")` (Linux only, needs
 * root and `-A`): a blocking `recv` per direction runs on Deno's FFI thread
 * pool (`nonblocking`), frames wait in a FIFO (the delay is constant, so the
 * FIFO is in due order) and one timer per direction sends every frame that is
 * due. The sockets ignore their own outgoing frames (`PACKET_IGNORE_OUTGOING`,
 * and the packet type is checked too). Checksum offload must be off on the
 * veths (`ethtool -K IF tx off rx off`): a frame captured before its checksum
 * was filled in would arrive corrupt.
 *
 * Prints `{"event":"ready",…}` once both sockets are bound, and on SIGTERM one
 * `{"event":"result",…}` line with the frames forwarded and dropped per
 * direction, then exits 0. A queue holds at most `max-queue` frames per
 * direction (default 65,536); beyond, frames are dropped and counted, like a
 * router's tail drop.
 *
 * @module
 */
import { parseFlagPairs, runProgram } from "./cli.ts";

const AF_PACKET = 17;
const SOCK_RAW = 3;
const ETH_P_ALL_BE = 0x0300; // htons(0x0003)
const SOL_PACKET = 263;
const PACKET_IGNORE_OUTGOING = 23;
const PACKET_OUTGOING = 4;
const SOCKADDR_LL_SIZE = 20;
const SOL_SOCKET = 1;
const SO_RCVBUFFORCE = 33;
/** Kernel receive buffer of each packet socket: a wire the scheduler leaves
 * waiting (a loaded machine) must not drop frames the test did not mean to. */
const RCVBUF_BYTES = 8 << 20;
const FRAME_MAX = 65_536;

/** Options of the delay wire program. */
export interface DelayWireOptions {
  /** First interface. */
  a: string;
  /** Second interface. */
  b: string;
  /** One-way delay in ms, applied in both directions. */
  delayMs: number;
  /** Most frames queued per direction. */
  maxQueue: number;
}

/** Per-direction counters in the result line. */
export interface WireDirectionStats {
  /** Frames sent on after the delay. */
  forwarded: number;
  /** Frames dropped because the queue was full. */
  queueDrops: number;
  /** Frames the kernel refused to send (e.g. larger than the MTU). */
  sendErrors: number;
}

/** The JSON line printed on SIGTERM. */
export interface DelayWireResult {
  /** Always `"result"`. */
  event: "result";
  /** Frames from `a` to `b`. */
  ab: WireDirectionStats;
  /** Frames from `b` to `a`. */
  ba: WireDirectionStats;
}

const libc = () =>
  Deno.dlopen("libc.so.6", {
    socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
    bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
    setsockopt: {
      parameters: ["i32", "i32", "i32", "buffer", "u32"],
      result: "i32",
    },
    if_nametoindex: { parameters: ["buffer"], result: "u32" },
    recvfrom: {
      parameters: ["i32", "buffer", "usize", "i32", "buffer", "buffer"],
      result: "isize",
      nonblocking: true,
    },
    send: {
      parameters: ["i32", "buffer", "usize", "i32"],
      result: "isize",
    },
    close: { parameters: ["i32"], result: "i32" },
  });

type Libc = ReturnType<typeof libc>["symbols"];

/** Opens an `AF_PACKET` socket bound to interface `name`. */
function openPacketSocket(c: Libc, name: string): number {
  const index = c.if_nametoindex(new TextEncoder().encode(name + "\0"));
  if (index === 0) {
    throw new Error(`expected an interface named "${name}", received none`);
  }
  const fd = c.socket(AF_PACKET, SOCK_RAW, ETH_P_ALL_BE);
  if (fd < 0) throw new Error(`socket(AF_PACKET) failed for "${name}"`);
  const one = new Int32Array([1]);
  // Best effort (Linux ≥ 4.20); the packet type is checked on receive too.
  c.setsockopt(
    fd,
    SOL_PACKET,
    PACKET_IGNORE_OUTGOING,
    new Uint8Array(one.buffer),
    4,
  );
  // Best effort too (root: CAP_NET_ADMIN; else the kernel default stays).
  c.setsockopt(
    fd,
    SOL_SOCKET,
    SO_RCVBUFFORCE,
    new Uint8Array(new Int32Array([RCVBUF_BYTES]).buffer),
    4,
  );
  const sll = new DataView(new ArrayBuffer(SOCKADDR_LL_SIZE));
  sll.setUint16(0, AF_PACKET, true);
  sll.setUint16(2, ETH_P_ALL_BE, true);
  sll.setInt32(4, index, true);
  if (c.bind(fd, new Uint8Array(sll.buffer), SOCKADDR_LL_SIZE) !== 0) {
    throw new Error(`bind(AF_PACKET) to "${name}" failed`);
  }
  return fd;
}

/** One direction: receive on `from`, send on `to` after the delay. */
class Direction {
  readonly stats: WireDirectionStats = {
    forwarded: 0,
    queueDrops: 0,
    sendErrors: 0,
  };
  #c: Libc;
  #from: number;
  #to: number;
  #delay: number;
  #max: number;
  #queue: { due: number; frame: Uint8Array }[] = [];
  #head = 0;
  #timer?: ReturnType<typeof setTimeout>;
  #stopped = false;

  constructor(c: Libc, from: number, to: number, o: DelayWireOptions) {
    this.#c = c;
    this.#from = from;
    this.#to = to;
    this.#delay = o.delayMs;
    this.#max = o.maxQueue;
  }

  async run(signal: AbortSignal): Promise<void> {
    const buf = new Uint8Array(FRAME_MAX);
    const addr = new Uint8Array(SOCKADDR_LL_SIZE);
    const addrLen = new Uint32Array([SOCKADDR_LL_SIZE]);
    while (!signal.aborted) {
      addrLen[0] = SOCKADDR_LL_SIZE;
      const n = Number(
        await this.#c.recvfrom(
          this.#from,
          buf,
          BigInt(buf.length),
          0,
          addr,
          new Uint8Array(addrLen.buffer),
        ),
      );
      if (signal.aborted) break;
      if (n <= 0) continue;
      if (addr[10] === PACKET_OUTGOING) continue; // sll_pkttype
      if (this.#queue.length - this.#head >= this.#max) {
        this.stats.queueDrops++;
        continue;
      }
      this.#queue.push({
        due: performance.now() + this.#delay,
        frame: buf.slice(0, n),
      });
      if (this.#timer === undefined) this.#arm();
    }
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #arm(): void {
    if (this.#stopped || this.#head >= this.#queue.length) {
      this.#timer = undefined;
      return;
    }
    const wait = Math.max(0, this.#queue[this.#head].due - performance.now());
    this.#timer = setTimeout(() => this.#flush(), wait);
  }

  #flush(): void {
    const now = performance.now();
    while (this.#head < this.#queue.length) {
      const item = this.#queue[this.#head];
      if (item.due > now + 0.5) break;
      this.#head++;
      const r = this.#c.send(
        this.#to,
        item.frame,
        BigInt(item.frame.length),
        0,
      );
      if (Number(r) === item.frame.length) this.stats.forwarded++;
      else this.stats.sendErrors++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#arm();
  }
}

function parse(args: string[]): DelayWireOptions {
  const f = parseFlagPairs(args);
  const a = f.take("a");
  const b = f.take("b");
  const delayMs = Number(f.take("delay-ms") ?? "NaN");
  const maxQueue = Number(f.take("max-queue") ?? "65536");
  f.rejectUnknown();
  if (!a || !b) throw new TypeError("expected --a IF and --b IF");
  if (!(delayMs >= 0 && delayMs <= 10_000)) {
    throw new TypeError(
      `--delay-ms: expected a number in 0..10000, received ${delayMs}`,
    );
  }
  if (!Number.isInteger(maxQueue) || maxQueue < 1) {
    throw new TypeError(
      `--max-queue: expected a positive integer, received ${maxQueue}`,
    );
  }
  return { a, b, delayMs, maxQueue };
}

if (import.meta.main) {
  Deno.exit(
    await runProgram(Deno.args, {
      name: "delay_wire",
      parse,
      async body(o, ctx) {
        const lib = libc();
        const c = lib.symbols;
        const fa = openPacketSocket(c, o.a);
        const fb = openPacketSocket(c, o.b);
        const ab = new Direction(c, fa, fb, o);
        const ba = new Direction(c, fb, fa, o);
        const runs = [ab.run(ctx.signal), ba.run(ctx.signal)];
        ctx.print({ event: "ready", a: o.a, b: o.b, delayMs: o.delayMs });
        await new Promise<void>((resolve) =>
          ctx.signal.addEventListener("abort", () => resolve(), { once: true })
        );
        ab.stop();
        ba.stop();
        const result: DelayWireResult = {
          event: "result",
          ab: ab.stats,
          ba: ba.stats,
        };
        ctx.print(result);
        // The blocking receives stay parked on the FFI thread pool; exiting
        // ends them (and closes the sockets).
        void runs;
        return 0;
      },
    }),
  );
}
