#!/usr/bin/env bash
# The main job: install what is missing, build (release), run the main scenario and print the
# run folder. Extra arguments go to `dynsim run` (e.g. --set integrator.dt=0.005 --out DIR).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/scripts/setup.sh"
# The host and the plugins only: the main job runs no tests, so it builds none.
"$repo/scripts/build.sh" release dynsim dynsim_plugins
cd "$repo"
exec build/release/bin/dynsim run scenarios/cvfr_letters.toml "$@"
