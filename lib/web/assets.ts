/**
 * Loads the bytes of the browser player (`mpegts.js` from npm) so the edge
 * can serve it itself: the page works offline, with no CDN. Works from
 * `deno run` (the package in `node_modules`) and from a `deno compile`
 * binary (the same path inside the embedded file system). I/O lives here;
 * the page and the handler are pure.
 *
 * @module
 */

/** The browser player script, or why it could not be loaded. */
export type PlayerScript =
  | { ok: true; bytes: Uint8Array<ArrayBuffer>; source: string }
  | { ok: false; error: string };

/** Import-map name of the player package (see deno.json "imports"). */
export const PLAYER_PACKAGE = "mpegts.js";

function candidates(): string[] {
  const out: string[] = [];
  try {
    // "mpegts.js" maps to npm:mpegts.js@…; with a node_modules directory
    // this resolves to the package's "main" file: dist/mpegts.js.
    const resolved = import.meta.resolve(PLAYER_PACKAGE);
    if (resolved.startsWith("file:")) out.push(resolved);
  } catch {
    // not resolvable here (e.g. no import map); try the plain path below
  }
  // The node_modules layout beside the project root (lib/web/ → ../../).
  out.push(
    new URL("../../node_modules/mpegts.js/dist/mpegts.js", import.meta.url)
      .href,
  );
  return out;
}

/**
 * Reads `mpegts.js`'s browser build (`dist/mpegts.js`) once.
 * Never throws: a failure is returned so the page can say what is missing
 * while the rest of the server goes on.
 *
 * @example Usage
 * ```ts ignore
 * const script = loadPlayerScript();
 * if (script.ok) console.log(script.bytes.length, "bytes from", script.source);
 * ```
 */
export function loadPlayerScript(): PlayerScript {
  const tried: string[] = [];
  for (const href of candidates()) {
    try {
      const bytes = Deno.readFileSync(new URL(href));
      if (bytes.length > 0) return { ok: true, bytes, source: href };
      tried.push(`${href}: empty file`);
    } catch (err) {
      tried.push(`${href}: ${(err as Error).name}`);
    }
  }
  return {
    ok: false,
    error:
      `expected ${PLAYER_PACKAGE}'s dist/mpegts.js (run \`deno install\`), tried ${
        tried.join("; ")
      }`,
  };
}
