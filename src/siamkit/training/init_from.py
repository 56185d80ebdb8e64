"""Start a run from a saved model, freeze its encoder for a while, and keep K labels per class.

* :func:`init_from_model` (``model.init_from`` / ``siamkit train --init-from MODEL``) copies a
  saved siamkit model's encoder, embedding head and input normalisation into a freshly built
  network. The class list may change (nothing in the network depends on it); the optimiser
  starts fresh. A model whose input shape, embedding size or encoder does not fit is refused
  with one sentence before anything is written.
* :func:`freeze_encoder` (``model.freeze_encoder_epochs: N``): the encoder's weights and its
  batch-norm statistics stay as loaded while only the head trains, e.g. for the first N epochs.
* :func:`labels_per_class_subset` (``data.labels_per_class: K``): a seeded K images of each
  class, to simulate "K labels per class".

>>> labels_per_class_subset(torch.tensor([0, 0, 0, 1, 1]), 2, seed=0).tolist()
[0, 2, 3, 4]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from siamkit.models import JoinedEmbedding, SiameseNetwork, network_of
from siamkit.params import count
from siamkit.training.callbacks import Callback

if TYPE_CHECKING:
    from siamkit.training.trainer import Trainer


def _describe(shape: Any) -> str:
    return "unknown" if shape is None else str(tuple(shape))


def check_init_source(path: str | os.PathLike[str]) -> None:
    """:func:`load_init_source`'s checks that read no weights and build nothing: ``path`` is
    there, and is a folder holding a readable siamkit model description
    (:func:`~siamkit.export.bundle.read_model_config`, which refuses a file: a saved model is a
    folder). ``siamkit train --nproc-per-node`` makes them once before it starts the
    processes, which then make them again.

    Raises:
        FileNotFoundError, ModelFileError: as :func:`load_init_source` does for them.
    """
    from siamkit.export.bundle import read_model_config

    if not os.path.exists(path):
        raise FileNotFoundError(f"model.init_from: no saved model at {os.fspath(path)}")
    read_model_config(path)


def load_init_source(
    path: str | os.PathLike[str], *, trust_plugins: bool | None = None
) -> SiameseNetwork:
    """The saved model at ``path`` if it is a Siamese network, or one joined with appearance
    features (then its network), from a model folder.

    ``trust_plugins`` is :func:`~siamkit.export.bundle.load_model`'s: ``True`` imports the
    plug-in modules the model records (running their code: only for model folders you trust),
    ``None`` only within ``siamkit --trust-plugins``.

    Raises:
        FileNotFoundError, ValueError: not a readable siamkit model, or not one with an encoder.
    """
    from siamkit.export.bundle import load_model

    check_init_source(path)
    source = network_of(load_model(path, trust_plugins=trust_plugins))
    if not isinstance(source, SiameseNetwork):
        raise ValueError(_not_an_image_model(path, source))
    return source


def started_from_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What a run started from ``model.init_from`` records of its starting model (as
    ``started_from`` in the saved model's metadata), so the bundle still says so once that
    model is gone: its ``path`` as given, its ``method`` (the self-supervised method, e.g.
    ``simclr``, or ``supervised`` with its ``loss``), its ``dataset``, and, when it was itself
    started from a model, that model's record as ``started_from`` (a bundle saved before this
    was recorded gives only its ``model.init_from`` path). A model whose ``siamkit.json``
    cannot be read (moved away before a resume) gives the path alone.

    >>> started_from_record("no/such/model")
    {'path': 'no/such/model'}
    """
    from siamkit.export.bundle import read_model_config

    record: dict[str, Any] = {"path": os.fspath(path)}
    try:
        meta = read_model_config(path).get("metadata") or {}
    except (OSError, ValueError):
        return record
    if not isinstance(meta, dict):
        return record
    ssl, config = meta.get("self_supervised"), meta.get("config") or {}
    if isinstance(ssl, dict) and ssl.get("method"):
        record["method"] = str(ssl["method"])
    elif isinstance(config.get("loss"), dict) and config["loss"].get("kind"):
        record["method"], record["loss"] = "supervised", str(config["loss"]["kind"])
    dataset = (meta.get("run") or {}).get("dataset")
    if dataset:
        record["dataset"] = str(dataset)
    earlier = meta.get("started_from")
    if isinstance(earlier, dict) and earlier.get("path"):
        record["started_from"] = earlier
    elif isinstance(config.get("model"), dict) and config["model"].get("init_from"):
        record["started_from"] = {"path": str(config["model"]["init_from"])}
    return record


