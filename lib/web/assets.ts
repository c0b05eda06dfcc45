/**
 * Loads the bytes of the browser players (`mpegts.js` and `hls.js` from npm)
 * so the edge can serve them itself: the page works offline, with no CDN. Works from
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
import hlsPackage from "hls.js/package.json" with { type: "json" };

/** A browser player script, or why it could not be loaded. */
export type PlayerScript =
  | { ok: true; bytes: Uint8Array<ArrayBuffer>; source: string }
  | { ok: false; error: string };

/** Import-map name of the FLV player package (see deno.json "imports"). */
export const PLAYER_PACKAGE = "mpegts.js";

/** Version of the bundled FLV player (from its package.json). */
export const PLAYER_VERSION: string = playerPackage.version;

/** Import-map name of the HLS player package. */
export const HLS_PACKAGE = "hls.js";

/** Version of the bundled HLS player (from its package.json). */
export const HLS_VERSION: string = hlsPackage.version;

/** The hls.js build the page uses (no subtitles / alt audio / DRM). */
const HLS_FILE = "./dist/hls.light.min.js";

function candidates(pkg: string, file: string): string[] {
  const out: string[] = [];
  try {
    // "PKG/package.json" maps to a file in node_modules (or in the
    // compiled binary's embedded copy of it).
    const meta = import.meta.resolve(`${pkg}/package.json`);
    if (meta.startsWith("file:")) out.push(new URL(file, meta).href);
  } catch {
    // not resolvable here (e.g. no import map); try the plain path below
  }
  // The node_modules layout beside the project root (lib/web/ → ../../).
  out.push(
    new URL(
      `../../node_modules/${pkg}/${file.replace(/^\.\//, "")}`,
      import.meta.url,
    )
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
  return load(PLAYER_PACKAGE, playerPackage.main ?? "./dist/mpegts.js");
}

/**
 * Reads hls.js's light browser build (`dist/hls.light.min.js`), once per
 * process; never throws (see {@linkcode loadPlayerScript}).
 *
 * @example Usage
 * ```ts ignore
 * const script = loadHlsScript();
 * ```
 */
export function loadHlsScript(): PlayerScript {
  return load(HLS_PACKAGE, HLS_FILE);
}

const loaded = new Map<string, PlayerScript>();

function load(pkg: string, file: string): PlayerScript {
  let script = loaded.get(pkg);
  if (script === undefined) {
    script = read(pkg, file);
    loaded.set(pkg, script);
  }
  return script;
}

function read(pkg: string, file: string): PlayerScript {
  const tried: string[] = [];
  for (const href of candidates(pkg, file)) {
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
    error: `expected ${pkg}'s ${
      file.replace(/^\.\//, "")
    } (run \`deno install\`), tried ${tried.join("; ")}`,
  };
}
