#!/usr/bin/env bash
# Run the study: every registered notebook entry at one scale, with papermill.
#   ./run_all.sh                      # scale gpu when CUDA is present, else cpu
#   ./run_all.sh --scale smoke        # seconds per notebook; proves the pipeline, never a claim
#   ./run_all.sh --only 'DDGAN-BASE*' # a subset (globs on entry or claim ID; an exact entry ID selects that entry alone)
#   ./run_all.sh --list               # the registry and what is finished
#   ./run_all.sh --force              # rerun finished entries too
#   ./run_all.sh --time-budget 9      # each training call checkpoints and stops after 9 min (exit 3); rerun resumes
# Finished entries are skipped; failed ones are rerun and resume from their last checkpoint.
# Results are committed, so on a fresh clone everything is finished: --force reproduces them
# (smoke: minutes; cpu: many hours on 2 cores; gpu: hours on one GPU).
set -euo pipefail
cd "$(dirname "$0")"
usage() { sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }
need() { [ $# -ge 2 ] && [ -n "$2" ] && [ "${2#--}" = "$2" ] || { echo "run_all.sh: $1 needs a value (see --help)" >&2; exit 2; }; }

# arguments are checked before anything is installed
scale="" only="" list=0 force=()
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) need "$@"; scale="$2"; shift 2 ;;
    --scale=*) scale="${1#*=}"; shift ;;
    --only) need "$@"; only="$2"; shift 2 ;;
    --only=*) only="${1#*=}"; shift ;;
    --list) list=1; shift ;;
    --force) force=(--force); shift ;;
    --time-budget) need "$@"; export SEMLIB_TIME_BUDGET_MIN="$2"; shift 2 ;;
    --time-budget=*) export SEMLIB_TIME_BUDGET_MIN="${1#*=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_all.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$scale" in ""|smoke|cpu|gpu|paper) ;; *) echo "run_all.sh: --scale must be smoke, cpu, gpu or paper, not '$scale'" >&2; exit 2 ;; esac
if [ -n "${SEMLIB_TIME_BUDGET_MIN:-}" ] && ! [[ "$SEMLIB_TIME_BUDGET_MIN" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
  echo "run_all.sh: --time-budget takes minutes (a positive number), not '$SEMLIB_TIME_BUDGET_MIN'" >&2; exit 2
fi
source tools/setup_env.sh
if [ -z "$scale" ]; then
  scale=$("$PY" -c 'import torch; print("gpu" if torch.cuda.is_available() else "cpu")')
fi
args=(); [ -n "$only" ] && args=(--only "$only")
if [ "$list" = 1 ]; then
  exec "$PY" -m semlib.study list --scale "$scale" "${args[@]}"
fi
echo "[run_all] scale $scale"
exec "$PY" -m semlib.study run --scale "$scale" "${args[@]}" "${force[@]}"
