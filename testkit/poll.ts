/**
 * Waiting for a condition with a deadline that fails: the one way tests and
 * the bench wait for something they cannot await directly.
 *
 * @module
 */

/**
 * Resolves once `cond()` holds; rejects with "expected WHAT within N ms"
 * when it still does not after `timeoutMs`. Checks every `everyMs`.
 *
 * @example Usage
 * ```ts ignore
 * await until(() => edge.streams().length === 1, "the stream to be learned");
 * ```
 */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
  everyMs = 10,
): Promise<void> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > timeoutMs) {
      throw new Error(
        `expected ${what} within ${timeoutMs} ms, it did not happen`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Calls `f` every `everyMs` until it returns a value (not undefined) and
 * returns it; a call that throws counts as "not yet". Rejects with
 * "expected WHAT within N ms" (and the last error) after `timeoutMs`.
 *
 * @example Usage
 * ```ts ignore
 * const doc = await poll("the edge API", () => getJson(url), 15_000);
 * ```
 */
export async function poll<T>(
  what: string,
  f: () => Promise<T | undefined>,
  timeoutMs = 15_000,
  everyMs = 100,
): Promise<T> {
  const end = performance.now() + timeoutMs;
  let last: unknown;
  while (performance.now() < end) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(
    `expected ${what} within ${timeoutMs} ms${
      last ? `, last error: ${(last as Error).message}` : ""
    }`,
  );
}
