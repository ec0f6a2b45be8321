# Sourced by run_all.sh and run_tests.sh: make a Python environment with semlib and its extras.
# - uses the active virtualenv / conda env if it already has semlib's dependencies,
# - otherwise creates ./.venv with pip and installs `.[notebooks,test]` into it (once per pyproject change),
# - installs Debian's dataset-fashion-mnist when it is missing and apt-get is usable.
# Exports PY (the interpreter to use).
set -euo pipefail
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_need='import torch, torchvision, sklearn, scipy, matplotlib, papermill, nbval, pytest, ipykernel, mlxtend, cleanfid, prdc, torchmetrics, open_clip, ptwt, timm, openvino, jupyterlab, selenium, semlib'

if [ -n "${VIRTUAL_ENV:-}${CONDA_PREFIX:-}" ] && python -c "$_need" >/dev/null 2>&1 \
   && [ "$(python -c 'import semlib, pathlib; print(pathlib.Path(semlib.__file__).resolve().parents[1])')" = "$_root" ]; then
  PY="$(command -v python)"
else
  if [ ! -x "$_root/.venv/bin/python" ]; then
    echo "[setup] creating $_root/.venv"
    python3 -m venv "$_root/.venv"
  fi
  PY="$_root/.venv/bin/python"
  _stamp="$_root/.venv/.semlib-installed"
  _hash="$(sha256sum "$_root/pyproject.toml" | cut -c1-16)"
  if [ "$(cat "$_stamp" 2>/dev/null)" != "$_hash" ] || ! "$PY" -c "$_need" >/dev/null 2>&1; then
    echo "[setup] installing semlib with its notebook and test extras into .venv (a few minutes the first time)"
    "$PY" -m pip install --quiet --disable-pip-version-check -e "$_root[notebooks,test]"
    echo "$_hash" > "$_stamp"
  fi
fi
export PY

# a named Jupyter kernel for this environment, for a JupyterLab started from another one ("Python (semlib)");
# ./lab.sh runs this environment's own JupyterLab, whose "Python 3 (ipykernel)" is already this Python
_kdir="${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}/kernels/semlib"
if ! grep -qF "\"$PY\"" "$_kdir/kernel.json" 2>/dev/null; then
  "$PY" -m ipykernel install --user --name semlib --display-name "Python (semlib)" >/dev/null 2>&1 \
    && echo "[setup] registered the Jupyter kernel 'Python (semlib)' ($PY)" \
    || echo "[setup] could not register the Jupyter kernel 'semlib' (JupyterLab can still use ./lab.sh)"
fi

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && [ -z "${FASHION_MNIST_ROOT:-}" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "[setup] installing Debian's dataset-fashion-mnist"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
      || echo "[setup] could not install dataset-fashion-mnist; Fashion-MNIST entries will fail (set FASHION_MNIST_ROOT)"
  else
    echo "[setup] Fashion-MNIST not found: apt-get install dataset-fashion-mnist, or set FASHION_MNIST_ROOT"
  fi
fi
