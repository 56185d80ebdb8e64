"""A self-supervised run on one class of a labelled data set (data.train_classes: [0]) showed
'kNN@5 1.0000' every epoch, whatever the embedding: a leave-one-out vote among images of one
class is always right (here beside a collapse std of 0.07). Its held-out images now serve the
collapse check alone, and the run says there is no kNN accuracy, as for an image folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from sklearn.neighbors import KNeighborsClassifier

from siamkit import load_model
from siamkit.applications.ssl.config import SSLDataConfig
from siamkit.applications.ssl.data import load_ssl_data
from siamkit.applications.ssl.task import run
from siamkit.training.tasks import TaskOptions

DOC = {
    "method": "simclr",
    "data": {"dataset": "digits", "train_classes": [0]},
    "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8, 16]}, "embedding_dim": 16},
    "ssl": {"proj_dim": 16, "proj_hidden": 32},
    "train": {"epochs": 1, "batch_size": 16, "steps_per_epoch": 2, "knn_k": 5, "device": "cpu"},
}


def test_a_one_class_run_shows_no_knn_and_checks_collapse_on_its_held_out_images(
    tmp_path: Path,
) -> None:
    data = load_ssl_data(SSLDataConfig(dataset="digits", train_classes=(0,)))
    assert data.val_x is not None and data.val_y is None
    # why: scikit-learn's leave-one-out kNN among one class is 1.0 for any embedding at all
    z = torch.randn(len(data.val_x), 4, generator=torch.Generator().manual_seed(0)).numpy()
    ones = np.zeros(len(z), dtype=int)
    hits = [
        KNeighborsClassifier(5, metric="cosine")
        .fit(np.delete(z, i, 0), np.delete(ones, i))
        .predict(z[i : i + 1])[0]
        == 0
        for i in range(len(z))
    ]
    assert all(hits)
    lines: list[str] = []
    summary = run(DOC, tmp_path / "o", TaskOptions(progress=False, log=lines.append))
    n = len(data.val_x)
    assert lines[0].endswith(
        f"(labels unused; one class, so no kNN accuracy) on cpu; {n} more images of them held "
        "out for the collapse check"
    )
    assert all("kNN" not in line for line in lines[1:])
    history = json.loads((tmp_path / "o" / "history.json").read_text())
    assert [h["knn"] for h in history] == [None, None]
    assert json.loads((tmp_path / "o" / "metrics.json").read_text())["knn"] is None
    # the collapse figure: the held-out images' per-dimension std (NumPy, ddof 1) x sqrt(D),
    # of the embedding the model was saved with after the last epoch
    net = load_model(summary.model_dir).eval()  # type: ignore[arg-type]
    with torch.no_grad():
        e = net.embed(data.val_x.float() / 255.0 if data.val_x.dtype == torch.uint8 else data.val_x)
    e64 = e.double().numpy()
    e64 /= np.linalg.norm(e64, axis=1, keepdims=True)
    expected = e64.std(axis=0, ddof=1).mean() * np.sqrt(e64.shape[1])
    assert abs(history[-1]["collapse_std"] - expected) < 1e-5
