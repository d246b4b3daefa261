#!/usr/bin/env bash
# Wall time of grading a lab, warm cache: 'make LAB' on the default kernel
# and with KERNEL=all (kernels in parallel). Usage: scripts/bench-lab.sh lab-1 [runs]
set -euo pipefail
lab=${1:-lab-1}
runs=${2:-3}
cd "$(dirname "$0")/.."
make -s build kernels
mean() { # command...
  local total=0 t0 t1
  for _ in $(seq "$runs"); do
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    t1=$(date +%s.%N)
    total=$(awk -v a="$total" -v b="$t0" -v c="$t1" 'BEGIN { print a + c - b }')
  done
  awk -v t="$total" -v n="$runs" 'BEGIN { printf "%.2f", t / n }'
}
echo "| command | mean wall time (s), $runs runs |"
echo "|---|---|"
echo "| make $lab | $(mean make -s "$lab") |"
echo "| make $lab SOLUTION=1 | $(mean make -s "$lab" SOLUTION=1) |"
echo "| make $lab KERNEL=all | $(mean make -s "$lab" KERNEL=all) |"
