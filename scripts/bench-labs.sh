#!/usr/bin/env bash
# Every lab's 'make lab-N' against 'make lab-1', warm, on the default
# kernel, interleaved run by run so the machine's drift hits all alike.
# Prints the mean wall time of each and its ratio to lab 1's.
# Usage: scripts/bench-labs.sh [runs]
set -euo pipefail
runs=${1:-5}
cd "$(dirname "$0")/.."
make -s build kernels
labs=$(ls -d labs/lab-* | xargs -n1 basename | sort -V)
declare -A total
for _ in $(seq "$runs"); do
  for lab in $labs; do
    for sol in "" 1; do
      t0=$(date +%s.%N)
      make -s "$lab" ${sol:+SOLUTION=1} >/dev/null 2>&1 || true
      t1=$(date +%s.%N)
      key="$lab${sol:+ SOLUTION=1}"
      total[$key]=$(awk -v a="${total[$key]:-0}" -v b="$t0" -v c="$t1" 'BEGIN { print a + c - b }')
    done
  done
done
echo "| command | mean wall time (s), $runs runs | ÷ make lab-1 (same mode) |"
echo "|---|---|---|"
for lab in $labs; do
  for sol in "" 1; do
    key="$lab${sol:+ SOLUTION=1}"
    base="lab-1${sol:+ SOLUTION=1}"
    awk -v k="$key" -v t="${total[$key]}" -v b="${total[$base]}" -v n="$runs" \
      'BEGIN { printf "| make %s | %.2f | %.2f |\n", k, t / n, t / b }'
  done
done
