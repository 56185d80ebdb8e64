"""``siamkit signature verify`` with a model whose embedding of the questioned scan holds NaN
printed "FORGED: score nan (...)" and exited 0: a NaN score is at no threshold, so it read as a
forgery. It is refused now, naming the scan's file, as ``siamkit face verify`` refuses a photo's
NaN, with a non-zero exit and the bank as it was."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from siamkit import save_model
from siamkit.applications.signatures import build_signature_model
from siamkit.cli.main import cli
from siamkit.models import SiameseNetwork


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], Path]:
    root = tmp_path_factory.mktemp("sigbroken")
    res = CliRunner().invoke(
        cli, ["signature", "synth", str(root / "sigs"), "--writers", "1", "--genuine", "3"]
    )
    assert res.exit_code == 0, res.output
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_signature_model(
            (1, 40, 56), 16, {"widths": [4, 8, 8, 8], "fc": 16, "stem_stride": 1}
        )
    model.eval()
    save_model(model, root / "m", threshold=0.05, metadata={"signatures": {"reduce": "min"}})
    return root / "m", sorted((root / "sigs" / "w0000" / "genuine").glob("*.png")), root


def _items(db: Path) -> list[tuple[int, str, bytes]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT id, label, embedding FROM items ORDER BY id").fetchall()


@pytest.mark.parametrize("as_json", [False, True])
def test_signature_verify_refuses_a_nan_embedding_naming_the_scan(
    setup, tmp_path, monkeypatch, as_json
):
    model, scans, _ = setup
    db = tmp_path / "bank.db"
    args = ["signature", "enroll", "--model", str(model), "--gallery", str(db), "--writer", "w"]
    assert CliRunner().invoke(cli, [*args, *map(str, scans[:2])]).exit_code == 0
    before = sorted(p.name for p in tmp_path.iterdir()), _items(db)
    real = SiameseNetwork.embed

    def embed(self, x, *a, **kw):  # the model breaks: every embedding NaN
        return real(self, x, *a, **kw) * float("nan")

    monkeypatch.setattr(SiameseNetwork, "embed", embed)
    verify = ["signature", "verify", "--gallery", str(db), "--writer", "w", str(scans[2])]
    res = CliRunner().invoke(cli, verify + (["--json"] if as_json else []))
    assert res.exit_code == 1, res.output
    assert "nan" not in res.output.lower().replace("nan or infinite", "")
    assert res.output.strip().splitlines()[-1] == (
        "Error: 1 of the 1 embeddings the model made of the scan hold NaN or infinite values "
        f"({str(scans[2])!r}), which no verdict can be given on"
    )
    assert (sorted(p.name for p in tmp_path.iterdir()), _items(db)) == before


def test_signature_verify_of_a_sound_scan_still_gives_a_verdict(setup, tmp_path):
    model, scans, _ = setup
    db = tmp_path / "bank.db"
    args = ["signature", "enroll", "--model", str(model), "--gallery", str(db), "--writer", "w"]
    assert CliRunner().invoke(cli, [*args, *map(str, scans[:2])]).exit_code == 0
    verify = ["signature", "verify", "--gallery", str(db), "--writer", "w", str(scans[2])]
    res = CliRunner().invoke(cli, [*verify, "--json"])
    assert res.exit_code == 0, res.output
    import json

    doc = json.loads(res.output)
    assert np.isfinite(doc["score"]) and doc["genuine"] in (True, False)
