#!/usr/bin/env bash
# Validation accuracy against cumulative training wall time, one line per run folder (from its
# training_history.csv), with a dashed line at TARGET (percent). The time-to-accuracy figure of
# docs/RESULTS.md:
#   scripts/accuracy_vs_time.sh docs/figures/mnist_fast_time_to_accuracy.png 97.5 runs/mnist-fast-3/seed-*
set -euo pipefail
(($# >= 3)) || { echo "usage: $0 OUT.png TARGET_PERCENT RUN_DIR..." >&2; exit 2; }
out=$1 target=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
plots=()
for run in "$@"; do
  hist=$run/training_history.csv
  [[ -f $hist ]] || { echo "$hist: no training history" >&2; exit 2; }
  data=$tmp/$(basename "$run").dat
  # minutes since the start of training, validation accuracy in percent
  awk -F, 'NR > 1 { t += $6; printf "%.4f %.4f\n", t / 60, 100 * $4 }' "$hist" > "$data"
  plots+=("'$data' using 1:2 with linespoints title '$(basename "$run")'")
done
joined=$(IFS=,; echo "${plots[*]}")
gnuplot <<GP
set terminal pngcairo size 900,560 font ",11"
set output '$out'
set xlabel 'training wall time (min, 2 cores)'
set ylabel 'validation accuracy (%)'
set yrange [94:99]
set grid
set key bottom right
set arrow from graph 0, first $target to graph 1, first $target nohead dashtype 2
plot $joined
GP
echo "$out"
