"""The checks of a whole run config (:func:`check_config`) that types alone cannot make: choices
read from the registries, counts and ranges, the appearance features and each registered part's
parameters, named by key; the loss section's checks are in :mod:`siamkit.training.config_loss`
and the class lists' in :mod:`siamkit.training.config_classes`."""

from __future__ import annotations

from typing import Any

from siamkit.data.samplers import CLASS_POWER_PAST_THE_BOUND, MAX_CLASS_POWER
from siamkit.data.sources import DATA_SOURCES, FIXED_SIZES
from siamkit.distances.cohort import SCORE_NORMS
from siamkit.distances.registry import DISTANCES as DISTANCE_REGISTRY
from siamkit.encoders.registry import ENCODERS
from siamkit.heads.appearance import APPEARANCE_FEATURES
from siamkit.losses.functional import REDUCTIONS
from siamkit.losses.registry import LOSSES
from siamkit.miners import PAIR_STRATEGIES, TRIPLET_STRATEGIES
from siamkit.params import choice, count, number
from siamkit.registry import PLUGIN_HINT, Registry
from siamkit.training.config import (
    VAL_METRICS,
    DataConfig,
    ModelConfig,
    RunConfig,
)
from siamkit.training.config_classes import _check_class_lists, _check_val_classes
from siamkit.training.config_loss import _check_loss_params, _check_mining, _check_xbm
from siamkit.training.optim import OPTIMIZERS as OPTIMIZER_REGISTRY
from siamkit.training.optim import SCHEDULES as SCHEDULE_REGISTRY

# Registry-backed keys are read from the registry when checked, so a part registered after this
# module was imported is a valid choice.
_CHOICES: dict[tuple[str, str], tuple[str, ...] | Registry[Any]] = {
    ("data", "dataset"): DATA_SOURCES,
    ("data", "augmentation"): ("none", "shift-flip", "light", "standard"),
    ("model", "encoder"): ENCODERS,
    ("model", "distance"): DISTANCE_REGISTRY,
    ("loss", "kind"): LOSSES,
    ("loss", "reduction"): REDUCTIONS,
    ("optim", "optimizer"): OPTIMIZER_REGISTRY,
    ("optim", "schedule"): SCHEDULE_REGISTRY,
    ("train", "val_metric"): VAL_METRICS,
    ("train", "on_collapse"): ("restart", "warn"),
    ("eval", "threshold_target"): ("eer", "far", "accuracy"),
    ("eval", "score_norm"): ("none", *SCORE_NORMS),
    ("eval", "cohort"): ("train", "unlabeled"),
}


def registered_choices() -> dict[str, list[str]]:
    """The names each registry-backed config key accepts, read from the registries themselves.

    Every key but ``index`` (a gallery's search structure, ``--index``) takes ``{kind, params}``.

    >>> registered_choices()["optim.schedule"]
    ['constant', 'cosine', 'onecycle']
    """
    from siamkit.index.factory import INDEXES
    from siamkit.training.parts import PARTS

    names: dict[str, list[str]] = {}
    for part in PARTS:
        if part.key == "miner":
            names["loss.kind"] = LOSSES.names()
            names["loss.miner"] = sorted(
                {*part.registry.names(), *TRIPLET_STRATEGIES, *PAIR_STRATEGIES}
            )
        else:
            names[part.where] = part.registry.names()
    names["index"] = INDEXES.names()
    return names


