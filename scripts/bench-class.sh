#!/usr/bin/env bash
# Grading a class: N submissions of lab 1 (the solution, the starter and
# the known-wrong programs in turn, misbehaving ones included: a flood, a
# killer of every process, files that do not compile) on K kernels, with
# 'bpflab grade --submissions' (few boots) against one boot per submission,
# measured side by side in this run.
# Usage: scripts/bench-class.sh [students] [kernels, comma-separated]
set -euo pipefail
n=${1:-50}
ks=${2:-5.10,6.1,6.12,6.18}
cd "$(dirname "$0")/.."
make -s build kernels
class=$(mktemp -d)
trap 'rm -rf "$class"' EXIT
files=(labs/lab-1/solution/openat.bpf.c labs/lab-1/openat.bpf.c labs/lab-1/testdata/wrong/*.bpf.c)
for i in $(seq 1 "$n"); do
  f=${files[$(( (i - 1) % ${#files[@]} ))]}
  d=$(printf '%s/student%03d' "$class" "$i")
  mkdir -p "$d"
  # A student's file stands alone: wrong.h pasted in where it is included.
  sed -e '/#include "wrong.h"/{r labs/lab-1/testdata/wrong/wrong.h' -e 'd;}' "$f" > "$d/openat.bpf.c"
done
t0=$(date +%s.%N)
bin/bpflab grade lab-1 --submissions "$class" --kernel "$ks" --csv "$class/class.csv" >/dev/null 2>&1 || true
t1=$(date +%s.%N)
for d in "$class"/student*; do
  bin/bpflab grade lab-1 --src "$d/openat.bpf.c" --kernel "$ks" >/dev/null 2>&1 || true
done
t2=$(date +%s.%N)
awk -v n="$n" -v ks="$ks" -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
  printf "| how | %d submissions × kernels %s: wall time (s) | ratio |\n|---|---|---|\n", n, ks
  printf "| grade --submissions (few boots) | %.0f | 1 |\n", b - a
  printf "| one grade (boot) per submission | %.0f | %.1f |\n", c - b, (c - b) / (b - a)
}'
