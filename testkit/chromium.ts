/**
 * Headless Chromium for the browser tests and the bench: where it is, the
 * flags every run uses, and one SKIPPED line when it is missing.
 *
 * @module
 */

/** The Chromium binary (`CHROMIUM_BIN`, default Debian's). */
export const CHROMIUM: string = Deno.env.get("CHROMIUM_BIN") ??
  "/usr/bin/chromium";

/** Flags of every headless run: no sandbox, GPU, QUIC, background traffic;
 * media may autoplay. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--autoplay-policy=no-user-gesture-required",
];

/**
 * Whether {@linkcode CHROMIUM} exists; when it does not, prints
 * `WHO: SKIPPED: no Chromium at …` once (the test is then `ignore`d, and the
 * test runner names the skip and fails it under `CI=true`).
 */
export function chromiumPresent(who: string): boolean {
  try {
    if (Deno.statSync(CHROMIUM).isFile) return true;
  } catch {
    // missing
  }
  console.warn(
    `${who}: SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_BIN)`,
  );
  return false;
}
