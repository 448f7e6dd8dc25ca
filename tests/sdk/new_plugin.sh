#!/usr/bin/env bash
# A newcomer's path, end to end: install this build to a scratch prefix, write a model plugin
# with `dynsim new-plugin`, build it out of tree against the installed SDK (warnings as errors),
# run its own ctest (the gradient check through the installed `dynsim check-plugin`), then train
# it on the letters and check that it learned.
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
dynsim=$work/prefix/bin/dynsim
"$dynsim" new-plugin model ei_net --dir "$work/ei_net"
# The folder must not be overwritten by a second call.
if "$dynsim" new-plugin model ei_net --dir "$work/ei_net" 2>/dev/null; then
  echo "new-plugin overwrote a folder"; exit 1
fi
cmake -S "$work/ei_net" -B "$work/ei_net/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="-Wall -Wextra -Wpedantic -Wshadow -Werror" >/dev/null
cmake --build "$work/ei_net/build"
ctest --test-dir "$work/ei_net/build" --output-on-failure
listing=$("$dynsim" plugins --path "$work/ei_net/build")  # captured: grep -q would SIGPIPE it
grep -q "ei_net 0.1.0" <<<"$listing" || { echo "ei_net not listed"; echo "$listing"; exit 1; }
"$dynsim" run "$work/ei_net/ei_net.toml" --set train.epochs=3 --threads 1 --out "$work/run"
python3 - "$work/run/metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
acc = m["test"]["T"]["accuracy"]
print(f"ei_net on letters after 3 epochs: test accuracy {100 * acc:.1f} %")
assert m["status"] == "ok" and acc > 0.9, m["status"]
PY
"$dynsim" stability "$work/run" >/dev/null
# The installed Python package reads the run (cmake --install put it in the prefix).
PYTHONPATH=$(echo "$work"/prefix/lib/python3*/dist-packages) /usr/bin/python3 -c "
import dynsim; r = dynsim.load('$work/run'); print('W', r.arrays['W'].shape)
assert r.arrays['W'].shape == (49, 49)"
echo "new-plugin skeleton: built out of tree, gradients checked, trained"
