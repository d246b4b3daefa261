# Shared by the bench scripts: source it.

# mean RUNS COMMAND...: the mean wall time of COMMAND over RUNS runs, in
# seconds with two decimals. The command's output and exit code are ignored.
mean() {
  local runs=$1 total=0 t0 t1
  shift
  for _ in $(seq "$runs"); do
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || true
    t1=$(date +%s.%N)
    total=$(awk -v a="$total" -v b="$t0" -v c="$t1" 'BEGIN { print a + c - b }')
  done
  awk -v t="$total" -v n="$runs" 'BEGIN { printf "%.2f", t / n }'
}
