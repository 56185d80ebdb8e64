"""A first `siamkit signature enroll` stopped before it stored a reference (Ctrl-C, SIGTERM, a
scan the model cannot embed, an error in the writer's transaction) left an empty bank file that
recorded its model: the next enroll with another model was refused as that model's bank. The
file it created is removed, with the folders made for it, as `siamkit enroll` does; a bank that
was there before keeps exactly what it held."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import siamkit.index.gallery as gallery_module
from siamkit import save_model
from siamkit.applications.signatures import build_signature_model
from siamkit.applications.signatures.bank import SignatureBank
from siamkit.cli.main import Terminated, cli

STOPS = [(KeyboardInterrupt, 130), (Terminated, 143), (ValueError, 1)]


def _model(path: Path, seed: int) -> Path:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = build_signature_model(
            (1, 40, 56), 16, {"widths": [4, 8, 8, 8], "fc": 16, "stem_stride": 1}
        )
    model.eval()
    save_model(model, path, threshold=0.05, metadata={"signatures": {"reduce": "min"}})
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("sigstop")
    res = CliRunner().invoke(
        cli, ["signature", "synth", str(root / "sigs"), "--writers", "1", "--genuine", "3"]
    )
    assert res.exit_code == 0, res.output
    return _model(root / "a", 0), _model(root / "b", 1), root / "sigs" / "w0000" / "genuine"


def enroll(db: Path, model: Path, writer: str, *scans: Path):
    args = ["signature", "enroll", "--model", str(model), "--gallery", str(db)]
    return CliRunner().invoke(cli, [*args, "--writer", writer, *map(str, scans)])


def items_of(db: Path) -> list[tuple[int, str, bytes]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT id, label, embedding FROM items ORDER BY id").fetchall()


def stopping(stop: type[BaseException]):
    def stopped(*args, **kwargs):
        raise stop("the scan cannot be embedded") if stop is ValueError else stop()

    return stopped


@pytest.mark.parametrize("where", ["embedding", "transaction"])
@pytest.mark.parametrize(("stop", "code"), STOPS)
def test_a_first_signature_enroll_stopped_leaves_no_bank_file(
    setup, tmp_path, monkeypatch, stop, code, where
):
    model, other, scans = setup
    refs = sorted(scans.glob("*.png"))
    db = tmp_path / "new" / "banks" / "bank.db"  # its folders too are made by the enroll
    if where == "embedding":  # while the scans are embedded, after the bank file was created
        monkeypatch.setattr(SignatureBank, "_embed", stopping(stop))
    else:  # with the writer's rows written, before their commit: rolled back
        monkeypatch.setattr(gallery_module, "remove_thumbnails_from", stopping(stop))
    res = enroll(db, model, "0042", *refs)
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "new").exists()
    monkeypatch.undo()
    # the symptom: the next enroll, with another model, was refused as the first one's bank
    res = enroll(db, other, "0042", *refs)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in db.parent.iterdir()) == ["bank.db"]
    assert [label for _, label, _ in items_of(db)] == ["0042"] * len(refs)


@pytest.mark.parametrize("where", ["embedding", "transaction"])
def test_an_existing_bank_is_kept_whole_when_an_enroll_is_stopped(
    setup, tmp_path, monkeypatch, where
):
    model, _, scans = setup
    refs = sorted(scans.glob("*.png"))
    db = tmp_path / "bank.db"
    assert enroll(db, model, "0042", refs[0]).exit_code == 0
    before = items_of(db)
    if where == "embedding":
        monkeypatch.setattr(SignatureBank, "_embed", stopping(KeyboardInterrupt))
    else:
        monkeypatch.setattr(gallery_module, "remove_thumbnails_from", stopping(KeyboardInterrupt))
    res = enroll(db, model, "0043", *refs[1:])
    assert res.exit_code == 130, res.output
    assert items_of(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bank.db"]


def test_signature_enroll_names_the_scan_whose_embedding_holds_nan(setup, tmp_path, monkeypatch):
    """A NaN was refused by its row among the scans given, "(rows 1)", where ``siamkit enroll``
    names the file (final35 "NaN wording"): the scan's file is named, nothing is enrolled."""
    model, _, scans = setup
    refs = sorted(scans.glob("*.png"))
    assert len(refs) == 3
    real = SignatureBank._embed

    def embed(self, batch):  # the second scan's embedding is NaN
        z = real(self, batch).clone()
        z[1] = float("nan")
        return z

    monkeypatch.setattr(SignatureBank, "_embed", embed)
    db = tmp_path / "bank.db"
    res = enroll(db, model, "0042", *refs)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines()[-1] == (  # after any progress lines
        "Error: 1 of the 3 embeddings the model made of the images hold NaN or infinite values "
        f"({str(refs[1])!r}), which no search can rank; nothing was enrolled"
    )
    assert not db.exists()
