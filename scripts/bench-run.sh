#!/usr/bin/env bash
# 'bpflab run --kernel all' of a trivial test package, serial (--parallel 1)
# against parallel (--parallel N, default 2). Usage: scripts/bench-run.sh [runs] [N]
set -euo pipefail
runs=${1:-3}
par=${2:-2}
cd "$(dirname "$0")/.."
make -s build kernels
. scripts/lib.sh
cd cmd/bpflab
serial=$(mean "$runs" ../../bin/bpflab run --accel tcg --kernel all --parallel 1 -- go test -count=1 ./testdata/gotest)
parallel=$(mean "$runs" ../../bin/bpflab run --accel tcg --kernel all --parallel "$par" -- go test -count=1 ./testdata/gotest)
echo "| bpflab run --kernel all | mean wall time (s), $runs runs |"
echo "|---|---|"
echo "| --parallel 1 | $serial |"
echo "| --parallel $par | $parallel |"
awk -v s="$serial" -v p="$parallel" 'BEGIN { printf "| ratio parallel/serial | %.2f |\n", p / s }'
