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

from dataclasses import dataclass, field
from typing import Any

from siamkit.data.sources import DATA_SOURCES
from siamkit.distances.registry import DISTANCES as DISTANCE_REGISTRY
from siamkit.losses.registry import LOSSES
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
        limit: keep at most this many training images (quick runs): a seeded sample of the
            training split, drawn after the validation images are held out; ``None`` = all.
            Fewer than ``labels_per_class`` x the training classes is refused (it would cut
            the labels). The validation and test images are not limited: a quick run still
            validates and calibrates on every held-out image (``val_fraction`` of Fashion-MNIST's
            6 training classes: 3,600); a smaller ``val_fraction`` holds out fewer.
            ``val_classes`` holds out whole classes instead, every image of each (6,000 per
            Fashion-MNIST class), which is usually more.
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
        cache: keep an image folder's decoded images (uint8, at ``image_size``) in a cache, so
            that ``--resume`` (or another run on the same folder) does not read and decode them
            again: ``true`` in the run's ``image-cache/`` folder, a path in that folder;
            ``false`` reads the files every time. The cache is used only when the folder (its
            real path) and every file's path, size, ``mtime`` and a hash of its bytes (the whole
            file up to 1 MiB, else 16 evenly spaced 4 KiB blocks) are the same as when it was made
            (:mod:`siamkit.data.folder_cache`).
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
    cache: bool | str = False


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
        grad_clip: clip the gradient norm to this (``None`` = off): the norm of every
            parameter the optimiser steps, the loss's own (class proxies) with the network's.
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
            asking for more says so and trains that pass); ``None`` = one pass (every image once,
            as far as P×K batches take them: on class-imbalanced data the larger classes outlast
            the others, their other images unused, which the run says; see ``class_power``).
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
