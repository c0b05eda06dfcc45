/**
 * The set-up step of `deno task test` (scripts/setup.ts): the package list
 * parses, dpkg's answer is read right, everything present is one line and
 * exit 0, and a missing package without root is one line naming it and a
 * non-zero exit (run as a real unprivileged user when we are root).
 */
import { deepEqual, equal, match, throws } from "node:assert/strict";
import {
  missingPackages,
  PACKAGE_LIST,
  parsePackageList,
} from "../scripts/setup.ts";

const ROOT = new URL("..", import.meta.url).pathname;
if (Deno.uid() !== 0) {
  console.warn(
    "setup_test: SKIPPED: the apt-get path runs only as root (uid 0), got uid " +
      Deno.uid(),
  );
}

Deno.test("setup: the package list parses (comments, blanks, duplicates)", () => {
  deepEqual(
    parsePackageList("# head\nffmpeg   # why\n\n  git\nffmpeg\nlibsrtp2-1\n"),
    ["ffmpeg", "git", "libsrtp2-1"],
  );
  throws(
    () => parsePackageList("ffmpeg git\n"),
    /line 1: expected one Debian package name, got "ffmpeg git"/,
  );
  const shipped = parsePackageList(Deno.readTextFileSync(PACKAGE_LIST));
  for (const p of ["ffmpeg", "nftables", "iproute2", "chromium"]) {
    equal(shipped.includes(p), true, `${PACKAGE_LIST} lists ${p}`);
  }
});

Deno.test("setup: dpkg-query output → the packages not installed", () => {
  const out = "ffmpeg\tii \nchromium:amd64\tii \nnftables\trc \n";
  deepEqual(
    missingPackages(["ffmpeg", "chromium", "nftables", "git"], out),
    ["nftables", "git"],
  );
});

/** Runs scripts/setup.ts (a copy beside `list`, readable by any user). */
async function setup(list: string, asUser: boolean) {
  const script = list.replace(/[^/]*$/, "setup.ts");
  await Deno.copyFile(`${ROOT}/scripts/setup.ts`, script);
  await Deno.chmod(script, 0o644);
  const args = ["run", "-A", "--no-config", script, `--list=${list}`];
  let cmd = Deno.execPath();
  let env: Record<string, string> = {};
  let home: string | undefined;
  if (asUser) {
    // Root would install: drop to "nobody" to see what a user sees.
    home = await Deno.makeTempDir({ prefix: "flvcast_setup_" });
    await Deno.chmod(home, 0o777);
    env = { HOME: home, DENO_DIR: `${home}/deno` };
    args.unshift("--reuid=65534", "--regid=65534", "--clear-groups", cmd);
    cmd = "setpriv";
  }
  const out = await new Deno.Command(cmd, {
    args,
    cwd: list.replace(/\/[^/]*$/, ""),
    env,
    stdin: "null",
  }).output();
  if (home) await Deno.remove(home, { recursive: true });
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  return { code: out.code, lines: text.trim().split("\n") };
}

Deno.test("setup: everything present → one line, exit 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flvcast_setup_" });
  const list = `${dir}/list.txt`;
  await Deno.writeTextFile(list, "dpkg # always there on Debian\n");
  await Deno.chmod(dir, 0o755);
  const r = await setup(list, false);
  deepEqual(r, { code: 0, lines: ["setup: 1 apt packages present"] });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("setup: a missing package without root → one line naming it, exit 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flvcast_setup_" });
  await Deno.chmod(dir, 0o755);
  const list = `${dir}/list.txt`;
  await Deno.writeTextFile(list, "dpkg\nflvcast-no-such-package\n");
  await Deno.chmod(list, 0o644);
  const r = await setup(list, Deno.uid() === 0);
  equal(r.code, 1, r.lines.join("\n"));
  equal(r.lines.length, 1, r.lines.join("\n"));
  match(
    r.lines[0],
    /^setup: FAILED: missing apt packages: flvcast-no-such-package — run as root, or first: sudo apt-get update && sudo apt-get install -y --no-install-recommends flvcast-no-such-package$/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test({
  name:
    "setup: as root, apt-get update once, install exactly the missing ones; a second run calls apt-get never",
  ignore: Deno.uid() !== 0,
  async fn() {
    // Fake dpkg-query / apt-get first on PATH: a state file lists what is
    // "installed"; apt-get logs its arguments and installs into the state.
    const dir = await Deno.makeTempDir({ prefix: "flvcast_setup_" });
    await Deno.chmod(dir, 0o755);
    const state = `${dir}/installed`;
    const log = `${dir}/apt.log`;
    await Deno.writeTextFile(state, "ffmpeg\n");
    await Deno.writeTextFile(log, "");
    await Deno.mkdir(`${dir}/bin`);
    await Deno.writeTextFile(
      `${dir}/bin/dpkg-query`,
      `#!/bin/sh
[ "$1" = --version ] && exit 0
shift 2
for p in "$@"; do grep -qx "$p" "${state}" && printf '%s\\tii \\n' "$p"; done
exit 0
`,
      { mode: 0o755 },
    );
    await Deno.writeTextFile(
      `${dir}/bin/apt-get`,
      `#!/bin/sh
[ "$1" = --version ] && exit 0
echo "$DEBIAN_FRONTEND $*" >> "${log}"
if [ "$1" = install ]; then
  for p in "$@"; do case "$p" in -*|install) ;; *) echo "$p" >> "${state}";; esac; done
fi
exit 0
`,
      { mode: 0o755 },
    );
    const list = `${dir}/list.txt`;
    await Deno.writeTextFile(list, "ffmpeg\nnftables # x\nchromium\n");
    const script = `${dir}/setup.ts`;
    await Deno.copyFile(`${ROOT}/scripts/setup.ts`, script);
    const run = async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-config", script, `--list=${list}`],
        env: { PATH: `${dir}/bin:${Deno.env.get("PATH")}` },
        stdin: "null",
      }).output();
      return {
        code: out.code,
        out: new TextDecoder().decode(out.stdout).trim().split("\n"),
      };
    };
    const first = await run();
    deepEqual(first, {
      code: 0,
      out: [
        "setup: installing nftables chromium (apt-get)",
        "setup: 3 apt packages present (installed now)",
      ],
    });
    equal(
      await Deno.readTextFile(log),
      "noninteractive update -qq\n" +
        "noninteractive install -y -qq --no-install-recommends nftables chromium\n",
    );
    const second = await run();
    deepEqual(second, { code: 0, out: ["setup: 3 apt packages present"] });
    equal(
      (await Deno.readTextFile(log)).split("\n").length,
      3,
      "no apt-get call when everything is there",
    );
    await Deno.remove(dir, { recursive: true });
  },
});
