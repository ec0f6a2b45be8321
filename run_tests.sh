#!/usr/bin/env bash
# Unit tests, then nbval on the executed smoke notebooks committed under results/smoke/.
# Sets up its own environment (see tools/setup_env.sh). Extra arguments go to the unit-test pytest.
set -euo pipefail
cd "$(dirname "$0")"
source tools/setup_env.sh
export PYTHONHASHSEED=0
t0=$(date +%s)
"$PY" -m pytest tests -q "$@"
# nbval re-executes each smoke notebook and compares the cells marked NBVAL_CHECK_OUTPUT;
# the rerun writes into a scratch results/runs tree, never over the committed results.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
nbs=(results/smoke/*/*.ipynb)
if [ -e "${nbs[0]}" ]; then
  SEMLIB_RESULTS="$scratch/results" SEMLIB_RUNS="$scratch/runs" \
    "$PY" -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env "${nbs[@]}"
else
  echo "no executed smoke notebooks under results/smoke/: run ./run_all.sh --scale smoke"; exit 1
fi
echo "run_tests.sh: all passed in $(( $(date +%s) - t0 )) s"
