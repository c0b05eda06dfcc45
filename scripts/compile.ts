/**
 * `deno task compile`: builds the single `flvcast` executable with
 * `deno compile` (all permissions, the `net` unstable API, the QUIC native
 * addon and the edge page's mpegts.js embedded from `node_modules`), then
 * runs `flvcast --version` from it when it was built for this machine.
 *
 * `deno compile` needs the `denort` runtime of this Deno version for the
 * target: downloaded, or taken from `DENORT_BIN` (read by `deno compile`
 * itself). When it is not set and the download is unreachable, this prints
 * one line saying the build was skipped and why, and exits 0.
 *
 * Usage: `deno run -A scripts/compile.ts [--target TRIPLE] [--output PATH]`
 *
 * @module
 */
import { V8_FLAGS } from "../lib/app/mod.ts";
import { VERSION } from "../lib/version/mod.ts";

/** What {@linkcode compile} did. */
export type CompileResult =
  | { status: "built"; output: string; bytes: number; target: string }
  | { status: "skipped"; reason: string }
  | { status: "failed"; reason: string };

/** Options for {@linkcode compile}. */
export interface CompileOptions {
  /** `deno compile --target` triple; default: this machine's. */
  target?: string;
  /** Output path; default `dist/flvcast` (host) or
   * `dist/flvcast-TARGET[.exe]`. */
  output?: string;
  /** Project root (where deno.json and main.ts are). */
  root?: string;
  /** Environment for `deno compile` (default: this process's). */
  env?: Record<string, string>;
}

/** Target triples the release builds (those `deno compile` supports). */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** This machine's target triple, as `deno compile --target` spells it. */
export function hostTarget(): string {
  return Deno.build.target;
}

