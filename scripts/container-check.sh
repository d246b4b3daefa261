#!/usr/bin/env bash
# Builds the Dockerfile and grades lab 1 in the image, without Docker and
# without privileges: no --privileged, no /dev/kvm. docs/container.md says
# what it shows. It runs in a CI job of its own, not in 'make test'.
#
#   scripts/container-check.sh
#
# Steps, each timed:
#   1. installs debootstrap, buildah, podman (and runc on cgroup v1 hosts)
#      when missing, with apt (sudo when not root);
#   2. makes a minimal Debian root with debootstrap, from the Debian archive
#      apt already uses (found as bpflab finds it: $BPFLAB_DEBIAN_MIRROR, else
#      the system's apt sources), and imports it as a local base image;
#   3. builds the Dockerfile on it with buildah;
#   4. copies the working tree (git's files, untracked ones included, and
#      .git) to a temporary directory owned by a uid the image does not know;
#   5. builds bpflab in the container (Go's build cache starts empty);
#   6. checks that, without the options the compile sandbox needs in a
#      container (below), grading refuses to compile ("cannot sandbox clang");
#   7. grades the solution: exit 0 and PASSED (the kernel is fetched into
#      the cache volume first);
#   8. grades the starter: a non-zero exit and FAILED.
# Steps 6 to 8 boot guests (or may), so they hold the guest lock of bpflab's
# tests (~/.cache/bpflab/guests.lock) and never overlap other guests.
#
# SUITE=trixie checks another Debian suite than the Dockerfile's default
# base. Images, containers, the volume and temporary files are removed on
# exit.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

