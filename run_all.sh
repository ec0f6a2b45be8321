#!/usr/bin/env bash
# Run the study: every registered notebook entry at one scale, with papermill.
#   ./run_all.sh                      # scale gpu when CUDA is present, else cpu
#   ./run_all.sh --scale smoke        # seconds per notebook; proves the pipeline, never a claim
#   ./run_all.sh --only 'DDGAN-BASE*' # a subset (globs on entry or claim ID)
#   ./run_all.sh --list               # the registry and what is finished
#   ./run_all.sh --force              # rerun finished entries too
#   ./run_all.sh --time-budget 9      # each training call checkpoints and stops after 9 min (exit 3); rerun resumes
# Finished entries are skipped; failed ones are rerun and resume from their last checkpoint.
set -euo pipefail
cd "$(dirname "$0")"
source tools/setup_env.sh

scale="" only="" list=0 force=()
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale="$2"; shift 2 ;;
    --scale=*) scale="${1#*=}"; shift ;;
    --only) only="$2"; shift 2 ;;
    --only=*) only="${1#*=}"; shift ;;
    --list) list=1; shift ;;
    --force) force=(--force); shift ;;
    --time-budget) export SEMLIB_TIME_BUDGET_MIN="$2"; shift 2 ;;
    --time-budget=*) export SEMLIB_TIME_BUDGET_MIN="${1#*=}"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)"; exit 2 ;;
  esac
done
if [ -z "$scale" ]; then
  scale=$("$PY" -c 'import torch; print("gpu" if torch.cuda.is_available() else "cpu")')
fi
args=(); [ -n "$only" ] && args=(--only "$only")
if [ "$list" = 1 ]; then
  exec "$PY" -m semlib.study list --scale "$scale" "${args[@]}"
fi
echo "[run_all] scale $scale"
exec "$PY" -m semlib.study run --scale "$scale" "${args[@]}" "${force[@]}"
