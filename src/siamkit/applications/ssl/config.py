"""The ``task: ssl`` config: method, data without labels, network, views, heads, optimiser, loop.

Every key has a default; a YAML file names what it changes. ``model`` and ``optim`` are the
embedding run's sections (:class:`~siamkit.training.config.ModelConfig`,
:class:`~siamkit.training.config.OptimConfig`), so the saved network is the same kind of model.

>>> cfg = ssl_config_from_dict({"method": "byol", "train": {"epochs": 2}})
>>> cfg.method, cfg.train.epochs, cfg.data.labels
('byol', 2, 'none')
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import yaml

from siamkit.applications.ssl.methods import EMBEDS, METHODS, SSLHeadConfig
from siamkit.applications.ssl.views import ViewConfig
from siamkit.clauses import listed
from siamkit.params import ParamError, count, number
from siamkit.training.config import DATASETS, ModelConfig, OptimConfig
from siamkit.training.config import RunConfig as _RunConfig
from siamkit.training.config_checks import check_config, check_embed_batch_size, check_loop_counts
from siamkit.training.config_io import plain_dict, without_plugins
from siamkit.training.config_overrides import set_override
from siamkit.training.config_sections import ConfigError, _section, unknown_sections_message


@dataclass(frozen=True)
class SSLDataConfig:
    """Images to learn from, without their labels.

    Attributes:
        dataset: ``"fashion-mnist"``, ``"digits"`` or ``"image-folder"``: every image found under
            ``root``, in its sub-folders too (their names, class names or not, are unused).
        labels: ``"none"``: the only choice, said out loud; labels of a labeled dataset are never
            seen by training (its validation split, when it has one, feeds the kNN monitor).
        train_classes: the classes whose training images are used (labeled datasets); the rest
            are kept unseen for evaluation. An image folder picks no classes: it refuses a list
            other than this default (which the shipped configs carry) or ``None``.
        val_fraction: labeled datasets: the share of the training images held out (seeded, per
            class) as the kNN monitor's validation set; they are not trained on.
        limit: keep at most this many training images (seeded; at least 1); ``None`` = all.
            An image folder reads only those.
        val_root: ``image-folder`` only: a folder with one sub-folder of labelled images per
            class (the few labels you have), read at the training images' size, whose
            leave-one-out kNN accuracy is the kNN monitor's (never trained on, unless they also
            lie under ``root``); ``None``: an image folder has no kNN monitor.
        image_size, grayscale: how images are read, as a supervised run's ``data`` keys:
            ``None`` = the data set's own (image-folder 64 px in colour); fashion-mnist (28×28)
            and digits (8×8), one channel each, refuse another size and ``grayscale: false``.
        cache: keep the decoded images of ``root`` and ``val_root`` in a cache that a
            ``--resume`` reads instead of the files, as a supervised run's ``data.cache``:
            ``true`` in the run's ``image-cache/``, a path in that folder, ``false`` none.
    """

    dataset: str = "fashion-mnist"
    root: str | None = None
    labels: str = "none"
    train_classes: tuple[int, ...] | None = (0, 1, 2, 3, 4, 5)
    val_fraction: float = 0.1
    limit: int | None = None
    image_size: int | None = None
    grayscale: bool | None = None
    val_root: str | None = None
    cache: bool | str = False


@dataclass(frozen=True)
class SSLTrainConfig:
    """The loop.

    Attributes:
        batch_size: images per batch (two views each); at least 2.
        steps_per_epoch: batches per epoch (at least 1); ``None`` = a full pass, training
            images // batch_size.
        knn_k: neighbours of the kNN monitor (leave-one-out on the labeled validation images;
            at most the other images of their smallest class, which the run says before
            training: a vote of more is won by the other classes).
        monitor_images: validation (else training) images embedded for the collapse monitor.
        amp: mixed precision (``torch.autocast``, bfloat16 where native, else float16 with a
            ``GradScaler``) when training on CUDA; nothing on the CPU.

    Under ``torchrun --nproc_per_node=N``, ``batch_size`` is the global batch (a multiple of N).
    """

    epochs: int = 10
    batch_size: int = 256
    steps_per_epoch: int | None = None
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    knn_k: int = 20
    monitor_images: int = 2000
    embed_batch_size: int = 512
    amp: bool = True


@dataclass(frozen=True)
class SSLConfig:
    """A whole ``task: ssl`` run."""

    method: str = "simclr"
    data: SSLDataConfig = field(default_factory=SSLDataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    views: ViewConfig = field(default_factory=ViewConfig)
    ssl: SSLHeadConfig = field(default_factory=SSLHeadConfig)
    optim: OptimConfig = field(
        default_factory=lambda: OptimConfig(optimizer="adamw", lr=2e-3, schedule="cosine")
    )
    train: SSLTrainConfig = field(default_factory=SSLTrainConfig)


_TYPES = {
    "data": SSLDataConfig,
    "model": ModelConfig,
    "views": ViewConfig,
    "ssl": SSLHeadConfig,
    "optim": OptimConfig,
    "train": SSLTrainConfig,
}


#: Why a batch of one image cannot train, by method: the note of the ``train.batch_size`` refusal
#: (it said "NT-Xent has no negatives" of VICReg, Barlow Twins, SimSiam and BYOL, which use none).
_CONTRAST = "each image's view needs other images to be told apart from; {} has no negatives with 1"
_BATCH_NORM = (
    "{}'s projection and prediction heads batch-normalise each dimension over the images of a "
    "batch, and 1 image leaves only its own two views to normalise against"
)
_ONE_IMAGE = {
    "simclr": _CONTRAST.format("NT-Xent"),
    "nnclr": _CONTRAST.format("NNCLR's NT-Xent"),
    "simsiam": _BATCH_NORM.format("SimSiam"),
    "byol": _BATCH_NORM.format("BYOL"),
    "vicreg": "VICReg's variance and covariance terms are taken over the images of a batch, "
    "which 1 image does not spread",
    "barlow_twins": "Barlow Twins' cross-correlation normalises each dimension over the images "
    "of a batch, which 1 image does not spread",
}


def _check_numbers(cfg: SSLConfig) -> None:
    """The counts and numbers of ``data``, ``train``, ``ssl`` and ``views``; a
    :class:`ParamError`."""
    count("train.batch_size", cfg.train.batch_size, 2, note=_ONE_IMAGE.get(cfg.method, ""))
    for key in ("epochs", "knn_k", "monitor_images"):
        count(f"train.{key}", getattr(cfg.train, key))
    check_loop_counts(cfg.train.threads, cfg.data.limit, cfg.train.steps_per_epoch)
    check_embed_batch_size(cfg.train.embed_batch_size)
    number("data.val_fraction", cfg.data.val_fraction, low=0, high=1, open_high=True)
    if cfg.data.image_size is not None:  # None: the data set's own
        count("data.image_size", cfg.data.image_size, note="image-folder images are resized to it")
    for key in ("proj_dim", "proj_hidden", "pred_hidden"):
        count(f"ssl.{key}", getattr(cfg.ssl, key))
    number("ssl.temperature", cfg.ssl.temperature, low=0, open_low=True)
    number("ssl.momentum", cfg.ssl.momentum, low=0, high=1, open_low=True, open_high=True)
    number("ssl.barlow_lambda", cfg.ssl.barlow_lambda, low=0, note="the paper's 5e-3")
    count("ssl.queue_size", cfg.ssl.queue_size, note="NNCLR's support set of projections")
    # the figure is at most sqrt(n/(n-1)) for n images (the sample std; the per-dimension
    # variances of unit vectors sum to at most n/(n-1)), near 1 only for an embedding centred on 0
    # and spread evenly over every dimension: 1 or more "collapses" every run after epoch 1
    number(
        "ssl.collapse_std",
        cfg.ssl.collapse_std,
        low=0,
        high=1,
        open_high=True,
        note="0 turns the collapse check off; the figure it is compared with, per-dimension std "
        "x sqrt(D) of the L2-normalised embedding, is at most sqrt(n/(n-1)) for n monitored "
        "images (about 1), reached only by an embedding spread evenly over every dimension, so "
        "1 or more would stop every run as collapsed after its first epoch",
    )
    number("views.jitter", cfg.views.jitter, low=0, high=1, open_high=True)
    for key in ("jitter_p", "gray_p", "blur_p", "erase_p"):
        number(f"views.{key}", getattr(cfg.views, key), low=0, high=1, note="a share of the views")


def check_ssl_config(cfg: SSLConfig) -> SSLConfig:
    """Values types cannot check; a ``ConfigError`` naming the key."""
    if cfg.method not in METHODS:
        raise ConfigError(
            f"method = {cfg.method!r} is not valid; choose one of {', '.join(METHODS)}"
        )
    if cfg.data.labels != "none":
        raise ConfigError("data.labels must be 'none' for task: ssl (training never sees labels)")
    if cfg.data.dataset not in DATASETS:
        raise ConfigError(f"data.dataset must be one of {', '.join(DATASETS)}")
    if cfg.data.dataset == "image-folder" and cfg.data.root is None:
        raise ConfigError("data.dataset = image-folder needs data.root: a folder of images")
    if cfg.data.val_root is not None and cfg.data.dataset != "image-folder":
        raise ConfigError(
            f"data.val_root is for data.dataset = image-folder; {cfg.data.dataset} holds out "
            "data.val_fraction of its own labeled images for the kNN monitor: remove data.val_root"
        )
    picked = cfg.data.train_classes
    if cfg.data.dataset == "image-folder" and picked not in (None, SSLDataConfig.train_classes):
        # (the default, the shipped configs' Fashion-MNIST classes, picks nothing in a folder)
        raise ConfigError(
            f"data.train_classes = {list(picked or ())} picks classes of fashion-mnist or "
            "digits; a self-supervised run on an image folder reads every image under "
            "data.root (sub-folders too, their names unused), so it would train on all of them: "
            "point data.root at the folder of the images to learn from, and remove "
            "data.train_classes"
        )
    if cfg.data.cache is not False and cfg.data.dataset != "image-folder":  # nothing to cache
        from siamkit.data.folder_cache import cache_refused

        raise ConfigError(cache_refused(cfg.data.dataset))
    try:  # the run config's sentences (siamkit.params), each reason kept as its note
        _check_numbers(cfg)
    except ParamError as err:
        raise ConfigError(str(err)) from None
    if cfg.ssl.embed not in EMBEDS:
        raise ConfigError(
            f"ssl.embed = {cfg.ssl.embed!r} is not valid; choose backbone (the encoder's pooled "
            "features, as SSL papers evaluate) or head (the trained embedding head)"
        )
    if cfg.model.freeze_encoder_epochs:
        raise ConfigError("model.freeze_encoder_epochs is for supervised runs, not task: ssl")
    if cfg.optim.loss_lr_factor != 1.0:
        raise ConfigError(
            f"optim.loss_lr_factor = {cfg.optim.loss_lr_factor} is for supervised losses that "
            "learn class proxies, not task: ssl; remove it"
        )
    if len(cfg.views.crop_scale) != 2:
        raise ConfigError(
            "views.crop_scale must be two numbers [min, max] within [0.001, 1], got "
            f"{list(cfg.views.crop_scale)}"
        )
    lo, hi = cfg.views.crop_scale
    if not 1e-3 <= lo <= hi <= 1:  # the random resized crop's own bounds on the area share
        raise ConfigError(
            f"views.crop_scale must be (min, max) with 0.001 <= min <= max <= 1, got {lo, hi}"
        )
    try:  # the shared sections' own checks (model, optim)
        check_config(_RunConfig(model=cfg.model, optim=cfg.optim))
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return cfg


def apply_ssl_overrides(
    doc: dict[str, Any], overrides: tuple[str, ...] | list[str]
) -> dict[str, Any]:
    """``section.key=value`` (or ``method=value``) strings applied to a config mapping; a whole
    section is a mapping (``train={epochs: 2}``) or empty (``train=``: its defaults), another
    value is refused naming the override."""
    doc = {k: dict(v) if isinstance(v, dict) else v for k, v in doc.items()}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ConfigError(f"cannot read the value in override {item!r}") from None
        section, dot, name = key.strip().partition(".")
        if dot and section == "method":  # was "section 'method' must be a mapping of keys to ..."
            raise ConfigError(
                f"override {item!r}: method is a name, not a section: --set method=NAME, one of "
                f"{', '.join(METHODS)}"
            )
        if not dot and section in _TYPES and not (value is None or isinstance(value, dict)):
            raise ConfigError(  # was the section's sentence (or a TypeError), naming no --set
                f"override {item!r}: {section} is a section, a mapping of keys to values, not "
                f"{value!r}: set one of its keys with --set {section}.KEY=VALUE"
            )
        if not dot:
            doc[section] = value
        else:
            set_override(doc, section, name, value)
    return doc


#: A supervised run's ``data`` keys, which a self-supervised run has no use for, and why: the
#: generic unknown-key sentence offered ``train_classes`` for ``val_classes``.
_SUPERVISED_DATA_KEYS = {
    "val_classes": "a supervised run validates on classes held out of training; a "
    "self-supervised run's kNN monitor holds out data.val_fraction of the training classes' "
    "images (fashion-mnist, digits) or reads data.val_root, a folder of labelled images "
    "(image-folder): remove data.val_classes",
    "augmentation": "a self-supervised run's augmentations are its views: set them in section "
    "views (crop_scale, flip, jitter, jitter_p, gray_p, blur_p, erase_p) and remove "
    "data.augmentation",
}


#: ``ssl`` keys of some methods only -> what each is and the methods that use it: a misplaced one
#: was sent to ``ssl.KEY`` whatever the method, where a method that ignores it takes it silently.
_METHOD_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "temperature": ("NT-Xent's temperature", ("simclr", "nnclr")),
    "momentum": ("BYOL's target momentum", ("byol",)),
    "barlow_lambda": ("Barlow Twins' weight of the off-diagonal term", ("barlow_twins",)),
    "queue_size": ("NNCLR's support set", ("nnclr",)),
    "pred_hidden": ("the predictor's hidden size", ("simsiam", "byol", "nnclr")),
}

#: Keys of the shared sections that ``task: ssl`` refuses (check_ssl_config), by their section and
#: why: a misplaced one was sent there, to be refused after the move.
_SUPERVISED_ONLY = {
    "loss_lr_factor": ("optim", "is for supervised losses that learn class proxies"),
    "freeze_encoder_epochs": ("model", "is for supervised runs (a fine-tune of the SSL model)"),
}


def _method_key(name: str, key: str, method: str) -> str:
    """The sentence for a method's ``ssl`` key ``key`` put in section ``name``, true for
    ``method``: where it goes if ``method`` uses it, else that it does not (naming the method
    keys it takes); ``momentum`` is also the optimiser's (``optim.momentum``, SGD's only)."""
    what, users = _METHOD_KEYS[key]
    where = f"unknown key {key!r} in section {name!r}"
    sgd = "optim.momentum, which only optim.optimizer: sgd uses"
    if method in users:
        also = f", {what}; the optimiser's is {sgd}" if key == "momentum" else ""
        return f"{where}: it is ssl.{key} (move it to section ssl, or --set ssl.{key}=...){also}"
    if key == "momentum":  # the optimiser's, the one a method other than BYOL can mean
        return (
            f"{where}: the optimiser's momentum is {sgd} (move it to section optim, or --set "
            f"optim.momentum=...); ssl.momentum is {what}, which method: {method} does not use"
        )
    own = [f"ssl.{k}" for k, (_, ms) in _METHOD_KEYS.items() if method in ms]
    takes = (
        f"the method keys it takes: {listed(own)}"
        if own
        else "it takes no method key of section ssl"
    )
    return (
        f"{where}: ssl.{key} is {what}, used by {listed(list(users))} only, and method: {method} "
        f"does not use it ({takes}): remove {name}.{key}"
    )


def _misplaced_key(doc: dict[str, Any]) -> str | None:
    """A sentence for a key put in the wrong section of an SSL config, where the generic
    unknown-key sentence would not say where it belongs: ``ssl.method`` (the method is the
    config's top-level ``method``), a key of another section (``train.lr`` is ``optim.lr``), or a
    supervised run's ``data`` key; ``None`` if there is none. A key task: ssl refuses in its own
    section too (``loss_lr_factor``) is to be removed, and a method's own ``ssl`` key is sent
    there only if the config's method uses it (``train.temperature`` under ``method: byol`` is
    not: ``ssl.temperature`` would be taken and do nothing)."""
    fields = {name: [f.name for f in dataclasses.fields(cls)] for name, cls in _TYPES.items()}
    for name in _TYPES:
        values = doc.get(name)
        if not isinstance(values, dict):
            continue
        for key in values:
            if key in fields[name]:
                continue
            if key == "method":
                value = values[key]
                return (
                    f"{name}.method is not a key: the method is the config's top-level key "
                    f"(method: {value}, or --set method={value}); choose one of "
                    f"{', '.join(METHODS)}"
                )
            if name == "data" and key in _SUPERVISED_DATA_KEYS:
                return f"data.{key} is not a key of task: ssl: {_SUPERVISED_DATA_KEYS[key]}"
            if key in _SUPERVISED_ONLY:  # in its own section, check_ssl_config refuses it
                home, why = _SUPERVISED_ONLY[key]
                return (
                    f"unknown key {key!r} in section {name!r}: {home}.{key} {why}, not task: "
                    f"ssl; remove {name}.{key}"
                )
            method = doc.get("method", "simclr")
            if key in _METHOD_KEYS and method in METHODS:
                return _method_key(name, key, method)
            homes = [other for other in _TYPES if key in fields[other]]
            if len(homes) == 1:
                home = homes[0]
                return (
                    f"unknown key {key!r} in section {name!r}: it is {home}.{key} (move it to "
                    f"section {home}, or --set {home}.{key}=...)"
                )
    return None


def ssl_config_from_dict(doc: dict[str, Any] | None) -> SSLConfig:
    """A checked :class:`SSLConfig` from a YAML mapping (without its ``task`` key; ``plugins:``
    imported)."""
    doc = {} if doc is None else dict(without_plugins(doc)[0])
    unknown = [k for k in doc if k != "method" and k not in _TYPES]
    if unknown:
        raise ConfigError(unknown_sections_message(unknown, ["method", *_TYPES], " for task: ssl"))
    data = doc.get("data")
    if isinstance(data, dict) and "labels_per_class" in data:
        raise ConfigError(
            "data.labels_per_class is not a key of task: ssl, which trains without labels: "
            "fine-tune on K labels per class with configs/finetune.yaml, a supervised run "
            "started from the SSL model (e.g. siamkit train configs/finetune.yaml --init-from "
            "runs/ssl/model)"
        )
    misplaced = _misplaced_key(doc)
    if misplaced is not None:
        raise ConfigError(misplaced)
    method = doc.get("method", "simclr")
    if not isinstance(method, str):
        raise ConfigError(f"method must be a name, got {method!r}")
    # a key the YAML does not give is SSLConfig()'s (its optim differs from OptimConfig()'s)
    defaults = SSLConfig()
    parts = {
        name: _section(cls, doc.get(name), name, getattr(defaults, name))
        for name, cls in _TYPES.items()
    }
    return check_ssl_config(SSLConfig(method=method, **parts))


def ssl_config_to_dict(cfg: SSLConfig) -> dict[str, Any]:
    """Plain nested dict (tuples as lists) for YAML, JSON and the model's metadata."""
    return plain_dict(cfg)