def check_config(cfg: RunConfig) -> RunConfig:
    """Check values and combinations that types alone cannot; raise ``ValueError`` naming the key."""
    for (section, key), choices in _CHOICES.items():
        value = getattr(getattr(cfg, section), key)
        allowed = choices.names() if isinstance(choices, Registry) else choices
        if value is not None and value not in allowed:
            raise ValueError(
                f"{section}.{key} = {value!r} is not valid; choose one of {', '.join(allowed)}"
                + (f"; {PLUGIN_HINT}" if isinstance(choices, Registry) else "")
            )
    positive = [
        ("train", "epochs"),
        ("train", "classes_per_batch"),
        ("train", "samples_per_class"),
        ("model", "embedding_dim"),
        ("eval", "episodes"),
        ("eval", "queries"),
    ]
    for section, key in positive:
        count(f"{section}.{key}", getattr(getattr(cfg, section), key))
    count(
        "train.samples_per_class",
        cfg.train.samples_per_class,
        2,
        note="so a batch has positive pairs",
    )
    if cfg.train.ema_decay is not None:
        number(
            "train.ema_decay",
            cfg.train.ema_decay,
            low=0,
            high=1,
            open_low=True,
            open_high=True,
            note="e.g. 0.998; null keeps no average",
        )
    count("model.freeze_encoder_epochs", cfg.model.freeze_encoder_epochs, 0)
    _check_run_numbers(cfg)
    if cfg.data.labels_per_class is not None:
        count("data.labels_per_class", cfg.data.labels_per_class, note="or null for every label")
    _check_cache(cfg.data)
    if cfg.data.image_size is not None:  # None: the data set's own
        count(
            "data.image_size", cfg.data.image_size, note="the side images are resized to, in pixels"
        )
    number(
        "data.val_fraction",
        cfg.data.val_fraction,
        low=0,
        high=1,
        open_high=True,
    )
    from siamkit.training.preflight import check_labels_per_class

    check_labels_per_class(cfg)
    _check_class_lists(cfg)
    _check_val_classes(cfg.data)
    _check_appearance(cfg.model)
    if (cfg.model.input_mean is None) != (cfg.model.input_std is None):
        raise ValueError("set both model.input_mean and model.input_std, or neither")
    number("optim.lr", cfg.optim.lr, low=0, open_low=True)
    number(
        "optim.loss_lr_factor",
        cfg.optim.loss_lr_factor,
        low=0,
        open_low=True,
        note="the multiple of optim.lr the loss's own parameters, such as class proxies, train "
        "at, e.g. 100; 1 is optim.lr",
    )
    if cfg.loss.kind in ("bce", "pair_head") and cfg.model.distance != "mlp":
        raise ValueError("loss.kind = bce trains a learned pair head: set model.distance: mlp")
    _check_parts(cfg)
    _check_mining(cfg.loss)
    _check_loss_params(cfg)
    count("eval.cohort_size", cfg.eval.cohort_size, 0, note="cohort images eval.score_norm uses")
    low_k = 2 if cfg.eval.score_norm == "snorm" else 1
    if cfg.eval.score_norm != "none" and not low_k <= cfg.eval.score_norm_k <= cfg.eval.cohort_size:
        raise ValueError(
            f"eval.score_norm_k must be from {low_k} to eval.cohort_size ({cfg.eval.cohort_size}) "
            f"with eval.score_norm = {cfg.eval.score_norm}, got {cfg.eval.score_norm_k}"
        )
    if cfg.eval.cohort_root is not None and cfg.eval.cohort != "unlabeled":
        raise ValueError("eval.cohort_root is where eval.cohort = unlabeled takes its images from")
    if (
        cfg.eval.score_norm != "none"
        and cfg.eval.cohort == "unlabeled"
        and cfg.eval.cohort_root is None
        and cfg.data.dataset != "fashion-mnist"
    ):
        raise ValueError(
            f"eval.cohort = unlabeled needs unlabeled images of the test classes that are not "
            f"test images; {cfg.data.dataset!r} has none (Fashion-MNIST has: its train split). "
            "Give a folder of such images as eval.cohort_root, or use eval.cohort = train"
        )
    if cfg.loss.offline_mining and cfg.loss.kind != "triplet":
        raise ValueError("loss.offline_mining works with loss.kind = triplet")
    _check_xbm(cfg.loss)
    return cfg


def check_loop_counts(threads: int | None, limit: int | None, steps_per_epoch: int | None) -> None:
    """``train.threads``, ``data.limit`` and ``train.steps_per_epoch``, which the supervised run
    and ``task: ssl`` both read the same way (null: torch's threads, every image, one full pass);
    one sentence each, a :class:`ParamError`.

    >>> check_loop_counts(threads=0, limit=None, steps_per_epoch=1)
    >>> check_loop_counts(threads=None, limit=0, steps_per_epoch=None)
    Traceback (most recent call last):
    ...
    siamkit.params.ParamError: data.limit must be a whole number >= 1 (training images kept,
    or null for all of them), got 0.
    """
    if threads is not None:  # 0 keeps torch's default, as null does
        count("train.threads", threads, 0, note="0 or null for torch's default")
    if limit is not None:
        count("data.limit", limit, note="training images kept, or null for all of them")
    if steps_per_epoch is not None:
        count(
            "train.steps_per_epoch",
            steps_per_epoch,
            note="batches per epoch, or null for one full pass over the training images",
        )


def check_embed_batch_size(embed_batch_size: int) -> None:
    """``train.embed_batch_size``, which the supervised run and ``task: ssl`` both read as the
    images embedded at a time (validation, and ssl's kNN monitor); a :class:`ParamError`.

    >>> check_embed_batch_size(0)  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    siamkit.params.ParamError: train.embed_batch_size must be a whole number >= 1 (images
    embedded at a time), got 0.
    """
    count("train.embed_batch_size", embed_batch_size, note="images embedded at a time")


