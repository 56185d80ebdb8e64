"""benchmarks/val_ftaug.py (issue 17's twelfth SSL rule): each row's fine-tune overrides against
the ones stop 62's ``ref`` ran with, and the candidates' augmentation reaching a real (tiny,
synthetic) ``bench_ssl.finetune`` run's steps, with its test split emptied."""

from __future__ import annotations

import pytest
import torch
from _bench_scripts import load_script

from siamkit.training import Trainer
from siamkit.training.config import ModelConfig
from siamkit.training.data import RunData


@pytest.fixture(scope="module")
def aug():
    return load_script("val_ftaug")


def test_recipe_sets(aug) -> None:
    tc = [0, 1, 3, 4]
    # ref: exactly val_ftjoin.py's fine-tune overrides (its run_fold's ``extra``), so this
    # round's ref is stop 62's
    fold = ["data.train_classes=[0, 1, 3, 4]", "train.classes_per_batch=4"]
    assert aug.recipe_sets("ref", tc) == fold
    assert aug.recipe_sets("aug standard", tc) == [*fold, "data.augmentation=standard"]
    assert aug.recipe_sets("aug shift-flip", tc) == [*fold, "data.augmentation=shift-flip"]
    assert set(aug.CANDIDATES) == set(aug.RECIPES) - {"ref"}


def _synthetic(classes: tuple[int, ...], per: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.tensor(classes).repeat_interleave(per)
    x = torch.randint(0, 256, (len(y), 1, 28, 28), generator=g, dtype=torch.uint8)
    for i, c in enumerate(y.tolist()):
        x[i, :, : 4 + 4 * (c % 4)] //= 4  # a class-dependent dark band
    return x, y


@pytest.fixture()
def tiny(aug, monkeypatch):
    """``bench_ssl.finetune`` (the module val_ftaug's fine-tune calls) on synthetic data of
    classes 0-3 whose test split holds 6-9, with a spy recording the config and data its Trainer
    gets, and a small network shape."""
    bench = aug.finetune_with_start.__globals__["bench_ssl"]
    x, y = _synthetic((0, 1, 2, 3), 10, 0)
    tx, ty = _synthetic((6, 7, 8, 9), 3, 1)
    data = RunData(x, y, x[:8], y[:8], tx, ty, tuple("abcdefghij"), (0, 1, 2, 3), (6, 7, 8, 9))
    monkeypatch.setattr(bench, "load_run_data", lambda cfg, *a, **k: data)
    seen = []

    class Spy:
        @staticmethod
        def from_config(net, cfg, d, **k):
            seen.append((cfg, d))
            return Trainer.from_config(net, cfg, d, **k)

    monkeypatch.setattr(bench, "Trainer", Spy)
    mcfg = ModelConfig(encoder="convnet", encoder_kwargs={"widths": [4, 8]}, embedding_dim=8)
    shape = bench.build_model(mcfg, (1, 28, 28))
    return shape, seen


def _weights(net: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in net.parameters()])


def test_the_augmentation_reaches_the_steps(aug, tiny) -> None:
    shape, seen = tiny
    tc = [0, 1, 2, 3]
    tuned = {}
    for name in ("ref", "ref", "aug standard", "aug shift-flip"):
        _, net = aug.finetune_with_start(0, None, shape, aug.recipe_sets(name, tc))
        if name == "ref" and name in tuned:  # the same recipe twice: the same network
            assert torch.equal(_weights(net), tuned[name])
        tuned[name] = _weights(net)
    assert [cfg.data.augmentation for cfg, _ in seen] == ["none", "none", "standard", "shift-flip"]
    assert all(cfg.train.classes_per_batch == 4 for cfg, _ in seen)
    # the same seed and start: only the augmented steps can make the networks differ
    assert not torch.equal(tuned["aug standard"], tuned["ref"])
    assert not torch.equal(tuned["aug shift-flip"], tuned["ref"])
    assert not torch.equal(tuned["aug standard"], tuned["aug shift-flip"])
    # no Trainer saw a test image (the loader's test split held classes 6-9)
    assert all(d.test_x.shape[0] == 0 and d.test_y.numel() == 0 for _, d in seen)


def test_verdicts_judge_each_candidate_by_the_eleventh_rule(aug, capsys) -> None:
    def rows(gap_std: float, gap_shift: float) -> dict:
        out = {}
        for name, gap, eer in (("ref", 0.03, 0.2), ("aug standard", gap_std, 0.2), ("aug shift-flip", gap_shift, 0.2)):  # fmt: skip
            out[f"{name} from ssl"] = {"val_2w1s": 0.9 + gap, "val_eer": eer}
            out[f"{name} from scratch"] = {"val_2w1s": 0.9, "val_eer": 0.3}
        return out

    # standard leads ref's gap by 0.011 on every fold: passes; shift-flip is 0.006 below: fails
    aug.print_verdicts([rows(0.041, 0.024)] * 3)
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("aug shift-flip: fails at fold 1")
    assert any(line.startswith("aug standard: passes") for line in out)
