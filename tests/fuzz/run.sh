#!/usr/bin/env bash
# Builds the libFuzzer targets (preset fuzz) and runs each one from its seed corpus.
#   tests/fuzz/run.sh smoke [SECONDS]   each target SECONDS (default 20): what CI runs
#   tests/fuzz/run.sh long SECONDS OUT  each target SECONDS, two at a time, logs and the grown
#                                       corpora kept in OUT (the figures in docs/RESULTS.md)
# A crash, a leak, an uncaught exception other than InputError, or an input slower than 10 s
# fails the run; libFuzzer writes the input that did it (crash-*, leak-*, timeout-*) into the
# log's folder, and `build/fuzz/bin/fuzz_<target> FILE` replays it.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mode=${1:-smoke}
seconds=${2:-20}
cd "$repo"
case $mode in
  smoke) out=$(mktemp -d) ;;
  long) out=${3:?"usage: run.sh long SECONDS OUT"}; mkdir -p "$out" ;;
  *) echo "run.sh: mode is smoke or long" >&2; exit 2 ;;
esac

[[ -f build/fuzz/build.ninja ]] || cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
# The scenario target checks plugin options, so it needs the plugins (any build of them: the
# ABI check is the SDK's version, not the compiler's).
plugins=""
for p in ci release asan; do
  [[ -d build/$p/lib/dynsim/plugins ]] && { plugins=$repo/build/$p/lib/dynsim/plugins; break; }
done
if [[ -z $plugins ]]; then
  scripts/build.sh release dynsim_plugins
  plugins=$repo/build/release/lib/dynsim/plugins
fi

# target, longest input, extra seed folders
targets=(
  "scenario 4096 tests/fuzz/corpus/scenario scenarios"
  "idx 8192 tests/fuzz/corpus/idx"
  "npy 4096 tests/fuzz/corpus/npy"
  "model_json 4096 tests/fuzz/corpus/model_json"
)
run_one() {
  local name=$1 max_len=$2
  shift 2
  mkdir -p "$out/$name/corpus"
  local seeds=() dict=()
  for s in "$@"; do seeds+=("$repo/$s"); done
  [[ -f $repo/tests/fuzz/$name.dict ]] && dict=(-dict="$repo/tests/fuzz/$name.dict")
  (cd "$out/$name" &&
    DYNSIM_PLUGIN_PATH=$plugins ASAN_OPTIONS=detect_leaks=1 \
      "$repo/build/fuzz/bin/fuzz_$name" corpus "${seeds[@]}" "${dict[@]}" \
      -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=4096 \
      -print_final_stats=1 >log.txt 2>&1)
}
status=0
pids=()
names=()
for t in "${targets[@]}"; do
  read -r -a a <<<"$t"
  run_one "${a[@]}" &
  pids+=($!)
  names+=("${a[0]}")
  if ((${#pids[@]} == 2)); then  # two at a time: one core each
    for i in 0 1; do wait "${pids[$i]}" || { echo "fuzz_${names[$i]}: FAILED ($out/${names[$i]}/log.txt)"; status=1; }; done
    pids=()
    names=()
  fi
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || { echo "fuzz_${names[$i]}: FAILED ($out/${names[$i]}/log.txt)"; status=1; }
done
for t in "${targets[@]}"; do
  read -r -a a <<<"$t"
  log=$out/${a[0]}/log.txt
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  echo "fuzz_${a[0]}: ${runs:-?} runs in ${seconds} s, coverage ${cov:-?} edges, ${ft:-?} features"
done
((status == 0)) && [[ $mode == smoke ]] && rm -rf "$out"
exit $status
