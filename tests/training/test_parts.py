"""Registered parts written as ``{kind, params}``: checked against the registries before anything
runs, read into the same config (and the same objects) as the flat keys, saved in the flat form
that older configs use, and a part registered by a user trains from a YAML file."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from torch import Tensor, nn

from siamkit.distances import MLPMetric
from siamkit.losses.registry import LOSSES
from siamkit.miners.registry import MINERS
from siamkit.training import (
    ConfigError,
    Trainer,
    apply_overrides,
    build_model,
    build_objective,
    config_from_dict,
    config_to_dict,
    dump_config,
    load_config,
)
from siamkit.training.builders import build_optimizer, build_scheduler
from siamkit.training.config_checks import registered_choices
from siamkit.training.optim import OPTIMIZERS
from siamkit.training.parts import run_spec

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


@pytest.mark.parametrize(
    ("doc", "fragments"),
    [
        (
            {"model": {"encoder": {"kind": "vgg"}}},
            ["model.encoder", "'vgg'", "convnet, mlp, resnet"],
        ),
        ({"model": {"distance": {"kind": "hamming"}}}, ["model.distance", "cosine", "mahalanobis"]),
        ({"optim": {"optimizer": {"kind": "lion"}}}, ["optim.optimizer", "adam, adamw, sgd"]),
        (
            {"optim": {"schedule": {"kind": "step"}}},
            ["optim.schedule", "constant, cosine, onecycle"],
        ),
        ({"data": {"dataset": {"kind": "mnist"}}}, ["data.dataset", "digits, fashion-mnist"]),
        ({"loss": {"kind": "triplet", "miner": {"kind": "hardest"}}}, ["loss.mining", "semihard"]),
        # the flat form's names are checked against the same registries
        ({"model": {"encoder": "vgg"}}, ["model.encoder = 'vgg'", "convnet"]),
        ({"optim": {"optimizer": "lion"}}, ["optim.optimizer = 'lion'", "adamw"]),
    ],
)
def test_an_unknown_kind_names_the_key_and_lists_the_registry(
    doc: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_dict(doc)
    for fragment in fragments:
        assert fragment in str(err.value)


@pytest.mark.parametrize(
    ("doc", "fragments"),
    [
        (
            {"model": {"encoder": {"kind": "resnet", "params": {"widthz": [8]}}}},
            ["model.encoder.params", "widthz", "layers, widths"],
        ),
        (
            {"model": {"distance": {"kind": "mlp", "params": {"hiden": 8}}}},
            ["model.distance.params", "hiden", "hidden"],
        ),
        (
            {"optim": {"optimizer": {"kind": "sgd", "params": {"betas": [0.9, 0.99]}}}},
            ["optim.optimizer.params", "betas", "lr, weight_decay, momentum"],
        ),
        (
            {"optim": {"schedule": {"kind": "onecycle", "params": {"pct": 0.3}}}},
            ["optim.schedule.params", "pct", "warmup_fraction"],
        ),
        (
            {"data": {"dataset": {"kind": "digits", "params": {"classes": 3}}}},
            ["data.dataset.params", "classes", "root, image_size, grayscale"],
        ),
        (
            {"loss": {"kind": "triplet", "miner": {"kind": "semihard", "params": {"margn": 1}}}},
            ["loss.miner.params", "margn", "margin"],
        ),
        # the canonical keys are checked the same way (a YAML, a saved config or --set)
        ({"optim": {"optimizer_params": {"betas": [0.9]}}}, ["optim.optimizer_params", "betas"]),
        ({"model": {"encoder_kwargs": {"widthz": [8]}}}, ["model.encoder_kwargs", "widthz"]),
        # parameters the run supplies, and ones with a config key of their own
        (
            {"optim": {"schedule": {"kind": "cosine", "params": {"lr": 0.1}}}},
            ["lr", "set by the run"],
        ),
        ({"optim": {"optimizer_params": {"lr": 0.1}}}, ["optim.optimizer_params", "optim.lr"]),
        (
            {"optim": {"lr": 0.1, "optimizer": {"kind": "sgd", "params": {"lr": 0.2}}}},
            ["optim.optimizer.params", "optim.lr", "keep one"],
        ),
        ({"model": {"encoder": {"kind": "resnet", "parms": {}}}}, ["model.encoder", "parms"]),
    ],
)
def test_an_unknown_or_doubled_param_is_named(doc: dict[str, Any], fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_dict(doc)
    for fragment in fragments:
        assert fragment in str(err.value), str(err.value)


FLAT = {
    "data": {"dataset": "digits", "image_size": 8, "train_classes": [0, 1, 2, 3, 4, 5]},
    "model": {
        "encoder": "resnet",
        "encoder_kwargs": {"layers": [1, 1], "widths": [8, 16], "stem": "small"},
        "distance": "mlp",
        "metric_hidden": 24,
        "embedding_dim": 16,
    },
    "loss": {"kind": "bce", "mining": None},
    "optim": {
        "optimizer": "sgd",
        "lr": 0.05,
        "weight_decay": 0.01,
        "momentum": 0.8,
        "schedule": "cosine",
        "warmup_fraction": 0.2,
    },
}
NESTED = {
    "data": {
        "dataset": {"kind": "digits", "params": {"image_size": 8}},
        "train_classes": [0, 1, 2, 3, 4, 5],
    },
    "model": {
        "encoder": {
            "kind": "resnet",
            "params": {"layers": [1, 1], "widths": [8, 16], "stem": "small"},
        },
        "distance": {"kind": "mlp", "params": {"hidden": 24}},
        "embedding_dim": 16,
    },
    "loss": {"kind": "bce", "mining": None},
    "optim": {
        "optimizer": {"kind": "sgd", "params": {"lr": 0.05, "weight_decay": 0.01, "momentum": 0.8}},
        "schedule": {"kind": "cosine", "params": {"warmup_fraction": 0.2}},
    },
}


def test_the_flat_and_the_kind_params_forms_build_the_same_objects() -> None:
    flat, nested = config_from_dict(FLAT), config_from_dict(NESTED)
    assert nested == flat  # one canonical form
    torch.manual_seed(0)
    net = build_model(nested.model, (1, 8, 8))
    assert [type(b).__name__ for b in net.encoder.modules()].count("BasicBlock") == 2
    assert isinstance(net.distance, MLPMetric)
    hidden = next(m for m in net.distance.modules() if isinstance(m, nn.Linear))
    assert hidden.out_features == 24  # params.hidden is model.metric_hidden
    opt = build_optimizer(nested.optim, list(net.parameters()))
    want = torch.optim.SGD(
        [torch.zeros(1)], lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01
    )
    assert isinstance(opt, torch.optim.SGD)
    for key in ("lr", "momentum", "nesterov", "weight_decay", "dampening"):
        assert opt.defaults[key] == want.defaults[key], key
    total = 10
    sched = build_scheduler(nested.optim, opt, total)
    rates = []
    for _ in range(total):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    warm = int(0.2 * total)  # linear warm-up over 2 steps, then cosine to 0
    expected = [0.05 * (s + 1) / warm for s in range(warm)] + [
        0.05 * 0.5 * (1 + math.cos(math.pi * (s - warm) / (total - warm)))
        for s in range(warm, total)
    ]
    assert rates == pytest.approx(expected)


def test_a_miner_with_params_is_built_and_its_triplets_match_a_loop() -> None:
    """``loss.miner: {kind: semihard, params: {margin: 0.5}}`` mines with 0.5 while the loss's
    own margin stays 0.2; the flat ``mining: semihard`` keeps the loss's fused strategy."""
    plain = config_from_dict({"loss": {"kind": "triplet", "mining": "semihard"}})
    same = config_from_dict({"loss": {"kind": "triplet", "miner": {"kind": "semihard"}}})
    assert plain == same and build_objective(same.loss, "euclidean").mining == "semihard"
    cfg = config_from_dict(
        {
            "loss": {
                "kind": "triplet",
                "margin": 0.2,
                "miner": {"kind": "semihard", "params": {"margin": 0.5}},
            }
        }
    )
    assert (cfg.loss.mining, cfg.loss.miner_params) == ("semihard", {"margin": 0.5})
    loss = build_objective(cfg.loss, "euclidean")
    g = torch.Generator().manual_seed(1)
    z, y = torch.randn(12, 3, generator=g), torch.arange(12) % 3
    d = torch.cdist(z, z)
    terms = [
        torch.relu(d[a, p] - d[a, n] + 0.2)
        for a in range(12)
        for p in range(12)
        for n in range(12)
        if p != a and y[p] == y[a] and y[n] != y[a] and 0 < d[a, n] - d[a, p] < 0.5
    ]
    assert terms  # the window holds triplets
    assert torch.allclose(loss(z, y), torch.stack(terms).mean(), atol=1e-5)


