"""A self-supervised run on siamkit's :class:`~siamkit.training.trainer.Trainer`.

The Trainer is handed its parts: the :class:`SelfSupervised` module (both views in one forward
pass) and its objective, an optimiser and per-batch schedule from the run's ``optim`` section,
:class:`ViewPairBatches` (an epoch's order and views depend only on ``(seed, epoch)``, so a run
resumed after any epoch ends with the same weights as one never stopped, on CPU), and callbacks:

* :class:`MomentumTarget`: BYOL's target update after every step (its state is checkpointed);
* :class:`SSLMonitor`: after each epoch, the collapse check (on the trained embedding head's
  output) and the kNN monitor (on the embedding the model is saved with, ``ssl.embed``),
  images/s; it stops the run when the embedding collapses;
* the shared :class:`~siamkit.training.config_guard.ConfigGuard` (:func:`ssl_config_guard`): a
  resumed run must have the same config;
* an epoch log line.

Under ``torchrun --nproc_per_node=N`` the run is data-parallel: each process draws a disjoint
share (``batch_size / N`` images) of every step's batch, with views from its own seeded stream
(so ``--resume`` stays exact for the same N); the module is wrapped in DistributedDataParallel,
its batch norms normalise over the global batch (:mod:`siamkit.training.global_bn`), and the
projections of every process are gathered before the loss (:func:`gather_views`): SimCLR's
NT-Xent sees the negatives of the whole global batch, VICReg's variance and covariance are the
global batch's, and each process's gradient, scaled by N against DDP's average, is the one
process's gradient on the global batch. BYOL's momentum target moves by the same rule from the
same weights on every process; NNCLR's queue (a buffer of the module, checkpointed with the
weights) takes the global batch's projections on every process, so the queues stay the same.
Only rank 0 measures the collapse and kNN monitors (and shares them, so every process stops
together), logs, and writes the checkpoint. With ``train.amp`` on
CUDA the forward pass runs under autocast (a ``GradScaler`` where float16), as in
:mod:`siamkit.training.from_config`.

>>> trainer, monitor = build_ssl_trainer(model, cfg, data, out_dir="runs/ssl")  # doctest: +SKIP
>>> trainer.fit()  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from siamkit.applications.ssl.config import SSLConfig, ssl_config_to_dict
from siamkit.applications.ssl.data import SSLData
from siamkit.applications.ssl.methods import SelfSupervised, embedding_network, trained_dim
from siamkit.applications.ssl.monitor import collapse_std, leave_one_out_knn, monitor_k
from siamkit.applications.ssl.views import ViewMaker
from siamkit.clauses import counted
from siamkit.distributed import all_gather_with_grad
from siamkit.encode import encode
from siamkit.training import ddp
from siamkit.training.batches import epoch_generator
from siamkit.training.builders import build_optimizer, build_scheduler
from siamkit.training.callbacks import Callback
from siamkit.training.checkpoint import load_checkpoint
from siamkit.training.config_guard import ConfigGuard
from siamkit.training.data import to_float
from siamkit.training.global_bn import UseGlobalBatchNorm
from siamkit.training.preflight import accept_saved_config, resumed_model
from siamkit.training.step import mixed_precision
from siamkit.training.trainer import Trainer, TrainResult

CHECKPOINT = "checkpoint.pt"
#: What the progress lines say while the monitors embed their images (before and after epochs).
KNN_IMAGES = "embedding the kNN monitor's images"
COLLAPSE_IMAGES = "embedding the collapse monitor's images"


class CollapseError(RuntimeError, ValueError):
    """The embedding collapsed to (nearly) one point: the model would be useless (a
    ``ValueError`` too: the command line says it in one sentence, as for a bad input).
    ``report``: the file that holds the collapsed run's curves, named at the end of the
    sentence (``None``: none written, or a refused --resume)."""

    def __init__(self, said: str, report: Path | None = None) -> None:
        super().__init__(_with_curves(said, report))
        self.said, self.report = said, report

    def report_moved(self, to: Path) -> None:
        """The run's report is now ``to`` (``siamkit train --overwrite`` keeps a failed run's
        report there, having put the earlier run's back): the sentence names it."""
        self.report = to
        self.args = (_with_curves(self.said, to),)


