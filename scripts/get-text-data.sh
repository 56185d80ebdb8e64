#!/usr/bin/env bash
# The text benchmarks' data (benchmarks/text_bench_data.py): the Lee corpus (lee.cor, 50 documents;
# similarities0-1.txt, the human scores; lee_background.cor, 300 documents), WordSim-353 and
# SimLex-999. gensim's wheel ships them in gensim/test/test_data/; this unpacks those five files
# (not the package: gensim is never imported) into $SIAMKIT_TEXT_DATA or
# ~/.cache/siamkit/gensim-test-data. Idempotent; nothing is left half-written.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${SIAMKIT_TEXT_DATA:-${HOME}/.cache/siamkit/gensim-test-data}"
files=(lee.cor lee_background.cor similarities0-1.txt wordsim353.tsv simlex999.txt)
have=1
for f in "${files[@]}"; do [ -f "$dest/$f" ] || have=0; done
[ "$have" = 1 ] && exit 0
PY=.venv/bin/python
[ -x "$PY" ] || PY=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the version whose files BENCHMARKS.md's text figures were measured with
"$PY" -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "gensim==4.4.0"
"$PY" - "$tmp" "$dest" "${files[@]}" <<'PYEOF'
import os
import sys
import tempfile
import zipfile
from pathlib import Path

tmp, dest, names = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
wheel = next(tmp.glob("gensim-*.whl"))
dest.parent.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(wheel) as z, tempfile.TemporaryDirectory(dir=dest.parent) as part:
    for name in names:
        Path(part, name).write_bytes(z.read(f"gensim/test/test_data/{name}"))
    dest.mkdir(exist_ok=True)
    for name in names:
        os.replace(Path(part, name), dest / name)
print(f"text benchmark data: {len(names)} files from {wheel.name} in {dest}")
PYEOF
