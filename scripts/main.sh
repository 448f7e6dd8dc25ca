#!/usr/bin/env bash
# The main job: install what is missing, build (release), run the main scenario and print the
# run folder. Extra arguments go to `dynsim run` (e.g. --set integrator.dt=0.005 --out DIR).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh"
"$repo/scripts/build.sh" release
cd "$repo"
# The CVFR letters classifier becomes the main job when it lands (issue 3); until then the
# linear oscillator exercises the whole path from scenario to run folder.
scenario=scenarios/cvfr_letters.toml
[[ -f $scenario ]] || scenario=scenarios/linear_oscillator.toml
exec build/release/bin/dynsim run "$scenario" "$@"
