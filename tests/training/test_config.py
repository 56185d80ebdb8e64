"""Config loading: defaults, strict keys and types, overrides, round trips, the shipped configs."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from siamkit.training import (
    AppearanceConfig,
    ConfigError,
    RunConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    demo_recipe,
    dump_config,
    load_config,
)
from siamkit.training.config_overrides import _set_mapping_entry

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_empty_file_gives_all_defaults(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("")
    assert load_config(p) == RunConfig()


def test_values_are_read_and_lists_become_tuples(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("train:\n  epochs: 3\ndata:\n  train_classes: [1, 2, 3]\noptim:\n  lr: 1\n")
    cfg = load_config(p)
    assert cfg.train.epochs == 3
    assert cfg.data.train_classes == (1, 2, 3)
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)  # an int is a valid float
    assert cfg.model == RunConfig().model  # untouched sections keep their defaults


def test_unknown_key_is_named_with_its_section(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("train:\n  epochs: 2\n  epoch_count: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    msg = str(err.value)
    assert "'epoch_count'" in msg and "'train'" in msg and "epochs" in msg  # lists the valid keys


def test_unknown_section_is_named() -> None:
    with pytest.raises(ConfigError, match="'trainer'"):
        config_from_dict({"trainer": {"epochs": 1}})


def test_a_misspelled_key_or_section_gets_a_suggestion() -> None:
    """A typo was named with every valid key listed, but not the one meant."""
    with pytest.raises(
        ConfigError,
        match=r"unknown key 'epoch' in section 'train' \(did you "
        r"mean 'epochs'\?\); valid keys: ",
    ):
        config_from_dict({"train": {"epoch": 3}})
    with pytest.raises(ConfigError, match=r"unknown section 'trian' \(did you mean 'train'\?\)"):
        config_from_dict({"trian": {"epochs": 3}})
    with pytest.raises(ConfigError, match=r"override 'trian\.epochs=3' \(did you mean 'train'"):
        apply_overrides(RunConfig(), ["trian.epochs=3"])
    with pytest.raises(ConfigError) as err:  # nothing close: no suggestion, the list only
        config_from_dict({"train": {"zzzz": 3}})
    assert "did you mean" not in str(err.value) and "valid keys: " in str(err.value)


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        ({"train": {"epochs": "five"}}, "train.epochs"),
        ({"train": {"epochs": 2.5}}, "train.epochs"),
        ({"train": {"amp": "yes"}}, "train.amp"),
        ({"data": {"train_classes": [0, "a"]}}, "data.train_classes[1]"),
        ({"model": {"encoder_kwargs": [1]}}, "model.encoder_kwargs"),
        ({"loss": {"margin": True}}, "loss.margin"),
        ({"optim": {"lr": float("nan")}}, "optim.lr"),  # passed `lr <= 0`: torch said it, unnamed
        ({"optim": {"lr": "nan"}}, "optim.lr"),
    ],
)
def test_wrong_types_name_the_key(doc: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_dict(doc)
    assert key in str(err.value)


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"loss": {"kind": "hinge"}}, "loss.kind"),
        ({"loss": {"kind": "triplet", "mining": "hardest"}}, "loss.mining"),
        ({"loss": {"kind": "bce"}}, "model.distance: mlp"),
        ({"loss": {"reduction": "sum"}}, "loss.reduction"),
        ({"train": {"samples_per_class": 1}}, "samples_per_class"),
        ({"data": {"val_fraction": 1.5}}, "val_fraction"),
        ({"train": {"ema_decay": 1.0}}, r"train\.ema_decay"),
        ({"train": {"ema_decay": 0.0}}, r"train\.ema_decay"),
        ({"data": {"train_classes": [3]}}, r"data\.train_classes = \[3\]: name at least 2"),
        # one image a class gives a pair loss no positive pair
        ({"data": {"labels_per_class": 1}}, r"data\.labels_per_class = 1 .*loss\.kind = multi_sim"),
    ],
)
def test_bad_values_and_combinations(doc: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        config_from_dict(doc)


def test_eval_clustering_is_a_yes_or_no_key(tmp_path: Path) -> None:
    """eval.clustering turns on NMI/AMI in a run's evaluation; a value that is not true or false
    is refused naming the key, as any other mistyped key."""
    assert load_config(_yaml(tmp_path, "eval:\n  clustering: true\n")).eval.clustering is True
    assert RunConfig().eval.clustering is False
    with pytest.raises(ConfigError, match=r"eval\.clustering must be bool, got 'maybe'"):
        load_config(_yaml(tmp_path, "eval:\n  clustering: maybe\n"))


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    p = tmp_path / "bad.yaml"
    p.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_a_yaml_syntax_error_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("data: {dataset: digits}\nmodel:\n  encoder: convnet\n   embedding_dim: 16\n")
    with pytest.raises(ConfigError) as err:
        load_config(p)
    message = str(err.value)
    assert message.startswith(f"{p} line 4: not valid YAML, mapping values are not allowed")
    assert "\n" not in message and "<unicode string>" not in message


def test_a_proxy_loss_trains_on_one_label_per_class() -> None:
    cfg = config_from_dict({"data": {"labels_per_class": 1}, "loss": {"kind": "proxy_anchor"}})
    assert cfg.data.labels_per_class == 1


def test_a_config_may_say_task_embedding_but_not_another_task(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("task: embedding\ntrain: {epochs: 2}\n")
    assert load_config(p).train.epochs == 2
    p.write_text("task: ssl\ntrain: {epochs: 2}\n")
    with pytest.raises(ConfigError, match="is a `task: ssl` config, which only siamkit train runs"):
        load_config(p)


def test_dump_then_load_round_trips(tmp_path: Path) -> None:
    cfg = config_from_dict(
        {
            "train": {"epochs": 7},
            "model": {"head_hidden": [32], "encoder_kwargs": {"widths": [4, 8]}},
        }
    )
    path = dump_config(cfg, tmp_path / "sub" / "config.yaml")
    assert load_config(path) == cfg
    assert not list(path.parent.glob(".*tmp"))  # the temporary file was renamed away


def test_exponent_floats_without_a_dot_are_read_as_floats(tmp_path: Path) -> None:
    """YAML 1.1 reads ``1e-3`` as a string; a float field takes it as the number it means."""
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lr: 1e-3\n")
    assert load_config(path).optim.lr == 0.001
    assert apply_overrides(RunConfig(), ["optim.lr=5e-4"]).optim.lr == 0.0005
    with pytest.raises(ConfigError, match=r"optim\.lr must be"):
        apply_overrides(RunConfig(), ["optim.lr=fast"])


def test_overrides_parse_yaml_values_and_reject_bad_keys() -> None:
    cfg = apply_overrides(
        RunConfig(), ["train.epochs=2", "data.train_classes=[0, 1]", "loss.mining=null"]
    )
    assert (cfg.train.epochs, cfg.data.train_classes, cfg.loss.mining) == (2, (0, 1), None)
    with pytest.raises(ConfigError, match="'epoks'"):
        apply_overrides(RunConfig(), ["train.epoks=2"])
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        apply_overrides(RunConfig(), ["epochs=2"])


def test_config_to_dict_is_plain() -> None:
    doc = config_to_dict(RunConfig())
    assert isinstance(doc["data"]["train_classes"], list)
    assert config_from_dict(doc) == RunConfig()


def _embedding_configs() -> list[Path]:
    """Shipped configs of the embedding run (those with another ``task:`` are their task's;
    ``space-*.yaml`` are siamkit tune search spaces, checked in tests/tuning/test_tune.py)."""
    import yaml

    return [
        p
        for p in sorted(CONFIGS.glob("*.yaml"))
        if not p.name.startswith("space-")
        and (yaml.safe_load(p.read_text()) or {}).get("task", "embedding") == "embedding"
    ]


@pytest.mark.parametrize("path", _embedding_configs(), ids=lambda p: p.name)
def test_shipped_configs_load(path: Path) -> None:
    import yaml

    from siamkit.training.tasks import get_task

    task = (yaml.safe_load(path.read_text()) or {}).get("task", "embedding")
    if task != "embedding":  # an application's run: its registered runner reads it
        assert callable(get_task(task))
        return
    load_config(path)


@pytest.mark.parametrize("path", _embedding_configs(), ids=lambda p: p.name)
def test_a_distance_a_shipped_configs_comments_name_is_its_distance(path: Path) -> None:
    """contrastive-pairs.yaml said "cosine distance" over model.distance: euclidean."""
    comments = " ".join(
        line.split("#", 1)[1] for line in path.read_text().splitlines() if "#" in line
    )
    named = set(re.findall(r"\b(cosine|euclidean) distance", comments, flags=re.IGNORECASE))
    assert {n.lower() for n in named} <= {load_config(path).model.distance}


def test_demo_yaml_is_the_builtin_demo_recipe() -> None:
    assert load_config(CONFIGS / "demo.yaml") == demo_recipe()


def test_the_flat_appearance_keys_of_older_configs_read_as_the_nested_section() -> None:
    nested = config_from_dict(
        {"model": {"appearance": {"weight": 0.5, "features": "hog", "in_loss": False}}}
    )
    with pytest.warns(DeprecationWarning, match="model.appearance"):
        flat = config_from_dict(
            {
                "model": {
                    "appearance_skip_weight": 0.5,
                    "appearance_skip_features": "hog",
                    "appearance_skip_in_loss": False,
                }
            }
        )
    want = AppearanceConfig(weight=0.5, features="hog", in_loss=False)
    assert nested == flat and nested.model.appearance == want
    # an old config's defaults (weight 0) and an explicit weight 0 are off, whatever else is set
    with pytest.warns(DeprecationWarning):
        old_off = config_from_dict({"model": {"appearance_skip_pool": 7}})
    assert old_off.model.appearance is None
    off = config_from_dict({"model": {"appearance": {"weight": 0, "pool": 7}}})
    assert off.model.appearance is None and config_from_dict({}).model.appearance is None
    with pytest.raises(ConfigError, match=r"unknown key 'pol' in section 'model\.appearance'"):
        config_from_dict({"model": {"appearance": {"pol": 3}}})
    with pytest.raises(ConfigError, match=r"model\.appearance must be a mapping of weight"):
        config_from_dict({"model": {"appearance": 3}})
    with pytest.raises(ConfigError, match=r"unknown key.*appearance_skip_pol"):
        config_from_dict({"model": {"appearance_skip_pol": 3}})
    with pytest.raises(ConfigError, match="both set the same thing"):
        config_from_dict({"model": {"appearance": {"weight": 1}, "appearance_skip_weight": 2}})


def test_appearance_overrides_nested_and_flat() -> None:
    demo = demo_recipe()
    assert demo.model.appearance is not None
    lighter = apply_overrides(demo, ["model.appearance.weight=0.25"])
    assert lighter.model.appearance == replace(demo.model.appearance, weight=0.25)
    assert apply_overrides(demo, ["model.appearance=null"]).model.appearance is None
    assert apply_overrides(demo, ["model.appearance.weight=0"]).model.appearance is None
    with pytest.warns(DeprecationWarning):
        assert apply_overrides(demo, ["model.appearance_skip_weight=0.25"]) == lighter
    with pytest.warns(DeprecationWarning):
        assert apply_overrides(demo, ["model.appearance_skip_weight=0"]).model.appearance is None
    # a flat key alone on a config without the features leaves them off (weight 0, as before)
    with pytest.warns(DeprecationWarning):
        plain = apply_overrides(RunConfig(), ["model.appearance_skip_pool=7"])
    assert plain.model.appearance is None
    # a nested key turns them on, with the section's defaults
    on = apply_overrides(RunConfig(), ["model.appearance.features=hog"])
    assert on.model.appearance == AppearanceConfig(features="hog")


def test_an_old_run_config_with_flat_keys_round_trips_to_the_nested_section(tmp_path) -> None:
    old = config_to_dict(demo_recipe())
    section = old["model"].pop("appearance")
    old["model"].update({f"appearance_skip_{k}": v for k, v in section.items()})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(old))
    with pytest.warns(DeprecationWarning):
        assert load_config(path) == demo_recipe()
    dump_config(demo_recipe(), path)
    assert "appearance_skip" not in path.read_text() and load_config(path) == demo_recipe()


def test_a_loss_parameter_set_twice_to_different_values_is_refused() -> None:
    """``loss.margin`` and ``loss.params.margin`` fill the same triplet parameter: two different
    values are refused by name; one of them alone (the other at its default), or both equal,
    is read, and the value reaches the loss."""
    from siamkit.training import build_objective

    with pytest.raises(
        ConfigError,
        match=r"loss.margin = 0.3 and loss.params.margin = 0.5 both set the triplet loss's margin",
    ):
        config_from_dict({"loss": {"kind": "triplet", "margin": 0.3, "params": {"margin": 0.5}}})
    with pytest.raises(ConfigError, match=r"loss.ms_alpha = 3.0 and loss.params.alpha = 4.0"):
        config_from_dict(
            {"loss": {"kind": "multi_similarity", "ms_alpha": 3.0, "params": {"alpha": 4.0}}}
        )
    for loss in (
        {"kind": "triplet", "params": {"margin": 0.5}},
        {"kind": "triplet", "margin": 0.2, "params": {"margin": 0.5}},  # 0.2: the default
        {"kind": "triplet", "margin": 0.5, "params": {"margin": 0.5}},
        {"kind": "triplet", "margin": 0.5},
    ):
        cfg = config_from_dict({"loss": loss})
        assert build_objective(cfg.loss, "euclidean").margin == 0.5, loss
    # a key the kind does not read is not a conflict (demo.yaml's margin under --set loss.kind=circle)
    cfg = config_from_dict({"loss": {"kind": "circle", "margin": 0.3, "params": {"m": 0.4}}})
    assert build_objective(cfg.loss, "cosine").m == 0.4


def test_a_checkpoint_with_a_loss_parameter_set_twice_is_read_as_it_trained() -> None:
    """A config saved before the conflict check, with loss.margin and loss.params.margin
    different, trained with params' value; reading it on resume is not refused (the user cannot
    edit the checkpoint) and equals a user config with params.margin only."""
    from siamkit.training.config_guard import read_run_config

    user = config_to_dict(
        config_from_dict({"loss": {"kind": "triplet", "params": {"margin": 0.5}}})
    )
    saved = {**user, "loss": {**user["loss"], "margin": 0.3}}
    with pytest.raises(ConfigError, match="keep one"):  # a user's config is still refused
        config_from_dict(saved)
    assert read_run_config(saved, user) == user
    ms = config_to_dict(
        config_from_dict({"loss": {"kind": "multi_similarity", "params": {"alpha": 4.0}}})
    )
    assert read_run_config({**ms, "loss": {**ms["loss"], "ms_alpha": 3.0}}, ms) == ms


def test_an_override_sets_one_entry_of_a_parameter_mapping_and_keeps_the_others() -> None:
    demo = demo_recipe()
    cfg = apply_overrides(demo, ["loss.params.margin=0.3"])
    assert cfg.loss.params == {"margin": 0.3} and cfg.loss.margin == demo.loss.margin
    widths = apply_overrides(demo, ["model.encoder_kwargs.widths=[16, 32]"]).model.encoder_kwargs
    assert widths == {**demo.model.encoder_kwargs, "widths": [16, 32]}
    two = apply_overrides(
        RunConfig(),
        [  # the same entry twice: the last wins
            "model.encoder_kwargs.widths=[8]",
            "model.encoder_kwargs.dropout=0.1",
            "model.encoder_kwargs.dropout=0.2",
        ],
    )
    assert two.model.encoder_kwargs == {"widths": [8], "dropout": 0.2}
    # deeper entries nest (no shipped part takes one, so on the section's mapping directly)
    sec: dict = {"schedule_params": {"a": {"c": 3}}}
    assert _set_mapping_entry(sec, "optim", "schedule_params.a.b", 2, "item")
    assert sec == {"schedule_params": {"a": {"c": 3, "b": 2}}}
    assert not _set_mapping_entry(sec, "optim", "lr", 2, "item")
    # the entry is checked as in a YAML file: an unknown loss parameter is named
    with pytest.raises(ConfigError, match=r"no parameter marg"):
        apply_overrides(demo, ["loss.params.marg=0.3"])
    # and a conflict with the flat key is refused as in a YAML file
    with pytest.raises(ConfigError, match=r"loss\.margin"):
        apply_overrides(demo, ["loss.margin=0.5", "loss.params.margin=0.3"])
    with pytest.raises(ConfigError, match=r"section\.key\.entry=value"):
        apply_overrides(demo, ["loss.params.=0.3"])
    with pytest.raises(ConfigError, match=r"loss\.params\.a is 1, not a mapping"):
        apply_overrides(demo, ["loss.params.a=1", "loss.params.a.b=2"])
    # a key that is not a mapping keeps its old error
    with pytest.raises(ConfigError, match=r"unknown key 'margin\.x' in section 'loss'"):
        apply_overrides(demo, ["loss.margin.x=1"])


@pytest.mark.parametrize(
    ("loss", "where", "got"),
    [
        (
            {"kind": "lifted_structure", "params": {"neg_margin": float("nan")}},
            "loss.params.neg_margin",
            "nan",
        ),
        ({"kind": "margin", "params": {"beta": float("nan")}}, "loss.params.beta", "nan"),
        ({"kind": "proxy_nca", "params": {"scale": float("inf")}}, "loss.params.scale", "inf"),
        ({"kind": "n_pairs", "params": {"l2_reg": float("inf")}}, "loss.params.l2_reg", "inf"),
        ({"kind": "margin", "margin": float("inf")}, "loss.margin", "inf"),
    ],
)
def test_a_loss_parameter_that_is_not_finite_is_refused_by_name(
    loss: dict, where: str, got: str
) -> None:
    """NaN or inf in a loss parameter was taken, and training died at its first step with 'the
    loss became nan; ... check the data', after OUT/config.yaml was written: the config refuses
    it by its key, in the sentence every range check writes (siamkit.params.number)."""
    with pytest.raises(ConfigError) as err:
        config_from_dict({"loss": loss})
    assert str(err.value) == f"{where} must be a finite number, got {got}."


@pytest.mark.parametrize(
    ("doc", "sentence"),
    [
        (
            {"train": {"ema_decay": 1.0}},
            "train.ema_decay must be a number in (0, 1) (e.g. 0.998; null keeps no average), "
            "got 1.0.",
        ),
        (
            {"train": {"ema_decay": float("-inf")}},
            "train.ema_decay must be a number in (0, 1) (e.g. 0.998; null keeps no average), "
            "got -inf.",
        ),
        ({"data": {"val_fraction": 1.5}}, "data.val_fraction must be a number in [0, 1), got 1.5."),
        (
            {"data": {"val_fraction": -0.2}},
            "data.val_fraction must be a number in [0, 1), got -0.2.",
        ),
        (
            {"model": {"appearance": {"weight": -1}}},
            "model.appearance.weight must be a finite number > 0 (model.appearance: null turns "
            "the features off), got -1.0.",
        ),
        (
            {"model": {"appearance": {"weight": float("inf")}}},
            "model.appearance.weight must be a finite number > 0 (model.appearance: null turns "
            "the features off), got inf.",
        ),
        ({"optim": {"lr": 0}}, "optim.lr must be a finite number > 0, got 0.0."),
        ({"optim": {"lr": -0.001}}, "optim.lr must be a finite number > 0, got -0.001."),
        ({"train": {"epochs": 0}}, "train.epochs must be a whole number >= 1, got 0."),
        (
            {"train": {"classes_per_batch": -2}},
            "train.classes_per_batch must be a whole number >= 1, got -2.",
        ),
        (
            {"model": {"embedding_dim": 0}},
            "model.embedding_dim must be a whole number >= 1, got 0.",
        ),
        ({"eval": {"episodes": 0}}, "eval.episodes must be a whole number >= 1, got 0."),
        ({"eval": {"queries": 0}}, "eval.queries must be a whole number >= 1, got 0."),
        (
            {"train": {"samples_per_class": 1}},
            "train.samples_per_class must be a whole number >= 2 (so a batch has positive "
            "pairs), got 1.",
        ),
        (
            {"data": {"labels_per_class": 0}},
            "data.labels_per_class must be a whole number >= 1 (or null for every label), got 0.",
        ),
        (
            {"model": {"freeze_encoder_epochs": -1}},
            "model.freeze_encoder_epochs must be a whole number >= 0, got -1.",
        ),
        # read by the run without a check: a torch or numpy traceback without the key, a failure
        # after config.yaml was written, or a run that trained on a value read otherwise
        (
            {"train": {"threads": -1}},
            "train.threads must be a whole number >= 0 (0 or null for torch's default), got -1.",
        ),
        (
            {"train": {"embed_batch_size": 0}},
            "train.embed_batch_size must be a whole number >= 1 (images embedded at a time), "
            "got 0.",
        ),
        ({"train": {"seed": -1}}, "train.seed must be a whole number >= 0, got -1."),
        ({"eval": {"seed": -1}}, "eval.seed must be a whole number >= 0, got -1."),
        (
            {"train": {"early_stopping": 0}},
            "train.early_stopping must be a whole number >= 1 (epochs without a better "
            "validation metric; null never stops early), got 0.",
        ),
        (
            {"train": {"class_power": float("inf")}},
            "train.class_power must be a number in [-1e+06, 1e+06] (0 uniform, 1 by class "
            "size; a power further from 0 draws no differently in practice, and from about 1e15 "
            "would lose the random order of classes of one size to rounding), got inf.",
        ),
        (
            {"model": {"metric_hidden": 0}},
            "model.metric_hidden must be a whole number >= 1 (the learned distance's hidden "
            "width), got 0.",
        ),
        (
            {"model": {"head_hidden": [16, -4]}},
            "model.head_hidden[1] must be a whole number >= 1 (a hidden layer's width), got -4.",
        ),
        (
            {"model": {"input_mean": [float("inf")], "input_std": [0.3]}},
            "model.input_mean[0] must be a finite number, got inf.",
        ),
        (
            {"model": {"input_mean": [0.3], "input_std": [0.0]}},
            "model.input_std[0] must be a finite number > 0, got 0.0.",
        ),
        (
            {"loss": {"kind": "triplet", "offline_mining": True, "offline_pool": 0}},
            "loss.offline_pool must be a whole number >= 1 (images embedded per offline-mining "
            "round, or null for all of them), got 0.",
        ),
        (
            {"optim": {"weight_decay": -1}},
            "optim.weight_decay must be a finite number >= 0, got -1.0.",
        ),
        (
            {"optim": {"optimizer": "sgd", "momentum": 2}},
            "optim.momentum must be a number in [0, 1) (SGD's, e.g. 0.9), got 2.0.",
        ),
        (
            {"optim": {"warmup_fraction": 2}},
            "optim.warmup_fraction must be a number in [0, 1] (a share of the steps), got 2.0.",
        ),
        (
            {"optim": {"grad_clip": 0}},
            "optim.grad_clip must be a finite number > 0 (null clips nothing), got 0.0.",
        ),
        (
            {"optim": {"grad_clip": -1.0}},
            "optim.grad_clip must be a finite number > 0 (null clips nothing), got -1.0.",
        ),
        # counts that cannot work, named with their value rather than in older sentences (or
        # read as "all but N", or a torch error later)
        (
            {"data": {"limit": -5}},
            "data.limit must be a whole number >= 1 (training images kept, or null for all of "
            "them), got -5.",
        ),
        (
            {"data": {"limit": 0}},
            "data.limit must be a whole number >= 1 (training images kept, or null for all of "
            "them), got 0.",
        ),
        (
            {"data": {"image_size": 0}},
            "data.image_size must be a whole number >= 1 (the side images are resized to, in "
            "pixels), got 0.",
        ),
        (
            {"data": {"image_size": -3}},
            "data.image_size must be a whole number >= 1 (the side images are resized to, in "
            "pixels), got -3.",
        ),
        (
            {"train": {"steps_per_epoch": 0}},
            "train.steps_per_epoch must be a whole number >= 1 (batches per epoch, or null for "
            "one full pass over the training images), got 0.",
        ),
        (
            {"train": {"steps_per_epoch": -1}},
            "train.steps_per_epoch must be a whole number >= 1 (batches per epoch, or null for "
            "one full pass over the training images), got -1.",
        ),
        # the appearance features' own sentences named neither the full key nor (pool) the value
        (
            {"model": {"appearance": {"pool": 0}}},
            "model.appearance.pool must be a whole number >= 1 (the pooling window or HOG cell, "
            "in pixels), got 0.",
        ),
        (
            {"model": {"appearance": {"features": "hog", "bins": 1}}},
            "model.appearance.bins must be a whole number >= 2 (HOG orientation bins), got 1.",
        ),
        (
            {"model": {"appearance": {"features": "hog", "levels": 0}}},
            "model.appearance.levels must be a whole number >= 1 (HOG pyramid levels), got 0.",
        ),
        (
            {"model": {"appearance": {"features": "edges"}}},
            "model.appearance.features must be one of pixels, hog, got 'edges'.",
        ),
        (
            {"model": {"appearance": {"features": "pixels", "levels": 2}}},
            "model.appearance.levels = 2 is a pyramid of HOG cells, which "
            "model.appearance.features = pixels does not have; set features: hog, or levels: 1",
        ),
        # one sentence covered both keys, naming neither the one that was wrong nor its value
        (
            {"loss": {"xbm_memory_size": -1}},
            "loss.xbm_memory_size must be a whole number >= 0 (embeddings kept; 0 is off), got -1.",
        ),
        (
            {"loss": {"xbm_memory_size": 64, "xbm_warmup_steps": -5}},
            "loss.xbm_warmup_steps must be a whole number >= 0 (steps before the memory starts "
            "filling), got -5.",
        ),
        # caught only through eval.score_norm_k's sentence, and only with score_norm on
        (
            {"eval": {"cohort_size": -1}},
            "eval.cohort_size must be a whole number >= 0 (cohort images eval.score_norm uses), "
            "got -1.",
        ),
        (
            {"eval": {"score_norm": "snorm", "cohort_size": -1}},
            "eval.cohort_size must be a whole number >= 0 (cohort images eval.score_norm uses), "
            "got -1.",
        ),
    ],
)
def test_run_config_ranges_read_as_every_setting_check(doc: dict, sentence: str) -> None:
    """train.ema_decay, data.val_fraction and model.appearance.weight are refused in the one
    sentence form of siamkit.params.number, as optim.loss_lr_factor and every loss and miner
    setting are: key, range, note, and the value given (data.val_fraction named no value; nor
    did optim.lr or the counts, which siamkit.params.count checks). The numbers after
    freeze_encoder_epochs were not checked at all: threads, seeds, sizes, input_std,
    weight_decay and warmup_fraction were a torch or numpy error without the key,
    embed_batch_size 0, offline_pool 0 and input_mean inf failed after config.yaml was written
    (eval.seed -1 after training), and early_stopping 0, momentum 2, grad_clip 0 or -1 trained
    on a value read otherwise than meant (patience 1, divergence, no or reversed gradients)."""
    with pytest.raises(ConfigError) as err:
        config_from_dict(doc)
    assert str(err.value) == sentence


@pytest.mark.parametrize(
    "setting",
    [
        "train.threads=-1",
        "train.embed_batch_size=0",
        "eval.seed=-1",
        "optim.grad_clip=-1",
        "model.appearance.pool=0",
        "loss.xbm_warmup_steps=-1",
        "eval.cohort_size=-1",
    ],
)
def test_a_bad_number_is_refused_before_the_run_folder_is_written(
    tmp_path: Path, setting: str
) -> None:
    """train.threads -1 was a torch traceback, embed_batch_size 0 failed after config.yaml was
    written, eval.seed -1 after the model was saved, and grad_clip -1 trained on reversed
    gradients: now one sentence naming the key, and no run folder."""
    from click.testing import CliRunner

    from siamkit.cli.main import cli

    out = tmp_path / "o"
    args = ["train", str(CONFIGS / "digits-tiny.yaml"), "--out", str(out), "--set", setting]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert res.output.strip().splitlines()[-1].startswith(f"Error: {setting.split('=')[0]} must be")
    assert not out.exists()


def test_the_numbers_meaning_a_default_stay_accepted() -> None:
    """threads 0 is torch's default (as null), a negative class_power favours small classes,
    momentum and warmup_fraction 0 and weight_decay 0 are off."""
    cfg = config_from_dict(
        {
            "train": {"threads": 0, "class_power": -1.0, "early_stopping": 1, "seed": 0},
            "optim": {"momentum": 0.0, "warmup_fraction": 0.0, "weight_decay": 0.0},
            "loss": {"kind": "triplet", "offline_mining": True, "offline_pool": 1},
        }
    )
    assert (cfg.train.threads, cfg.train.class_power, cfg.optim.warmup_fraction) == (0, -1.0, 0.0)
    # the whole run as warm-up: cosine's linear ramp (onecycle has no step left to anneal)
    whole = {"optim": {"schedule": "cosine", "warmup_fraction": 1.0}}
    assert config_from_dict(whole).optim.warmup_fraction == 1.0


def test_the_smallest_counts_stay_accepted() -> None:
    """The least of each count now checked through siamkit.params is still a run: one training
    image, 1-pixel images, one step an epoch, 1-pixel pooling, 2 HOG bins, a HOG pyramid, no
    cross-batch memory or warm-up, and an empty cohort while score normalisation is off."""
    cfg = config_from_dict(
        {
            "data": {"limit": 1, "image_size": 1},
            "train": {"steps_per_epoch": 1},
            "model": {"appearance": {"pool": 1, "features": "hog", "bins": 2, "levels": 2}},
            "loss": {"xbm_memory_size": 0, "xbm_warmup_steps": 0},
            "eval": {"score_norm": "none", "cohort_size": 0},
        }
    )
    assert cfg.model.appearance is not None and cfg.model.appearance.levels == 2
    assert (cfg.data.limit, cfg.train.steps_per_epoch, cfg.eval.cohort_size) == (1, 1, 0)