def _with_curves(said: str, report: Path | None) -> str:
    return f"{said}; the curves: {report}" if report is not None else said


#: The methods a collapse hint offers: negatives (SimCLR) or a variance / decorrelation term
#: (VICReg, Barlow Twins) keep the embedding spread; SimSiam and BYOL rely on the asymmetry alone.
_SPREAD_METHODS = ("simclr", "vicreg", "barlow_twins")

#: An ``optim.weight_decay`` above this is unusually high for SSL (published recipes use about
#: 1e-6 to 5e-4 with SGD or LARS, about 0.05 with AdamW): the collapse hint then names it first,
#: as decay strong enough pulls the embedding to a point.
HIGH_WEIGHT_DECAY = 0.1


def _collapse_fix(cfg: SSLConfig) -> str:
    """What to try after a collapse: a lower ``optim.weight_decay`` first when it is unusually
    high (``simsiam`` with ``optim.weight_decay = 200`` collapses at once), then the usual; the
    methods offered leave out the run's own (a SimCLR run was told to try ``method: simclr``).

    >>> _collapse_fix(SSLConfig(method="simclr"))
    'a lower optim.lr, stronger views or method: vicreg / barlow_twins'
    """
    others = " / ".join(m for m in _SPREAD_METHODS if m != cfg.method)
    fix = f"a lower optim.lr, stronger views or method: {others}"
    decay = cfg.optim.weight_decay
    if decay > HIGH_WEIGHT_DECAY:
        return f"a lower optim.weight_decay (now {decay:g}), {fix}"
    return fix


def std_text(std: float, threshold: float) -> str:
    """The collapse figure ``std`` as the epoch line and the collapse error both show it: 4
    decimals, or as many more as it takes to read on the same side of ``threshold`` as it is
    (0.019996 under 0.02 is not shown as 0.0200), so the two agree and compare with the
    threshold (the epoch line's 3 decimals read 0.001 where the error read 0.0005).

    >>> std_text(0.00052, 0.02), std_text(0.019996, 0.02), std_text(0.73, 0.02)
    ('0.0005', '0.019996', '0.7300')
    """
    for places in range(4, 13):
        text = f"{std:.{places}f}"
        if (float(text) < threshold) == (std < threshold):
            return text
    return repr(std)


def _collapse(epoch: int, std: float, threshold: float) -> str:
    return (
        f"epoch {epoch}: the embedding collapsed (per-dimension std x sqrt(D) = "
        f"{std_text(std, threshold)}, below ssl.collapse_std = {threshold})"
    )


def rank_generator(seed: int, epoch: int, rank: int, world: int) -> torch.Generator:
    """The views' generator of process ``rank`` of ``world`` in ``epoch`` (one process: the
    epoch's stream 2, as a run on one process always drew them)."""
    if world == 1:
        return epoch_generator(seed, epoch, stream=2)
    state = np.random.SeedSequence([seed, epoch, 2, rank, world]).generate_state(2)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def check_batch_fits(batch_size: int, n: int) -> None:
    """Refuse a batch larger than the training images, naming a size that fits.

    >>> check_batch_fits(256, 100)
    Traceback (most recent call last):
    ...
    ValueError: train.batch_size = 256 is more than the 100 training images: set it to at most
    100 (e.g. --set train.batch_size=64), or give more images
    """
    if n >= batch_size:
        return
    if n < 2:  # a batch needs 2 images (check_ssl_config): no size fits
        raise ValueError(
            f"train.batch_size = {batch_size} is more than the "
            f"{counted(n, 'training image')}: a batch needs 2 or more images; give more images"
        )
    fits = 1 << (n.bit_length() - 1)  # the largest power of two within n
    raise ValueError(
        f"train.batch_size = {batch_size} is more than the {n} training images: set it to at "
        f"most {n} (e.g. --set train.batch_size={fits}), or give more images"
    )