#: A saved model an image run cannot start from, by its ``kind`` (``siamkit.json``): what it is,
#: and where it trains instead. A text model was said to be "a TextSiameseNetwork, not a Siamese
#: network", a class name that told a user neither what the folder holds nor what to do.
_OTHER_KINDS = {
    "text": ("a text model", "; a text model is fine-tuned by a task: text run "
             "(configs/text-pairs.yaml takes --init-from too)"),
    "siamfc": ("a SiamFC tracker", "; a tracker is fine-tuned by a task: siamfc run "
               "(configs/siamfc.yaml takes --init-from too)"),
    "dlib_face": ("dlib's face model", "; dlib's is a fixed network siamkit does not train (a "
                  "face model of your own trains on face chips: configs/faces-chips.yaml)"),
    "half_twin": ("a half-twin model with two towers", "; task: half_twin trains from scratch"),
}  # fmt: skip


def _not_an_image_model(path: str | os.PathLike[str], source: nn.Module) -> str:
    """The sentence refusing ``source``, the model at ``path``, which is not a Siamese network
    with an encoder and embedding head: what it holds, named by kind, and what to give instead."""
    from siamkit.export.bundle import read_model_config

    try:
        kind = str(read_model_config(path)["model"]["kind"])
    except (ValueError, OSError, KeyError, TypeError):
        kind = ""
    what, advice = _OTHER_KINDS.get(kind, (f"a {type(source).__name__}", ""))
    return (
        f"model.init_from: {os.fspath(path)} holds {what}"
        f"{f' (kind {kind!r})' if kind else ''}, not a Siamese network with an image encoder and "
        "embedding head to start from: give the model folder of an image run (OUT/model of "
        f"siamkit train on images, or a SiameseNetwork saved by siamkit.save_model){advice}"
    )


def _read_as(shape: Any) -> str:
    """How an image folder is read at ``shape`` (square images of 1 or 3 channels), as the
    first way out of a refusal, naming the settings to pass (the data set, its folder and its
    classes too: the run's config may read another data set); empty for other inputs."""
    if shape is None or len(shape) != 3 or shape[0] not in (1, 3) or shape[1] != shape[2]:
        return ""
    grey = "true" if shape[0] == 1 else "false"
    # every setting named: a config of another data set (fashion-mnist) needs them all, its
    # data.train_classes too (classes 0-5 by default: a folder of fewer classes is refused, one of
    # more trains on its first six only); null trains on the folder's classes as README's recipe
    return (
        f"read an image folder at the model's shape (--set data.dataset=image-folder --set "
        f"data.root=FOLDER --set data.train_classes=null --set data.image_size={shape[1]} "
        f"--set data.grayscale={grey}), "
    )


def check_init_fits(source: SiameseNetwork, net: SiameseNetwork, where: str) -> None:
    """One sentence naming what does not fit between ``source`` (saved) and ``net`` (this run)."""
    if source.input_shape != net.input_shape:
        raise ValueError(
            f"model.init_from: {where} takes inputs of shape {_describe(source.input_shape)}, "
            f"this run's data are {_describe(net.input_shape)}; {_read_as(source.input_shape)}"
            "start from a model trained on inputs of this run's shape, or train without "
            "--init-from / model.init_from"
        )
    dim = source.head.embedding_dim
    if dim != net.head.embedding_dim:
        raise ValueError(
            f"model.init_from: {where} embeds to {dim} dimensions, this run's "
            f"model.embedding_dim is {net.head.embedding_dim}; set model.embedding_dim: {dim} "
            f"(--set model.embedding_dim={dim}) to start from it"
        )
    for part in ("encoder", "head"):
        mine, theirs = getattr(net, part).state_dict(), getattr(source, part).state_dict()
        shapes = {k: tuple(v.shape) for k, v in mine.items()}
        if shapes != {k: tuple(v.shape) for k, v in theirs.items()}:
            raise ValueError(
                f"model.init_from: {where}'s {part} is built differently from this run's "
                f"model.{'encoder / model.encoder_kwargs' if part == 'encoder' else 'head_hidden'}; "
                f"use the same ones as the saved model ({_saved_keys(source, part)})"
            )


def _saved_keys(source: SiameseNetwork, part: str) -> str:
    """The config keys that build ``source``'s encoder or head, as YAML a config can take."""
    import yaml

    def flow(value: Any) -> str:
        dumped = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1 << 30)
        return str(dumped).strip()

    if part == "head":
        return f"model.head_hidden: {flow(list(source.head.hidden))}"
    from siamkit.encoders.registry import encoder_spec

    spec = encoder_spec(source.encoder)
    # the input's channels or features are filled in from the data, not given in a config
    kwargs = {k: v for k, v in spec["kwargs"].items() if k not in ("in_channels", "in_features")}
    return f"model.encoder: {spec['name']}, model.encoder_kwargs: {flow(kwargs)}"