def test_a_registered_miner_feeds_multi_similarity_with_its_distance() -> None:
    cfg = config_from_dict({"loss": {"kind": "multi_similarity", "miner": {"kind": "batch_hard"}}})
    loss = build_objective(cfg.loss, "euclidean")
    miner = loss.mining
    assert type(miner).__name__ == "BatchHardMiner" and miner.distance == "cosine"
    from siamkit.losses import MultiSimilarityLoss
    from siamkit.miners import BatchHardMiner

    z, y = torch.randn(10, 4, generator=torch.Generator().manual_seed(2)), torch.arange(10) % 3
    by_hand = MultiSimilarityLoss(mining=None)(z, y, BatchHardMiner("cosine")(z, y))
    assert torch.allclose(loss(z, y), by_hand) and not torch.allclose(
        loss(z, y), MultiSimilarityLoss()(z, y)
    )
    with pytest.raises(ConfigError, match=r"mines pairs; loss\.kind = triplet needs triplets"):
        config_from_dict({"loss": {"kind": "triplet", "miner": {"kind": "pairs"}}})
    with pytest.raises(ConfigError, match="offline_mining"):
        config_from_dict(
            {"loss": {"kind": "triplet", "offline_mining": True,
                      "miner": {"kind": "semihard", "params": {"margin": 0.3}}}}
        )  # fmt: skip


