#!/usr/bin/env bash
# cilium/ebpf's own test suite ('go test -short ./...') on every kernel of
# the matrix through 'bpflab run', as a BPF project's CI would run it:
# unchanged, with its testdata built by its own Makefile with the host's
# clang, the host's files in the guest (the host view), and the kernels'
# modules and configuration. Not part of 'make test'.
#
#   scripts/ebpf-suite.sh [KERNELS]     (default: all)
#
# Guests have one vCPU: under TCG a 6.12 or 6.18 guest with two oopses now
# and then while the link tests flip static keys (docs/ebpf-suite.md).
# The three tests that need two CPUs run in a second pass of their own,
# with two vCPUs (EBPF_CPUS=2 runs everything with two).
#
# Results: bin/ebpf-suite/summary.json and summary-2cpu.json (per kernel,
# per test), run.log and run-2cpu.log; the failures per kernel of both
# passes are printed at the end.
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

# The tests that need two CPUs (GOMAXPROCS 2, per-CPU values of two CPUs).
two='^(TestSpecConcurrentAccess|TestPerfEventArrayCompatible|TestMapBatch)$'
cpus=${EBPF_CPUS:-1}
skip=()
[ "$cpus" -ge 2 ] || skip=(-skip "$two")
echo "bpflab: go test -short ./... on kernels: $kernels ($cpus vCPU)"
status=0
"$root/bin/bpflab" run --kernel "$kernels" --cpus "$cpus" --json "$work/summary.json" -- go test -short "${skip[@]}" ./... >"$work/run.log" 2>&1 || status=$?
grep -E '^[0-9.x]+ +(ok|FAIL)|^KERNEL' "$work/run.log" || tail -20 "$work/run.log"
logs=("$work/run.log")
if [ "$cpus" -lt 2 ]; then
  echo "bpflab: the tests that need two CPUs, with two vCPUs"
  "$root/bin/bpflab" run --kernel "$kernels" --cpus 2 --json "$work/summary-2cpu.json" -- go test -short -run "$two" . ./btf >"$work/run-2cpu.log" 2>&1 || status=$?
  grep -E '^[0-9.x]+ +(ok|FAIL)|^KERNEL' "$work/run-2cpu.log" || tail -20 "$work/run-2cpu.log"
  logs+=("$work/run-2cpu.log")
fi
echo "bpflab: failed tests per kernel:"
# One kernel's lines carry no [KERNEL] prefix.
cat "${logs[@]}" | grep -E '^(\[[^]]+\] )?--- FAIL' | sed -E 's/ \([0-9.]+s\)$//' | sort -u || true
exit "$status"