def _check_run_numbers(cfg: RunConfig) -> None:
    """The numbers the run reads that nothing else checks before the run folder is written:
    otherwise a PyTorch or NumPy error without the key (threads, seeds, sizes, input_std,
    weight_decay, warmup_fraction), a failure after ``config.yaml`` (embed_batch_size,
    offline_pool 0, eval.seed after training) or a run that trained on a value read otherwise
    than meant (early_stopping 0 as 1, a negative offline_pool dropping images, grad_clip 0
    zeroing and a negative one reversing every gradient); a :class:`ParamError`."""
    t, m, o = cfg.train, cfg.model, cfg.optim
    check_loop_counts(t.threads, cfg.data.limit, t.steps_per_epoch)
    check_embed_batch_size(t.embed_batch_size)
    count("train.seed", t.seed, 0)
    count("eval.seed", cfg.eval.seed, 0)
    if t.early_stopping is not None:
        count(
            "train.early_stopping",
            t.early_stopping,
            note="epochs without a better validation metric; null never stops early",
        )
    if t.class_power is not None:  # a negative power favours the small classes; PKSampler's
        # bound, here so that train and tune refuse it before the data load (they loaded first)
        number(
            "train.class_power",
            t.class_power,
            -MAX_CLASS_POWER,
            MAX_CLASS_POWER,
            note=f"0 uniform, 1 by class size; {CLASS_POWER_PAST_THE_BOUND}",
        )
    count("model.metric_hidden", m.metric_hidden, note="the learned distance's hidden width")
    for i, width in enumerate(m.head_hidden):
        count(f"model.head_hidden[{i}]", width, note="a hidden layer's width")
    for i, mean in enumerate(m.input_mean or ()):
        number(f"model.input_mean[{i}]", mean)
    for i, std in enumerate(m.input_std or ()):
        number(f"model.input_std[{i}]", std, low=0, open_low=True)
    if cfg.loss.offline_pool is not None:
        count(
            "loss.offline_pool",
            cfg.loss.offline_pool,
            note="images embedded per offline-mining round, or null for all of them",
        )
    number("optim.weight_decay", o.weight_decay, low=0)
    number("optim.momentum", o.momentum, low=0, high=1, open_high=True, note="SGD's, e.g. 0.9")
    number("optim.warmup_fraction", o.warmup_fraction, low=0, high=1, note="a share of the steps")
    if o.schedule == "onecycle" and o.warmup_fraction >= 1:  # torch divides by the anneal's steps
        raise ValueError(
            f"optim.warmup_fraction = {o.warmup_fraction} leaves optim.schedule onecycle no step to "
            "anneal, and torch's OneCycleLR then fails at the run's last step; set it below 1 "
            "(e.g. 0.3), or use optim.schedule cosine, whose warm-up may take the whole run."
        )
    if o.grad_clip is not None:
        number("optim.grad_clip", o.grad_clip, low=0, open_low=True, note="null clips nothing")


def _check_appearance(cfg: ModelConfig) -> None:
    """The appearance features' own checks (:class:`siamkit.heads.AppearanceFeatures`), named by key."""
    a = cfg.appearance
    if a is None:
        return
    number(
        "model.appearance.weight",
        a.weight,
        low=0,
        open_low=True,
        note="model.appearance: null turns the features off",
    )
    choice("model.appearance.features", a.features, APPEARANCE_FEATURES)
    count("model.appearance.pool", a.pool, note="the pooling window or HOG cell, in pixels")
    count("model.appearance.bins", a.bins, 2, note="HOG orientation bins")
    count("model.appearance.levels", a.levels, note="HOG pyramid levels")
    if a.levels > 1 and a.features != "hog":
        raise ValueError(
            f"model.appearance.levels = {a.levels} is a pyramid of HOG cells, which "
            f"model.appearance.features = {a.features} does not have; set features: hog, or "
            "levels: 1"
        )
    from siamkit.training.builders import build_appearance_features

    try:
        build_appearance_features(cfg)
    except ValueError as err:
        raise ValueError(f"model.appearance: {err}") from None
    if not a.in_loss and cfg.distance in ("mahalanobis", "mlp"):
        raise ValueError(
            f"model.appearance.in_loss = false needs a fixed distance, not the learned "
            f"{cfg.distance!r} (it measures the joined embedding the loss would not see)"
        )


def _check_parts(cfg: RunConfig) -> None:
    """Each registered part's parameters against its factory's signature, named by key."""
    from siamkit.training import parts

    checks = [
        (parts.PART_BY_KEY["data", "dataset"], parts.data_part(cfg.data)),
        (parts.PART_BY_KEY["model", "encoder"], parts.encoder_part(cfg.model)),
        (parts.PART_BY_KEY["model", "distance"], parts.distance_part(cfg.model)),
        (parts.PART_BY_KEY["optim", "optimizer"], parts.optimizer_part(cfg.optim)),
        (parts.PART_BY_KEY["optim", "schedule"], parts.schedule_part(cfg.optim)),
    ]
    for part, (kind, params) in checks:
        given = {k: v for k, v in params.items() if k not in part.supplied}
        part.check(kind, given)
        supplied = sorted(
            set(getattr(getattr(cfg, part.section), part.params_field)) & set(part.supplied)
        )
        if supplied:
            raise ValueError(
                f"{part.section}.{part.params_field}: {', '.join(supplied)} is set by the run, "
                "not the config"
            )


def _check_cache(data: DataConfig) -> None:
    """``data.cache`` given to a built-in data set that reads no image folder would be ignored
    without a word (nothing is cached: its images are not decoded from files)."""
    if data.cache is not False and data.dataset in {*FIXED_SIZES, "synthetic-glyphs"}:
        from siamkit.data.folder_cache import cache_refused

        raise ValueError(cache_refused(data.dataset))
