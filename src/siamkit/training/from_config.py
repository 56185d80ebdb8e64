"""Build a :class:`~siamkit.training.trainer.Trainer` from a run config: :meth:`Trainer.from_config`.

This is where the config's sections meet: the device and DDP context, the objective
(:func:`~siamkit.training.objectives.build_objective`), the optimizer and schedule, the P×K (or
offline-mined) batches, AMP, and the callbacks: weight average, validation with early stopping,
collapse monitor and recovery, epoch log, and the config kept in the checkpoint.

>>> trainer = build_trainer(net, cfg, data, out_dir="runs/x")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from siamkit.clauses import counted, in_number
from siamkit.encode import encode
from siamkit.evaluation import precision_at_1
from siamkit.models import network_of
from siamkit.training import ddp
from siamkit.training.augment import make_augmentation
from siamkit.training.batch_source import PKBatches, triplets_per_batch
from siamkit.training.builders import build_optimizer, build_scheduler, embedding_model
from siamkit.training.callbacks import (
    Callback,
    ChannelsLast,
    EpochLog,
    Validation,
    WeightAverageCallback,
)
from siamkit.training.collapse import CollapseMonitor, CollapseRecovery
from siamkit.training.config import VAL_METRICS_LOWER_BETTER, RunConfig
from siamkit.training.config_classes import resolved_ways
from siamkit.training.config_loss import resolved_mining
from siamkit.training.data import RunData
from siamkit.training.global_bn import UseGlobalBatchNorm
from siamkit.training.objectives import build_objective
from siamkit.training.preflight import run_config_guard
from siamkit.training.step import mixed_precision
from siamkit.training.trainer import CHECKPOINT, Trainer
from siamkit.training.validation import one_shot_accuracy, validation_eer
from siamkit.types import Triplets

#: What a validation refused for a learned metric's NaN weights adds (a NaN loss would have
#: stopped the run at its next step, :func:`~siamkit.training.step.train_step`, saying to lower
#: optim.lr); a --resume must keep the run's optim.lr (the config guard refuses another).
NAN_METRIC_IN_TRAINING = (
    "In training, the learned metric's weights became NaN: lower optim.lr and train again (a "
    "--resume continues from the last epoch's checkpoint, but only at the run's own optim.lr)"
)


def _nan_weights(distance: Any) -> bool:
    """Whether ``distance`` is a learned metric (a module) with a NaN or infinite weight."""
    params = distance.parameters() if isinstance(distance, nn.Module) else ()
    return any(not bool(torch.isfinite(p).all()) for p in params)


#: What the progress lines say while the validation images are embedded (val_metric, threshold).
VALIDATION_IMAGES = "embedding validation images"


def canonical_device(device: torch.device | str | None) -> torch.device | None:
    """``device`` as a tensor on it names it: ``"cuda"`` with the current index filled in
    (``cuda:0``), ``"cpu:0"`` as ``cpu``. A run's ``ctx.device`` (``torch.device("cuda")``) and
    its weights' device after training (``cuda:0``) are then one device (s59_r7 finding 3)."""
    return None if device is None else torch.empty(0, device=device).device


#: The part of a model that scores pairs against a stored cohort and embeds nothing
#: (:meth:`~siamkit.models.siamese.SiameseNetwork.set_score_norm`): left out of
#: :func:`weights_key`, so attaching the cohort after training keeps the validation embedding.
SCORE_NORM = "score_norm"


def _description(model: nn.Module) -> str:
    """``model``'s description as :func:`weights_key` hashes it: its ``config()`` (JSON, sorted
    keys, without :data:`SCORE_NORM`), or its ``repr`` for a module with no such description
    (a plain module, or an encoder not made by ``create_encoder``, whose ``config()`` refuses)."""
    describe = getattr(model, "config", None)
    try:
        cfg = describe() if callable(describe) else None
    except (TypeError, ValueError):
        cfg = None
    if not isinstance(cfg, dict):
        return repr(model)
    cfg = {k: v for k, v in cfg.items() if k != SCORE_NORM}
    return json.dumps(cfg, sort_keys=True, default=repr)


