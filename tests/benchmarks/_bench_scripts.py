"""A script of benchmarks/ (a folder of scripts, not a package) loaded as a module, and the
synthetic images of the fine-tune tests and the spy on their trainer, for the tests of this
folder (test_val_ftjoin.py and test_val_ftaug.py each wrote the spy out)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import nn

from siamkit.training import RunConfig, Trainer
from siamkit.training.config import ModelConfig
from siamkit.training.data import RunData

SCRIPTS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_script(name: str, as_name: str | None = None) -> ModuleType:
    """benchmarks/``name``.py executed as a new module named ``as_name`` (default ``name``),
    with benchmarks/ on ``sys.path`` for the scripts it imports, and in ``sys.modules`` under
    that name (a dataclass looks its module up while being built)."""
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(as_name or name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def synthetic(classes: tuple[int, ...], per: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``per`` seeded random 28 x 28 images of each class of ``classes``, each darkened in a band
    at the top whose height depends on the class, and their labels."""
    g = torch.Generator().manual_seed(seed)
    y = torch.tensor(classes).repeat_interleave(per)
    x = torch.randint(0, 256, (len(y), 1, 28, 28), generator=g, dtype=torch.uint8)
    for i, c in enumerate(y.tolist()):
        x[i, :, : 4 + 4 * (c % 4)] //= 4  # a class-dependent dark band
    return x, y


def synthetic_run_data() -> RunData:
    """A fine-tune's data: 10 :func:`synthetic` images a class of 0-3 to train on (its first 8
    as validation), and a test split of 3 images a class of 6-9."""
    x, y = synthetic((0, 1, 2, 3), 10, 0)
    tx, ty = synthetic((6, 7, 8, 9), 3, 1)
    return RunData(x, y, x[:8], y[:8], tx, ty, tuple("abcdefghij"), (0, 1, 2, 3), (6, 7, 8, 9))


def spy_on_finetune(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> tuple[RunData, nn.Module, list[tuple[RunConfig, RunData]]]:
    """``bench`` (benchmarks/bench_ssl.py, as a script imported it) made to fine-tune on
    :func:`synthetic_run_data`, with a spy on its ``Trainer`` recording the config and data each
    fine-tune trains with (the trainer itself still runs), and a small network shape to start
    from: the loader's data, the shape and the spy's records."""
    data = synthetic_run_data()
    monkeypatch.setattr(bench, "load_run_data", lambda cfg, *a, **k: data)
    seen: list[tuple[RunConfig, RunData]] = []

    class Spy:
        @staticmethod
        def from_config(net: nn.Module, cfg: RunConfig, d: RunData, **k: Any) -> Trainer:
            seen.append((cfg, d))
            return Trainer.from_config(net, cfg, d, **k)

    monkeypatch.setattr(bench, "Trainer", Spy)
    mcfg = ModelConfig(encoder="convnet", encoder_kwargs={"widths": [4, 8]}, embedding_dim=8)
    return data, bench.build_model(mcfg, (1, 28, 28)), seen
