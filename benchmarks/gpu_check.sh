#!/usr/bin/env bash
# The MF baseline on a CUDA machine: its unit tests, then train-baseline on the CPU and on the
# GPU on the small shop, then 3 GPU epochs on the full-size shop. Needs python3 with torch,
# typer and rich; polars may come as wheels in .whl/ (see the device tool's notes).
set -uo pipefail
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD/src"
hmrec() { python3 -c "from hmrec.cli import app; app()" "$@"; }
TIMEFORMAT="wall %R s"
nvidia-smi -L
python3 -c "import torch, polars; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'polars', polars.__version__)"
python3 -m pytest -q -p no:cacheprovider tests/recommenders/test_mf.py 2>&1 | tail -2
hmrec generate --scale small --out /tmp/small --no-stats
for dev in cpu cuda; do
  echo "== small, --device $dev"
  time (hmrec train-baseline --data /tmp/small --device "$dev" --epochs 8 --out "/tmp/mf-$dev" 2>&1 | grep -aE "epoch|│ mf|warning")
done
echo "== full, --device cuda, 3 epochs"
hmrec generate --scale full --out /tmp/full --no-stats && hmrec prepare --data /tmp/full
time (hmrec train-baseline --data /tmp/full --device cuda --epochs 3 --out /tmp/mf-full 2>&1 | grep -aE "epoch|│ mf|warning")
