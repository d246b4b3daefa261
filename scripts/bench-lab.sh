#!/usr/bin/env bash
# Wall time of grading a lab, warm cache: 'make LAB' on the default kernel
# and with KERNEL=all (kernels in parallel). Usage: scripts/bench-lab.sh lab-1 [runs]
set -euo pipefail
lab=${1:-lab-1}
runs=${2:-3}
cd "$(dirname "$0")/.."
make -s build kernels
. scripts/lib.sh
echo "| command | mean wall time (s), $runs runs |"
echo "|---|---|"
make -s "$lab" >/dev/null || true # saves the default kernel's guest, untimed
echo "| make $lab (warm start) | $(mean "$runs" make -s "$lab") |"
echo "| make $lab, booting (BPFLAB_COLD=1) | $(BPFLAB_COLD=1 mean "$runs" make -s "$lab") |"
echo "| make $lab SOLUTION=1 | $(mean "$runs" make -s "$lab" SOLUTION=1) |"
echo "| make $lab KERNEL=all | $(mean "$runs" make -s "$lab" KERNEL=all) |"