class ViewPairBatches:
    """Batches of ``batch_size`` images, each as two views stacked: ``(2B, C, H, W)`` and
    ``(2B,)`` zero labels (unused). Images are reshuffled every epoch; the last partial batch
    is dropped.

    With ``world`` processes, ``batch_size`` is the global batch: process ``rank`` gets the
    ``rank``-th of ``world`` equal shares of each step's images (the epoch's order is the same
    on every process), with views from its own generator (:func:`rank_generator`).
    """

    def __init__(
        self,
        x: Tensor,
        batch_size: int,
        steps: int | None,
        seed: int,
        views: ViewMaker,
        device: torch.device,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        n = x.shape[0]
        check_batch_fits(batch_size, n)
        local = ddp.share_of_batch(batch_size, world)
        self.x, self.b, self.seed, self.views = x.to(device), batch_size, seed, views
        self.rank, self.world, self.local = rank, world, local
        self.steps = n // batch_size if steps is None else min(n // batch_size, steps)

    def epoch(self, epoch: int) -> Iterator[tuple[Tensor, Tensor]]:
        order = torch.randperm(self.x.shape[0], generator=epoch_generator(self.seed, epoch, 0))
        gen = rank_generator(self.seed, epoch, self.rank, self.world)
        zeros = torch.zeros(2 * self.local, dtype=torch.int64, device=self.x.device)
        for step in range(self.steps):
            first = step * self.b + self.rank * self.local
            x = to_float(self.x[order[first : first + self.local].to(self.x.device)])
            v1, v2 = self.views.pair(x, gen)  # (B, C, H, W) twice
            yield torch.cat([v1, v2]), zeros


def gather_views(out: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Every process's ``(2n, P)`` output (first views, then second views) joined into the
    global batch's, first views of all processes then second views, in rank order; gradients
    flow to this process's rows (:func:`~siamkit.distributed.all_gather_with_grad`)."""
    n = out.shape[0] // 2
    first, second = all_gather_with_grad(out[:n]), all_gather_with_grad(out[n:])
    return torch.cat([first, second]), labels.new_zeros(2 * first.shape[0])


class MomentumTarget(Callback):
    """BYOL's target: after every step, :meth:`SelfSupervised.after_step` at the global step."""

    key = "momentum_target"

    def __init__(self, model: SelfSupervised, total_steps: int) -> None:
        self.model, self.total, self.step = model, total_steps, 0

    def on_step_end(self, trainer: Trainer) -> None:
        self.step += 1
        self.model.after_step(self.step, self.total)

    def state_dict(self) -> Any:
        avg = self.model.average
        return {"step": self.step, "average": avg.state_dict() if avg is not None else None}

    def load_state_dict(self, state: Any) -> None:
        self.step = int(state["step"])
        if self.model.average is not None:
            self.model.average.load_state_dict(state["average"])


class SSLMonitor(Callback):
    """Collapse std and kNN accuracy per epoch (row ``0``: before training); stops on collapse.

    Its checkpointed state: the collapse (``None`` if none), so a resumed run refuses it too (the
    seconds trained so far are the trainer's: :meth:`Trainer.seconds`).
    """

    key = "ssl_monitor"

    def __init__(
        self,
        model: SelfSupervised,
        cfg: SSLConfig,
        data: SSLData,
        device: torch.device,
        images_per_epoch: int,
        ctx: ddp.DistContext | None = None,
    ) -> None:
        self.model, self.cfg, self.data, self.device = model, cfg, data, device
        self.images, self.t0 = images_per_epoch, 0.0
        self.ctx = ctx if ctx is not None else ddp.DistContext(0, 1, device)
        self.collapsed: str | None = None

    def state_dict(self) -> Any:
        # an image folder's files, which a resume checks (check_same_images)
        images = {"images_id": self.data.images_id, "images": int(self.data.train_x.shape[0])}
        return {"collapsed": self.collapsed, **(images if self.data.images_id else {})}

    def load_state_dict(self, state: Any) -> None:
        self.collapsed = state.get("collapsed")

    def measure(self) -> dict[str, float | None]:
        """Rank 0's monitors, on every process (the others do not measure: they wait)."""
        out = self._measure() if self.ctx.is_main else {"collapse_std": None, "knn": None}
        return {k: ddp.broadcast_float(v, self.ctx) for k, v in out.items()}

    def _measure(self) -> dict[str, float | None]:
        t, net = self.cfg.train, self.model.net
        vx, vy = self.data.val_x, self.data.val_y
        zv, saved = None, None
        if vx is not None and vy is not None:  # kNN: of the embedding the run saves
            saved = embedding_network(net, self.cfg.ssl.embed)
            zv = encode(
                saved, vx, batch_size=t.embed_batch_size, device=self.device, desc=KNN_IMAGES
            )
        if zv is not None and saved is net:  # the head is saved: its kNN embedding serves both
            z = zv[: t.monitor_images]
        else:
            x = vx if vx is not None else self.data.train_x
            z = encode(
                net, x[: t.monitor_images], batch_size=t.embed_batch_size, device=self.device,
                desc=COLLAPSE_IMAGES,
            )  # fmt: skip
        # collapse: of the trained head's output, the loss's side of the network (untrained taps
        # would hide a collapsed head)
        out: dict[str, float | None] = {
            "collapse_std": collapse_std(z[:, : trained_dim(net)]), "knn": None,
        }  # fmt: skip
        if zv is not None and vy is not None:
            out["knn"] = leave_one_out_knn(zv, vy, monitor_k(t.knn_k, vy))
        return out

    def on_fit_start(self, trainer: Trainer, resumed: bool) -> None:
        if not resumed:
            trainer.history.append(
                {"epoch": 0, "loss": None, "images_per_s": None, **self.measure()}
            )
        self.t0 = time.perf_counter()

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        row["images_per_s"] = self.images / max(time.perf_counter() - self.t0, 1e-9)
        row.update(self.measure())
        if float(row["collapse_std"]) < self.cfg.ssl.collapse_std:
            trainer.stop = True
            self.collapsed = (
                f"{_collapse(row['epoch'], row['collapse_std'], self.cfg.ssl.collapse_std)}; "
                f"no model saved: try {_collapse_fix(self.cfg)}"
            )
        self.t0 = time.perf_counter()


def _read_saved_config(saved: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's SSL config as ``now``'s shape: a train or ssl key the checkpoint's version
    did not have (train.amp, a later method's constant such as ssl.barlow_lambda) is taken as the
    one asked for now, and a missing ``data.val_root`` as none (no folder could be given then); ``data.image_size`` 64 and ``data.grayscale`` false, which a checkpoint
    made before they could be unset recorded, are read as unset where ``now`` leaves them so
    (they gave what unset gives: an image folder's 64 px in colour; other data ignored them)."""
    from siamkit.training.config_guard import saved_shape_unset

    read = saved_shape_unset(
        {
            **saved,
            **({"data": {"val_root": None, **saved["data"]}} if "data" in saved else {}),
            "train": {**now["train"], **saved["train"]},
            "ssl": {**now["ssl"], **saved["ssl"]},
        },
        now,
    )
    return _folder_classes_as_now(read, now)


def _folder_classes_as_now(saved: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """``saved`` with ``now``'s ``data.train_classes`` where both runs read an image folder: the
    key picks nothing there (every image under ``data.root`` is read), and a run started before
    a list of it was refused on a folder (e.g. ``[0]``, which trained on every image) could be
    resumed no way: its list is now refused (:func:`~.config.check_ssl_config`), and the
    default or none was a different config than its checkpoint's."""
    data, data_now = saved.get("data"), now.get("data")
    if not isinstance(data, dict) or not isinstance(data_now, dict):
        return saved
    folder = data.get("dataset") == data_now.get("dataset") == "image-folder"
    if not folder or data.get("train_classes") == data_now.get("train_classes"):
        return saved
    return {**saved, "data": {**data, "train_classes": data_now.get("train_classes")}}


def ssl_config_guard(cfg: SSLConfig) -> ConfigGuard:
    """The shared :class:`~siamkit.training.config_guard.ConfigGuard` for an SSL run: saves ``cfg``
    in the checkpoint; on resume refuses a different one (``train.epochs`` may change, unless
    ``optim.schedule = onecycle`` fixes the schedule's length)."""
    return ConfigGuard(
        ssl_config_to_dict(cfg), cfg.optim.schedule == "onecycle", read=_read_saved_config
    )


class SSLEpochLog(Callback):
    """An epoch's line; ``knn_k``: the kNN monitor's neighbours (:func:`monitor_k`)."""

    def __init__(self, log: Callable[[str], None], cfg: SSLConfig, knn_k: int) -> None:
        self.log, self.cfg, self.knn_k = log, cfg, knn_k

    def on_fit_start(self, trainer: Trainer, resumed: bool) -> None:
        was, now = trainer.resumed_world, trainer.ctx.world
        done = trainer.history[-1]["epoch"] if trainer.history else 0
        left = not trainer.stop and done < trainer.epochs  # a finished run trains no step
        if resumed and left and was is not None and was != now:
            self.log(
                f"resuming a run of {counted(was, 'process', 'processes')} on {now}: each step "
                f"takes the same {self.cfg.train.batch_size} images (train.batch_size is the "
                "global batch), with other random views than the uninterrupted run would draw"
            )

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        # no labeled validation images (an image folder): no kNN accuracy to show, not a '-'
        knn = "" if row.get("knn") is None else f"kNN@{self.knn_k} {row['knn']:.4f}, "
        self.log(
            f"epoch {row['epoch']}/{self.cfg.train.epochs}: loss {row['loss']:.4f}, {knn}"
            f"collapse std {std_text(row['collapse_std'], self.cfg.ssl.collapse_std)}, "
            f"{row['images_per_s']:.0f} images/s"
        )


def check_resume(checkpoint: str | Path, cfg: SSLConfig) -> SSLConfig:
    """Refuse, before anything is written, to resume ``checkpoint`` with a config other than
    ``cfg`` (naming the keys), or a run that stopped on a collapse (a resume would run no epoch,
    so no check, and save the collapsed model). Returns ``cfg`` with the ``model.init_from`` the
    run started from (:func:`~siamkit.training.preflight.resumed_model`).

    Raises:
        FileNotFoundError: there is no checkpoint.
        ValueError: a different config (or an unreadable checkpoint).
        CollapseError: the run collapsed.
    """
    path = Path(checkpoint)
    state = load_checkpoint(path)
    cfg = dataclasses.replace(cfg, model=resumed_model(cfg.model, state.get("config")))
    accept_saved_config(state, ssl_config_guard(cfg))
    at = _stopped_at(state, cfg.ssl.collapse_std)
    if at is None:
        return cfg
    raise CollapseError(
        f"cannot resume {path.parent}: its run stopped at {at}, so no model was saved; "
        f"start it again (--overwrite) with {_collapse_fix(cfg)}"
    )


def check_same_images(checkpoint: str | Path, data: SSLData, root: str | None) -> None:
    """Refuse, before anything is written, to resume the run of ``checkpoint`` on an image folder
    whose files (names and sizes) are not those it started on: it would go on with other
    batches, silently not the run it continues. A checkpoint that did not record them passes."""
    path = Path(checkpoint)
    saved = load_checkpoint(path).get(SSLMonitor.key) or {}
    then = saved.get("images_id")
    if then is None or data.images_id is None or then == data.images_id:
        return
    now, was = int(data.train_x.shape[0]), saved.get("images")
    if isinstance(was, int) and was != now:
        how = f"{now:,} images now, {was:,} when it started"
    else:
        how = "files renamed or changed since it started"
    raise ValueError(
        f"cannot resume {path.parent}: data.root {root} holds other images than when the run "
        f"started ({how}; its checkpoint records their names and sizes), so it would not "
        "continue the same run: put the folder back as it was, or start a new run "
        "(--overwrite, or another --out)"
    )


def _stopped_at(state: dict[str, Any], threshold: float) -> str | None:
    """Where the run of checkpoint ``state`` stopped on a collapse (``epoch N: the embedding
    collapsed ...``), or ``None`` if it did not."""
    history = state.get("history") or []
    last = history[-1] if history else {}
    std = last.get("collapse_std")
    recorded = (state.get(SSLMonitor.key) or {}).get("collapsed")
    # checkpoints from before the collapse was recorded: the last epoch's stored collapse figure
    stored = std is not None and last.get("epoch", 0) >= 1 and std < threshold
    if recorded is None and not stored:
        return None
    return _collapse(last.get("epoch", 0), std, threshold) if std is not None else recorded


def stopped_on_collapse(checkpoint: str | Path) -> bool:
    """Whether ``checkpoint`` is of a ``task: ssl`` run that stopped on a collapse, which
    :func:`check_resume` refuses (its saved ``ssl.collapse_std``); ``False`` for any other run's
    checkpoint, or one that cannot be read."""
    try:
        state = load_checkpoint(checkpoint)
    except (OSError, ValueError):
        return False
    if not isinstance(state, dict):
        return False
    saved = state.get("config")
    ssl = saved.get("ssl") if isinstance(saved, dict) else None
    if not isinstance(ssl, dict):
        return False  # not an SSL run's checkpoint
    threshold = ssl.get("collapse_std", SSLConfig().ssl.collapse_std)
    return _stopped_at(state, float(threshold)) is not None


def fit(trainer: Trainer, resume: bool = False) -> TrainResult:
    """``trainer.fit(resume)`` (a NaN or infinite loss raises ``FloatingPointError``, which the
    command line says in one sentence)."""
    return trainer.fit(resume=resume)


def build_ssl_trainer(
    model: SelfSupervised,
    cfg: SSLConfig,
    data: SSLData,
    out_dir: str | Path | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> tuple[Trainer, SSLMonitor]:
    """The :class:`Trainer` of a ``task: ssl`` run and its monitor (``monitor.collapsed`` holds
    the message when the run stopped on a collapse)."""
    t = cfg.train
    if t.threads:
        torch.set_num_threads(t.threads)
    ctx = ddp.setup_distributed(t.device)  # one process, or this rank of a torchrun launch
    device = ctx.device
    model = model.to(device)
    batches = ViewPairBatches(
        data.train_x, t.batch_size, t.steps_per_epoch, t.seed, ViewMaker(cfg.views), device,
        rank=ctx.rank, world=ctx.world,
    )  # fmt: skip
    optimizer = build_optimizer(cfg.optim, [p for p in model.parameters() if p.requires_grad])
    total = t.epochs * batches.steps
    monitor = SSLMonitor(model, cfg, data, device, batches.steps * t.batch_size, ctx)
    callbacks: list[Callback] = [
        ssl_config_guard(cfg),
        UseGlobalBatchNorm(model),
        MomentumTarget(model, total),
        monitor,
    ]
    if log is not None and ctx.is_main:
        vy = data.val_y
        callbacks.append(SSLEpochLog(log, cfg, t.knn_k if vy is None else monitor_k(t.knn_k, vy)))
    amp, scaler = mixed_precision(t.amp, device)  # as the supervised path (from_config)
    trainer = Trainer(
        model, model.objective, optimizer, batches, scheduler=build_scheduler(cfg.optim, optimizer, total),
        epochs=t.epochs, callbacks=callbacks, checkpoint=Path(out_dir) / CHECKPOINT if out_dir is not None else None,
        ctx=ctx, forward=ddp.data_parallel(model, ctx), amp=amp, scaler=scaler,
        grad_clip=cfg.optim.grad_clip, gather=gather_views if ctx.enabled else None,
        loss_scale=float(ctx.world), seed=t.seed, progress=progress,
        batch_per_process=False,  # train.batch_size is the global batch: another count resumes
    )  # fmt: skip
    return trainer, monitor
