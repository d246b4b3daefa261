#!/usr/bin/env bash
# Side by side: this tree's grader against the grader of an earlier commit,
# 'make LAB' (the starter) and 'make LAB SOLUTION=1' on the default kernel,
# warm cache, runs alternating so drift hits both alike. Prints a Markdown
# table with each median and the ratio new/old.
#
#   scripts/bench-graders.sh [OLD_REV] [RUNS] [LABS...]
#
# OLD_REV defaults to $BPFLAB_BENCH_OLD, else the commit that introduced
# scenario grading's parent (the last single-case grader).
set -euo pipefail
cd "$(dirname "$0")/.."
old_rev=${1:-${BPFLAB_BENCH_OLD:-$(git log --format=%H -1 --grep='^graders: scenario' )~1}}
runs=${2:-5}
shift 2 2>/dev/null || shift $#
labs=("$@")
[ ${#labs[@]} -gt 0 ] || labs=(lab-1 lab-2)

make -s build kernels
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/old" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add --detach "$tmp/old" "$old_rev" >/dev/null 2>&1
(cd "$tmp/old" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin/bpflab ./cmd/bpflab)

# time1 DIR ARGS...: one wall time, in seconds, of DIR/bin/bpflab ARGS run in DIR.
time1() {
  local dir=$1 t0 t1
  shift
  t0=$(date +%s.%N)
  (cd "$dir" && bin/bpflab "$@" >/dev/null 2>&1) || true
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "Old grader: $(git log --format='%h %s' -1 "$old_rev")"
echo
echo "| command | old (s) | new (s) | new/old |"
echo "|---|---|---|---|"
for lab in "${labs[@]}"; do
  for variant in "" "--solution"; do
    o=() n=()
    for _ in $(seq "$runs"); do
      o+=("$(time1 "$tmp/old" grade "$lab" $variant)")
      n+=("$(time1 "$PWD" grade "$lab" $variant)")
    done
    om=$(printf '%s\n' "${o[@]}" | median)
    nm=$(printf '%s\n' "${n[@]}" | median)
    name="make $lab"
    [ -n "$variant" ] && name="make $lab SOLUTION=1"
    echo "| $name | $om | $nm | $(awk -v a="$om" -v b="$nm" 'BEGIN { printf "%.2f", b / a }') |"
  done
done
