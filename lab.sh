#!/usr/bin/env bash
# Open the study in JupyterLab at the repository root: templates in notebooks/, executed results in results/.
#   ./lab.sh                       # prints the URL (with its token) to open; JupyterLab options go through,
#   ./lab.sh --port 8890 --no-browser
# - Runs started here write scratch/results/ and scratch/runs/ (git-ignored), never the committed results/;
#   SEMLIB_RESULTS / SEMLIB_RUNS choose other folders. ./run_all.sh is what writes results/.
# - Autosave is off (tools/jupyterlab/overrides.json): a template run here keeps its outputs only if you save
#   it, and the test suite fails on templates that carry outputs, so save your runs under scratch/ instead.
# - SEMLIB_LAB_ROOT serves another folder (the browser test serves a copy of notebooks/).
# - The kernel is this project's Python ("Python 3 (ipykernel)" here; "Python (semlib)" from another JupyterLab).
set -euo pipefail
cd "$(dirname "$0")"
source tools/setup_env.sh
args=(--ServerApp.root_dir="${SEMLIB_LAB_ROOT:-$PWD}" --LabApp.app_settings_dir="$PWD/tools/jupyterlab")
[ "$(id -u)" = 0 ] && args+=(--allow-root)          # JupyterLab refuses root without it (containers, CI)
exec "$PY" -m jupyter lab "${args[@]}" "$@"