/** Default output path for a target. */
export function defaultOutput(target: string): string {
  if (target === hostTarget()) {
    return `dist/flvcast${Deno.build.os === "windows" ? ".exe" : ""}`;
  }
  return `dist/flvcast-${target}${target.includes("windows") ? ".exe" : ""}`;
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * Why `deno compile` failed, when it failed because the `denort` download
 * was unreachable; undefined for any other failure.
 *
 * @example Usage
 * ```ts
 * import { downloadFailure } from "./compile.ts";
 * downloadFailure(
 *   "Download https://dl.example/denort-x.zip\nerror: Writing deno compile executable\n" +
 *     "    0: Setting up base binary.\n    1: error sending request for url (https://dl.example/denort-x.zip): dns error",
 * ); // "https://dl.example/denort-x.zip: dns error"
 * ```
 */
export function downloadFailure(stderr: string): string | undefined {
  const text = stderr.replace(ANSI, "");
  if (!/Setting up base binary|denort/i.test(text)) return undefined;
  if (
    !/error sending request|dns error|Connect|timed out|connection refused|network/i
      .test(text)
  ) {
    return undefined;
  }
  const url = text.match(/https?:\/\/\S*denort\S*?\.zip/)?.[0] ??
    "the denort runtime";
  const why = text.match(
    /(dns error|connection refused|timed out|certificate[^\n]*)/i,
  )?.[1] ?? "no connection";
  return `${url}: ${why}`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Development-only npm packages left out of the binary. */
async function devExcludes(root: string): Promise<string[]> {
  const out: string[] = [];
  const deno = `${root}/node_modules/.deno`;
  try {
    for await (const e of Deno.readDir(deno)) {
      if (e.name.startsWith("playwright-core@")) {
        out.push(`node_modules/.deno/${e.name}`);
      }
    }
  } catch {
    // no node_modules yet: deno compile installs it; nothing to exclude
  }
  if (await exists(`${root}/node_modules/playwright-core`)) {
    out.push("node_modules/playwright-core");
  }
  return out;
}

/** The `deno compile` arguments for a target and output. */
export async function compileArgs(opts: {
  target: string;
  output: string;
  root: string;
}): Promise<string[]> {
  const args = [
    "compile",
    "-A",
    "--unstable-net",
    `--v8-flags=${V8_FLAGS}`,
    "--target",
    opts.target,
    "--output",
    opts.output,
    // The edge page (its module imports mpegts.js's package.json, which
    // brings the package and its dist/mpegts.js into the binary).
    "--include",
    "lib/web/mod.ts",
  ];
  for (const ex of await devExcludes(opts.root)) args.push("--exclude", ex);
  args.push("main.ts");
  return args;
}

/**
 * Builds the executable. Never throws for an expected failure: the result
 * says what happened.
 */
export async function compile(
  options: CompileOptions = {},
): Promise<CompileResult> {
  const root = options.root ?? new URL("..", import.meta.url).pathname;
  const target = options.target ?? hostTarget();
  const output = options.output ?? defaultOutput(target);
  const env = options.env ?? Deno.env.toObject();
  const denort = env.DENORT_BIN;
  if (denort !== undefined && denort !== "") {
    try {
      if (!(await Deno.stat(denort)).isFile) throw new Error("not a file");
    } catch {
      return {
        status: "failed",
        reason:
          `DENORT_BIN: expected the path of a denort ${Deno.version.deno} binary for ${target}, got ${
            JSON.stringify(denort)
          } (no such file)`,
      };
    }
  }
  const outDir = output.replace(/[\\/][^\\/]*$/, "");
  if (outDir !== output) {
    await Deno.mkdir(
      outDir.startsWith("/") ? outDir : `${root}/${outDir}`,
      { recursive: true },
    );
  }
  const args = await compileArgs({ target, output, root });
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    env,
    clearEnv: options.env !== undefined,
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) {
    const download = downloadFailure(stderr);
    if (download && !denort) {
      return {
        status: "skipped",
        reason:
          `cannot download the denort runtime (${download}) and DENORT_BIN is unset; set DENORT_BIN=/path/to/denort (Deno ${Deno.version.deno}, ${target}) to build offline`,
      };
    }
    const last = stderr.replace(ANSI, "").trim().split("\n").filter((l) =>
      l.trim() !== "" && !/^\s*\d+: <unknown>$/.test(l) &&
      !/Stack backtrace/.test(l)
    ).slice(-6).join(" | ");
    return {
      status: "failed",
      reason: `deno compile exited with ${out.code}: ${last}`,
    };
  }
  const path = output.startsWith("/") ? output : `${root}/${output}`;
  const bytes = (await Deno.stat(path)).size;
  if (target === hostTarget()) {
    // The binary must run flvcast, not a plain Deno (a wrong DENORT_BIN).
    const check = await new Deno.Command(path, {
      args: ["--version"],
      stdin: "null",
      cwd: root,
    }).output().catch((e: Error) => ({
      success: false,
      code: -1,
      stdout: new Uint8Array(),
      stderr: new TextEncoder().encode(e.message),
    }));
    const printed = new TextDecoder().decode(check.stdout).trim();
    if (!check.success || printed !== `flvcast ${VERSION}`) {
      const err = new TextDecoder().decode(check.stderr).trim().split("\n")
        .slice(-2).join(" | ");
      return {
        status: "failed",
        reason: `${output} --version: expected "flvcast ${VERSION}", got ${
          JSON.stringify(printed.slice(0, 80))
        } (exit ${check.code}${err ? `, ${err}` : ""})${
          denort
            ? `; is DENORT_BIN a denort (not deno) ${Deno.version.deno}?`
            : ""
        }`,
      };
    }
  }
  return { status: "built", output, bytes, target };
}

function parseArgs(args: string[]): CompileOptions {
  const opts: CompileOptions = {};
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined || v === "") {
        throw new Error(`${flag}: expected a value, got nothing`);
      }
      return v;
    };
    switch (flag) {
      case "--target":
        opts.target = value();
        break;
      case "--output":
      case "-o":
        opts.output = value();
        break;
      default:
        throw new Error(
          `expected --target TRIPLE or --output PATH, got ${
            JSON.stringify(args[i])
          }`,
        );
    }
  }
  return opts;
}

if (import.meta.main) {
  let opts: CompileOptions;
  try {
    opts = parseArgs(Deno.args);
  } catch (e) {
    console.error(`compile: ${(e as Error).message}`);
    Deno.exit(2);
  }
  const r = await compile(opts);
  switch (r.status) {
    case "built":
      console.log(
        `compile: built ${r.output} for ${r.target} (${
          (r.bytes / 1048576).toFixed(1)
        } MiB)`,
      );
      break;
    case "skipped":
      console.log(`compile: SKIPPED: ${r.reason}`);
      break;
    case "failed":
      console.error(`compile: FAILED: ${r.reason}`);
      Deno.exit(1);
  }
}