say() { printf 'container-check: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "debootstrap and the container engine need root: run as root or install sudo"
  SUDO="sudo"
fi

# The Debian suite of the Dockerfile's default base image (ARG BASE=debian:SUITE).
suite=${SUITE:-$(sed -n 's/^ARG BASE=debian:\([a-z]*\)$/\1/p' Dockerfile)}
[ -n "$suite" ] || die "no 'ARG BASE=debian:SUITE' line in the Dockerfile: set SUITE"

# debian_mirror: the Debian archive's URI, found as vmtest/kernels/mirror.go
# finds it: $BPFLAB_DEBIAN_MIRROR, else the first http(s) URI of the first
# entry of apt's sources (sources.list, then sources.list.d/*.list and
# *.sources in name order) whose suites include a Debian main suite (not
# -security, not /updates).
debian_mirror() {
  local etc=/etc/apt m f files=()
  m=$(printf '%s' "${BPFLAB_DEBIAN_MIRROR:-}" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e 's:/*$::')
  if [ -n "$m" ]; then
    printf '%s\n' "$m"
    return
  fi
  [ -f "$etc/sources.list" ] && files+=("$etc/sources.list")
  for f in "$etc"/sources.list.d/*; do
    case "$f" in *.list | *.sources) [ -f "$f" ] && files+=("$f") ;; esac
  done
  [ ${#files[@]} -gt 0 ] || return 1
  awk '
    BEGIN {
      n = split("buster bullseye bookworm trixie forky duke sid unstable testing stable oldstable", s, " ")
      for (i = 1; i <= n; i++) debian[s[i]] = 1
    }
    function trim(x) { gsub(/^[ \t]+|[ \t]+$/, "", x); return x }
    function debian_main(suites,   n, a, i, p, base, suffix) {
      n = split(suites, a, /[ \t]+/)
      for (i = 1; i <= n; i++) {
        if (a[i] == "") continue
        p = index(a[i], "-")
        if (p) { base = substr(a[i], 1, p - 1); suffix = substr(a[i], p + 1) } else { base = a[i]; suffix = "" }
        if ((base in debian) && suffix != "security" && a[i] !~ /\/updates$/) return 1
      }
      return 0
    }
    function entry(uris, suites,   n, a, i) {
      if (!debian_main(suites)) return
      n = split(uris, a, /[ \t]+/)
      for (i = 1; i <= n; i++) {
        if (a[i] ~ /^https?:\/\//) { sub(/\/+$/, "", a[i]); print a[i]; found = 1; exit }
      }
    }
    function stanza() {
      if (enabled != "no" && index(" " types " ", " deb ")) entry(uris, suites)
      types = ""; uris = ""; suites = ""; enabled = ""
    }
    FNR == 1 && file ~ /\.sources$/ { stanza() }
    FNR == 1 { file = FILENAME }
    { sub(/\r$/, "") }
    # One-line format: deb [options] URI SUITE COMPONENT...
    FILENAME !~ /\.sources$/ {
      line = $0
      p = index(line, "#"); if (p) line = substr(line, 1, p - 1)
      n = split(trim(line), f, /[ \t]+/)
      if (n < 3 || f[1] != "deb") next
      i = 2
      if (substr(f[i], 1, 1) == "[") {
        while (i <= n && substr(f[i], length(f[i])) != "]") i++
        if (i > n) next
        i++
      }
      if (n - i + 1 >= 2) entry(f[i], f[i + 1])
      next
    }
    # deb822 stanzas, separated by empty lines.
    $0 == "" { stanza(); next }
    trim($0) ~ /^#/ || /^ / { next }
    {
      p = index($0, ":"); if (!p) next
      key = tolower(trim(substr($0, 1, p - 1))); val = trim(substr($0, p + 1))
      if (key == "types") types = val; else if (key == "uris") uris = val
      else if (key == "suites") suites = val; else if (key == "enabled") enabled = val
    }
    END { if (!found && file ~ /\.sources$/) stanza() }
  ' "${files[@]}" | grep .
}

# Step timings, printed as each step ends and again at the end.
timings=()
step() {
  local name=$1 t0 t1 took
  shift
  say "$name ..."
  t0=$(date +%s.%N)
  "$@"
  t1=$(date +%s.%N)
  took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  timings+=("$(printf '%-52s %6ss' "$name" "$took")")
  say "$name: ${took}s"
}

tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/bpflab-container-check.XXXXXX")
tag="bpflab-check-$$"
base_image="localhost/$tag-base:$suite"
image="localhost/$tag:$suite"
volume="$tag-cache"
cleanup() {
  local rc=$?
  set +e
  if command -v podman >/dev/null 2>&1; then
    for c in sandbox solution starter build; do
      $SUDO podman rm -f "$tag-$c" >/dev/null 2>&1
    done
    $SUDO podman volume rm -f "$volume" >/dev/null 2>&1
    $SUDO podman rmi -f "$image" "$base_image" >/dev/null 2>&1
  fi
  $SUDO rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# crun before 1.9 refuses a cgroup v1 host with a cgroup2 hierarchy mounted
# beside it ("cgroups in hybrid mode not supported"); runc runs there.
runtime=()
if [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ]; then
  runtime=(--runtime runc)
fi

# Grading in the container keeps bpflab's compile sandbox (bwrap), which
# needs to create user namespaces. bwrap's --disable-userns writes
# /proc/sys/user/max_user_namespaces in the sandbox's own user namespace,
# and container engines mount /proc/sys read-only: unmask=/proc/sys lifts
# that. On a host with AppArmor (Ubuntu, Debian) the engine's default
# profile also denies mount and that write, so the container runs
# unconfined by AppArmor; this host (no AppArmor) did not exercise it.
sandbox_opts=(--security-opt unmask=/proc/sys)
if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]; then
  sandbox_opts+=(--security-opt apparmor=unconfined)
fi
# Ubuntu (23.10 and later) denies unconfined processes the capabilities
# bwrap needs in a new user namespace unless this is 0.
if [ "$(cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns 2>/dev/null)" = 1 ]; then
  die "kernel.apparmor_restrict_unprivileged_userns=1: bwrap cannot sandbox clang in the container; run: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"
fi

install_tools() {
  local -A need=([debootstrap]=debootstrap [buildah]=buildah [podman]=podman [flock]=util-linux)
  local missing=() cmd
  [ ${#runtime[@]} -eq 0 ] || need[runc]=runc
  for cmd in "${!need[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
  done
  # debootstrap checks the Debian archive's signatures with it (on Ubuntu too).
  [ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
  if [ ${#missing[@]} -eq 0 ]; then
    return
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

make_base() {
  local mirror
  mirror=$(debian_mirror) || die "no Debian archive in apt's sources: set BPFLAB_DEBIAN_MIRROR to a Debian mirror's URI"
  say "debootstrap $suite from $mirror"
  $SUDO debootstrap --variant=minbase --keyring /usr/share/keyrings/debian-archive-keyring.gpg \
    "$suite" "$tmp/root" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  # The image build downloads Go over TLS. Certificate authorities added to
  # this host (a proxy that re-signs TLS, say) are added to the base, where
  # the Dockerfile's ca-certificates picks them up.
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    $SUDO mkdir -p "$tmp/root/usr/local/share/ca-certificates"
    $SUDO cp /usr/local/share/ca-certificates/*.crt "$tmp/root/usr/local/share/ca-certificates/"
  fi
  $SUDO tar -C "$tmp/root" -c . | $SUDO podman import --quiet - "$base_image" >/dev/null
  $SUDO rm -rf "$tmp/root"
}

build_image() {
  $SUDO buildah build "${runtime[@]}" --build-arg "BASE=$base_image" -t "$image" . >"$tmp/build.log" 2>&1 ||
    { tail -n 30 "$tmp/build.log" >&2; die "buildah build failed (log above)"; }
  say "$(grep -m1 '^go version' "$tmp/build.log")"
}

# The tree is copied rather than mounted: grading writes bin/bpflab and
# .bpflab/ into the tree, which must belong to the container's user, and
# the working tree must stay as it is.
run_uid=2000
copy_tree() {
  mkdir -p "$tmp/work"
  {
    git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
      if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
    done
    printf '.git\0'
  } | tar --null -T - -c | tar -x -C "$tmp/work"
  $SUDO chown -R "$run_uid:$run_uid" "$tmp/work"
}

# run NAME LOG [PODMAN OPTIONS...] -- COMMAND...: runs COMMAND in the image as
# an unprivileged uid, the tree at /work and the cache volume mounted; its
# exit code is run's. The ulimits are set because podman's defaults
# (1048576 open files and processes) are above what a host without
# CAP_SYS_RESOURCE (a nested one) lets it set; 4096 is plenty for grading.
# The guest lock's descriptor is closed for podman: conmon may outlive it.
run() {
  local name=$1 log=$2 opts=()
  shift 2
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  $SUDO podman run --rm --name "$tag-$name" "${runtime[@]}" \
    --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
    --user "$run_uid:$run_uid" -v "$tmp/work:/work" -v "$volume:/home/bpflab/.cache" \
    "${opts[@]}" "$image" "$@" >"$log" 2>&1 9>&-
}

build_bpflab() {
  $SUDO podman volume create "$volume" >/dev/null
  run build "$tmp/build-bpflab.log" -- make build ||
    { tail -n 20 "$tmp/build-bpflab.log" >&2; die "make build failed in the container"; }
}

# Without the options above bwrap cannot run, and bpflab must refuse to
# compile (never compile outside the sandbox on its own).
sandbox_refused() {
  local rc=0
  run sandbox "$tmp/sandbox.log" -- make lab-1 SOLUTION=1 || rc=$?
  if [ "$rc" -eq 0 ] || ! grep -q 'cannot sandbox clang' "$tmp/sandbox.log"; then
    cat "$tmp/sandbox.log" >&2
    die "without ${sandbox_opts[*]}, grading should have refused to compile (exit $rc)"
  fi
  say "$(grep -m1 -o 'cannot sandbox clang: bwrap: [^:]*: [^:]*' "$tmp/sandbox.log")"
}

grade_solution() {
  local rc=0
  run solution "$tmp/solution.log" "${sandbox_opts[@]}" -- make lab-1 SOLUTION=1 || rc=$?
  if [ "$rc" -ne 0 ] || ! grep -q 'PASSED' "$tmp/solution.log"; then
    cat "$tmp/solution.log" >&2
    die "the solution should pass (exit $rc)"
  fi
  say "$(grep -m1 'PASSED' "$tmp/solution.log" | sed 's/^ *//')"
}

grade_starter() {
  local rc=0
  run starter "$tmp/starter.log" "${sandbox_opts[@]}" -- make lab-1 || rc=$?
  if [ "$rc" -eq 0 ] || ! grep -q 'FAILED' "$tmp/starter.log"; then
    cat "$tmp/starter.log" >&2
    die "the starter should fail (exit $rc)"
  fi
  say "$(grep -m1 'FAILED' "$tmp/starter.log" | sed 's/^ *//') (exit $rc)"
}

step "install tools" install_tools
step "base image (debootstrap $suite, import)" make_base
step "image (buildah build)" build_image
step "copy the working tree" copy_tree
step "make build in the container" build_bpflab

lock="${XDG_CACHE_HOME:-$HOME/.cache}/bpflab/guests.lock"
mkdir -p "$(dirname "$lock")"
[ -e "$lock" ] || : >"$lock"
exec 9<"$lock"
step "wait for the guest lock" flock -x 9
step "make lab-1 SOLUTION=1, no sandbox options: refused" sandbox_refused
step "make lab-1 SOLUTION=1 (fetches the kernel)" grade_solution
step "make lab-1 (starter)" grade_starter
flock -u 9

say "all checks passed; timings:"
printf '  %s\n' "${timings[@]}"
