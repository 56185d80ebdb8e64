"""benchmarks/text_bench_data.py: where the Lee corpus files are looked for, and the script that
fetches them (`make text-data`)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from _bench_scripts import load_script

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def data_mod(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    mod = load_script("text_bench_data", "text_bench_data_under_test")
    # no gensim on the path: only the folders siamkit fills count
    monkeypatch.setattr(mod.importlib.util, "find_spec", lambda name: None)
    return mod


def _lee_files(folder: Path) -> None:
    folder.mkdir(parents=True)
    docs = ["First document. It has two sentences.", "Second one.", "Third £ text."]
    (folder / "lee.cor").write_bytes("\n".join(docs).encode("latin-1") + b"\n")
    (folder / "lee_background.cor").write_text("background one\nbackground two\n")
    np.savetxt(folder / "similarities0-1.txt", np.eye(3))


def test_missing_files_name_make_text_data(data_mod, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SIAMKIT_TEXT_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(SystemExit, match="make text-data") as e:
        data_mod.gensim_test_data()
    assert "nowhere" in str(e.value) and "gensim-test-data" in str(e.value)


def test_env_folder_then_user_cache(data_mod, monkeypatch, tmp_path: Path) -> None:
    cache = tmp_path / "home" / ".cache" / "siamkit" / "gensim-test-data"
    _lee_files(cache)
    monkeypatch.delenv("SIAMKIT_TEXT_DATA", raising=False)
    assert data_mod.gensim_test_data() == cache
    assert data_mod.lee_documents()[2] == "Third £ text."
    own = tmp_path / "own"
    _lee_files(own)
    monkeypatch.setenv("SIAMKIT_TEXT_DATA", str(own))
    assert data_mod.gensim_test_data() == own
    # a folder missing one file is passed over, not half-used
    (own / "lee_background.cor").unlink()
    assert data_mod.gensim_test_data() == cache


def test_get_text_data_unpacks_the_five_files_from_the_wheel(tmp_path: Path) -> None:
    """The script, given a stand-in gensim wheel by a fake `pip download`, writes exactly the five
    files, byte for byte, and nothing when the wheel lacks one."""
    names = [
        "lee.cor",
        "lee_background.cor",
        "similarities0-1.txt",
        "wordsim353.tsv",
        "simlex999.txt",
    ]
    wheel = tmp_path / "wheelsrc" / "gensim-4.4.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as z:
        for n in names:
            z.writestr(f"gensim/test/test_data/{n}", f"content of {n}\n")
        z.writestr("gensim/__init__.py", "raise ImportError('never imported')\n")
    # a python that answers `-m pip download ... -d DIR` by copying the wheel, and runs code otherwise
    fake = tmp_path / "python"
    fake.write_text(
        "#!/usr/bin/env bash\n"
        'if [ "$1 $2 $3" = "-m pip download" ]; then\n'
        '  while [ "$1" != "-d" ]; do shift; done; cp "$WHEEL" "$2"; exit 0\n'
        "fi\n"
        f'exec {sys.executable} "$@"\n'
    )
    fake.chmod(0o755)
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "scripts" / "get-text-data.sh").write_text(
        (ROOT / "scripts" / "get-text-data.sh").read_text()
    )
    dest = tmp_path / "out" / "data"
    env = {**os.environ, "PYTHON": str(fake), "WHEEL": str(wheel), "SIAMKIT_TEXT_DATA": str(dest)}
    run = subprocess.run(
        ["bash", str(repo / "scripts" / "get-text-data.sh")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in dest.iterdir()) == sorted(names)
    for n in names:
        assert (dest / n).read_text() == f"content of {n}\n"
    # a wheel without one of the files: an error, and the destination is not created
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("gensim/test/test_data/lee.cor", "x")
    dest2 = tmp_path / "out" / "data2"
    run = subprocess.run(
        ["bash", str(repo / "scripts" / "get-text-data.sh")],
        env={**env, "SIAMKIT_TEXT_DATA": str(dest2)},
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0
    assert not dest2.exists()