def init_from_model(
    net: SiameseNetwork | JoinedEmbedding,
    path: str | os.PathLike[str],
    *,
    trust_plugins: bool | None = None,
) -> SiameseNetwork:
    """Copy the saved model's encoder, head and input normalisation into ``net`` (in place).

    Before any training, ``net`` then embeds exactly as the saved model (its distance, cohort
    and threshold are the run's own). Returns the loaded source model.

    ``trust_plugins``: import the plug-in modules the saved model records (``plugins`` in its
    ``siamkit.json``) as :func:`~siamkit.export.bundle.load_model` does; importing runs their
    code, so only for model folders you trust. ``None`` (default): only within a command run
    with ``siamkit --trust-plugins``; without, a part no imported module registers is a
    :class:`~siamkit.export.bundle.ModelFileError` naming the modules and how to import them.
    """
    source = load_init_source(path, trust_plugins=trust_plugins)
    target = network_of(net)
    if not isinstance(target, SiameseNetwork):
        raise TypeError(f"model.init_from needs a SiameseNetwork, got {type(target).__name__}")
    check_init_fits(source, target, os.fspath(path))
    with torch.no_grad():
        target.encoder.load_state_dict(source.encoder.state_dict())
        target.head.load_state_dict(source.head.state_dict())
        target.preprocess.load_state_dict(source.preprocess.state_dict())
    return source


def _eval_hook(module: nn.Module, _inputs: Any) -> None:
    module.eval()  # batch-norm uses (and keeps) its running statistics


def freeze_encoder(net: SiameseNetwork, frozen: bool) -> None:
    """Freeze (or release) ``net.encoder``: no gradients, and batch-norm statistics kept even
    while the rest of the network is in training mode. Idempotent."""
    net.encoder.requires_grad_(not frozen)
    handle = getattr(net.encoder, "_siamkit_freeze_hook", None)
    if frozen and handle is None:
        net.encoder._siamkit_freeze_hook = net.encoder.register_forward_pre_hook(_eval_hook)  # type: ignore[assignment]
    elif not frozen and handle is not None:
        handle.remove()
        del net.encoder._siamkit_freeze_hook
        net.encoder.train(net.training)


class FreezeEncoder(Callback):
    """A :class:`~siamkit.training.trainer.Trainer` callback: :func:`freeze_encoder` for the
    first ``epochs`` epochs (counted from the run's history, so a resumed run continues the count),
    released after them and at the end."""

    def __init__(self, net: nn.Module, epochs: int) -> None:
        net = network_of(net)
        if not isinstance(net, SiameseNetwork):
            raise TypeError(
                f"model.freeze_encoder_epochs needs a SiameseNetwork, got {type(net).__name__}"
            )
        self.net, self.epochs = net, int(epochs)

    def on_fit_start(self, trainer: Trainer, resumed: bool) -> None:
        freeze_encoder(self.net, len(trainer.history) < self.epochs)

    def on_epoch_end(self, trainer: Trainer, row: dict[str, Any]) -> None:
        freeze_encoder(self.net, int(row["epoch"]) < self.epochs)

    def on_fit_end(self, trainer: Trainer) -> None:
        freeze_encoder(self.net, False)


def labels_per_class_subset(
    y: Tensor,
    k: int,
    seed: int,
    names: Sequence[str] | None = None,
    loaded: Tensor | None = None,
    held_for: str = "validation",
) -> Tensor:
    """Sorted indices of ``k`` items of each class of ``y`` ``(N,)``, drawn with ``seed``.

    ``names`` (by label) and ``loaded`` (the labels of every image read, before the run held
    some out ``held_for`` what) only word the refusal: a class is named as its folder is, and
    the images of it the user counted but training does not get are said to be held out.

    Raises:
        ValueError: ``k`` is not a whole number >= 1, or a class has fewer than ``k`` items
            (named).
    """
    count("data.labels_per_class", k, note="or null for every label")  # check_config's sentence
    gen = torch.Generator().manual_seed(seed)
    classes, counts = torch.unique(y, return_counts=True)
    if len(counts) and int(counts.min()) < k:
        c, n = int(classes[counts.argmin()]), int(counts.min())
        total = n if loaded is None else int((loaded == c).sum())
        held = f"; the other {total - n} of its {total} are held out for {held_for}"
        raise ValueError(
            f"data.labels_per_class = {k} is more than class "
            f"{c if names is None else names[c]} has ({n} training images"
            f"{held if total > n else ''}): set it to at most {n}"
        )
    picks = []
    for c in classes.tolist():
        idx = torch.nonzero(y == c).flatten()
        picks.append(idx[torch.randperm(idx.numel(), generator=gen)[:k]])
    return torch.cat(picks).sort().values