def test_saved_configs_keep_the_flat_form_and_both_forms_round_trip(tmp_path: Path) -> None:
    nested_file = tmp_path / "nested.yaml"
    nested_file.write_text(yaml.safe_dump(NESTED))
    cfg = load_config(nested_file)
    saved = dump_config(cfg, tmp_path / "run" / "config.yaml")
    doc = yaml.safe_load(saved.read_text())
    assert doc["optim"]["optimizer"] == "sgd" and doc["optim"]["lr"] == 0.05
    assert doc["model"]["encoder"] == "resnet" and doc["model"]["metric_hidden"] == 24
    assert load_config(saved) == cfg
    # unused params keys are not written: a config saved before they existed is the same text
    new_keys = ["dataset_params", "distance_params", "miner_params", "optimizer_params",
                "schedule_params"]  # fmt: skip
    assert not [k for section in doc.values() for k in section if k in new_keys]
    assert config_to_dict(config_from_dict(doc)) == doc
    # used ones are, and round-trip
    extra = config_from_dict(
        {
            **NESTED,
            "loss": {"kind": "triplet", "miner": {"kind": "semihard", "params": {"margin": 0.4}}},
        }
    )
    again = load_config(dump_config(extra, tmp_path / "extra.yaml"))
    assert again == extra and again.loss.miner_params == {"margin": 0.4}


