#!/usr/bin/env bash
# Builds the release: one flvcast executable per target with
# `deno compile --target`, each packed with the config, the systemd units and
# install.sh, plus SHA256SUMS.
#
#   scripts/release.sh [--targets "T1 T2 …"] [--out dist/release] [--worktree]
#
# Builds from HEAD (git archive); --worktree builds the working tree as it is
# (uncommitted changes included; node_modules, dist, .git left out).
#
# Targets (default: all): x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu
# x86_64-apple-darwin aarch64-apple-darwin x86_64-pc-windows-msvc
#
# Each target is built in a clean copy of HEAD whose node_modules holds that
# platform's npm packages (`deno install --os/--arch`), so the QUIC native
# addon of the target is embedded, not the build machine's.
#
# deno compile needs the denort runtime of each target (downloaded, or from
# DENORT_BIN_<target with _ for ->, e.g. DENORT_BIN_x86_64_unknown_linux_gnu;
# DENORT_BIN serves the build machine's own target). A target that cannot
# get one is reported as SKIPPED in one line; RELEASE_STRICT=1 makes that an
# error (CI on a forge with network access sets it).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
all_targets="x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-apple-darwin aarch64-apple-darwin x86_64-pc-windows-msvc"
targets="$all_targets"
out="$root/dist/release"
from=head

while (($#)); do
  case "$1" in
  --targets) targets="${2:?--targets needs a list}"; shift 2 ;;
  --targets=*) targets="${1#*=}"; shift ;;
  --out) out="${2:?--out needs a directory}"; shift 2 ;;
  --out=*) out="${1#*=}"; shift ;;
  --worktree) from=worktree; shift ;;
  -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "release.sh: unknown argument: expected --targets, --out or --worktree, got '$1'" >&2; exit 2 ;;
  esac
done

version="$(sed -nE 's/^export const VERSION = "([^"]+)";/\1/p' "$root/lib/version/mod.ts")"
[ -n "$version" ] || { echo "release.sh: expected VERSION in lib/version/mod.ts, found none" >&2; exit 1; }
host="$(deno eval 'console.log(Deno.build.target)')"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

npm_platform() { # target -> "os arch" as npm names them
  case "$1" in
  x86_64-unknown-linux-gnu) echo "linux x64" ;;
  aarch64-unknown-linux-gnu) echo "linux arm64" ;;
  x86_64-apple-darwin) echo "darwin x64" ;;
  aarch64-apple-darwin) echo "darwin arm64" ;;
  x86_64-pc-windows-msvc) echo "win32 x64" ;;
  *) return 1 ;;
  esac
}

built=()
skipped=()
for target in $targets; do
  platform="$(npm_platform "$target")" || {
    echo "release.sh: unknown target: expected one of $all_targets, got '$target'" >&2
    exit 2
  }
  read -r os arch <<<"$platform"
  exe="flvcast"
  [ "$os" = win32 ] && exe="flvcast.exe"
  name="flvcast-$version-$target"

  stage="$(mktemp -d "${TMPDIR:-/tmp}/flvcast-release-XXXXXX")"
  trap 'rm -rf "$stage"' EXIT
  if [ "$from" = head ]; then
    git -C "$root" archive --format=tar HEAD | tar -x -C "$stage"
  else
    tar -C "$root" --exclude=./node_modules --exclude=./dist --exclude=./.git \
      --exclude=./record --exclude=./logs -cf - . | tar -x -C "$stage"
  fi
  (cd "$stage" && deno install --os "$os" --arch "$arch" >/dev/null 2>&1) || {
    echo "release.sh: FAILED: $target: deno install --os $os --arch $arch (npm registry reachable?)" >&2
    exit 1
  }
  if [ "$target" = aarch64-unknown-linux-gnu ] &&
    ! ls "$stage/node_modules/.deno" | grep -q '^@matrixai+quic-linux-arm64'; then
    echo "release.sh: WARNING: $target: @matrixai/quic ships no linux-arm64 native addon; QUIC retransmission cannot load on this target"
  fi

  var="DENORT_BIN_${target//-/_}"
  denort="${!var:-}"
  if [ -z "$denort" ] && [ "$target" = "$host" ]; then denort="${DENORT_BIN:-}"; fi
  set +e
  result="$(cd "$stage" && env -u DENORT_BIN ${denort:+DENORT_BIN="$denort"} \
    deno run -A scripts/compile.ts --target "$target" --output "dist/$exe" 2>&1)"
  rc=$?
  set -e
  echo "$result" | grep '^compile:' || echo "$result"
  if [ $rc -ne 0 ]; then
    echo "release.sh: FAILED: $target" >&2
    exit 1
  fi
  if grep -q '^compile: SKIPPED' <<<"$result"; then
    skipped+=("$target")
    rm -rf "$stage"
    continue
  fi

  pkg="$stage/pkg/$name"
  mkdir -p "$pkg/systemd"
  cp "$stage/dist/$exe" "$pkg/$exe"
  cp "$stage/README.md" "$stage/config.yaml" "$pkg/"
  cp "$stage/scripts/install.sh" "$pkg/"
  cp "$stage"/scripts/systemd/*.service "$pkg/systemd/"
  # install.sh looks for the units beside itself in systemd/.
  if [ "$os" = win32 ] && command -v zip >/dev/null 2>&1; then
    (cd "$stage/pkg" && zip -qr "$out/$name.zip" "$name")
    built+=("$name.zip")
  else
    tar -C "$stage/pkg" -czf "$out/$name.tar.gz" "$name"
    built+=("$name.tar.gz")
  fi
  rm -rf "$stage"
  trap - EXIT
done

if ((${#built[@]})); then
  (cd "$out" && sha256sum "${built[@]}" >SHA256SUMS)
  echo "release.sh: built ${built[*]} in $out (SHA256SUMS written)"
fi
if ((${#skipped[@]})); then
  echo "release.sh: SKIPPED ${skipped[*]}: no denort runtime for them (download unreachable, no DENORT_BIN_<target>)"
  [ "${RELEASE_STRICT:-0}" = 1 ] && exit 1
fi
exit 0
