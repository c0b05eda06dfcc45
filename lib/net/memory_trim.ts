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
 * @module
 */
import { releaseFreedMemory } from "./tcp_abort.ts";

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
