"""`siamkit calibrate` on a half-twin text model refitted only its threshold for a query (query
tower) against a document (document tower), and left the threshold for two documents (both by
the document tower) that `text dedup --threshold auto` uses as the training run had fit it: after
recalibrating, the two disagreed. It now refits both on the same pairs, in one write, and says
so; a model of one tower is calibrated as before. dedup's --threshold help says what a
half-twin's auto is."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from siamkit.cli.main import cli

STALE = 0.02  # a document threshold the weights never had: what a former calibration left


def _pairs_csv(path: Path, graded: list[tuple[str, str, float]]) -> list[tuple[str, str, int]]:
    pairs = [(a, b, int(s > 2.5)) for a, b, s in graded]
    path.write_text("a,b,label\n" + "".join(f"{a},{b},{y}\n" for a, b, y in pairs))
    return pairs


def _with_stale_document_threshold(model: Path) -> Path:
    cfg = json.loads((model / "siamkit.json").read_text())
    cfg["threshold"] = 0.3
    cfg["model"]["document_threshold"] = STALE
    (model / "siamkit.json").write_text(json.dumps(cfg))
    return model


def _distances(model: object, pairs: list[tuple[str, str, int]], role_a: str) -> np.ndarray:
    with torch.inference_mode():
        za = model.embed([a for a, _, _ in pairs], role=role_a).numpy()  # type: ignore[attr-defined]
        zb = model.embed([b for _, b, _ in pairs], role="document").numpy()  # type: ignore[attr-defined]
    return 1 - (za * zb).sum(1)


def _best_balanced(d: np.ndarray, y: np.ndarray, t: float) -> None:
    """``t`` reaches the best balanced accuracy of a naive sweep over every distance."""

    def balanced(s: float) -> float:
        return 0.5 * (np.mean(d[y == 1] <= s) + np.mean(d[y == 0] > s))

    assert balanced(t) == pytest.approx(max(balanced(s) for s in d))


def _calibrate(model: Path, data: Path, *args: str):
    res = CliRunner().invoke(cli, ["calibrate", str(model), "--data", str(data), *args])
    assert res.exit_code == 0, res.output
    return res


def test_a_half_twin_is_refitted_for_two_documents_too_on_the_same_pairs(
    half_twin: Path, tmp_path: Path, graded_pairs
) -> None:
    from siamkit.applications.text import load_text_model
    from siamkit.applications.text.duplicates import DOCUMENT_CALIBRATED, dedup_thresholds

    model = _with_stale_document_threshold(half_twin)
    pairs = _pairs_csv(tmp_path / "val.csv", graded_pairs)
    res = _calibrate(model, tmp_path / "val.csv", "--target", "accuracy", "--json")
    info = json.loads(res.stdout)
    m = load_text_model(model)
    assert m.threshold is not None and m.document_threshold is not None
    y = np.array([p[2] for p in pairs])
    # the query-document threshold as before: a by the query tower, b by the document tower
    _best_balanced(_distances(m, pairs, "query"), y, m.threshold)
    # the threshold for two documents: both sides by the document tower, the same pairs (it
    # stayed the stale one)
    dd = _distances(m, pairs, "document")
    _best_balanced(dd, y, m.document_threshold)
    assert m.document_threshold != pytest.approx(STALE)
    assert m.threshold == pytest.approx(info["threshold"])
    assert m.document_threshold == pytest.approx(info["document_threshold"])
    assert info["document_tar"] == pytest.approx(np.mean(dd[y == 1] <= m.document_threshold))
    assert info["document_far"] == pytest.approx(np.mean(dd[y == 0] <= m.document_threshold))
    assert abs(m.document_threshold - m.threshold) > 1e-4  # the test tells them apart
    # recorded with how it was fit, and dedup's auto is the new one
    saved = json.loads((model / "siamkit.json").read_text())
    assert saved["metadata"]["calibration"]["document_threshold"] == info["document_threshold"]
    chosen = dedup_thresholds(m, "auto", "documents")
    assert chosen.document_distance == pytest.approx(m.document_threshold)
    assert chosen.document_source == DOCUMENT_CALIBRATED


def test_a_half_twins_output_states_both_thresholds(
    half_twin: Path, tmp_path: Path, graded_pairs
) -> None:
    from siamkit.applications.text import load_text_model

    model = _with_stale_document_threshold(half_twin)
    _pairs_csv(tmp_path / "val.csv", graded_pairs)
    out = _calibrate(model, tmp_path / "val.csv").stdout
    m = load_text_model(model)
    assert m.threshold is not None and m.document_threshold is not None
    said = " ".join(out.split())
    assert (
        f"threshold {m.threshold:.4f} (eer; similarity >= {1 - m.threshold:.4f} is the same) "
        "for a query (query tower) against a document (document tower): TAR"
    ) in said
    assert (
        f"document threshold {m.document_threshold:.4f} (eer; similarity >= "
        f"{1 - m.document_threshold:.4f}) for two documents, both by the document tower, as "
        "text dedup --threshold auto compares them: TAR"
    ) in said
    assert said.endswith(f"on the same pairs; both saved in {model}/siamkit.json")


def test_a_model_of_one_tower_gets_no_document_threshold(
    tiny_hf: Path, tmp_path: Path, graded_pairs
) -> None:
    from siamkit.applications.text import load_text_model

    _pairs_csv(tmp_path / "val.csv", graded_pairs)
    out = tmp_path / "shared"
    res = _calibrate(tiny_hf, tmp_path / "val.csv", "--out", str(out), "--json")
    assert "document_threshold" not in json.loads(res.stdout)
    m = load_text_model(out)
    assert m.share_weights and m.threshold is not None and m.document_threshold is None
    assert "document_threshold" not in json.loads((out / "siamkit.json").read_text())["model"]
    said = _calibrate(out, tmp_path / "val.csv").stdout
    assert said.startswith(f"threshold {load_text_model(out).threshold:.4f} (eer; similarity")
    assert "document" not in said
    assert "document_threshold" not in json.loads((out / "siamkit.json").read_text())["model"]


def test_dedup_threshold_help_says_what_a_half_twins_auto_is() -> None:
    res = CliRunner().invoke(cli, ["text", "dedup", "--help"])
    assert res.exit_code == 0, res.output
    said = re.sub(r"(\w)- (\w)", r"\1-\2", " ".join(res.output.split()))
    assert (
        "A half-twin (towers of its own) embeds every text with its document tower, so its "
        "'auto' is its threshold for two documents, which its training run and siamkit "
        "calibrate fit, not its threshold for a query against a document; a half-twin that has "
        "only the latter is refused 'auto': give a number."
    ) in said
