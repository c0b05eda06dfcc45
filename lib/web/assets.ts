/**
 * Loads the bytes of the browser player (`mpegts.js` from npm) so the edge
 * can serve it itself: the page works offline, with no CDN. Works from
 * `deno run` (the package in `node_modules`) and from a `deno compile`
 * binary (the same path inside the embedded file system). I/O lives here;
 * the page and the handler are pure.
 *
 * The static JSON import below puts the package in the module graph, so
 * `deno run` installs it into `node_modules` on a fresh clone and
 * `deno compile` embeds it.
 *
 * @module
 */
import playerPackage from "mpegts.js/package.json" with { type: "json" };

/** The browser player script, or why it could not be loaded. */
export type PlayerScript =
  | { ok: true; bytes: Uint8Array<ArrayBuffer>; source: string }
  | { ok: false; error: string };

/** Import-map name of the player package (see deno.json "imports"). */
export const PLAYER_PACKAGE = "mpegts.js";

/** Version of the bundled player (from its package.json). */
export const PLAYER_VERSION: string = playerPackage.version;

function candidates(): string[] {
  const out: string[] = [];
  try {
    // "mpegts.js/package.json" maps to a file in node_modules (or in the
    // compiled binary's embedded copy of it); "main" is dist/mpegts.js.
    const pkg = import.meta.resolve(`${PLAYER_PACKAGE}/package.json`);
    if (pkg.startsWith("file:")) {
      out.push(new URL(playerPackage.main ?? "./dist/mpegts.js", pkg).href);
    }
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
 * Reads `mpegts.js`'s browser build (`dist/mpegts.js`), once per process.
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
  loaded ??= readPlayerScript();
  return loaded;
}

let loaded: PlayerScript | undefined;

function readPlayerScript(): PlayerScript {
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
