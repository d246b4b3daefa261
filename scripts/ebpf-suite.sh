#!/usr/bin/env bash
# cilium/ebpf's own test suite ('go test -short ./...') on every kernel of
# the matrix through 'bpflab run', as a BPF project's CI would run it:
# unchanged, with its testdata built by its own Makefile with the host's
# clang, the host's files in the guest (the host view), and the kernels'
# modules and configuration. Not part of 'make test'.
#
#   scripts/ebpf-suite.sh [KERNELS]     (default: all)
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
echo "bpflab: building cilium/ebpf $version's testdata with $(clang --version | head -1)"
if ! PATH=$shims:$PATH make -k -B testdata >"$work/testdata.log" 2>&1; then
  echo "bpflab: some testdata did not build with this clang; the module's own copies stay (see $work/testdata.log):"
  grep -E '^make: \*\*\*' "$work/testdata.log" | sed 's/^/  /' || true
fi

echo "bpflab: go test -short ./... on kernels: $kernels"
status=0
"$root/bin/bpflab" run --kernel "$kernels" --json "$work/summary.json" -- go test -short ./... >"$work/run.log" 2>&1 || status=$?
grep -E '^[0-9.x]+ +(ok|FAIL)|^KERNEL' "$work/run.log" || tail -20 "$work/run.log"
echo "bpflab: failed tests per kernel:"
grep -E '^\[[^]]+\] --- FAIL' "$work/run.log" | sed -E 's/ \([0-9.]+s\)$//' | sort | uniq || true
exit "$status"
