#!/usr/bin/env bash
# Configures and builds one CMake preset (release, debug, ci); incremental when already built.
# Further arguments name targets to build instead of everything (e.g. dynsim dynsim_plugins).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
preset=${1:-release}
cd "$repo"
[[ -f build/$preset/build.ninja ]] || cmake --preset "$preset" >/dev/null
if (($# > 1)); then
  cmake --build --preset "$preset" --target "${@:2}"
else
  cmake --build --preset "$preset"
fi
