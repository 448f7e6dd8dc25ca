#!/usr/bin/env bash
# Installs this build's SDK to a scratch prefix, builds the example plugin out of tree with
# find_package(dynsim), then lists, loads and runs it with dynsim and checks the closed form.
set -euo pipefail
build=$1 example=$2 dynsim=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$example" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="-Wall -Wextra -Werror" >/dev/null
cmake --build "$work/build"
export DYNSIM_PLUGIN_PATH="$work/build"
# Capture first: with pipefail, `dynsim plugins | grep -q` fails whenever grep exits on its match
# before dynsim finishes writing (SIGPIPE), which made this test flaky.
listing=$("$dynsim" plugins)
grep -q "exp_decay 1.0.0" <<<"$listing" || { echo "exp_decay not listed"; echo "$listing"; exit 1; }
"$dynsim" run "$example/exp_decay.toml" --out "$work/run"
# x(2) = 0.5 + (x0 - 0.5) exp(-3) for x0 = 2 and -1; rk4 with dt 0.01 is exact to ~1e-10.
awk -F, 'NR == 2 {
  e1 = 0.5 + 1.5 * exp(-3); e2 = 0.5 - 1.5 * exp(-3);
  d1 = $3 - e1; d2 = $4 - e2; if (d1 < 0) d1 = -d1; if (d2 < 0) d2 = -d2;
  if (d1 > 1e-8 || d2 > 1e-8) { print "wrong final state: " $0; exit 1 }
  print "final state matches the closed form: " $3 ", " $4 }' "$work/run/final_state.csv"
grep -q "exp_decay with n = 2" "$work/run/run.log" || { echo "plugin log line missing"; exit 1; }
echo "out-of-tree plugin: built, loaded and run"
