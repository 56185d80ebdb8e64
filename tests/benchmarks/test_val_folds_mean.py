"""benchmarks/val_folds.py's run_folds: after the last fold it prints each row's mean over the
folds run (stop 60 computed round 14's mean EER by hand from the fold lines)."""

from __future__ import annotations

import argparse

import pytest
from _bench_scripts import load_script


@pytest.fixture(scope="module")
def folds():
    return load_script("val_folds")


# the figures of two rows on three folds; the means below are worked out by hand
ROWS = {
    (2, 5): {"T": {"val_eer": 0.056, "spread": 0.09}, "c": {"val_eer": 0.058, "spread": 0.08}},
    (0, 3): {"T": {"val_eer": 0.333, "spread": 0.07}, "c": {"val_eer": 0.3376, "spread": 0.067}},
    (1, 4): {"T": {"val_eer": 0.167, "spread": 0.05}, "c": {"val_eer": 0.1622, "spread": 0.069}},
}


def _run_fold(args: argparse.Namespace, fold: list[int]) -> dict:
    return {"fold": fold, "rows": ROWS[(fold[0], fold[1])], "seconds": 1, "history": []}


def test_run_folds_prints_each_rows_mean_over_the_folds_run(folds, capsys) -> None:
    args = argparse.Namespace(name="c", folds="2,5;0,3;1,4", json=None, sets=[])
    folds.run_folds(argparse.ArgumentParser(), args, _run_fold)
    lines = capsys.readouterr().out.splitlines()
    means = [line for line in lines if "| mean over" in line]
    assert means == [
        "T | mean over 3 folds [2,5] [0,3] [1,4] | val_eer 0.1853, spread 0.0700",
        "c | mean over 3 folds [2,5] [0,3] [1,4] | val_eer 0.1859, spread 0.0720",
    ]  # (0.056 + 0.333 + 0.167) / 3 = 0.18533; (0.058 + 0.3376 + 0.1622) / 3 = 0.18593
    assert lines[-2:] == means  # after the last fold's lines


def test_the_mean_is_over_the_folds_run_and_the_rows_every_fold_has(folds, capsys) -> None:
    args = argparse.Namespace(name="c", folds="0,3", json=None, sets=[])
    folds.run_folds(argparse.ArgumentParser(), args, _run_fold)
    assert capsys.readouterr().out.splitlines()[-1] == (
        "c | mean over 1 fold [0,3] | val_eer 0.3376, spread 0.0670"
    )
    one_row = [{"T": {"val_eer": 0.1, "x": 1.0}, "c": {"val_eer": 0.3}}, {"T": {"val_eer": 0.2}}]
    assert folds.mean_rows(one_row) == {"T": {"val_eer": pytest.approx(0.15)}}
    assert folds.mean_rows([]) == {}
