"""``siamkit text dedup --threshold auto`` with a half-twin: dedup embeds both texts of a pair
with the document tower, but ``auto`` applied the threshold calibrated on query-document pairs,
whose scores lie elsewhere, so the groups were wrong without a word. A half-twin's training run
now also calibrates a threshold for two documents (both by the document tower) and saves it;
``auto`` uses it, and a half-twin saved without one is refused ``auto`` in one sentence. A model
of one tower is grouped as before. ``text plagiarism`` scores a query (the suspect's sentence)
against a document (a source's), the pairs its threshold was calibrated on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.training.tasks import TaskOptions, get_task

TEXTS = [
    "The printer on floor two is out of toner. It jams on every page.",
    "Printer toner is empty again. The paper jams daily on floor two.",
    "I cannot connect to the VPN from home. The client says the certificate expired.",
    "The VPN rejects my login from home. It says my certificate is no longer valid.",
]
TICKETS = [
    ("My laptop will not charge", "Laptop battery stays at 0% when plugged in", 1),
    ("My laptop will not charge", "Printer in room 4 is out of toner", 0),
    ("Cannot log in to the VPN", "VPN login fails when working remotely", 1),
    ("Cannot log in to the VPN", "Monitor flickers after the update", 0),
    ("Outlook keeps asking for my password", "Repeated password prompt in Outlook", 1),
    ("Outlook keeps asking for my password", "Wi-Fi drops every few minutes", 0),
    ("Need access to the finance share", "Grant me permissions on the finance folder", 1),
    ("Need access to the finance share", "Keyboard keys are stuck", 0),
]
VAL = [
    ("Zoom installer fails with error 1603", "Cannot install Zoom", 1),
    ("Zoom installer fails with error 1603", "Slow computer at startup", 0),
    ("Phone does not sync the calendar", "Mobile calendar sync broken", 1),
    ("Phone does not sync the calendar", "SAP password reset", 0),
    ("The projector shows no picture", "Projector in room 2 stays black", 1),
    ("The projector shows no picture", "Need a new mouse", 0),
]
QUERY_DOCUMENT = "the model's calibrated threshold"  # siamkit.index.embedding.CALIBRATED


def _csv(path: Path, rows: list[tuple[str, str, int]]) -> Path:
    path.write_text("a,b,label\n" + "".join(f"{a},{b},{y}\n" for a, b, y in rows))
    return path


def _train(tiny_hf: Path, tmp_path: Path, share_weights: bool, **data: Any) -> Any:
    cfg = {
        "model": {"path": str(tiny_hf), "max_length": 32, "overlap": 8,
                  "share_weights": share_weights},
        "data": {"train": str(_csv(tmp_path / "train.csv", TICKETS)),
                 "val": str(_csv(tmp_path / "val.csv", VAL)), "score_range": None, **data},
        "loss": {"name": "contrastive"},
        "train": {"epochs": 2, "batch_size": 4, "lr": 1e-3, "warmup": 0.0},
    }  # fmt: skip
    return get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))


def _eer(model: Any, role_a: str, role_b: str) -> float:
    from siamkit.evaluation.roc import eer

    with torch.inference_mode():
        za = model.embed([a for a, _, _ in VAL], role=role_a).numpy()
        zb = model.embed([b for _, b, _ in VAL], role=role_b).numpy()
    d = 1 - (za * zb).sum(1)
    y = np.array([p[2] for p in VAL])
    return float(eer(d[y == 1], d[y == 0]).threshold)


def test_a_half_twin_run_calibrates_and_saves_a_threshold_for_two_documents(
    tiny_hf: Path, tmp_path: Path
) -> None:
    from siamkit.applications.text import load_text_model
    from siamkit.applications.text.duplicates import DOCUMENT_CALIBRATED, find_duplicates

    summary = _train(tiny_hf, tmp_path, share_weights=False)
    m = load_text_model(summary.model_dir)
    assert not m.share_weights and m.threshold is not None
    # the equal-error point of the validation pairs, each side by the document tower
    assert m.document_threshold == pytest.approx(_eer(m, "document", "document"), abs=1e-6)
    assert m.threshold == pytest.approx(_eer(m, "query", "document"), abs=1e-6)
    assert abs(m.document_threshold - m.threshold) > 1e-4  # the test tells them apart
    metrics = summary.metrics
    assert metrics["verification.document_min_similarity"] == pytest.approx(
        1 - m.document_threshold
    )
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == metrics
    # dedup's auto is that threshold, for whole texts and for two one-sentence texts
    found = find_duplicates(TEXTS, m, "auto")
    assert found.threshold == pytest.approx(1 - m.document_threshold)
    assert found.threshold_source == DOCUMENT_CALIBRATED
    by_passages = find_duplicates(TEXTS, m, "auto", by="passages")
    assert by_passages.threshold_one_sentence == pytest.approx(1 - m.document_threshold)
    assert by_passages.one_sentence_source == DOCUMENT_CALIBRATED


def test_a_run_of_one_tower_saves_no_second_threshold(tiny_hf: Path, tmp_path: Path) -> None:
    from siamkit.applications.text import load_text_model

    summary = _train(tiny_hf, tmp_path, share_weights=True)
    cfg = json.loads((summary.model_dir / "siamkit.json").read_text())
    assert "document_threshold" not in cfg["model"]
    assert load_text_model(summary.model_dir).document_threshold is None
    assert "verification.min_similarity" in summary.metrics
    assert not any("document" in key for key in summary.metrics)


def _saved(tiny_hf: Path, folder: Path, share_weights: bool, **thresholds: float) -> Path:
    """A tiny text model (a half-twin: its document tower moved off its query tower) saved
    with ``thresholds`` (``threshold``, ``document_threshold``: cosine distances)."""
    from siamkit.applications.text.model import TextSiameseNetwork
    from siamkit.export.bundle import save_model

    net = TextSiameseNetwork.pretrained(
        tiny_hf, share_weights=share_weights, max_length=32, overlap=8
    )
    if net.doc_encoder is not None:
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for p in net.doc_encoder.parameters():
                p.add_(0.05 * torch.randn(p.shape, generator=g))
    net.document_threshold = thresholds.get("document_threshold")
    return save_model(net, folder, threshold=thresholds.get("threshold"))


def _dedup(model: Path, tmp_path: Path, *args: str) -> Any:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join(json.dumps({"id": f"t{i}", "text": t}) + "\n" for i, t in enumerate(TEXTS))
    )
    out = tmp_path / "groups.jsonl"
    return CliRunner().invoke(
        cli, ["text", "dedup", str(corpus), "--out", str(out), "--model", str(model),
              "--device", "cpu", *args],
    )  # fmt: skip


@pytest.mark.parametrize("by", ["documents", "passages"])
def test_auto_for_a_half_twin_saved_with_only_a_query_document_threshold_is_refused(
    tiny_hf: Path, tmp_path: Path, by: str
) -> None:
    from siamkit.applications.text import load_text_model
    from siamkit.applications.text.duplicates import find_duplicates

    model = _saved(tiny_hf, tmp_path / "model", share_weights=False, threshold=0.3)
    res = _dedup(model, tmp_path, "--threshold", "auto", "--by", by)
    assert res.exit_code == 1, res.output
    assert res.output == (
        "Error: this half-twin's calibrated threshold is for a query against a document, and "
        "dedup compares documents with documents (the document tower on both sides), whose "
        "similarities lie elsewhere: pass --threshold SIMILARITY (a cosine similarity checked on "
        "your own duplicates), or calibrate the model on 0/1 labelled validation pairs with "
        "siamkit calibrate MODEL --data pairs.csv (or fine-tune it again with siamkit train on "
        "them), which calibrates a threshold for two documents too\n"
    )
    assert not (tmp_path / "groups.jsonl").exists()  # nothing half-written
    with pytest.raises(ValueError, match=r"calibrated threshold is for a query against a doc"):
        find_duplicates(TEXTS, load_text_model(model), "auto", by=by)
    # a number of the user's own is used as given
    res = _dedup(model, tmp_path, "--threshold", "0.5", "--by", by, "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert (summary["threshold"], summary["threshold_source"]) == (0.5, "given")


def test_the_calibrate_run_the_refusal_names_lets_auto_group_the_half_twin(
    tiny_hf: Path, tmp_path: Path
) -> None:
    """The refusal's `siamkit calibrate MODEL --data pairs.csv` (since de73e69 it refits the
    threshold for two documents as well) is a fix: auto is then that threshold."""
    from siamkit.applications.text.duplicates import DOCUMENT_CALIBRATED

    model = _saved(tiny_hf, tmp_path / "model", share_weights=False, threshold=0.3)
    assert _dedup(model, tmp_path, "--by", "documents").exit_code == 1
    pairs = _csv(tmp_path / "pairs.csv", VAL)
    res = CliRunner().invoke(cli, ["calibrate", str(model), "--data", str(pairs)])
    assert res.exit_code == 0, res.output
    res = _dedup(model, tmp_path, "--threshold", "auto", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["threshold_source"] == DOCUMENT_CALIBRATED


def test_cli_auto_for_a_half_twin_uses_its_threshold_for_two_documents(
    tiny_hf: Path, tmp_path: Path
) -> None:
    from siamkit.applications.text.duplicates import DOCUMENT_CALIBRATED

    model = _saved(
        tiny_hf, tmp_path / "model", share_weights=False, threshold=0.3, document_threshold=0.02
    )
    res = _dedup(model, tmp_path, "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["threshold"] == pytest.approx(0.98)
    assert summary["threshold_source"] == DOCUMENT_CALIBRATED
    res = _dedup(model, tmp_path)
    assert f"similarity >= 0.9800 ({DOCUMENT_CALIBRATED})" in res.output


def test_a_half_twin_without_any_calibrated_threshold_keeps_the_default(
    tiny_hf: Path, tmp_path: Path
) -> None:
    model = _saved(tiny_hf, tmp_path / "model", share_weights=False)
    res = _dedup(model, tmp_path, "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["threshold"] == pytest.approx(0.88)
    assert summary["threshold_source"].startswith("all-MiniLM-L6-v2's document default")


@pytest.mark.parametrize("by", ["documents", "passages"])
def test_a_model_of_one_tower_is_grouped_at_its_calibrated_threshold_as_before(
    tiny_hf: Path, tmp_path: Path, by: str
) -> None:
    from siamkit.applications.text import load_text_model
    from siamkit.applications.text.duplicates import dedup_thresholds

    model = _saved(tiny_hf, tmp_path / "model", share_weights=True, threshold=0.02)
    assert "document_threshold" not in json.loads((model / "siamkit.json").read_text())["model"]
    chosen = dedup_thresholds(load_text_model(model), "auto", by)
    assert (chosen.document_distance, chosen.document_source) == (0.02, QUERY_DOCUMENT)
    res = _dedup(model, tmp_path, "--by", by, "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    one = summary["min_similarity_one_sentence"] if by == "passages" else summary["threshold"]
    assert one == pytest.approx(0.98)
    source = summary["one_sentence_source"] if by == "passages" else summary["threshold_source"]
    assert source == QUERY_DOCUMENT
    auto = (tmp_path / "groups.jsonl").read_text()
    given = str(1 - 0.02) if by == "documents" else str(summary["threshold"])
    res = _dedup(model, tmp_path, "--by", by, "--threshold", given)
    assert res.exit_code == 0, res.output
    if by == "documents":  # the same groups as at that threshold given
        assert (tmp_path / "groups.jsonl").read_text() == auto


def test_fine_tuning_a_half_twin_drops_its_threshold_for_two_documents(
    tiny_hf: Path, tmp_path: Path, graded_pairs: list[tuple[str, str, float]]
) -> None:
    from siamkit.applications.text import load_text_model

    start = _saved(
        tiny_hf, tmp_path / "start", share_weights=False, threshold=0.3, document_threshold=0.02
    )
    data = tmp_path / "graded.csv"
    data.write_text("a,b,label\n" + "".join(f"{a},{b},{s}\n" for a, b, s in graded_pairs))
    cfg = {
        "model": {"path": str(start), "max_length": 32, "overlap": 8, "share_weights": False},
        "data": {"train": str(data), "score_range": [0, 5], "val_fraction": 0},
        "loss": {"name": "cosent"},
        "train": {"epochs": 1, "batch_size": 6, "lr": 1e-3, "warmup": 0.0},
    }
    summary = get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False, log=print))
    m = load_text_model(summary.model_dir)
    assert (m.threshold, m.document_threshold) == (None, None)  # the start model's weights'


def test_joining_a_lexical_tower_recalibrates_or_drops_it(tiny_hf: Path, tmp_path: Path) -> None:
    from siamkit.applications.text import load_text_model

    start = _saved(
        tiny_hf, tmp_path / "start", share_weights=False, threshold=0.3, document_threshold=0.02
    )
    corpus = tmp_path / "background.txt"
    corpus.write_text("\n".join(t for a, b, _ in TICKETS + VAL for t in (a, b)) + "\n")
    args = ["text", "lexical", "--corpus", str(corpus), "--model", str(start), "--components", "4"]
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "plain")])
    assert res.exit_code == 0, res.output
    assert load_text_model(tmp_path / "plain").document_threshold is None
    val = _csv(tmp_path / "val.csv", VAL)
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "cal"), "--calibrate", str(val)])
    assert res.exit_code == 0, res.output
    m = load_text_model(tmp_path / "cal")
    assert m.lexical is not None and m.threshold is not None
    assert m.document_threshold == pytest.approx(_eer(m, "document", "document"), abs=1e-6)


def test_plagiarism_scores_query_against_document_as_its_threshold_was_calibrated(
    tiny_hf: Path, tmp_path: Path
) -> None:
    # the suspect's sentences by the query tower, the sources' by the document tower: the
    # pairs a half-twin's threshold is calibrated on, so auto applies that threshold to them
    from siamkit.applications.text import load_text_model
    from siamkit.applications.text.documents import Document
    from siamkit.applications.text.plagiarism import find_plagiarism

    model = _saved(
        tiny_hf, tmp_path / "model", share_weights=False, threshold=0.3, document_threshold=0.02
    )
    m = load_text_model(model)
    suspect, source = "The printer on floor two is out of toner.", TEXTS[1]
    report = find_plagiarism(m, Document("s", suspect), [Document("src", source)], -1.0)
    with torch.inference_mode():
        q = m.embed([suspect]).numpy()
        d = m.embed(["Printer toner is empty again.", "The paper jams daily on floor two."],
                    role="document").numpy()  # fmt: skip
        one = m.embed([suspect, "Printer toner is empty again.",
                       "The paper jams daily on floor two."], role="document").numpy()  # fmt: skip
    [span] = report.spans
    assert span.similarity == pytest.approx(float((q @ d.T).max()), abs=1e-5)
    assert abs(span.similarity - float((one[0] @ one[1:].T).max())) > 1e-3  # towers differ
    (tmp_path / "essay.txt").write_text(suspect)
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "src.txt").write_text(source)
    res = CliRunner().invoke(
        cli, ["text", "plagiarism", str(tmp_path / "essay.txt"), "--corpus",
              str(tmp_path / "sources"), "--model", str(model), "--device", "cpu", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["min_similarity"], out["threshold_source"]) == (pytest.approx(0.7), QUERY_DOCUMENT)
