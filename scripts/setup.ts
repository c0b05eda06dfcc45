/**
 * The set-up step `deno task test` runs first: makes sure the Debian
 * packages the tests drive as real peers (listed, one a line, in
 * `scripts/apt_packages.txt`) are installed.
 *
 * - All present (one `dpkg-query` call): prints one line, exits 0 at once.
 * - Some missing, running as root: `apt-get update` once, then
 *   `apt-get install` of exactly the missing ones; checks again.
 * - Some missing, not root (or no apt-get): prints ONE line naming them and
 *   the command to run, exits 1. Never a silent pass.
 * - No `dpkg-query` (not Debian/Ubuntu): says so, naming the packages, exit 1.
 *
 * Usage: `deno run -A scripts/setup.ts [--list=PATH]`.
 *
 * @module
 */

/** The package list every set-up reads (one place to append to). */
export const PACKAGE_LIST: string =
  new URL("./apt_packages.txt", import.meta.url)
    .pathname;

/**
 * Package names from the list's text: one per line, `#` starts a comment.
 *
 * @throws {Error} on a line that is not one Debian package name.
 */
export function parsePackageList(text: string): string[] {
  const out: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (line === "") return;
    if (!/^[a-z0-9][a-z0-9+.-]+$/.test(line)) {
      throw new Error(
        `line ${i + 1}: expected one Debian package name, got ${
          JSON.stringify(line)
        }`,
      );
    }
    if (!out.includes(line)) out.push(line);
  });
  return out;
}

/**
 * The packages of `wanted` that `dpkg-query -W -f='${Package}\t${db:Status-Abbrev}\n'`
 * output does not show as installed (`ii`).
 */
export function missingPackages(
  wanted: string[],
  dpkgOutput: string,
): string[] {
  const installed = new Set<string>();
  for (const line of dpkgOutput.split("\n")) {
    const [name, status] = line.split("\t");
    // "ii " = desired install, installed; the name may carry ":arch".
    if (status?.startsWith("ii")) installed.add(name.split(":")[0]);
  }
  return wanted.filter((p) => !installed.has(p));
}

async function run(
  cmd: string,
  args: string[],
  opts: { inherit?: boolean; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string }> {
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: opts.inherit ? "inherit" : "piped",
    stderr: opts.inherit ? "inherit" : "piped",
    env: opts.env,
  }).output();
  return {
    code: out.code,
    stdout: opts.inherit ? "" : new TextDecoder().decode(out.stdout),
  };
}

async function queryMissing(wanted: string[]): Promise<string[]> {
  // Unknown packages make dpkg-query exit 1 and are simply not listed.
  const r = await run("dpkg-query", [
    "-W",
    "-f=${Package}\t${db:Status-Abbrev}\n",
    ...wanted,
  ]);
  return missingPackages(wanted, r.stdout);
}

function has(cmd: string): Promise<boolean> {
  return run(cmd, ["--version"]).then(() => true, () => false);
}

/** Runs the set-up; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let list = PACKAGE_LIST;
  for (const a of args) {
    if (a.startsWith("--list=")) list = a.slice(7);
    else {
      console.error(
        `setup: expected [--list=PATH], got ${JSON.stringify(a)}`,
      );
      return 2;
    }
  }
  let wanted: string[];
  try {
    wanted = parsePackageList(await Deno.readTextFile(list));
  } catch (e) {
    console.error(`setup: ${list}: ${(e as Error).message}`);
    return 2;
  }
  if (!(await has("dpkg-query"))) {
    console.error(
      `setup: FAILED: cannot check the test suite's packages without dpkg-query (Debian/Ubuntu expected); install these yourself, then rerun: ${
        wanted.join(" ")
      }`,
    );
    return 1;
  }
  let missing = await queryMissing(wanted);
  if (missing.length === 0) {
    console.log(`setup: ${wanted.length} apt packages present`);
    return 0;
  }
  const install = `apt-get install -y --no-install-recommends ${
    missing.join(" ")
  }`;
  if (Deno.uid() !== 0 || !(await has("apt-get"))) {
    console.error(
      `setup: FAILED: missing apt packages: ${
        missing.join(" ")
      } — run as root, or first: sudo apt-get update && sudo ${install}`,
    );
    return 1;
  }
  console.log(`setup: installing ${missing.join(" ")} (apt-get)`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const update = await run("apt-get", ["update", "-qq"], {
    inherit: true,
    env,
  });
  if (update.code !== 0) {
    console.error(`setup: FAILED: apt-get update exited ${update.code}`);
    return 1;
  }
  const inst = await run(
    "apt-get",
    ["install", "-y", "-qq", "--no-install-recommends", ...missing],
    { inherit: true, env },
  );
  missing = await queryMissing(wanted);
  if (inst.code !== 0 || missing.length > 0) {
    console.error(
      `setup: FAILED: apt-get install exited ${inst.code}; still missing: ${
        missing.join(" ") || "none"
      }`,
    );
    return 1;
  }
  console.log(`setup: ${wanted.length} apt packages present (installed now)`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