def weights_key(model: nn.Module, device: torch.device | str | None = None) -> str:
    """A digest of ``model``'s class, description (its ``config()``: a joined embedding's
    ``weight`` and appearance features are not in its state), state (every parameter and
    buffer, bit for bit) and ``device`` (:func:`canonical_device`): equal keys embed alike.
    The score-norm cohort (:data:`SCORE_NORM`) is left out of both, as it embeds nothing."""
    head = f"{type(model).__qualname__}|{canonical_device(device)}|{_description(model)}"
    digest = hashlib.sha256(head.encode())
    for name, value in model.state_dict().items():
        if name.split(".", 1)[0] == SCORE_NORM:
            continue
        raw = value.detach().cpu().contiguous().reshape(-1).view(torch.uint8)
        digest.update(f"|{name}|{value.dtype}|{tuple(value.shape)}|".encode())
        digest.update(raw.numpy().tobytes())
    return digest.hexdigest()


class ValidationEmbeddings:
    """The validation images ``x`` embedded by a model, the last result kept: a model whose
    :func:`weights_key` is the one it last embedded with gets the same values back without
    embedding again (the threshold calibration after training reuses the last epoch's
    validation embedding, when no weight average or best epoch replaced the weights since)."""

    def __init__(self, x: Tensor, batch_size: int) -> None:
        self.x, self.batch_size = x, batch_size
        self._last: tuple[str, Tensor] | None = None

    def __call__(self, model: nn.Module, device: torch.device | str | None) -> Tensor:
        key = weights_key(model, device)
        if self._last is None or self._last[0] != key:
            with contiguous_layout(model):
                z = encode(model, self.x, self.batch_size, device, desc=VALIDATION_IMAGES)
            self._last = (key, z)
        return self._last[1].clone()  # a caller's in-place change cannot reach the next


@contextmanager
def contiguous_layout(model: nn.Module) -> Iterator[None]:
    """``model`` in the contiguous memory format inside the block, channels-last again after
    it when it was (:class:`~siamkit.training.callbacks.ChannelsLast` lays a training image
    network out so; the run ends contiguous): the validation images are embedded as the saved,
    contiguous model embeds them, bit for bit, so the threshold's fit can reuse that embedding
    (channels-last convolutions differ in the last bits). The parameters stay the same objects
    (the optimiser's), their values unchanged."""
    was = any(p.dim() == 4 and not p.is_contiguous() for p in model.parameters())
    if not was:
        yield
        return
    model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    try:
        yield
    finally:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]


class Validator:
    """:func:`make_validator`'s ``net -> metric``, with the :class:`ValidationEmbeddings` it
    embeds the validation images with (``embeddings``), for a later pass to reuse."""

    def __init__(
        self, score: Callable[[nn.Module], float], embeddings: ValidationEmbeddings
    ) -> None:
        self.score, self.embeddings = score, embeddings

    def __call__(self, net: nn.Module) -> float:
        return self.score(net)


def make_validator(cfg: RunConfig, data: RunData, device: torch.device) -> Validator:
    """``net -> cfg.train.val_metric`` on the validation split (higher is better, except the
    metrics in :data:`~siamkit.training.config.VAL_METRICS_LOWER_BETTER`: ``eer``), measured on
    the embedding the run saves (:func:`~siamkit.training.builders.embedding_model`: with the
    config's appearance features joined, whether or not the loss sees them).

    ``few_shot`` is N-way 1-shot with N the largest of ``eval.ways`` (when unset, as the
    evaluation would choose for this many classes), capped at the validation classes, with up
    to ``eval.queries`` queries per class: more ways and queries than a 5-way 1-query episode
    keep it from saturating.
    """
    n_val = int(torch.unique(data.val_y).numel()) if len(data.val_y) else 0
    n_way = max(resolved_ways(cfg.eval, n_val)) if n_val >= 2 else 2

    embeddings = ValidationEmbeddings(data.val_x, cfg.train.embed_batch_size)

    def validate(net: nn.Module) -> float:
        model = embedding_model(net, cfg.model)  # type: ignore[arg-type]
        z = embeddings(model, device)
        try:
            return measure(z, model.distance)
        except ValueError as err:  # the metric's refusal of NaN distances, said for training
            if not _nan_weights(model.distance):
                raise
            raise ValueError(f"{err}. {NAN_METRIC_IN_TRAINING}") from err

    def measure(z: Tensor, dist: Any) -> float:
        if cfg.train.val_metric == "few_shot":
            return one_shot_accuracy(
                z, data.val_y, dist, n_way, episodes=300, seed=cfg.train.seed,  # type: ignore[arg-type]
                n_query=cfg.eval.queries,
            )  # fmt: skip
        if cfg.train.val_metric == "eer":  # train.seed: eval.seed may change on resume
            return validation_eer(z, data.val_y, dist, seed=cfg.train.seed)  # type: ignore[arg-type]
        return precision_at_1(z, data.val_y, dist)  # type: ignore[arg-type]

    return Validator(validate, embeddings)


