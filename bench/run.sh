#!/usr/bin/env bash
# The benchmark in one command, on one machine in one run: set-up (with Debian's PyTorch), the
# release build, dynsim_bench (dynsim and the sgemm roofline), then the PyTorch twin, which
# checks it computes the same loss and gradients, times the same configurations and prints the
# ratios. Results go to runs/bench-<time>/ (results.md, results.json, dynsim.json).
#   bench/run.sh                                  # B = 1,16,128,500 x 30,300 steps
#   bench/run.sh --batch 16 --steps 30 --min-seconds 5
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
bash scripts/setup.sh --bench
bash scripts/build.sh release
out=runs/bench-$(date -u +%Y%m%dT%H%M%SZ)
build/release/bin/dynsim_bench --out "$out" "$@"
# PyTorch runs elementwise ops on an OpenMP pool and GEMMs on OpenBLAS's pthreads; with spinning
# OpenMP workers the two fight over the cores (3-7x slower at batch 16 here), so the twin gets
# PyTorch's best setting on this machine: passive waiting.
OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/cvfr_torch_twin.py "$out"
