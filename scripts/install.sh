#!/usr/bin/env bash
# Installs flvcast as a service: the binary, a config and the systemd units.
#
#   sudo scripts/install.sh [--binary dist/flvcast] [--config config.yaml]
#                           [--enable cloud|edge|both] [--prefix /usr/local]
#
# Places (never overwriting an existing config):
#   PREFIX/bin/flvcast                          the single binary (0755)
#   /etc/flvcast/config.yaml                    root:flvcast 0640 (holds quic_secret)
#   /etc/systemd/system/flvcast-cloud.service
#   /etc/systemd/system/flvcast-edge.service
#   /var/lib/flvcast (recordings), /var/log/flvcast (log file)
# and creates the system user "flvcast". With --enable it also runs
# `systemctl enable --now` for the role(s) given.
#
# DESTDIR=/some/root stages everything under that root instead (for packages
# and tests): no user is created and systemctl is not called.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root_dir="$(cd "$here/.." && pwd)"
# From a release archive the binary and config sit beside this script;
# from a checkout, in dist/ and the project root.
binary="$root_dir/dist/flvcast"
[ -f "$here/flvcast" ] && binary="$here/flvcast"
config="$root_dir/config.yaml"
[ -f "$here/config.yaml" ] && config="$here/config.yaml"
prefix="/usr/local"
enable=""
destdir="${DESTDIR:-}"

die() {
  echo "install.sh: $*" >&2
  exit 1
}

while (($#)); do
  case "$1" in
  --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
  --binary=*) binary="${1#*=}"; shift ;;
  --config) config="${2:?--config needs a path}"; shift 2 ;;
  --config=*) config="${1#*=}"; shift ;;
  --prefix) prefix="${2:?--prefix needs a path}"; shift 2 ;;
  --prefix=*) prefix="${1#*=}"; shift ;;
  --enable) enable="${2:?--enable needs cloud, edge or both}"; shift 2 ;;
  --enable=*) enable="${1#*=}"; shift ;;
  -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument: expected --binary, --config, --prefix or --enable, got '$1'" ;;
  esac
done

case "$enable" in
"" | cloud | edge | both) ;;
*) die "--enable: expected cloud, edge or both, got '$enable'" ;;
esac
[ -f "$binary" ] || die "--binary: expected the flvcast executable (build it with 'deno task compile'), got '$binary' (no such file)"
[ -f "$config" ] || die "--config: expected a flvcast YAML config, got '$config' (no such file)"
if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
  die "expected to run as root (sudo), got uid $(id -u); or set DESTDIR to stage into a directory"
fi

bindir="$destdir$prefix/bin"
etc="$destdir/etc/flvcast"
units="$destdir/etc/systemd/system"
state="$destdir/var/lib/flvcast"
logs="$destdir/var/log/flvcast"

# --- user ---------------------------------------------------------------------
if [ -z "$destdir" ] && ! id -u flvcast >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /var/lib/flvcast \
    --shell /usr/sbin/nologin --comment "flvcast live-streaming relay" flvcast
  echo "install.sh: created system user flvcast"
fi
owner() { [ -z "$destdir" ] && chown "$@" || true; }

# --- binary -------------------------------------------------------------------
install -d -m 0755 "$bindir"
install -m 0755 "$binary" "$bindir/flvcast"
echo "install.sh: $prefix/bin/flvcast"

# --- config (kept if present) -------------------------------------------------
install -d -m 0750 "$etc"
owner root:flvcast "$etc"
if [ -e "$etc/config.yaml" ]; then
  echo "install.sh: /etc/flvcast/config.yaml exists; left as it is"
else
  # Service paths for the file's relative ones; logs go to the journal and
  # to /var/log/flvcast.
  sed -E \
    -e 's#^(record_dir:[[:space:]]*).*#\1/var/lib/flvcast/record#' \
    -e 's#^(log_file:[[:space:]]*).*#\1/var/log/flvcast/flvcast.log#' \
    -e 's#^(state_dir:[[:space:]]*).*#\1/var/lib/flvcast#' \
    "$config" >"$etc/config.yaml.new"
  grep -q '^record_dir:' "$etc/config.yaml.new" ||
    echo 'record_dir: /var/lib/flvcast/record' >>"$etc/config.yaml.new"
  grep -q '^log_file:' "$etc/config.yaml.new" ||
    echo 'log_file: /var/log/flvcast/flvcast.log' >>"$etc/config.yaml.new"
  grep -q '^state_dir:' "$etc/config.yaml.new" ||
    echo 'state_dir: /var/lib/flvcast' >>"$etc/config.yaml.new"
  chmod 0640 "$etc/config.yaml.new"
  owner root:flvcast "$etc/config.yaml.new"
  mv "$etc/config.yaml.new" "$etc/config.yaml"
  echo "install.sh: /etc/flvcast/config.yaml (from $config)"
fi

# --- state and log directories ------------------------------------------------
install -d -m 0750 "$state" "$state/record" "$logs"
owner flvcast:flvcast "$state" "$state/record" "$logs"

# --- units --------------------------------------------------------------------
install -d -m 0755 "$units"
for role in cloud edge; do
  sed -e "s#/usr/local/bin/flvcast#$prefix/bin/flvcast#" \
    "$here/systemd/flvcast-$role.service" >"$units/flvcast-$role.service"
  chmod 0644 "$units/flvcast-$role.service"
  echo "install.sh: /etc/systemd/system/flvcast-$role.service"
done

if [ -n "$destdir" ]; then
  echo "install.sh: staged under $destdir"
  exit 0
fi
systemctl daemon-reload
case "$enable" in
cloud) systemctl enable --now flvcast-cloud.service ;;
edge) systemctl enable --now flvcast-edge.service ;;
both) systemctl enable --now flvcast-cloud.service flvcast-edge.service ;;
"")
  echo "install.sh: next: edit /etc/flvcast/config.yaml (an edge needs edge.cloud_fingerprint or edge.cloud_ca," \
    "and quic_secret on both sides), then: systemctl enable --now flvcast-cloud (origin) / flvcast-edge (edges)"
  ;;
esac