def network_embeddings(
    net: nn.Module,
    x: Tensor,
    device: torch.device,
    batch_size: int = 512,
    desc: str = "embedding the collapse monitor's images",
) -> Tensor:
    """``(N, D_net)`` embeddings of the trained network alone (what the collapse monitor watches):
    without the appearance features a :class:`JoinedEmbedding` joins, and without the encoder
    taps an :class:`~siamkit.heads.EmbeddingHead` passes through unprojected (ConvNet ``taps``):
    pooled early features cannot collapse, so with them in the measure a collapse of the learned
    projection would go unreported."""
    inner = network_of(net)
    z = encode(inner, x, batch_size, device, desc=desc)
    passthrough = int(getattr(getattr(inner, "head", None), "passthrough", 0) or 0)
    if passthrough:  # the joined vector is normalised: renormalising its first part recovers it
        z = torch.nn.functional.normalize(z[:, : z.shape[1] - passthrough], dim=1)
    return z


def _offline_miner(
    net: nn.Module, cfg: RunConfig, device: torch.device
) -> Callable[[Tensor, Tensor, torch.Generator], Triplets]:
    from siamkit.miners import offline_mine_triplets

    bs, lc = cfg.train.embed_batch_size, cfg.loss

    def mine(x: Tensor, y: Tensor, gen: torch.Generator) -> Triplets:
        z = encode(net, x, bs, device, desc="embedding training images to mine")  # the loss's
        return offline_mine_triplets(
            z, y, resolved_mining(lc) or "all", lc.margin, net.distance,  # type: ignore[arg-type]
            per_anchor=1, generator=gen,
        )  # fmt: skip

    return mine


def _note(msg: str, log: Callable[[str], None] | None) -> None:
    """``msg`` to ``log``, or a ``UserWarning`` without one."""
    if log is not None:
        log(msg)
    else:
        warnings.warn(msg, UserWarning, stacklevel=3)


def _per_class(batches: PKBatches) -> int:
    """The most images of one class a batch holds: ``train.samples_per_class``, or the largest
    training class where none has that many (``data.labels_per_class: 2`` keeps 2 of each, and
    a batch then holds 2, not K); a ``class_power`` sampler tops a small class up with repeats,
    so its batches hold K."""
    sampler = batches.sampler
    if sampler.fill or sampler.class_power is not None:
        return batches.k
    return min(batches.k, int(np.unique(sampler.labels, return_counts=True)[1].max()))


def _fewer_classes_note(asked: int, batches: PKBatches, data: RunData) -> str:
    """The sentence for ``train.classes_per_batch`` above the training classes (P is capped at
    them): the batches are smaller than the config says, e.g. once data.val_classes holds some
    of the demo's six classes out."""
    n = batches.sampler.p
    held = (
        f" (data.val_classes holds {len(data.val_classes)} of the classes out)"
        if data.val_classes
        else ""
    )
    return (
        f"note: train.classes_per_batch = {asked} is more than the {n:,} training classes{held}, "
        f"so a batch holds {counted(n, 'class', 'classes')} x up to "
        f"{counted(_per_class(batches), 'image')}"
    )


