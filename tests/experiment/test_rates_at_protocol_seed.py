"""rates_at counts a test set of more pairs than STREAM_PAIRS on a sample of CALIBRATION_PAIRS,
which it drew with seed 0 whatever the protocol's seed: a run with eval.seed 3 (and `siamkit
evaluate --seed 3`) drew its episodes with 3 and its rates' sample with 0. Now the sample is
drawn with the protocol's seed (a run's eval.seed, protocol.threshold_seed; evaluate's
--seed), as the threshold fit draws its own."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import siamkit.evaluation.pairs as pairs_module
import siamkit.evaluation.verification as verification
import siamkit.experiment as experiment
import siamkit.experiment.protocol as protocol
import siamkit.experiment.run as run_module
from siamkit.cli.main import cli
from siamkit.decision import ROUNDING

NET = SimpleNamespace(scoring_distance="euclidean", score_norm=None)
TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


def _set() -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.randn(40, 8, generator=torch.Generator().manual_seed(2))  # 780 pairs
    return torch.nn.functional.normalize(z, dim=1), torch.arange(40) % 4


def _sample_rates(z: torch.Tensor, y: torch.Tensor, t: float, seed: int) -> tuple[float, float]:
    pd = pairs_module.pair_distances(z, y, "euclidean", max_pairs=100, seed=seed)
    return (
        float(np.mean(np.asarray(pd.genuine) <= t + ROUNDING)),
        float(np.mean(np.asarray(pd.impostor) <= t + ROUNDING)),
    )


def test_a_streamed_sets_rates_are_drawn_with_the_given_seed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(verification, "STREAM_PAIRS", 500)  # 780 pairs: streamed, so sampled
    monkeypatch.setattr(verification, "CALIBRATION_PAIRS", 100)
    z, y = _set()
    t = 1.0
    seed3, seed0 = _sample_rates(z, y, t, 3), _sample_rates(z, y, t, 0)
    assert seed3 != seed0  # the two samples' rates differ: the seed is seen
    r = protocol.rates_at(z, y, NET, t, 3)  # type: ignore[arg-type]
    assert (r.tar, r.far) == (pytest.approx(seed3[0]), pytest.approx(seed3[1]))
    r0 = protocol.rates_at(z, y, NET, t)  # type: ignore[arg-type]
    assert (r0.tar, r0.far) == (pytest.approx(seed0[0]), pytest.approx(seed0[1]))


def test_a_run_and_evaluate_count_their_test_rates_with_the_protocols_seed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeds: list[Any] = []
    real = protocol.rates_at

    def recorded(*args: Any, **kwargs: Any) -> Any:
        seeds.append(kwargs.get("seed", args[4] if len(args) > 4 else 0))
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "rates_at", recorded)
    monkeypatch.setattr(experiment, "rates_at", recorded)  # evaluate's, imported when run
    args = ["train", str(TINY), "--out", str(tmp_path / "run"), "--no-progress",
            "--episodes", "2", "--set", "train.steps_per_epoch=1", "--set", "eval.seed=3"]  # fmt: skip
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert seeds == [3]
    model = str(tmp_path / "run" / "model")
    for given, seed in (([], 3), (["--seed", "5"], 5)):  # the run's recorded seed, or --seed
        res = CliRunner().invoke(
            cli, ["evaluate", model, "--data", "digits", "--episodes", "2", *given]
        )
        assert res.exit_code == 0, res.output
        assert seeds[-1] == seed
