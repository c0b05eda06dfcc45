/**
 * Gives the allocator's free pages back to the system every few seconds
 * (glibc `malloc_trim(0)` through {@linkcode releaseFreedMemory}).
 *
 * A relay allocates and frees a packet- or tag-sized buffer per datagram
 * (ArrayBuffer backing stores come from `malloc`), interleaved with buffers
 * that live for seconds (the retransmission cache, GOP caches): freed holes
 * stay mapped and RSS climbs well above what is live. Measured with `deno
 * task bench --only=flvcast --configs=10x2,50x1` and a trim every 2 s: peak
 * RSS of the edge 154 → 132 MiB at 10 × 2 and 265 → 208 MiB at 50 × 1, the
 * cloud's 516 → 442 MiB at 50 × 1; one trim took 0.2–6 ms of the JS thread.
 *
 * After a big release (the unsent frames of cut WebSocket players) one
 * trim at a guessed moment is not enough: the runtime frees each failed
 * write's buffer on later turns of the event loop (under load, hundreds of
 * ms after the socket was shut down), and a trim that runs before them
 * leaves the memory resident. {@linkcode FreedMemoryReleaser} trims again
 * and again until the allocator's in-use bytes (`mallinfo2`) stop falling.
 *
 * @module
 */

import { libcLoader } from "./libc.ts";

const SYMBOLS = {
  malloc_trim: { parameters: ["usize"], result: "i32" },
  /** glibc ≥ 2.33; `struct mallinfo2` is 10 `size_t`. */
  mallinfo2: {
    parameters: [],
    result: { struct: Array(10).fill("usize") },
    optional: true,
  },
} as const;
const loadLibc = libcLoader(SYMBOLS);

/**
 * Gives freed heap memory back to the operating system (glibc
 * `malloc_trim(0)`). A no-op where libc cannot be reached.
 */
export function releaseFreedMemory(): void {
  try {
    loadLibc().symbols?.malloc_trim(0n);
  } catch { /* not glibc */ }
}

/**
 * Bytes the allocator has handed out and not had back (`uordblks` +
 * `hblkhd` of glibc `mallinfo2`, all arenas); undefined where it cannot be
 * read.
 */
export function heapBytesInUse(): number | undefined {
  try {
    const info = loadLibc().symbols?.mallinfo2?.();
    if (!info) return undefined;
    const f = new BigUint64Array(info.buffer, info.byteOffset, 10);
    return Number(f[7] + f[4]); // uordblks + hblkhd
  } catch {
    return undefined;
  }
}

/** Options for {@linkcode FreedMemoryReleaser}. */
export interface FreedMemoryReleaserOptions {
  /** Time between trims while memory is still being freed; default 250 ms. */
  intervalMs?: number;
}

/** In-use bytes must fall by more than this between trims to go on. */
const FALLING = 1024 * 1024;

/**
 * Trims the heap after big releases: {@linkcode released} says one was
 * started; the releaser then trims every `intervalMs` while new releases
 * keep coming or the allocator's in-use bytes are still falling, and stops
 * after the first trim that found both still. At most one timer; call
 * {@linkcode stop} when its owner stops.
 *
 * @example Usage
 * ```ts ignore
 * const releaser = new FreedMemoryReleaser();
 * releaser.released(); // after shutting down a socket that held 8 MiB
 * releaser.stop(); // on shutdown
 * ```
 */
export class FreedMemoryReleaser {
  #intervalMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #news = false;
  #lastInUse: number | undefined;
  #trims = 0;

  /** Creates an idle releaser. */
  constructor(options: FreedMemoryReleaserOptions = {}) {
    const ms = options.intervalMs ?? 250;
    if (!(ms > 0)) {
      throw new RangeError(
        `freed memory releaser: expected a positive intervalMs, got ${ms}`,
      );
    }
    this.#intervalMs = ms;
  }

  /** Trims run so far. */
  get trims(): number {
    return this.#trims;
  }

  /** Whether trims are still scheduled. */
  get active(): boolean {
    return this.#timer !== undefined;
  }

  /** A big release was started (its frees may come later). */
  released(): void {
    this.#news = true;
    if (this.#timer === undefined) {
      this.#lastInUse = heapBytesInUse();
      this.#arm();
    }
  }

  /** Cancels the scheduled trim. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    this.#timer = setTimeout(() => this.#tick(), this.#intervalMs);
  }

  #tick(): void {
    this.#timer = undefined;
    const inUse = heapBytesInUse();
    const falling = inUse !== undefined && this.#lastInUse !== undefined &&
      inUse < this.#lastInUse - FALLING;
    const again = this.#news || falling;
    this.#news = false;
    this.#lastInUse = inUse;
    releaseFreedMemory();
    this.#trims++;
    if (again) this.#arm();
  }
}

/** Options for {@linkcode startMemoryTrim}. */
export interface MemoryTrimOptions {
  /** How often to trim (ms); default 2000. */
  intervalMs?: number;
  /** The trim itself; default {@linkcode releaseFreedMemory}. */
  trim?: () => void;
  /** Runs `fn` every `ms` and returns its cancel; default an unref'd
   * `setInterval` (a trim never keeps the process alive). */
  every?: (fn: () => void, ms: number) => () => void;
}

function unrefEvery(fn: () => void, ms: number): () => void {
  const id = setInterval(fn, ms);
  Deno.unrefTimer(id);
  return () => clearInterval(id);
}

/**
 * Starts trimming; returns the function that stops it.
 *
 * @example Usage
 * ```ts
 * import { startMemoryTrim } from "./memory_trim.ts";
 * const stop = startMemoryTrim({ intervalMs: 2000 });
 * stop();
 * ```
 */
export function startMemoryTrim(opts: MemoryTrimOptions = {}): () => void {
  const ms = opts.intervalMs ?? 2000;
  if (!(ms > 0)) {
    throw new RangeError(
      `memory trim intervalMs: expected a positive number, got ${ms}`,
    );
  }
  return (opts.every ?? unrefEvery)(opts.trim ?? releaseFreedMemory, ms);
}