def _steps_capped_note(asked: int, batches: PKBatches, images: int, world: int) -> str | None:
    """The sentence for a ``train.steps_per_epoch`` above one pass over the training images,
    which an epoch never exceeds (every image once), else ``None``."""
    if max(1, len(batches.sampler)) >= max(1, asked // world):
        return None
    steps = batches.steps * world
    # under torchrun a step trains one batch of each process: say the epoch in both, as the run's
    # processes line counts steps ("an epoch is N steps")
    trains = (
        counted(steps, "step")
        if world == 1
        else f"{counted(steps, 'batch', 'batches')}, {counted(batches.steps, 'step')} of the "
        f"{world:,} processes' batches"
    )
    return (
        f"note: train.steps_per_epoch = {asked} is more than one pass over the {images:,} "
        f"training images makes ({counted(steps, 'batch', 'batches')} of "
        f"{counted(batches.sampler.p, 'class', 'classes')} x up to "
        f"{counted(_per_class(batches), 'image')}), so an epoch trains {trains}; raise train.epochs "
        "to train longer"
    )


def _steps_shared_note(asked: int, batches: PKBatches, world: int) -> str | None:
    """The sentence for a ``train.steps_per_epoch`` that the processes of a torchrun launch
    cannot share out evenly: a step trains one batch of each, so an epoch trains a multiple of
    their count (5 batches on 2 processes: 4); else ``None``."""
    trained = batches.steps * world
    if world == 1 or trained == asked:
        return None
    rounded = "down" if trained < asked else "up"
    return (
        f"note: train.steps_per_epoch = {asked} is rounded {rounded} to "
        f"{counted(trained, 'batch', 'batches')} ({counted(batches.steps, 'step')} of the "
        f"{world:,} processes' batches, a step training one batch of each); set a multiple of "
        f"{world:,} to train it exactly"
    )


def _offline_pool_steps(cfg: RunConfig, batches: PKBatches, world: int) -> str | None:
    """Cap the steps of an offline-mining epoch at what ``loss.offline_pool`` can give, and
    return the sentence saying so (``None`` when the pool is enough).

    A round mines one triplet an anchor (``per_anchor=1``) of the pool's images, so it gives at
    most ``pool // triplets_per_batch`` batches over all processes: an epoch counted as one pass
    over the images ran out of triplets first and ended early, while the learning-rate schedule,
    sized by the steps an epoch was said to have, never reached its end. A pool too small for
    one batch a process would train nothing at all, and is refused. The cap is an upper bound:
    an anchor with no triplet to mine (its semihard window emptied as the model learned) gives
    none, so a later epoch can still end before it.
    """
    pool = cfg.loss.offline_pool
    if not cfg.loss.offline_mining or pool is None or pool >= len(batches.cpu_y):
        return None
    per_batch = triplets_per_batch(batches.p, batches.k)
    each = pool // per_batch // world  # batches a process gets from a round's triplets
    if each >= batches.steps:
        return None
    procs = f" ({per_batch * world:,} for the {world} processes)" if world > 1 else ""
    if each == 0:
        raise ValueError(
            f"loss.offline_pool = {pool:,} images mine at most {pool:,} triplets an epoch (one "
            f"an anchor), fewer than one batch of {counted(per_batch, 'triplet')}, so nothing would "
            "train; "
            f"set it to at least {per_batch:,}{procs}, or null for all the images"
        )
    wanted = batches.steps
    batches.steps = each
    return (
        f"note: loss.offline_pool = {pool:,} images mine at most {pool:,} triplets an epoch (one "
        f"an anchor), {counted(each, 'step')} of {counted(per_batch, 'triplet')}, fewer than "
        f"the {wanted:,} of an epoch, so an epoch trains at most {each:,} (fewer once anchors "
        f"have no triplet left to mine) and the learning-rate schedule is sized to {each:,}; "
        "raise "
        f"loss.offline_pool (to {wanted * world * per_batch:,}, or null for all the images) to "
        "train more steps an epoch"
    )


#: the share of the training images an epoch of P×K batches may leave out before the run says so
LEFT_OUT_NOTE = 0.2


def _left_out_note(batches: PKBatches) -> str | None:
    """The sentence for an epoch of P×K batches that leaves out more than :data:`LEFT_OUT_NOTE`
    of the training images, else ``None``.

    A batch takes at most K images of a class and an epoch ends once fewer than P classes have
    images left, so on class-imbalanced data the larger classes outlast the others and most of
    their images go unused every epoch (Fashion-MNIST 0-5 cut to 6000/3000/1000/300/100/30 at
    6 x 16: 2 batches an epoch, 188 of the 10,430 images), though ``train.steps_per_epoch:
    null`` reads as every image once. ``train.class_power`` draws the classes by size instead; a
    run whose ``train.steps_per_epoch`` cuts the epoch shorter chose that itself. Classes all of
    one size outlast none: whole classes are left over, too few to fill a batch (7 classes of 1
    image at P = 4: 3 of them), and the note says so.
    """
    sampler = batches.sampler
    if sampler.class_power is not None or batches.offline is not None:
        return None
    if batches.steps < max(1, len(sampler)):
        return None
    n = len(sampler.labels)
    used = len({i for batch in sampler.plan(0) for i in batch})
    if n - used <= LEFT_OUT_NOTE * n:
        return None
    labels, counts = np.unique(sampler.labels, return_counts=True)
    if counts.max() == counts.min():
        # classes of one size: none outlasts the others; the classes left once fewer than P
        # have images fill no batch (7 classes of 1 image at P = 4: 3 left out, s62 c8)
        drawn = {int(sampler.labels[i]) for batch in sampler.plan(0) for i in batch}
        unused = sum(int(c) not in drawn for c in labels)
        why = f"with every class of {counted(int(counts[0]), 'image')}, " + (
            f"{unused:,} of the {len(labels):,} classes {in_number(unused, 'is', 'are')} left "
            "over, too few to fill a batch"
            if unused
            else "the images left over lie in too few classes to fill a batch"
        )
    else:
        why = (
            f"the larger classes ({counted(int(counts.max()), 'image')}, against "
            f"{int(counts.min()):,} in the smallest) outlast the others"
        )
    return (
        f"note: an epoch of P×K batches ({counted(sampler.p, 'class', 'classes')} x up to "
        f"{counted(_per_class(batches), 'image')}) uses {used:,} of the {n:,} training images "
        f"({1 - used / n:.0%} left out): an epoch ends once fewer than {sampler.p:,} classes "
        f"have images left, and {why}; train.class_power draws each batch's classes by a power "
        "of their size instead, through every class's images in turn (--set train.class_power=0.5)"
    )


def _xbm_note(memory: int, images: int) -> str | None:
    """The sentence for a cross-batch memory (``loss.xbm_memory_size``) larger than the training
    set, which then holds several embeddings of the same images, the older ones made by weights
    since changed; else ``None``."""
    if memory <= images:
        return None
    return (
        f"note: loss.xbm_memory_size = {memory:,} is more than the {images:,} training images, "
        f"so once full it holds {memory / images:.1f} embeddings of each image on average, the "
        f"older ones stale (made by earlier weights); a memory of at most {images:,} keeps "
        f"about one of each (--set loss.xbm_memory_size={images})"
    )


def _no_validation_note(cfg: RunConfig, data: RunData) -> str:
    """The sentence for a run with no validation images: what goes without them, and the fix.

    A per-image hold-out of classes of 3 images or fewer holds out none (a class needs 4 for
    2 to go to validation and 2 to stay), which an Omniglot-like folder of few images meets.
    """
    f = cfg.data.val_fraction
    counts = torch.bincount(data.train_y) if data.train_y.numel() else torch.zeros(1)
    most = int(counts.max())
    why = (
        f"data.val_fraction = {f} holds out none"
        if f == 0 or cfg.data.val_classes is not None
        else f"data.val_fraction = {f} holds out none of classes of at most "
        f"{counted(most, 'image')}"
    )
    return (
        f"note: no images are held out for validation ({why}), so train.val_metric = "
        f"{cfg.train.val_metric} is not measured, train.early_stopping and train.restore_best "
        "have nothing to go by and the model gets no calibrated threshold; hold out whole "
        "classes instead with data.val_classes (a count, e.g. --set data.val_classes=2)"
    )


def build_trainer(
    net: nn.Module,
    cfg: RunConfig,
    data: RunData,
    out_dir: str | Path | None = None,
    progress: bool = True,
    validate: Callable[[nn.Module], float] | None = None,
    log: Callable[[str], None] | None = None,
) -> Trainer:
    """A :class:`Trainer` for ``net`` on ``data.train_*`` as ``cfg`` says, validating on ``data.val_*``.

    Args:
        net: the network (moved to the run's device).
        cfg: the run config.
        data: from :func:`~siamkit.training.data.load_run_data`.
        out_dir: where ``checkpoint.pt`` goes (``None``: no checkpoints).
        progress: show tqdm bars.
        validate: ``net -> metric`` replacing ``cfg.train.val_metric`` (in its direction).
        log: receives one line per epoch (loss, validation metric); default: printed with the
            progress bars, silent without them.
    """
    log = log if log is not None else (tqdm.write if progress else None)
    t = cfg.train
    ctx = ddp.setup_distributed(t.device)
    if t.threads:
        torch.set_num_threads(t.threads)
    net = net.to(ctx.device)
    image = len(data.input_shape) == 3
    callbacks: list[Callback] = [run_config_guard(cfg)]
    if image:
        callbacks.append(ChannelsLast(net))  # before DDP wraps it
    # under torchrun the batch norms normalise over every process's batch, as one process does
    # the joined batches (and as self-supervised runs do): each process's own statistics gave
    # other gradients (7e-3 apart on the weights after two Adam steps of digits-tiny's convnet)
    callbacks.append(UseGlobalBatchNorm(net))
    # ``net`` is what the loss sees: the network alone, or joined with the appearance features
    # (model.appearance.in_loss); the saved model joins them after training either way
    forward = ddp.wrap_for_training(net, ctx, some_frozen=cfg.model.freeze_encoder_epochs > 0)
    if t.ema_decay is not None:
        callbacks.append(WeightAverageCallback(net, t.ema_decay, t.ema_exclude_initial))
    if cfg.model.freeze_encoder_epochs:  # the encoder of an init_from model, for the first epochs
        from siamkit.training.init_from import FreezeEncoder

        callbacks.append(FreezeEncoder(net, cfg.model.freeze_encoder_epochs))
        frozen = cfg.model.freeze_encoder_epochs
        if frozen >= t.epochs and log is not None:  # allowed: may be meant
            log(
                f"note: model.freeze_encoder_epochs = {frozen} covers all "
                f"train.epochs = {t.epochs}, so the encoder stays frozen for the whole run: only "
                "the head trains"
            )
        elif log is not None:  # the epoch lines do not show it: say it once, at the start
            log(
                f"the encoder stays frozen for the first {frozen} of {t.epochs} epochs "
                f"(model.freeze_encoder_epochs): only the head trains until epoch {frozen + 1}"
            )
        if cfg.model.init_from is None and log is not None:  # --init-from forgotten?
            log(
                f"note: no model.init_from, so the frozen encoder ({cfg.model.encoder}) keeps "
                "the weights it was built with (random for siamkit's own encoders), not a saved "
                "model's: give --init-from MODEL to start from one"
            )
    distance: Any = net.distance
    loss_dim = int(net.embedding_dim)  # type: ignore[arg-type]
    objective = build_objective(
        cfg.loss, distance, classes=data.train_classes, embedding_dim=loss_dim
    ).to(ctx.device)
    ddp.broadcast_module(objective, ctx)  # its proxies, as DDP does the network's weights
    # the network's parameters, then any the loss learns itself (class proxies, margin's beta),
    # each once: at optim.loss_lr_factor x optim.lr, a second param group, when that is not 1
    optimizer = build_optimizer(cfg.optim, list(net.parameters()), list(objective.parameters()))
    if cfg.optim.loss_lr_factor != 1.0 and len(optimizer.param_groups) == 1 and ctx.is_main:
        _note(
            f"note: optim.loss_lr_factor = {cfg.optim.loss_lr_factor} has no effect: loss.kind = "
            f"{cfg.loss.kind} learns no parameters of its own (class proxies, margin's beta), "
            "so everything trains at optim.lr",
            log,
        )
    offline = _offline_miner(net, cfg, ctx.device) if cfg.loss.offline_mining else None
    batches = PKBatches(
        data.train_x, data.train_y, t.classes_per_batch, t.samples_per_class,
        steps_per_epoch=t.steps_per_epoch, seed=t.seed, augment=make_augmentation(cfg.data.augmentation),
        device=ctx.device, rank=ctx.rank, world=ctx.world, channels_last=image,
        offline=offline, offline_pool=cfg.loss.offline_pool, class_power=t.class_power,
    )  # fmt: skip
    pool_note = _offline_pool_steps(cfg, batches, ctx.world)  # before the schedule is sized
    if ctx.is_main and batches.sampler.p < t.classes_per_batch:
        _note(_fewer_classes_note(t.classes_per_batch, batches, data), log)
    if ctx.is_main and pool_note is not None:
        _note(pool_note, log)
    elif ctx.is_main and t.steps_per_epoch is not None:
        capped = _steps_capped_note(t.steps_per_epoch, batches, len(data.train_y), ctx.world)
        if capped is not None:
            _note(capped, log)
        elif shared := _steps_shared_note(t.steps_per_epoch, batches, ctx.world):
            _note(shared, log)
    left_out = _left_out_note(batches)
    if ctx.is_main and left_out is not None:
        _note(left_out, log)
    xbm = _xbm_note(cfg.loss.xbm_memory_size, len(data.train_y))
    if ctx.is_main and xbm is not None:
        _note(xbm, log)
    scheduler = build_scheduler(cfg.optim, optimizer, t.epochs * batches.steps)
    amp, scaler = mixed_precision(t.amp, ctx.device)
    validating = t.val_metric != "none" and len(data.val_y) > 1
    if t.val_metric != "none" and not validating and ctx.is_main:
        _note(_no_validation_note(cfg, data), log)
    validator = (validate or make_validator(cfg, data, ctx.device)) if validating else None
    share = lambda v: ddp.broadcast_float(v, ctx)  # noqa: E731 - rank 0's metric on every rank
    lower = t.val_metric in VAL_METRICS_LOWER_BETTER
    main_log = log if ctx.is_main else None
    callbacks.append(
        Validation(validator, t.early_stopping, t.restore_best, share, ctx.is_main, lower,
                   log=main_log, metric_name=t.val_metric)
    )  # fmt: skip
    spread_x = (data.val_x if len(data.val_x) >= 2 else data.train_x)[:1024]

    def learned(n: nn.Module) -> Tensor | None:  # the network's own embedding, on the main rank
        if not ctx.is_main:
            return None
        return network_embeddings(n, spread_x, ctx.device, t.embed_batch_size)

    monitor = CollapseMonitor(learned, log, appearance=cfg.model.appearance is not None)
    callbacks.append(monitor)
    if t.on_collapse == "restart":  # after the monitor: it reads the spread the monitor measured
        callbacks.append(CollapseRecovery(monitor, log, share=share))
    if log is not None and ctx.is_main:
        callbacks.append(EpochLog(log, t.epochs, t.val_metric))
    # online losses see the batch gathered from every rank; offline triplets index the local one.
    # The gather scales the local embeddings' gradient by the process count, not the loss: a
    # scaled loss multiplied the gradient of the loss's own parameters (proxies, a learned
    # distance), which every rank computes whole, by the process count
    gather = None if cfg.loss.offline_mining else ddp.make_gather(ctx)
    return Trainer(
        net, objective, optimizer, batches, scheduler=scheduler, epochs=t.epochs,
        callbacks=callbacks, checkpoint=Path(out_dir) / CHECKPOINT if out_dir is not None else None,
        ctx=ctx, forward=forward, amp=amp, scaler=scaler, grad_clip=cfg.optim.grad_clip,
        gather=gather,
        seed=t.seed, progress=progress,
    )  # fmt: skip
