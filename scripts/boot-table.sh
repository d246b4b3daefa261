#!/usr/bin/env bash
# Turns 'go test -bench BenchmarkBoot' output into a table: per kernel, the
# runner's wall time, a bare QEMU boot's, and their ratio.
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
  printf "\n| kernel | bpflab exec (s) | bare boot (s) | ratio |\n|---|---|---|---|\n"
  for (i = 1; i <= n; i++) {
    k = order[i]
    printf "| %s | %.2f | %.2f | %.2f |\n", k, t[k, "runner"], t[k, "bare"], t[k, "runner"] / t[k, "bare"]
  }
}'
