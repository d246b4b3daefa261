#!/usr/bin/env bash
# Installs the host tools bpflab needs, from the distribution's own package
# archive, only when something is missing. Uses sudo only when not root.
#
#   scripts/deps.sh            install what is missing
#   scripts/deps.sh --check    list what is missing, install nothing (exit 1 if any)
set -euo pipefail

# command -> Debian package that provides it
declare -A need=(
  [qemu-system-x86_64]=qemu-system-x86
  [clang]=clang
  [bwrap]=bubblewrap
  [prlimit]=util-linux
  [llvm-strip]=llvm
  [bpftool]=bpftool
  [dpkg-deb]=dpkg
  [apt-get]=apt
)
# files -> package (headers and data that have no command)
declare -A need_files=(
  [/usr/include/bpf/bpf_helpers.h]=libbpf-dev
  [/usr/include/x86_64-linux-gnu/sys/sdt.h]=systemtap-sdt-dev
  [/usr/lib/x86_64-linux-gnu/libc.a]=libc6-dev
  [/usr/share/keyrings/debian-archive-keyring.gpg]=debian-archive-keyring
  [/bin/busybox]=busybox-static
  [/sbin/depmod]=kmod
)

missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
for f in "${!need_files[@]}"; do
  [ -e "$f" ] || missing+=("${need_files[$f]}")
done
# busybox from another package is dynamic; the guest needs the static one.
if [ -e /bin/busybox ] && ! dpkg -s busybox-static >/dev/null 2>&1; then
  missing+=(busybox-static)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "${1:-}" = "--check" ]; then
  echo "missing packages: ${missing[*]}"
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "bpflab: cannot install ${missing[*]}: this is not a Debian/Ubuntu system (no apt-get); install them by hand" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "bpflab: need root to install ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
fi

echo "bpflab: installing ${missing[*]} (once)" >&2
export DEBIAN_FRONTEND=noninteractive
# An index older than a day may point at files the archive no longer serves.
stamp=/var/lib/apt/periodic/update-success-stamp
lists_age=$(( $(date +%s) - $(stat -c %Y /var/lib/apt/lists 2>/dev/null || echo 0) ))
if [ ! -e "$stamp" ] && [ "$lists_age" -gt 86400 ] || [ -z "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v -e lock -e partial)" ]; then
  $SUDO apt-get update -qq
fi
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
  # A stale index is the usual cause: refresh once and retry.
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
