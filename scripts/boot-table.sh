#!/usr/bin/env bash
# Turns 'go test -bench BenchmarkBoot' output into a table: per kernel, a
# bare QEMU boot's wall time, the runner's booting (cold) and restoring a
# saved guest (warm) for a trivial test binary, restoring one for a trivial
# static program, and their ratios to the bare boot.
set -euo pipefail
awk '
/^Benchmark/ {
  split($1, p, "/")
  k = p[2]; kind = p[3]; sub(/-[0-9]+$/, "", kind)
  for (i = 2; i <= NF; i++) if ($(i+1) == "ns/op") ns = $i
  t[k, kind] = ns / 1e9
  if (!(k in seen)) { seen[k] = 1; order[++n] = k }
}
{ print > "/dev/stderr" }
END {
  printf "\n| kernel | bare boot (s) | exec, cold (s) | exec, warm (s) | exec static, warm (s) | cold / bare | warm / bare | static warm / bare |\n|---|---|---|---|---|---|---|---|\n"
  for (i = 1; i <= n; i++) {
    k = order[i]
    printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", k, t[k, "bare"], t[k, "cold"], t[k, "warm"], t[k, "static"], t[k, "cold"] / t[k, "bare"], t[k, "warm"] / t[k, "bare"], t[k, "static"] / t[k, "bare"]
  }
}'
