"""benchmarks/ssl_val.py's ``--finetune`` rows: ``bench_ssl.finetune``'s data loses its test split
(every class not trained on, 6-9 among them) as it is loaded, so no test image is held through a
fine-tune; it was kept in memory through each, never trained on or scored (stop 64)."""

from __future__ import annotations

import argparse
import importlib

import pytest
import torch
from _bench_scripts import load_script, spy_on_finetune, synthetic

from siamkit.training.data import RunData


@pytest.fixture(scope="module")
def sv():
    return load_script("ssl_val")


def test_the_finetune_rows_hold_no_test_image(sv, monkeypatch) -> None:
    bench = importlib.import_module("bench_ssl")  # the module finetune_rows imports it from
    data, shape, seen = spy_on_finetune(bench, monkeypatch)
    assert data.test_x.shape[0] == 12  # the loader reads 3 images of each of 6-9
    args = argparse.Namespace(finetune=["ref="], seed=0, wise=[])
    vx, vy = synthetic((4, 5), 20, 2)  # "held-out" images to score on
    rows = sv.finetune_rows(args, shape, [0, 1, 2, 3], vx, vy)
    assert set(rows) == {"finetune ref from ssl", "finetune ref from scratch"}
    assert len(seen) == 2  # from the SSL start and from scratch
    for _, d in seen:  # the data each fine-tune trained with held no test image
        assert d.test_x.shape[0] == 0 and d.test_y.numel() == 0
        assert torch.equal(d.train_x, data.train_x)  # only the test split was dropped
    # and nothing is patched past the rows
    assert bench.load_run_data(None) is data


def test_test_split_emptied_refuses_training_outside_0_5(sv) -> None:
    x, y = synthetic((4, 6), 2, 0)
    data = RunData(x, y, x[:0], y[:0], x, y, tuple("abcdefghij"), (4, 6), (0,))
    with pytest.raises(SystemExit, match="outside 0-5"):
        sv.test_split_emptied(data)
