#!/usr/bin/env bash
# The test command: install what is missing, build with warnings as errors and run every test,
# then build again under AddressSanitizer + UndefinedBehaviorSanitizer (preset asan) and run the
# suite there too (the Python module and the out-of-tree builds stay out of that build: they
# would lack the sanitizer runtime), then builds the libFuzzer targets with clang and runs each
# for 15 s from its seed corpus (tests/fuzz/run.sh). Extra arguments go to both ctest runs.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh"
"$repo/scripts/build.sh" ci
cd "$repo"
ctest --preset ci "$@"
"$repo/scripts/build.sh" asan
# mpi_failure trains an MNIST-sized model with eigen-decompositions of 784 x 784 Jacobians, 375 s
# under the sanitizers on 2 cores: it passes there (docs/RESULTS.md) but would take CI past its
# budget, so CI runs it only in the plain build above.
ctest --preset asan -E "^mpi_failure$" "$@"
"$repo/tests/fuzz/run.sh" smoke 15