def test_overrides_reach_the_canonical_keys_and_can_replace_a_part(tmp_path: Path) -> None:
    base = config_from_dict(NESTED)
    assert apply_overrides(base, ["optim.lr=0.01"]).optim.lr == 0.01
    swapped = apply_overrides(base, ["optim.optimizer={kind: adam, params: {weight_decay: 0.0}}"])
    assert (swapped.optim.optimizer, swapped.optim.weight_decay, swapped.optim.lr) == (
        "adam",
        0.0,
        0.05,
    )
    enc = apply_overrides(base, ["model.encoder={kind: convnet, params: {widths: [4, 8]}}"])
    assert (enc.model.encoder, enc.model.encoder_kwargs) == ("convnet", {"widths": [4, 8]})
    bare = apply_overrides(base, ["model.encoder={kind: mlp}"])
    assert (bare.model.encoder, bare.model.encoder_kwargs) == ("mlp", {})  # resnet's dropped
    with pytest.raises(ConfigError, match=r"optim\.optimizer\.params: optimizer 'adam' has no"):
        apply_overrides(base, ["optim.optimizer={kind: adam, params: {nesterov: true}}"])


class _CenterPull(nn.Module):
    """A user's loss: each embedding's distance to its class mean, scaled."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, z: Tensor, labels: Tensor, indices: Any = None) -> Tensor:
        means = torch.stack([z[labels == c].mean(0) for c in labels])
        return self.scale * (z - means).pow(2).sum(1).mean()


def _plain_sgd(
    params: Any, lr: float, weight_decay: float = 0.0, momentum: float = 0.0, dampening: float = 0.0
) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=momentum, dampening=dampening,
                           weight_decay=weight_decay)  # fmt: skip


@pytest.fixture
def user_parts():
    LOSSES.register("center_pull", _CenterPull)
    OPTIMIZERS.register("plain_sgd", _plain_sgd)
    try:
        yield
    finally:
        LOSSES.unregister("center_pull")
        OPTIMIZERS.unregister("plain_sgd")


def test_a_registered_loss_and_optimizer_train_from_a_yaml(user_parts, tmp_path: Path) -> None:
    """One class + one registration each: the YAML names them by kind + params, the config
    checks the params, and a training step updates the weights by the plain SGD rule."""
    assert "center_pull" in registered_choices()["loss.kind"]
    doc = yaml.safe_load(TINY.read_text())
    doc["loss"] = {"kind": "center_pull", "params": {"scale": 2.0}}
    doc["optim"] = {
        "optimizer": {
            "kind": "plain_sgd",
            "params": {"lr": 0.1, "weight_decay": 0.0, "dampening": 0.5},
        },
        "schedule": {"kind": "constant"},
    }
    doc["train"].update({"epochs": 1, "steps_per_epoch": 1, "val_metric": "none", "amp": False})
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(doc))
    cfg = load_config(path)
    assert cfg.optim.optimizer_params == {"dampening": 0.5} and cfg.loss.params == {"scale": 2.0}
    objective = build_objective(cfg.loss, cfg.model.distance)
    assert isinstance(objective, _CenterPull) and objective.scale == 2.0
    bad = dict(doc, loss={"kind": "center_pull", "params": {"scael": 2.0}})
    with pytest.raises(
        ConfigError, match=r"loss.params: loss 'center_pull' has no parameter scael"
    ):
        config_from_dict(bad)

    from siamkit.training import load_run_data

    data = load_run_data(cfg.data)
    torch.manual_seed(0)
    net = build_model(cfg.model, data.input_shape, *data.channel_stats())
    trainer = Trainer.from_config(net, cfg, data, progress=False)
    assert isinstance(trainer.optimizer, torch.optim.SGD)
    assert trainer.optimizer.defaults["dampening"] == 0.5
    before = {k: v.detach().clone() for k, v in net.named_parameters()}
    result = trainer.fit()
    assert len(result.history) == 1 and math.isfinite(result.history[0]["loss"])
    head = (
        "head.0.weight"
        if "head.0.weight" in before
        else next(k for k in before if k.startswith("head"))
    )
    assert not torch.equal(before[head], dict(net.named_parameters())[head])


def test_run_spec_states_what_was_built() -> None:
    cfg = config_from_dict(NESTED)
    spec = run_spec(cfg)
    assert spec["optimizer"] == {
        "kind": "sgd",
        "params": {"lr": 0.05, "weight_decay": 0.01, "momentum": 0.8},
    }
    assert spec["encoder"] == {
        "kind": "resnet",
        "params": {"layers": [1, 1], "widths": [8, 16], "stem": "small"},
    }
    assert spec["distance"] == {"kind": "mlp", "params": {"hidden": 24}}
    assert spec["loss"]["kind"] == "bce" and spec["loss"]["params"]["head"] == "mlp"
    assert (
        spec["schedule"]["kind"] == "cosine"
        and spec["schedule"]["params"]["warmup_fraction"] == 0.2
    )
    assert "miner" not in spec  # bce mines nothing
    triplet = run_spec(
        config_from_dict(
            {"loss": {"kind": "triplet", "miner": {"kind": "semihard", "params": {"margin": 0.4}}}}
        )
    )
    assert triplet["miner"] == {"kind": "semihard", "params": {"margin": 0.4}}
    assert triplet["loss"]["params"]["margin"] == 0.2 and MINERS.get("semihard") is not None


def _blobs(
    root: str | None = None, image_size: int = 4, grayscale: bool = True, per_class: int = 5
) -> Any:
    """A user's data source with a parameter of its own: ``per_class`` images of 8 classes."""
    from siamkit.data.sources import Source

    g = torch.Generator().manual_seed(0)
    y = torch.arange(8).repeat_interleave(per_class)
    x = (torch.rand(len(y), 1, image_size, image_size, generator=g) * 255).to(torch.uint8)
    return Source(x, y, None, None, tuple(str(c) for c in range(8)))


