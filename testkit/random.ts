/**
 * Seeded randomness for property and fuzz tests: every run prints nothing
 * while it passes and its seed when it fails, and `FLVCAST_SEED=N` replays
 * a failed run exactly.
 *
 * @module
 */

/** A xorshift32 generator of numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/**
 * Deterministic pseudo-random bytes from the same xorshift32 stream as
 * {@linkcode seededRandom} (each byte is the low 8 bits of one step).
 */
export function seededBytes(seed: number): (n: number) => Uint8Array {
  const next = seededRandom(seed);
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = (next() * 4294967296) & 0xff;
    return out;
  };
}

/**
 * Runs `fn` with a seeded generator (seed from `FLVCAST_SEED`, else the
 * clock); if it throws, the error says the seed and how to replay it.
 *
 * @example Usage
 * ```ts ignore
 * Deno.test("fuzz", () => withSeed((random) => { … random() … }));
 * ```
 */
export function withSeed<T>(fn: (random: () => number, seed: number) => T): T {
  const env = Deno.env.get("FLVCAST_SEED");
  const seed = env !== undefined ? Number(env) >>> 0 : Date.now() >>> 0;
  const say = (e: unknown): never => {
    if (e instanceof Error) {
      e.message += `\n(seed ${seed}: replay with FLVCAST_SEED=${seed})`;
    }
    throw e;
  };
  try {
    const r = fn(seededRandom(seed), seed);
    return r instanceof Promise ? r.catch(say) as T : r;
  } catch (e) {
    return say(e);
  }
}
