#!/usr/bin/env bash
# Unit tests, then nbval on the executed smoke notebooks committed under results/smoke/.
# Sets up its own environment (see tools/setup_env.sh). Extra arguments go to the unit-test pytest.
set -euo pipefail
cd "$(dirname "$0")"
source tools/setup_env.sh
export PYTHONHASHSEED=0
# the browser test (tests/test_jupyterlab.py) drives Debian's Chromium: install it where apt-get is usable
if ! command -v chromedriver >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "[setup] installing Debian's chromium and chromium-driver for the browser test (about a minute)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1 \
      || echo "[setup] could not install chromium: the browser test will be skipped"
  else
    echo "[setup] no chromedriver: the browser test is skipped (apt-get install chromium chromium-driver)"
  fi
fi
t0=$(date +%s)
"$PY" -m pytest tests -q "$@"
# nbval re-executes each smoke notebook and compares the cells marked NBVAL_CHECK_OUTPUT;
# the rerun writes into a scratch results/runs tree, never over the committed results. That results tree starts as a
# copy of the committed smoke results, so a notebook that reads other entries' results (a table over its rows) finds
# them also when it is checked alone: SEMLIB_NBVAL="results/smoke/PDDGAN-T1/pddgan_table.ipynb" ./run_tests.sh
# checks only the notebooks named there (space-separated; default: every smoke notebook, in path order).
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/results" && cp -r results/smoke "$scratch/results/smoke"
read -r -a nbs <<< "${SEMLIB_NBVAL:-}"
[ ${#nbs[@]} -gt 0 ] || nbs=(results/smoke/*/*.ipynb)
if [ -e "${nbs[0]}" ]; then
  SEMLIB_RESULTS="$scratch/results" SEMLIB_RUNS="$scratch/runs" \
    "$PY" -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env "${nbs[@]}"
else
  echo "no executed smoke notebooks under results/smoke/: run ./run_all.sh --scale smoke"; exit 1
fi
shot="${SEMLIB_TEST_ARTIFACTS:-scratch/test-artifacts}/jupyterlab_ddgan.png"
[ -f "$shot" ] && echo "run_tests.sh: the browser test's screenshot: $shot"
echo "run_tests.sh: all passed in $(( $(date +%s) - t0 )) s"
