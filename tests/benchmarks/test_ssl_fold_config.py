"""benchmarks/ssl_val.py's fold helpers, which ssl_val.py, val_nnclr.py, val_ftjoin.py and
val_ftaug.py share: the fold's SSL config against the one each script used to build inline, and
the refusal of a fold whose SSL data holds a class it does not train on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from _bench_scripts import load_script

from siamkit.applications.ssl.config import apply_ssl_overrides, ssl_config_from_dict

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sv():
    return load_script("ssl_val")


def _naive(fold: list[int], limit: int | None, sets: list[str]):
    """The config as the scripts built it inline before the helper (ssl_val.py without a limit,
    val_nnclr.py and val_ftjoin.py with one): the YAML without its task key, then the list."""
    doc = yaml.safe_load((ROOT / "configs/simclr.yaml").read_text())
    doc.pop("task", None)
    train_classes = [c for c in range(6) if c not in fold]
    overrides = [f"data.train_classes={train_classes}"]
    if limit is not None:
        overrides.append(f"data.limit={limit}")
    overrides += [
        "train.epochs=6",
        "train.seed=0",
        "train.device=cpu",
        "train.threads=1",
        "train.monitor_images=1000",
        *sets,
    ]
    return ssl_config_from_dict(apply_ssl_overrides(doc, overrides))


@pytest.mark.parametrize(
    ("fold", "limit", "sets"),
    [
        ([2, 5], None, []),  # ssl_val.py
        ([0, 3], 6000, []),  # val_nnclr.py, val_ftjoin.py, val_ftaug.py
        ([1, 4], None, ["views.crop_scale=[0.7,1.0]", "train.epochs=2"]),  # --set comes last
    ],
)
def test_fold_config_is_the_inline_one(sv, fold, limit, sets) -> None:
    got = sv.ssl_fold_config(
        "configs/simclr.yaml", fold, epochs=6, seed=0, threads=1, limit=limit, sets=sets
    )
    assert got == _naive(fold, limit, sets)
    assert list(got.data.train_classes) == [c for c in range(6) if c not in fold]
    assert got.data.limit == limit
    assert got.train.epochs == (2 if sets else 6)


def test_fold_training_classes(sv) -> None:
    for fold in ([2, 5], [0, 3], [1, 4], [5]):
        assert sv.fold_training_classes(fold) == [c for c in range(6) if c not in fold]


def test_fold_data_trains_on_the_fold_classes_only(sv) -> None:
    cfg = sv.ssl_fold_config("configs/simclr.yaml", [2, 5], epochs=1, seed=0, threads=1, limit=64)
    data = sv.ssl_fold_data(cfg, [2, 5])
    assert sorted(data.train_classes) == [0, 1, 3, 4]
    assert len(data.train_x) <= 64


def test_fold_data_refuses_a_class_outside_the_fold(sv, monkeypatch) -> None:
    cfg = sv.ssl_fold_config("configs/simclr.yaml", [2, 5], epochs=1, seed=0, threads=1, limit=64)
    real = sv.load_ssl_data(cfg.data)
    for extra in (2, 7):  # a held-out class of the fold; a test class
        leaky = real._replace(train_classes=(*real.train_classes, extra))
        monkeypatch.setattr(sv, "load_ssl_data", lambda _cfg, d=leaky: d)
        with pytest.raises(
            SystemExit, match=r"fold \[2, 5\]: SSL trains on .*not only \[0, 1, 3, 4\]"
        ):
            sv.ssl_fold_data(cfg, [2, 5])
