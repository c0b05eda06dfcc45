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
