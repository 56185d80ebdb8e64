"""A self-supervised run's kNN monitor votes among fewer neighbours than train.knn_k on a small
labelled folder (the epoch lines say kNN@3), but metrics.json kept only 'knn' and the report's
caption said 'kNN accuracy', so a figure read later looked like train.knn_k's (20). metrics.json
now records knn_k, the neighbours the figure voted among, and the report's caption names it."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml
from click.testing import CliRunner
from PIL import Image

from siamkit.applications.ssl.config import SSLDataConfig
from siamkit.applications.ssl.data import load_ssl_data
from siamkit.cli.main import cli
from siamkit.export.bundle import load_model


def _naive_knn(z: torch.Tensor, y: list[int], k: int) -> float:
    """Leave-one-out cosine kNN accuracy by loops (ties to the smallest label)."""
    z = torch.nn.functional.normalize(z.double(), dim=1)
    right = 0
    for i in range(len(y)):
        sims = sorted(((float(z[i] @ z[j]), j) for j in range(len(y)) if j != i), reverse=True)
        votes: dict[int, int] = {}
        for _, j in sims[:k]:
            votes[y[j]] = votes.get(y[j], 0) + 1
        best = max(votes.values())
        right += min(c for c, v in votes.items() if v == best) == y[i]
    return right / len(y)


def test_metrics_record_the_neighbours_the_knn_figure_voted_among(tmp_path: Path) -> None:
    photos, labeled = tmp_path / "photos", tmp_path / "labeled"
    photos.mkdir()
    for i in range(12):
        Image.new("RGB", (9, 8), (20 * i, 200 - 10 * i, 40)).save(photos / f"{i}.png")
    for c, colour in (("red", (220, 20, 20)), ("blue", (20, 20, 220)), ("grey", (90, 90, 90))):
        (labeled / c).mkdir(parents=True)
        for i in range(4):
            shade = tuple(max(0, v - 30 * i) for v in colour)
            Image.new("RGB", (8, 8), shade).save(labeled / c / f"{i}.png")
    doc = {
        "task": "ssl", "method": "simclr",
        "data": {"dataset": "image-folder", "root": str(photos), "image_size": 8,
                 "val_root": str(labeled)},
        "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8]}, "embedding_dim": 8},
        "ssl": {"proj_dim": 8, "proj_hidden": 16, "collapse_std": 0.0},
        "train": {"epochs": 1, "batch_size": 4, "steps_per_epoch": 1, "knn_k": 20,
                  "device": "cpu"},
    }  # fmt: skip
    cfg = tmp_path / "ssl.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "kNN@3 " in res.output  # 4 images a class: 3 others to vote among, not 20
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["knn_k"] == 3, metrics
    # the recorded figure is the saved model's leave-one-out vote among that many neighbours
    d = load_ssl_data(
        SSLDataConfig(dataset="image-folder", root=str(photos), image_size=8, val_root=str(labeled))
    )
    x, y = d.val_x, d.val_y
    assert x is not None and y is not None
    net = load_model(out / "model").eval()
    with torch.no_grad():
        z = net.embed(x.float() / 255.0)
    assert metrics["knn"] == _naive_knn(z, y.tolist(), 3)
    report = (out / "report.html").read_text()
    assert "leave-one-out kNN@3 accuracy on the labeled validation images" in report


def test_a_run_without_labelled_images_records_no_knn_k(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(8):
        Image.new("RGB", (8, 8), (30 * i, 100, 200 - 20 * i)).save(photos / f"{i}.png")
    doc = {
        "task": "ssl", "method": "simclr",
        "data": {"dataset": "image-folder", "root": str(photos), "image_size": 8},
        "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8]}, "embedding_dim": 8},
        "ssl": {"proj_dim": 8, "proj_hidden": 16, "collapse_std": 0.0},
        "train": {"epochs": 1, "batch_size": 4, "steps_per_epoch": 1, "device": "cpu"},
    }  # fmt: skip
    cfg = tmp_path / "ssl.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    res = CliRunner().invoke(
        cli, ["train", str(cfg), "--out", str(tmp_path / "o"), "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["knn"] is None and "knn_k" not in metrics
