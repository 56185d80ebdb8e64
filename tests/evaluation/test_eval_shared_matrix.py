"""A learned pair head scores the N x N pairs of one evaluation once: verification, retrieval, the
calibrated threshold's rates and the report's k-NN and failure cases share them, with the values
each computes alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import siamkit
from siamkit.cli.main import cli
from siamkit.distances import MLPMetric
from siamkit.evaluation import (
    _common,
    evaluate_embeddings,
    retrieval_metrics,
    shared_distance_matrices,
    verification_from_embeddings,
)
from siamkit.evaluation.failures import failure_pairs
from siamkit.experiment import run_experiment
from siamkit.export import save_model
from siamkit.models import Preprocess, SiameseNetwork
from siamkit.training import apply_overrides, load_config


@pytest.fixture()
def matrix_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """``(rows, columns)`` of every ``MLPMetric.matrix`` call, in order."""
    calls: list[tuple[int, int]] = []
    matrix = MLPMetric.matrix

    def counting(
        self: MLPMetric, x: torch.Tensor, y: torch.Tensor, chunk: int = 1024
    ) -> torch.Tensor:
        calls.append((x.shape[0], y.shape[0]))
        return matrix(self, x, y, chunk)

    monkeypatch.setattr(MLPMetric, "matrix", counting)
    return calls


def _head(dim: int = 8) -> MLPMetric:
    torch.manual_seed(1)
    return MLPMetric(dim, hidden=16).eval()


def test_evaluate_embeddings_scores_the_pairs_once(clusters, matrix_calls) -> None:
    z, y = clusters
    z = z.float()
    head = _head(z.shape[1])
    rep = evaluate_embeddings(z, y, head, few_shot=((4, 1),), episodes=20)
    n = len(y)
    assert matrix_calls.count((n, n)) == 1  # verification and retrieval: one matrix
    alone = (verification_from_embeddings(z, y, head), retrieval_metrics(z, y, head))
    assert rep.verification is not None and rep.retrieval is not None
    assert rep.verification.to_dict() == alone[0].to_dict()
    assert rep.retrieval.to_dict() == alone[1].to_dict()


def test_cli_evaluate_with_report_scores_the_pairs_once(tmp_path: Path, matrix_calls) -> None:
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4, 8])
    net = SiameseNetwork(enc, 8, distance=_head(), preprocess=Preprocess((0.3,), (0.4,), (1, 8, 8)))
    save_model(net.eval(), tmp_path / "model", threshold=0.5)
    args = ["evaluate", str(tmp_path / "model"), "--data", "digits", "--episodes", "5"]
    res = CliRunner().invoke(
        cli, [*args, "--shots", "1", "--json", "--report", str(tmp_path / "r.html")]
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads(res.stdout)
    n = metrics["data"]["n_items"]
    assert "calibration" in metrics and (tmp_path / "r.html").is_file()
    # verification, retrieval, the threshold's TAR/FAR, the report's k-NN and failure cases
    assert matrix_calls.count((n, n)) == 1


def test_kept_blocks_equal_fresh_ones_in_both_layouts_and_follow_changes(
    clusters, matrix_calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With several blocks, the upper-triangle and the all-rows layouts round differently in the
    last bit, so each is kept on its own and each use gets the values it computes alone."""
    z, y = clusters
    z = z.float().clone()
    head = _head(z.shape[1])
    monkeypatch.setattr(_common, "BLOCK_ELEMENTS", 60 * len(y))  # blocks of 60 rows
    fresh = (
        verification_from_embeddings(z, y, head).to_dict(),
        retrieval_metrics(z, y, head).to_dict(),
        failure_pairs(z, y, head),
    )
    matrix_calls.clear()
    with shared_distance_matrices():
        for _ in range(2):
            assert verification_from_embeddings(z, y, head).to_dict() == fresh[0]
            assert retrieval_metrics(z, y, head).to_dict() == fresh[1]
            assert failure_pairs(z, y, head) == fresh[2]
        assert len(matrix_calls) == 8  # 4 blocks of each layout, once
        z.mul_(2.0)  # changed embeddings are scored afresh
        retrieval_metrics(z, y, head)
        assert len(matrix_calls) == 12


def test_a_training_run_scores_the_test_pairs_once(tmp_path: Path, matrix_calls) -> None:
    root = Path(__file__).resolve().parents[2]
    cfg = apply_overrides(
        load_config(root / "configs" / "digits-tiny.yaml"),
        ["train.epochs=1", "train.steps_per_epoch=2", "eval.episodes=5", "eval.shots=[1]",
         "loss.kind=bce", "model.distance=mlp", "loss.mining=null"],
    )  # fmt: skip
    result = run_experiment(cfg, tmp_path, progress=False, log=lambda _: None)
    n = result.evaluation.n_items
    assert result.calibration is not None and (tmp_path / "report.html").is_file()
    assert matrix_calls.count((n, n)) == 1


@pytest.mark.parametrize("name", ["euclidean", "cosine"])
def test_a_named_distance_of_wide_embeddings_is_computed_once_per_layout(
    make_clusters, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """From KEEP_NAMED_DIM dimensions on (the SSL taps' embedding is 4,544 wide) even a named
    distance is kept: the evaluation and the report's k-NN and failure cases compute each layout
    once, with the values each computes alone. Narrower embeddings' blocks are computed afresh."""
    from siamkit.distances import FixedDistance, get_distance

    calls: list[tuple[int, int]] = []
    matrix = FixedDistance.matrix

    def counting(self: FixedDistance, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        calls.append((x.shape[0], y.shape[0]))
        return matrix(self, x, y)

    monkeypatch.setattr(FixedDistance, "matrix", counting)
    monkeypatch.setattr(_common, "BLOCK_ELEMENTS", 60 * 200)  # blocks of 60 rows: 4 a layout
    dist = get_distance(name)
    # kept: each layout's 4 blocks once; else verification, retrieval, k-NN and failures each
    # compute their layout's 4 blocks, in both rounds, but for the verification's second: its
    # genuine and impostor distances of all pairs are kept whatever the distance (rates_at's)
    for dim, blocks in (
        (_common.KEEP_NAMED_DIM, 2 * 4),
        (_common.KEEP_NAMED_DIM - 1, 2 * 4 * 4 - 4),
    ):
        z, y = make_clusters(n_classes=4, per_class=50, dim=dim)
        z = z.float()
        fresh = _everything(z, y, dist)
        calls.clear()
        with shared_distance_matrices():
            assert _everything(z, y, dist) == fresh
            assert _everything(z, y, dist) == fresh
        rows = [c for c in calls if c[1] in (200, 200 - 60, 200 - 120, 200 - 180)]
        assert len(rows) == blocks


def _everything(z: torch.Tensor, y: object, dist: object) -> tuple[object, ...]:
    """The evaluation's metrics and the report's k-NN / prototype figures and failure cases."""
    from siamkit.evaluation.per_class import per_class_report

    rep = evaluate_embeddings(z, y, dist, few_shot=((4, 1),), episodes=20)
    return rep.to_dict(), per_class_report(z, y, dist).to_dict(), failure_pairs(z, y, dist)
