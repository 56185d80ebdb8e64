#!/usr/bin/env bash
# Create .venv and install siamkit with every extra the tests use. Idempotent and quick when done.
# torch is pinned by constraints.txt (a local CPU build); nothing may upgrade it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.siamkit-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/pip install -q -c constraints.txt "torch==2.13.0"
  .venv/bin/pip install -q -c constraints.txt -e ".[dev,faiss,serve,onnx,face,text,tune,signatures]"
  # opencv-contrib (KCF, CSRT for the tracking peers) ships cv2 like opencv-python-headless: install
  # it last, in its own step, so its cv2 is the one left
  .venv/bin/pip install -q -c constraints.txt -e ".[video]"
  # lightly (the self-supervised peer's heads and losses) requires torchvision, which cannot sit
  # beside this torch: its files are loaded without it, so install it without dependencies
  .venv/bin/pip install -q -c constraints.txt --no-deps "lightly==1.6.0"
  echo "$want" > "$stamp"
fi