def test_a_registered_data_source_gets_its_own_params() -> None:
    from siamkit.data.sources import DATA_SOURCES
    from siamkit.training import load_run_data

    DATA_SOURCES.register("blobs", _blobs)
    try:
        cfg = config_from_dict(
            {"data": {"dataset": {"kind": "blobs", "params": {"per_class": 7, "image_size": 6}},
                      "train_classes": [0, 1, 2, 3, 4, 5], "val_fraction": 0.0}}
        )  # fmt: skip
        assert (cfg.data.image_size, cfg.data.dataset_params) == (6, {"per_class": 7})
        data = load_run_data(cfg.data)
        assert len(data.train_y) == 6 * 7 and len(data.test_y) == 2 * 7
        assert tuple(data.input_shape) == (1, 6, 6)
        with pytest.raises(ConfigError, match=r"data source 'blobs' has no parameter per_klass"):
            config_from_dict({"data": {"dataset": {"kind": "blobs", "params": {"per_klass": 7}}}})
    finally:
        DATA_SOURCES.unregister("blobs")


def test_the_readme_kind_params_example_loads_and_builds() -> None:
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("## A run as a library call")
    (block,) = re.findall(
        r"```yaml\n(.*?)```", readme[start : readme.index("\n## ", start + 5)], re.S
    )
    cfg = config_from_dict(yaml.safe_load(block))
    assert (cfg.model.encoder, cfg.model.metric_hidden, cfg.loss.miner_params) == (
        "resnet",
        32,
        {"margin": 0.5},
    )
    assert (cfg.optim.optimizer, cfg.optim.lr, cfg.optim.schedule) == ("adamw", 0.001, "cosine")
    loss = build_objective(cfg.loss, "euclidean")
    assert loss.margin == 0.3 and loss.mining.margin == 0.5
