#!/usr/bin/env bash
# cilium/ebpf's own test suite ('go test -short ./...') on every kernel of
# the matrix through 'bpflab run', as a BPF project's CI would run it:
# unchanged, with its testdata built by its own Makefile with the host's
# clang, the host's files in the guest (the host view), and the kernels'
# modules and configuration. Not part of 'make test'.
#
#   scripts/ebpf-suite.sh [KERNELS]     (default: all)
#
# EBPF_CPUS=2 gives the guests two vCPUs, which three tests need; under
# TCG a 6.12 or 6.18 guest with two then oopses now and then while the
# link tests flip static keys (docs/ebpf-suite.md), so one is the default.
#
# Results: bin/ebpf-suite/summary.json (per kernel, per test) and
# bin/ebpf-suite/run.log; the failures per kernel are printed at the end.
set -euo pipefail
version=${EBPF_VERSION:-v0.22.0}
kernels=${1:-all}
cd "$(dirname "$0")/.."
root=$PWD
make -s build kernels
work=$root/bin/ebpf-suite
src=$(go mod download -json "github.com/cilium/ebpf@$version" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
rm -rf "$work"
mkdir -p "$work"
cp -r "$src" "$work/ebpf"
chmod -R u+w "$work/ebpf"
cd "$work/ebpf"

# The Makefile pins clang-22 and also builds with clang-14 and clang-17;
# give each name the host's clang where it is missing.
shims=$work/shims
mkdir -p "$shims"
for v in 14 17 22; do
  command -v "clang-$v" >/dev/null || ln -sf "$(command -v clang)" "$shims/clang-$v"
  command -v "llvm-strip-$v" >/dev/null || ln -sf "$(command -v llvm-strip)" "$shims/llvm-strip-$v"
  command -v "llvm-objcopy-$v" >/dev/null || ln -sf "$(command -v llvm-objcopy || command -v llvm-strip)" "$shims/llvm-objcopy-$v"
done
# The module carries the ELF files its Makefile builds (with clang-22), but
# not the links its 'all' target makes: its own Makefile builds what is
# missing, with the host's clang, and makes the links. A file the module
# has is not built again: the same time on every file keeps make from
# taking a source for newer than its object. (Built again with Debian's
# clang 14, 'make -B testdata', the BTF tests fail on every kernel: the
# compiler, not the kernel.)
find . -type f -exec touch -d '2000-01-01 00:00:00' {} +
echo "bpflab: building what cilium/ebpf $version's testdata lacks with $(clang --version | head -1)"
if ! PATH=$shims:$PATH make -k testdata >"$work/testdata.log" 2>&1; then
  echo "bpflab: some testdata did not build with this clang (see $work/testdata.log):"
  grep -E '^make: \*\*\*' "$work/testdata.log" | sed 's/^/  /' || true
fi
ln -srf testdata/loader-clang-22-el.elf testdata/loader-el.elf
ln -srf testdata/loader-clang-22-eb.elf testdata/loader-eb.elf

echo "bpflab: go test -short ./... on kernels: $kernels"
status=0
"$root/bin/bpflab" run --kernel "$kernels" --cpus "${EBPF_CPUS:-1}" --json "$work/summary.json" -- go test -short ./... >"$work/run.log" 2>&1 || status=$?
grep -E '^[0-9.x]+ +(ok|FAIL)|^KERNEL' "$work/run.log" || tail -20 "$work/run.log"
echo "bpflab: failed tests per kernel:"
# One kernel's lines carry no [KERNEL] prefix.
grep -E '^(\[[^]]+\] )?--- FAIL' "$work/run.log" | sed -E 's/ \([0-9.]+s\)$//' | sort -u || true
exit "$status"
