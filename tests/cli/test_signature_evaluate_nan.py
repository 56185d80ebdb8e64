"""``siamkit signature evaluate`` with a model whose embeddings hold NaN refused them at the
distances, naming neither scan nor writer: "genuine distances contain NaN or inf; check the
embeddings and the distance ..." (reviewer s57_r3, noticed), while every other command names
what it embedded. It now names the scans' files (a generated writer's signature by the writer,
genuine or forgery, and its number), in the sentence ``siamkit face evaluate`` gives, and
writes no report."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from siamkit import save_model
from siamkit.applications.signatures import build_signature_model
from siamkit.cli.main import cli
from siamkit.models import SiameseNetwork


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sigeval")
    synth = ["signature", "synth", str(root / "sigs"), "--writers", "2", "--genuine", "4"]
    res = CliRunner().invoke(cli, [*synth, "--forged", "2"])
    assert res.exit_code == 0, res.output
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_signature_model(
            (1, 40, 56), 16, {"widths": [4, 8, 8, 8], "fc": 16, "stem_stride": 1}
        )
    model.eval()
    save_model(model, root / "m", threshold=0.05, metadata={"signatures": {"reduce": "min"}})
    return root / "m", root / "sigs"


def _break_row(monkeypatch: pytest.MonkeyPatch, row: int) -> None:
    """The model's embedding of the batch's row ``row`` becomes NaN (the others stay sound; a
    batch too short to hold it, as the model's one-scan input check, is left alone)."""
    real = SiameseNetwork.embed

    def embed(self, x, *a, **kw):
        z = real(self, x, *a, **kw)
        if len(z) > row:
            z = z.clone()
            z[row] = float("nan")
        return z

    monkeypatch.setattr(SiameseNetwork, "embed", embed)


def test_signature_evaluate_names_the_scan_whose_embedding_is_nan(setup, tmp_path, monkeypatch):
    model, sigs = setup
    report = tmp_path / "r.html"
    args = ["signature", "evaluate", str(model), "--data", str(sigs), "--references", "2"]
    sound = CliRunner().invoke(cli, args)
    assert sound.exit_code == 0 and "skilled  EER" in sound.output, sound.output
    # rows: w0000's 4 genuine, its 2 forged, then w0001's: row 7 is w0001's second genuine
    _break_row(monkeypatch, 7)
    res = CliRunner().invoke(cli, [*args, "--report", str(report)])
    assert res.exit_code == 1, res.output
    named = repr(str(sigs / "w0001" / "genuine" / "002.png"))
    assert res.output.strip() == (
        "Error: 1 of the 12 embeddings the model made of the signatures hold NaN or infinite "
        f"values ({named}), which no evaluation can score"
    )
    assert not report.exists()


def test_signature_evaluate_names_a_generated_writers_signature(setup, monkeypatch):
    model, _ = setup
    _break_row(monkeypatch, 13)  # synthetic:2 makes 12 genuine then 12 forged a writer
    args = ["signature", "evaluate", str(model), "--data", "synthetic:2", "--references", "2"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines()[-1] == (
        "Error: 1 of the 48 embeddings the model made of the signatures hold NaN or infinite "
        "values (writer w0000's forgery 2), which no evaluation can score"
    )


def test_a_signature_sets_paths_follow_its_images_into_a_subset(setup):
    from siamkit.data.signature_set import load_signature_set

    _, sigs = setup
    data = load_signature_set(sigs, size=(40, 56))
    assert data.paths is not None and len(data.paths) == len(data.images) == 12
    assert data.paths[7] == str(sigs / "w0001" / "genuine" / "002.png")
    sub = data.subset([1])
    assert sub.paths == data.paths[6:] and len(sub.paths) == len(sub.images)
