"""Run configuration: frozen dataclasses, every field with a default.

A YAML file names only what it changes; :func:`siamkit.training.config_io.load_config` fills in
the rest and rejects unknown keys and wrong types. The defaults are a short general recipe:
Fashion-MNIST classes 0-5, a batch-norm ConvNet, a 128-d embedding and the multi-similarity
loss with its pair miner on P×K batches, for one epoch. ``siamkit demo`` runs
:func:`demo_recipe` (``configs/demo.yaml``), which adds HOG-like appearance features and trains
with batch-hard triplets.

>>> cfg = RunConfig()
>>> cfg.train.epochs, cfg.loss.kind
(1, 'multi_similarity')
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from siamkit.data.sources import DATA_SOURCES
from siamkit.distances.cohort import SCORE_NORMS
from siamkit.distances.registry import DISTANCES as DISTANCE_REGISTRY
from siamkit.encoders.registry import ENCODERS
from siamkit.heads.appearance import APPEARANCE_FEATURES
from siamkit.losses.functional import REDUCTIONS
from siamkit.losses.registry import LOSSES
from siamkit.miners import PAIR_STRATEGIES, TRIPLET_STRATEGIES
from siamkit.params import ParamError, choice, count, number
from siamkit.registry import PLUGIN_HINT, Registry
from siamkit.training.optim import OPTIMIZERS as OPTIMIZER_REGISTRY
from siamkit.training.optim import SCHEDULES as SCHEDULE_REGISTRY

# The names each choice accepts come from the registries (registering a part makes it valid);
# these tuples are the names registered when this module was imported.
LOSS_KINDS = tuple(LOSSES.names())
DATASETS = tuple(DATA_SOURCES.names())
OPTIMIZERS = tuple(OPTIMIZER_REGISTRY.names())
SCHEDULES = tuple(SCHEDULE_REGISTRY.names())
VAL_METRICS = ("precision_at_1", "few_shot", "eer", "none")
#: Validation metrics where lower is better; every other one is "higher is better".
VAL_METRICS_LOWER_BETTER = frozenset({"eer"})
#: ``eval.ways: null`` with more unseen classes than this: 5-way and 20-way (Omniglot's protocol).
ALL_CLASS_WAYS_UP_TO = 20
DISTANCES = tuple(DISTANCE_REGISTRY.names())


@dataclass(frozen=True)
class DataConfig:
    """Which images to train on and how to hold some out.

    Attributes:
        dataset: ``"fashion-mnist"``, ``"digits"`` (scikit-learn 8×8, for quick tests),
            ``"image-folder"`` (``root/<class>/<image>``) or ``"synthetic-glyphs"`` (700
            synthetic handwritten-glyph classes × 20, Omniglot's shape).
        root: folder to look in (Fashion-MNIST files or the image folder); digits and
            synthetic-glyphs read no files and refuse one.
        train_classes: labels used for training; the rest are the unseen test classes.
            ``None`` = every class (then the test split of the same classes is the test set).
            A count draws that many classes with a fixed seed (many-class data such as an
            image folder of 700 characters: ``train_classes: 500``).
        val_fraction: share of the training images held out for validation and calibration
            (a per-image hold-out of the training classes; ignored with ``val_classes``); at
            least 2 images of a class with 4 or more, so that validation has same-class pairs.
        val_classes: hold out whole training classes instead, for validation, early stopping,
            ``restore_best`` and threshold calibration: explicit class ids (a subset of
            ``train_classes``), or a count drawn with a fixed seed. Open-set similarity should be
            selected on classes the network did not train on: seen-class validation rewards
            features that do not transfer.
        augmentation: ``"none"``, ``"shift-flip"`` (±2 px shift + horizontal flip), or the
            ``"light"`` / ``"standard"`` recipes of :func:`siamkit.data.transforms.build_augmentation`.
        limit: keep at most this many training images (quick runs); ``None`` = all. Fewer
            than ``labels_per_class`` x the training classes is refused (it would cut the labels).
        image_size: the square side images are read at: image-folder images are resized to
            it, synthetic-glyphs drawn at it; ``None`` = the data set's own (image-folder 64,
            synthetic-glyphs 28). Digits (8×8) and fashion-mnist (28×28) refuse another size.
        grayscale: read images as one channel (``True``) or three (``False``); ``None`` = the
            data set's own (image-folder three; fashion-mnist, digits and synthetic-glyphs
            one: they refuse ``False``).
        labels_per_class: keep a seeded K training images of each class ("K labels per class";
            more than a class has is an error). Validation images are held out as before.
        dataset_params: further parameters of the registered data source ``dataset``
            (:data:`siamkit.data.sources.DATA_SOURCES`) beyond ``root``, ``image_size`` and
            ``grayscale``, checked against its signature. In YAML the source can be written
            ``dataset: {kind: NAME, params: {root: .., ...}}`` (:mod:`siamkit.training.parts`).
    """

    dataset: str = "fashion-mnist"
    root: str | None = None
    train_classes: tuple[int, ...] | int | None = (0, 1, 2, 3, 4, 5)
    val_fraction: float = 0.1
    val_classes: tuple[int, ...] | int | None = None
    augmentation: str = "none"
    limit: int | None = None
    image_size: int | None = None
    grayscale: bool | None = None
    labels_per_class: int | None = None
    dataset_params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AppearanceConfig:
    """Parameter-free appearance features joined to the network's embedding
    (:class:`siamkit.models.JoinedEmbedding`, :class:`siamkit.heads.AppearanceFeatures`).

    Attributes:
        weight: how much the features count against the unit-length learned embedding (> 0).
        pool: ``features: pixels``: ``pool``×``pool`` average-pooled pixels; ``hog``: the cell size.
        features: ``"pixels"`` or ``"hog"`` (``bins`` gradient orientations per ``pool``×``pool``
            cell).
        bins: HOG orientation bins.
        signed: HOG orientations over 360° instead of 180°.
        levels: HOG spatial-pyramid levels (cells of pool, 2·pool, ... pixels).
        in_loss: the training loss sees the joined embedding (``True``), or the network trains on
            its own (``False``; the features are then not computed at training steps, and are
            joined after training; needs a fixed distance).
    """

    weight: float = 1.0
    pool: int = 4
    features: str = "pixels"
    bins: int = 12
    signed: bool = False
    levels: int = 1
    in_loss: bool = True


@dataclass(frozen=True)
class ModelConfig:
    """The twin network: encoder, embedding head, distance and input normalisation.

    Attributes:
        distance: a fixed distance name, or ``"mahalanobis"`` / ``"mlp"`` for a learned metric
            (``"mlp"`` is needed by ``loss.kind: bce``).
        appearance: appearance features of the input joined to the network's embedding
            (:class:`AppearanceConfig`; ``configs/demo.yaml``), or ``None`` (off). In YAML a
            nested section ``appearance: {weight, pool, features, bins, signed, levels,
            in_loss}``; ``weight: 0`` or ``null`` turns it off. The flat ``appearance_skip_*`` keys
            of older configs and checkpoints are still read (with a ``DeprecationWarning``).
        input_mean, input_std: per-channel normalisation kept in the model; ``None`` = computed
            from the training images, as it is (with one log line) when they give another
            number of values than the images have channels (grey statistics on colour images).
        init_from: start from this saved model's encoder, head and input normalisation
            (:func:`siamkit.training.init_from.init_from_model`; ``--init-from``).
        freeze_encoder_epochs: keep the encoder frozen (weights and batch-norm statistics) for
            this many first epochs; only the head trains.
        encoder, encoder_kwargs: a registered encoder (:data:`siamkit.encoders.registry.ENCODERS`)
            and its keyword arguments, checked against its signature. In YAML also
            ``encoder: {kind: resnet, params: {...}}``.
        distance_params: further parameters of the registered ``distance``
            (:data:`siamkit.distances.registry.DISTANCES`) beyond ``hidden`` (``metric_hidden``).
            In YAML also ``distance: {kind: mlp, params: {hidden: 32}}``.
    """

    encoder: str = "convnet"
    encoder_kwargs: dict[str, Any] = field(default_factory=lambda: {"widths": [32, 64, 128]})
    embedding_dim: int = 128
    distance: str = "euclidean"
    head_hidden: tuple[int, ...] = ()
    metric_hidden: int = 64
    appearance: AppearanceConfig | None = None
    input_mean: tuple[float, ...] | None = None
    input_std: tuple[float, ...] | None = None
    init_from: str | None = None
    freeze_encoder_epochs: int = 0
    distance_params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LossConfig:
    """The training objective.

    Attributes:
        kind: ``"triplet"``, ``"soft_margin_triplet"``, ``"contrastive"`` (all pairs of a
            batch), ``"bce"`` (pairs scored by a learned MLP metric), ``"multi_similarity"``,
            ``"supcon"``, ``"circle"``, ``"margin"`` (Wu et al., a learned boundary),
            ``"lifted_structure"`` (generalized lifted structure), ``"n_pairs"`` (N-pair, one
            positive pair per class), ``"angular"`` (Wang et al., N-pair form),
            ``"tuplet_margin"`` (Yu & Tao, cosines with a margin), or a proxy loss (one learned
            vector per class):
            ``"proxy_anchor"``, ``"proxy_nca"``, ``"soft_triple"`` (several per class),
            ``"sub_center_arcface"`` (ArcFace, several sub-centres per class),
            ``"normalized_softmax"`` (ArcFace or CosFace with a margin).
            :data:`LOSS_KINDS` lists them all.
        margin: triplet / contrastive / margin-loss margin.
        reduction: how the triplet loss averages: ``"mean"`` over the mined triplets, or
            ``"nonzero"`` over those still violating the margin (pytorch-metric-learning's
            default; the gradient does not fade as the batch gets easier).
        mining: ``"auto"`` (triplet: ``batch_hard``; contrastive: all pairs; multi-similarity:
            its own miner; margin: ``distance_weighted``), a triplet strategy (``batch_hard``,
            ``semihard``, ``hard``, ``all``, ``random``, ``distance_weighted``), a pair strategy
            for contrastive (``all``, ``hardest``, ``hard``, ``semihard``, ``easy``), or ``None``
            for no mining.
        offline_mining: mine triplets with the frozen model on a pool of images, then train on
            them (instead of mining inside each batch).
        offline_pool: images embedded for each offline-mining round (``None`` = the whole
            training set, mined once per epoch).
        temperature: SupCon temperature.
        ms_alpha, ms_beta, ms_base: multi-similarity parameters.
        pos_weight: weight of similar pairs in BCE (``None`` = balance by counts).
        xbm_memory_size: > 0 keeps a cross-batch memory of this many earlier embeddings
            (:class:`~siamkit.losses.xbm.CrossBatchMemory`, Wang et al. 2020): each batch is
            mined against itself plus the memory, so batch-hard mining sees far more negatives
            than a CPU-sized batch holds (triplet, soft_margin_triplet, contrastive,
            multi_similarity, margin, lifted_structure, angular and tuplet_margin); 0 = off.
        xbm_warmup_steps: steps with the plain in-batch loss before the memory starts filling.
        params: further keyword arguments of the registered loss ``kind``
            (:data:`siamkit.losses.registry.LOSSES`), checked against its signature; they win
            over the keys above, and one set both here and above (away from its default) to
            different values is refused. A kind without keys here (e.g. ``soft_margin_triplet``)
            takes all its settings from ``params``.
        miner_params: parameters of the miner ``mining`` names; with them (or with a miner the
            loss does not know as a strategy) the miner is built from
            :data:`siamkit.miners.registry.MINERS` and handed to the loss. In YAML also
            ``miner: {kind: semihard, params: {margin: 0.3}}`` (it sets ``mining``).
    """

    kind: str = "multi_similarity"
    margin: float = 0.2
    reduction: str = "mean"
    mining: str | None = "auto"
    offline_mining: bool = False
    offline_pool: int | None = None
    temperature: float = 0.1
    ms_alpha: float = 2.0
    ms_beta: float = 50.0
    ms_base: float = 0.5
    pos_weight: float | None = None
    xbm_memory_size: int = 0
    xbm_warmup_steps: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    miner_params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser and learning-rate schedule (stepped every batch).

    Attributes:
        optimizer: a registered optimiser (:data:`siamkit.training.optim.OPTIMIZERS`), given
            ``lr``, ``weight_decay``, ``momentum`` and ``optimizer_params``, checked against its
            signature. In YAML also ``optimizer: {kind: adamw, params: {lr: 0.001, ...}}``.
        schedule: a registered schedule (:data:`siamkit.training.optim.SCHEDULES`), given
            ``lr``, ``warmup_fraction`` and ``schedule_params``. In YAML also
            ``schedule: {kind: cosine, params: {warmup_fraction: 0.1}}``.
        grad_clip: clip the gradient norm to this (``None`` = off).
        loss_lr_factor: the learning rate of the parameters the loss learns itself (the class
            proxies of ``proxy_anchor``, ``proxy_nca``, ``soft_triple``, ``normalized_softmax``
            (ArcFace, CosFace) and ``sub_center_arcface``; ``margin``'s beta) as a multiple of
            ``lr``, kept by every schedule: e.g. 100 as Proxy-Anchor (Kim et al. 2020) trains
            its proxies. They are then a second param group of the optimiser; at 1 (the
            default) they share the network's one group, as before this key.
    """

    optimizer: str = "adamw"
    lr: float = 3e-3
    weight_decay: float = 5e-4
    momentum: float = 0.9
    schedule: str = "onecycle"
    warmup_fraction: float = 0.15
    grad_clip: float | None = None
    loss_lr_factor: float = 1.0
    optimizer_params: dict[str, Any] = field(default_factory=dict)
    schedule_params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    """The loop: epochs, P×K batches, seed, devices, validation and early stopping.

    Attributes:
        classes_per_batch: P, classes in a batch.
        samples_per_class: K, images of each class in a batch.
        steps_per_epoch: batches per epoch, at most one pass over the training images (a run
            asking for more says so and trains that pass); ``None`` = one pass (every image once).
        amp: mixed precision (``torch.autocast``) when training on CUDA.
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        val_metric: on the validation split each epoch: ``"precision_at_1"``, ``"few_shot"``
            (N-way 1-shot, N the largest of ``eval.ways``, capped at the validation classes),
            ``"eer"`` (verification equal error rate on validation pairs; lower is better:
            early stopping, ``restore_best`` and ``siamkit tune`` minimise it), or ``"none"``.
        early_stopping: stop after this many epochs without a better validation metric.
        restore_best: end with the weights of the best validation epoch.
        ema_decay: keep an exponential moving average of the weights, updated after every step
            with this decay (e.g. 0.998, about the last 500 steps); validation, ``restore_best``
            and the final model use the averaged weights. ``None``: the network's own.
        ema_exclude_initial: the average leaves the random initial weights out (bias-corrected,
            :class:`~siamkit.training.ema.WeightAverage`); ``False``: the classic average, which
            still holds ``ema_decay ** steps`` of them when training ends (44% after 410 steps at
            0.998).
        threads: torch CPU threads (``None`` or 0 = torch's default).
        on_collapse: what to do when the learned embedding collapses after an epoch (its
            spread falls under a tenth of the spread before training): ``"restart"`` the next
            epoch from the last good weights with a tenth of the learning rate and batch-hard
            mining switched to semihard, at most twice, then stop with the last good weights
            (:class:`~siamkit.training.collapse.CollapseRecovery`); ``"warn"``: only say so.
        class_power: for class-imbalanced data, draw a batch's classes with probability
            ``count ** class_power`` (0 uniform, 1 by frequency), small classes with
            replacement (:class:`~siamkit.data.samplers.PKSampler`); ``None``: every image once
            per epoch.
    """

    epochs: int = 1
    classes_per_batch: int = 6
    samples_per_class: int = 32
    steps_per_epoch: int | None = None
    seed: int = 0
    amp: bool = True
    device: str = "auto"
    val_metric: str = "precision_at_1"
    early_stopping: int | None = None
    restore_best: bool = False
    ema_decay: float | None = None
    ema_exclude_initial: bool = True
    threads: int | None = None
    embed_batch_size: int = 512
    class_power: float | None = None
    on_collapse: str = "restart"


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation on the unseen classes (DESIGN §4): N-way K-shot episodes, pairs, retrieval.

    ``ways``: N of the N-way K-shot episodes, one or a list (``[5, 20]``, reported side by side);
    each episode draws N of the unseen classes. ``None``: all unseen classes when there are at
    most :data:`ALL_CLASS_WAYS_UP_TO`, else 5-way and 20-way (Omniglot's protocol). A class
    needs ``K + queries`` images to be drawn; when fewer than N classes have that many, the
    queries are lowered to what N classes allow (the report says how many).

    ``score_norm`` (``"none"``, ``"snorm"`` or ``"csls"``) scores pairs against a cohort of
    ``cohort_size`` embeddings, each side's ``score_norm_k`` nearest ones
    (:class:`~siamkit.distances.cohort.CohortNormalized`). ``cohort`` says whose embeddings:

    - ``"train"``: a seeded sample of the training images. Nothing about the test classes is used,
      so the fmnist-disjoint protocol holds as written.
    - ``"unlabeled"``: images of the test classes that are not test images, labels unused
      (Fashion-MNIST's train split). This is the in-domain unlabeled data a deployment usually
      has, and a protocol *variant*: say so when reporting its figures. With ``cohort_root``, the
      images found under that folder instead (any dataset; sub-folder names are ignored).

    The cohort is saved in the model. The calibrated threshold, ``verify`` and the evaluation all
    use the normalised distance. The threshold is fit on validation pairs (training classes)
    normalised against training images, so that each side is normalised against its own kind.

    ``clustering``: also report NMI and AMI of a seeded k-means (k = the number of test classes)
    in the retrieval section. Off by default: its cost grows with the number of classes (about
    0.7 CPU-s at 10 classes, 40 at 1,000 on 10k x 128 embeddings).
    """

    episodes: int = 1000
    shots: tuple[int, ...] = (1, 5)
    queries: int = 15
    ways: tuple[int, ...] | int | None = None
    threshold_target: str = "eer"
    seed: int = 0
    score_norm: str = "none"
    score_norm_k: int = 300
    cohort: str = "train"
    cohort_root: str | None = None
    cohort_size: int = 2000
    clustering: bool = False


@dataclass(frozen=True)
class RunConfig:
    """Everything a training run needs; ``load_config`` / ``dump_config`` read and write it."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


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
    if t.class_power is not None:  # a negative power favours the small classes
        number("train.class_power", t.class_power, note="0 uniform, 1 by class size")
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
    if o.grad_clip is not None:
        number("optim.grad_clip", o.grad_clip, low=0, open_low=True, note="null clips nothing")


#: The loss kinds a cross-batch memory (``loss.xbm_memory_size``) can wrap; n_pairs cannot (its
#: softmax is over one positive per class of the batch), nor the proxy and batch-view losses.
XBM_KINDS = (
    "triplet",
    "soft_margin_triplet",
    "contrastive",
    "multi_similarity",
    "margin",
    "lifted_structure",
    "angular",
    "tuplet_margin",
)


#: The loss.mining values a cross-batch memory can mine with, by the loss kinds whose mining it
#: does itself (batch x (batch + memory)); a miner object built by name cannot.
XBM_MINING = {
    "contrastive": "null, all, hardest, hard, semihard or easy",
    "multi_similarity": "null or multi_similarity",
    **{
        k: "null, all, hard, semihard, easy, batch_hard or random"
        for k in ("triplet", "soft_margin_triplet", "margin")
    },
}


def _check_xbm(cfg: LossConfig) -> None:
    """``loss.xbm_*``: sizes, and a loss and mining the cross-batch memory can use."""
    count("loss.xbm_memory_size", cfg.xbm_memory_size, 0, note="embeddings kept; 0 is off")
    count(
        "loss.xbm_warmup_steps",
        cfg.xbm_warmup_steps,
        0,
        note="steps before the memory starts filling",
    )
    if cfg.xbm_memory_size == 0:
        return
    if cfg.kind not in XBM_KINDS:
        raise ValueError(
            f"loss.xbm_memory_size > 0 needs loss.kind = {', '.join(XBM_KINDS)}, not {cfg.kind}"
        )
    if cfg.offline_mining:
        raise ValueError(
            "loss.xbm_memory_size > 0 mines in each step; turn loss.offline_mining off"
        )
    if resolved_mining(cfg) == "distance_weighted":
        default = " (loss.kind = margin's default)" if cfg.mining == "auto" else ""
        takes = XBM_MINING.get(cfg.kind, "null")
        raise ValueError(
            f"loss.xbm_memory_size > 0 cannot use loss.mining = distance_weighted{default}; "
            f"loss.kind = {cfg.kind} takes loss.mining = {takes} with it"
        )


def demo_recipe() -> RunConfig:
    """The ``siamkit demo`` recipe (``configs/demo.yaml``).

    A ConvNet (32, 64, 128) with a 64-d head, trained alone for 10 epochs with the batch-hard
    triplet loss (margin 0.2, averaged over the triplets that still violate it) on 6×32 batches,
    Adam at a constant 1e-3, keeping a moving average of its weights (decay 0.998, about the
    last 500 steps) that becomes the model. HOG-like gradient-orientation histograms of the input
    (12 signed bins per 7×7 and per 14×14 cell) are joined to the learned embedding with weight
    0.5 when embedding, not during training: the network learns what the hand-made features miss
    on the seen classes, and the features carry the appearance cues that transfer to unseen ones.
    See BENCHMARKS.md for what it reaches on the unseen classes of fmnist-disjoint and other
    class splits, and for how much each part gives on its own.

    A collapse of the learned part is reported, not restarted (``train.on_collapse: warn``): the
    recipe's published figures were made that way, and with the HOG features joined a collapsed
    learned part adds a constant while a restarted one is trained again at a tenth of the rate.
    """
    model = ModelConfig(
        embedding_dim=64,
        appearance=AppearanceConfig(
            weight=0.5, pool=7, features="hog", bins=12, signed=True, levels=2, in_loss=False
        ),
        input_mean=(0.286,),
        input_std=(0.353,),
    )
    loss = LossConfig(kind="triplet", mining="batch_hard", margin=0.2, reduction="nonzero")
    optim = OptimConfig(optimizer="adam", lr=1e-3, weight_decay=0.0, schedule="constant")
    train = TrainConfig(epochs=10, ema_decay=0.998, on_collapse="warn")
    return RunConfig(model=model, loss=loss, optim=optim, train=train)


def resolved_mining(cfg: LossConfig) -> str | None:
    """The mining strategy ``cfg.mining`` stands for with its loss kind (``"auto"`` resolved)."""
    if cfg.mining != "auto":
        return cfg.mining
    auto = {
        "triplet": "batch_hard",
        "multi_similarity": "multi_similarity",
        "margin": "distance_weighted",  # the paper's sampling
    }
    return auto.get(cfg.kind)


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


# The loss section's own keys that fill a registered loss's parameter (``loss.ms_alpha`` is
# multi_similarity's ``alpha``); ``loss.params`` can set the same parameter.
_FLAT_LOSS_KEYS = {
    "margin": "margin",
    "reduction": "reduction",
    "pos_weight": "pos_weight",
    "alpha": "ms_alpha",
    "beta": "ms_beta",
    "base": "ms_base",
    "temperature": "temperature",
}


def loss_key_conflicts(loss: LossConfig) -> list[tuple[str, str]]:
    """``(section key, loss.params key)`` pairs (``("margin", "margin")``, ``("ms_alpha",
    "alpha")``) where the loss section's own key, set away from its default, gives the loss
    kind's parameter another value than ``loss.params`` does. A user's config with one is
    refused (:func:`check_config`); a saved one is read with ``loss.params`` winning, as its run
    trained (:func:`siamkit.training.config_guard.read_run_config`)."""
    from siamkit.training.objectives import flat_loss_params

    _, flat = flat_loss_params(loss, "euclidean")  # which keys: the same for any distance
    default = LossConfig()
    out = []
    for param in sorted(flat.keys() & loss.params.keys() & _FLAT_LOSS_KEYS.keys()):
        key = _FLAT_LOSS_KEYS[param]
        mine = getattr(loss, key)
        if mine != getattr(default, key) and mine != loss.params[param]:
            out.append((key, param))
    return out


def _check_loss_params(cfg: RunConfig) -> None:
    from siamkit.training.objectives import loss_params

    if conflicts := loss_key_conflicts(cfg.loss):
        key, param = conflicts[0]
        raise ValueError(
            f"loss.{key} = {getattr(cfg.loss, key)} and loss.params.{param} = "
            f"{cfg.loss.params[param]} both set the {cfg.loss.kind} loss's {param}; keep one"
        )
    name, params = loss_params(cfg.loss, cfg.model.distance)
    try:
        LOSSES.check_params(name, params)
    except TypeError as err:
        raise ValueError(f"loss.params: {err}") from None
    # NaN or inf would only show at the first step, as 'the loss became nan' blaming the data
    for param, value in params.items():
        if isinstance(value, float):
            number(_loss_key(cfg.loss, param), value)
    # a value out of the loss's range (a negative margin, a count of 2.5) would only show when
    # the run builds the loss, after the data has loaded; the loss is built once here instead
    takes = inspect.signature(LOSSES.get(name)).parameters
    run_supplies = {"distance": "euclidean", "mining": None, "classes": [0, 1], "embedding_dim": 2}
    given = {k: v for k, v in params.items() if k not in (*run_supplies, "head")}
    given.update({k: v for k, v in run_supplies.items() if k in takes})
    if "head" in takes:  # the pair-head loss: the model's learned distance
        from siamkit.distances import MLPMetric

        given["head"] = MLPMetric(2)
    _refuse_bad_value(lambda: LOSSES.build(name, **given), lambda p: _loss_key(cfg.loss, p))


def _loss_key(cfg: LossConfig, param: str) -> str:
    """The config key a loss parameter came from: ``loss.params.<param>``, or the section's own
    key that fills it (``loss.margin``, ``loss.ms_alpha``)."""
    if param in cfg.params:
        return f"loss.params.{param}"
    return f"loss.{_FLAT_LOSS_KEYS.get(param, param)}"


def _refuse_bad_value(build: Callable[[], object], key: Callable[[str], str]) -> None:
    """Build a loss or miner from the config's values, and re-raise its :class:`ParamError`
    (a value out of range, of the wrong type) under the config key the value came from. Any
    other error is left to the run's own build, which has the real classes, distance and data.
    Torch's random state is kept: building initialises class proxies."""
    import torch

    try:
        with torch.random.fork_rng(devices=[]):
            build()
    except ParamError as err:
        raise ValueError(err.named(key(err.param))) from None
    except Exception:  # reported by the run's own build
        return


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


# miners returning Pairs, not Triplets
_PAIR_MINERS = ("pairs", "multi_similarity", "pair_margin", "uniform_histogram")


def _check_mining(cfg: LossConfig) -> None:
    from siamkit.miners.registry import MINERS
    from siamkit.training.parts import PART_BY_KEY, native_mining

    mining = resolved_mining(cfg)
    if mining is None:
        if cfg.miner_params:
            raise ValueError("loss.miner_params are set but loss.mining names no miner")
        return
    takes = "mining" in inspect.signature(LOSSES.get(cfg.kind)).parameters
    native = native_mining(cfg.kind)
    if not takes:  # a loss without a miner ignores loss.mining, as before; parameters are refused
        if cfg.miner_params:
            raise ValueError(f"loss.kind = {cfg.kind} takes no miner; remove loss.miner_params")
        return
    if not cfg.miner_params and mining in native:
        return
    if cfg.offline_mining:
        raise ValueError(
            "loss.offline_mining mines with a strategy name; a built miner (loss.miner_params, "
            f"or {mining!r}) is for online mining"
        )
    triplets_only = cfg.kind in ("triplet", "soft_margin_triplet")
    if mining not in MINERS:
        built = [m for m in MINERS.names() if not (triplets_only and m in _PAIR_MINERS)]
        choices = sorted({*native, *built})
        known = mining in native or mining in TRIPLET_STRATEGIES or mining in PAIR_STRATEGIES
        raise ValueError(
            f"loss.mining = {mining!r} does not work with loss.kind = {cfg.kind}"
            + (" when given parameters" if mining in native else "")
            + f"; choose auto, null or one of {', '.join(choices)}"
            + ("" if known else f"; {PLUGIN_HINT}")
        )
    if triplets_only and mining in _PAIR_MINERS:
        raise ValueError(
            f"loss.mining = {mining!r} mines pairs; loss.kind = {cfg.kind} needs triplets "
            f"(choose one of {', '.join(TRIPLET_STRATEGIES)})"
        )
    PART_BY_KEY["loss", "miner"].check(mining, cfg.miner_params, "loss.miner_params")
    params = cfg.miner_params
    _refuse_bad_value(lambda: MINERS.build(mining, **params), lambda p: f"loss.miner_params.{p}")


def eval_ways(cfg: EvalConfig) -> tuple[int, ...]:
    """``eval.ways`` as a tuple (``()``: not set, the number of unseen classes decides)."""
    if cfg.ways is None:
        return ()
    return (cfg.ways,) if isinstance(cfg.ways, int) else tuple(cfg.ways)


def resolved_ways(cfg: EvalConfig, n_classes: int) -> tuple[int, ...]:
    """The N of N-way episodes ``cfg`` asks for among ``n_classes`` (each capped at it):
    ``eval.ways``, or when unset all classes up to :data:`ALL_CLASS_WAYS_UP_TO`, else 5 and 20.

    >>> resolved_ways(EvalConfig(), 4), resolved_ways(EvalConfig(), 200)
    ((4,), (5, 20))
    >>> resolved_ways(EvalConfig(ways=(5, 20, 50)), 12)
    (5, 12)
    """
    ways = eval_ways(cfg)
    if not ways:
        ways = (n_classes,) if n_classes <= ALL_CLASS_WAYS_UP_TO else (5, ALL_CLASS_WAYS_UP_TO)
    return tuple(dict.fromkeys(min(n, n_classes) for n in ways))


def _check_class_lists(cfg: RunConfig) -> None:
    """Empty lists and counts that cannot work, named by key, before anything loads or trains."""
    tc = cfg.data.train_classes
    if isinstance(tc, int) and tc < 2:
        raise ValueError(f"data.train_classes = {tc}: draw at least 2 classes to train on")
    if isinstance(tc, tuple) and not tc:
        raise ValueError(
            "data.train_classes is empty; name the classes to train on, or give a count"
        )
    if isinstance(tc, tuple) and len(set(tc)) < 2:
        raise ValueError(
            f"data.train_classes = {list(tc)}: name at least 2 classes to train on (P×K batches "
            "compare classes)"
        )
    if not cfg.eval.shots or any(k < 1 for k in cfg.eval.shots):
        raise ValueError(
            f"eval.shots = {list(cfg.eval.shots)}: give one or more K of N-way K-shot, each >= 1"
        )
    ways = eval_ways(cfg.eval)
    if cfg.eval.ways is not None and (not ways or any(n < 2 for n in ways)):
        raise ValueError(
            f"eval.ways = {cfg.eval.ways!r}: give one or more N of N-way K-shot, each >= 2 "
            "(or null for all unseen classes)"
        )
    if tc is None and cfg.data.val_classes is not None:
        raise ValueError(
            f"data.val_classes = {_as_written(cfg.data.val_classes)} with data.train_classes = "
            "null: every "
            "class is then also a test class, so validation classes would be test classes; name "
            "data.train_classes (a list or a count) to hold validation classes out of them"
        )


def too_few_left_to_train(
    val_classes: tuple[int, ...] | int, train_classes: tuple[int, ...] | int
) -> ValueError:
    """The sentence for ``data.val_classes`` holding out so many of ``data.train_classes`` (a
    list or a count) that fewer than 2 are left to train on.

    >>> print(too_few_left_to_train(10, (0, 1, 2, 3, 4, 5)))
    data.val_classes = 10 leaves fewer than 2 of the 6 classes data.train_classes lists to train
    on: hold out at most 4, or train on more classes (data.train_classes: a longer list, or a
    count of classes to draw)
    """
    shown = val_classes if isinstance(val_classes, int) else list(val_classes)
    n = train_classes if isinstance(train_classes, int) else len(train_classes)
    lists = "draws" if isinstance(train_classes, int) else "lists"
    more = (
        "train on more classes (data.train_classes: a longer list, or a count of classes to draw)"
    )
    fix = f"hold out at most {n - 2}, or {more}" if n >= 4 else more
    return ValueError(
        f"data.val_classes = {shown} leaves fewer than 2 of the {n} classes data.train_classes "
        f"{lists} to train on: {fix}"
    )


def _as_written(classes: tuple[int, ...] | int) -> str:
    """Class ids as a config writes them (``[5, 6]``, not a tuple's ``(5, 6)``), or a count."""
    return str(classes if isinstance(classes, int) else list(classes))


def _check_val_classes(cfg: DataConfig) -> None:
    """``data.val_classes``: at least two classes, all of them training classes, two left to train."""
    vc = cfg.val_classes
    if vc is None:
        return
    tc = cfg.train_classes
    n_train = tc if isinstance(tc, int) else len(tc) if tc is not None else None
    if isinstance(vc, int):
        if vc < 2:
            raise ValueError(
                f"data.val_classes = {vc}: hold out at least 2 classes (validation compares "
                "classes), or set it to null for the per-image hold-out (data.val_fraction)"
            )
        if tc is not None and n_train is not None and vc > n_train - 2:
            raise too_few_left_to_train(vc, tc)
        return
    if len(vc) == 0:
        raise ValueError("data.val_classes is empty; name at least 2 classes, or give a count")
    if len(set(vc)) != len(vc):
        raise ValueError(f"data.val_classes = {list(vc)} contains duplicates")
    if len(vc) < 2:
        raise ValueError(
            f"data.val_classes = {list(vc)}: hold out at least 2 classes (validation compares classes)"
        )
    if isinstance(cfg.train_classes, tuple):
        outside = sorted(set(vc) - set(cfg.train_classes))
        if outside:
            raise ValueError(
                f"data.val_classes = {list(vc)} includes {outside}, which are not in "
                f"data.train_classes {list(cfg.train_classes)}: validation classes are held out "
                "from the training classes and must never be test classes"
            )
        if len(cfg.train_classes) - len(vc) < 2:
            raise too_few_left_to_train(vc, cfg.train_classes)
