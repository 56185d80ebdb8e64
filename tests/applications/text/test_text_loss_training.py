"""End-to-end fine-tuning of a tiny BERT with the AnglE, online contrastive and Matryoshka
losses: each run changes the weights and lowers its own objective on the training pairs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

import siamkit
from siamkit.applications.text import train_checks, train_loop, train_split
from siamkit.applications.text.model import TextSiameseNetwork
from siamkit.applications.text.pairs import read_examples
from siamkit.applications.text.train_config import parse_config
from siamkit.training.tasks import TaskOptions, get_task

QUERY = "encoder.transformer.encoder.layer.0.attention.self.query.weight"


def _config(tiny: Path, data: Path, loss: dict[str, Any], **data_keys: Any) -> dict[str, Any]:
    return {
        "model": {"path": str(tiny), "max_length": 32, "overlap": 8},
        "data": {"train": str(data), "val_fraction": 0, **data_keys},
        "loss": loss,
        "train": {"epochs": 6, "batch_size": 6, "lr": 1e-3, "warmup": 0.0},
    }


def _objective(model: TextSiameseNetwork, cfg: dict[str, Any], data: Path) -> float:
    parsed = parse_config(cfg)
    ex = read_examples(data, "pairs", score_range=train_split._range(parsed))
    model.eval()
    with torch.no_grad():
        return float(train_loop.batch_loss(model, parsed, ex))


def _train_and_compare(
    tiny: Path, cfg: dict[str, Any], data: Path, out: Path
) -> tuple[float, float, TextSiameseNetwork]:
    before = TextSiameseNetwork.pretrained(tiny, max_length=32, overlap=8)
    summary = get_task("text")(cfg, out, TaskOptions(progress=False, device="cpu"))
    after = siamkit.load_model(summary.model_dir)
    assert isinstance(after, TextSiameseNetwork)
    assert not torch.allclose(before.state_dict()[QUERY], after.state_dict()[QUERY])
    return _objective(before, cfg, data), _objective(after, cfg, data), after


@pytest.fixture
def labelled_csv(tmp_path: Path, graded_pairs: list[tuple[str, str, float]]) -> Path:
    """The fixture pairs labelled 1 (score above 3) or 0."""
    path = tmp_path / "labelled.csv"
    rows = "".join(f"{a},{b},{int(s > 3)}\n" for a, b, s in graded_pairs)
    path.write_text("a,b,label\n" + rows)
    return path


def test_angle_fine_tuning_lowers_its_objective(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path
) -> None:
    cfg = _config(tiny_hf, pairs_csv, {"name": "angle"}, score_range=[0, 5])
    start, end, _ = _train_and_compare(tiny_hf, cfg, pairs_csv, tmp_path / "run")
    assert end < 0.9 * start, (start, end)


def test_angle_on_pairs_of_one_score_is_refused_before_training(
    tiny_hf: Path, tmp_path: Path
) -> None:
    # as CoSENT, AnglE ranks pairs of different scores: with one score its loss is 0 throughout
    same = tmp_path / "same.csv"
    same.write_text("a,b,label\n" + "".join(f"text {i},other {i},4\n" for i in range(8)))
    cfg = _config(tiny_hf, same, {"name": "angle"}, score_range=[0, 5])
    with pytest.raises(ValueError, match=r"loss angle learns from pairs with different scores"):
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert not (tmp_path / "run").exists()


def test_online_contrastive_fine_tuning_lowers_its_objective(
    tiny_hf: Path, labelled_csv: Path, tmp_path: Path
) -> None:
    cfg = _config(tiny_hf, labelled_csv, {"name": "online_contrastive", "margin": 0.5})
    start, end, _ = _train_and_compare(tiny_hf, cfg, labelled_csv, tmp_path / "run")
    assert end < 0.9 * start, (start, end)


def test_online_contrastive_on_graded_scores_is_refused_before_training(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path
) -> None:
    # its positives and negatives are the pairs labelled 1 and 0: a graded pair is neither, and
    # would be left out of every batch without a word
    cfg = _config(tiny_hf, pairs_csv, {"name": "online_contrastive"}, score_range=[0, 5])
    with pytest.raises(ValueError, match=r"10 of the 12 training pairs have other scores"):
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("loss", ["contrastive", "online_contrastive"])
def test_contrastive_on_graded_scores_is_refused_before_training(
    tiny_hf: Path, tmp_path: Path, loss: str
) -> None:
    # pairs of 0/1 labels among graded ones: the contrastive losses read 0.3 as 30% "same"
    data = tmp_path / "graded.csv"
    data.write_text(
        "a,b,label\n"
        + "".join(f"text {i},other {i},{s}\n" for i, s in enumerate([0, 1, 0.3, 1, 0, 0.7]))
    )
    cfg = _config(tiny_hf, data, {"name": loss}, score_range=[0, 1])
    with pytest.raises(
        ValueError,
        match=rf"loss {loss} trains on pairs labelled 0 or 1, and 2 "
        r"of the 6 training pairs have other scores: .* cosent",
    ):
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("loss", ["contrastive", "online_contrastive"])
def test_contrastive_with_graded_validation_pairs_is_refused_before_anything_is_written(
    tiny_hf: Path, labelled_csv: Path, tmp_path: Path, loss: str
) -> None:
    # 0/1 training pairs passed the check, and graded validation pairs were scored by
    # correlation (no threshold) after training had written the run
    val = tmp_path / "val.csv"
    val.write_text(
        "a,b,label\n" + "".join(f"text {i},other {i},{s}\n" for i, s in enumerate([0, 1, 0.3, 0.7]))
    )
    cfg = _config(tiny_hf, labelled_csv, {"name": loss}, score_range=[0, 1], val=str(val))
    with pytest.raises(
        ValueError,
        match=rf"loss {loss} trains on pairs labelled 0 or 1, and 2 of the 4 validation pairs "
        rf"\(data\.val {val}\) have other scores: label them 0/1, or use loss cosent or angle",
    ):
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert not (tmp_path / "run").exists()


def test_contrastive_with_graded_pairs_in_the_validation_share_names_it(
    tiny_hf: Path, tmp_path: Path
) -> None:
    data = tmp_path / "graded.csv"
    data.write_text("a,b,label\n" + "".join(f"text {i},other {i},0.5\n" for i in range(20)))
    cfg = _config(tiny_hf, data, {"name": "contrastive"}, score_range=[0, 1], val_fraction=0.2)
    with pytest.raises(ValueError, match=r"4 of the 4 validation pairs \(data\.val_fraction 0\.2 "):
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("labels", [[0, 1, 1, 0], [False, True, True, False]])
def test_contrastive_takes_0_1_and_boolean_labels(tmp_path: Path, labels: list[object]) -> None:
    data = tmp_path / "labels.jsonl"
    rows = [{"a": f"text {i}", "b": f"other {i}", "label": v} for i, v in enumerate(labels)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for score_range in (None, [0, 1]):
        cfg = parse_config(
            _config(Path("unused"), data, {"name": "contrastive"}, score_range=score_range)
        )
        ex = read_examples(data, "pairs", score_range=train_split._range(cfg))
        train_checks._check_train(ex, cfg)  # no error


def test_matryoshka_fine_tuning_records_its_sizes_in_the_saved_model(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path
) -> None:
    loss = {"name": "matryoshka", "base": "cosent", "dims": [8, 32, 16], "weights": [1, 1, 2]}
    cfg = _config(tiny_hf, pairs_csv, loss, score_range=[0, 5])
    start, end, after = _train_and_compare(tiny_hf, cfg, pairs_csv, tmp_path / "run")
    assert end < 0.9 * start, (start, end)
    assert after.matryoshka_dims == [32, 16, 8]  # largest first
    assert after.config()["matryoshka_dims"] == [32, 16, 8]
    # fine-tuned again with another loss, the sizes are no longer claimed
    again = _config(after_dir := tmp_path / "run" / "model", pairs_csv, {"name": "cosent"})
    again["data"]["score_range"] = [0, 5]
    again["train"]["epochs"] = 1
    said: list[str] = []
    summary = get_task("text")(
        again, tmp_path / "again", TaskOptions(progress=False, device="cpu", log=said.append)
    )
    assert siamkit.load_model(summary.model_dir).matryoshka_dims is None
    assert any("[32, 16, 8]" in line and str(after_dir) in line for line in said), said


@pytest.mark.parametrize(
    ("loss", "match"),
    [
        ({"name": "matryoshka", "base": "mnrl", "dims": [64, 32]}, r"past the model's 32-dim"),
        ({"name": "cosent", "dims": [32, 16]}, r"loss\.dims belong to loss matryoshka"),
        ({"name": "matryoshka", "dims": [32, 16]}, r"loss\.base is one of cosent, angle"),
        (
            {"name": "matryoshka", "base": "cosent", "dims": [32, 16], "weights": [1]},
            r"one positive weight for each of loss\.dims \[32, 16\]",
        ),
    ],
)
def test_bad_matryoshka_settings_are_refused_before_training(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, loss: dict[str, Any], match: str
) -> None:
    fmt = "anchor_positive" if loss.get("base") == "mnrl" else "pairs"
    cfg = _config(tiny_hf, pairs_csv, loss, score_range=[0, 5], format=fmt)
    if fmt == "anchor_positive":
        data = tmp_path / "ap.csv"
        data.write_text("anchor,positive\nprinter toner,toner for the printer\nvpn,vpn down\n")
        cfg["data"] = {"train": str(data), "format": fmt, "val_fraction": 0}
    with pytest.raises(ValueError, match=match):
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert not (tmp_path / "run").exists()
