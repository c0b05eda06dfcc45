/**
 * A clean clone of this checkout for tests that must see what a new user
 * sees: `git clone` of the repository, then the working tree's uncommitted
 * changes (tracked edits and new untracked, non-ignored files) copied in and
 * committed there, so the clone matches the files under test and starts
 * with an empty `git status`.
 *
 * @module
 */
import { dirname } from "node:path";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

async function git(
  args: string[],
  cwd: string,
  stdin?: Uint8Array,
): Promise<Uint8Array> {
  const child = new Deno.Command("git", {
    args,
    cwd,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  if (!out.success) {
    throw new Error(
      `git ${args.join(" ")} (in ${cwd}): expected exit 0, got ${out.code}: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
  return out.stdout;
}

/**
 * Clones this checkout into `dest` (which must not exist or be empty) and
 * brings the working tree's uncommitted changes along as one commit.
 *
 * @example Usage
 * ```ts ignore
 * const dir = await Deno.makeTempDir();
 * await cloneWorkingTree(`${dir}/repo`);
 * ```
 *
 * @returns the clone's `git status --porcelain` text (empty).
 */
export async function cloneWorkingTree(dest: string): Promise<string> {
  await git(["clone", "--quiet", "--no-hardlinks", ROOT, dest], ROOT);
  const diff = await git(["diff", "HEAD", "--binary"], ROOT);
  if (diff.length > 0) await git(["apply", "--binary", "-"], dest, diff);
  const untracked = new TextDecoder().decode(
    await git(["ls-files", "-z", "--others", "--exclude-standard"], ROOT),
  ).split("\0").filter(Boolean);
  for (const f of untracked) {
    const to = `${dest}/${f}`;
    await Deno.mkdir(dirname(to), { recursive: true });
    await Deno.copyFile(`${ROOT}/${f}`, to);
  }
  const status = new TextDecoder().decode(
    await git(["status", "--porcelain"], dest),
  );
  if (status !== "") {
    await git(["add", "-A"], dest);
    await git([
      "-c",
      "user.name=flvcast tests",
      "-c",
      "user.email=tests@flvcast.invalid",
      "commit",
      "--quiet",
      "--no-verify",
      "-m",
      "working tree under test",
    ], dest);
  }
  return new TextDecoder().decode(await git(["status", "--porcelain"], dest));
}

/**
 * Environment for commands that should behave as on a fresh machine with
 * only Node/npm: an empty npm cache and global prefix (so `npx -y
 * deno@2.9.6` fetches Deno itself instead of finding an installed one) and
 * an empty Deno cache (npm packages and type checks from scratch), all
 * under `dir`.
 */
export function freshMachineEnv(dir: string): Record<string, string> {
  return {
    npm_config_cache: `${dir}/npm-cache`,
    npm_config_prefix: `${dir}/npm-prefix`,
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
    npm_config_audit: "false",
    DENO_DIR: `${dir}/deno-dir`,
  };
}
