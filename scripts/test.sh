#!/usr/bin/env bash
# The test command: install what is missing, build with warnings as errors, run every test.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh"
"$repo/scripts/build.sh" ci
cd "$repo"
ctest --preset ci "$@"
