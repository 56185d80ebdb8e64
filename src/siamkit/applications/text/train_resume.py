"""The model a text run starts from, and what its checkpoint records so that ``--resume``
continues it: the config it checks (:func:`text_config_guard`), the contents of its data files
(:func:`data_hashes`, checked by :func:`check_data_files`) and the start model's files."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import torch

from siamkit.applications.text.model import TextSiameseNetwork, load_text_model
from siamkit.applications.text.train_config import TextTrainConfig
from siamkit.atomic import same_file, sha256_file
from siamkit.clauses import listed
from siamkit.encoders.text import check_window, default_overlap
from siamkit.training.config_guard import ConfigGuard
from siamkit.training.preflight import resumed_init_from

START = "start"  # the checkpoint's key of start_files
DATA_FILES = "data_files"  # the checkpoint's key of data_hashes


def start_model(
    cfg: TextTrainConfig, init_from: str | None, resume: bool = False, saved: Any = None
) -> tuple[TextTrainConfig, str | None]:
    """``cfg`` with ``model.path`` set to the model ``--init-from`` names (``init_from``; a
    ``model.path`` naming another one is refused), and the ``init_from`` the run records. On
    ``resume`` (``saved``: the config the checkpoint recorded) ``init_from`` may be left out,
    and the checkpoint's is used; another one is refused
    (:func:`~siamkit.training.preflight.resumed_init_from`). A resumed run rebuilds the model
    from its checkpoint (:func:`start_files`); only a checkpoint from before it held what that
    needs reads the start model again, for its architecture and tokenizer.
    """
    path = cfg.model.path
    _refuse_two_models(path, init_from)
    if resume:
        named = init_from is not None and path is not None  # (the same model: refused otherwise)
        init_from = resumed_init_from(saved, None if named else init_from)
        _refuse_two_models(path, init_from)  # the checkpoint's
    if resume:
        cfg = _saved_window(cfg, saved)
    if init_from is None:
        return cfg, None
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, path=init_from)), init_from


def _saved_window(cfg: TextTrainConfig, saved: Any) -> TextTrainConfig:
    """``cfg`` with ``model.max_length`` and ``model.overlap`` it leaves out taken from the
    checkpoint's config (``saved``), as its run trained: a checkpoint made while they could not
    be left out recorded their defaults then (256 and 32), and the same config now reads them
    as unset, which the config guard refused ('a different config (model.max_length)') though
    nothing was changed; the start folder read again may give another window by today's rule."""
    model = saved.get("model") if isinstance(saved, dict) else None
    if not isinstance(model, dict):
        return cfg
    keep = {
        key: model[key]
        for key in ("max_length", "overlap")
        if getattr(cfg.model, key) is None
        and isinstance(model.get(key), int)
        and not isinstance(model.get(key), bool)
    }
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **keep)) if keep else cfg


def _refuse_two_models(path: str | None, init_from: str | None) -> None:
    if path is not None and init_from is not None and not same_file(path, init_from):
        raise ValueError(
            f"--init-from {init_from} and model.path {path} name different models to start "
            "from: give one of them"
        )


def _recorded(cfg: TextTrainConfig, init_from: str | None) -> dict[str, Any]:
    """The config the checkpoint records, with ``model.init_from`` (what a resume checks)."""
    doc = dataclasses.asdict(cfg)
    doc["model"]["init_from"] = init_from
    return doc


_FREE_ON_RESUME = ("gradient_checkpointing", "checkpoint_every")


def _read_saved_config(saved: dict[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's text config as ``now``'s shape: a key added since takes its default; a
    ``model.path`` naming the same folder otherwise is ``now``'s (:func:`start_model` takes it as
    the same model); with a validation file (``data.val``) in both, ``data.val_fraction`` (unused
    then) is ``now``'s, and under ``train.val_metric: none`` the file too, which only the
    evaluation after training reads then (validated each epoch, history.json holds its figures,
    and another file was taken without a word, its figures joined to the first's); and
    ``train.gradient_checkpointing`` and ``train.checkpoint_every`` are ``now``'s: they change
    memory use and how often the run is saved, not its result (turning gradient checkpointing
    on is the usual fix after running out of GPU memory). Sections and keys the config does
    not know are kept, to be named."""
    defaults = _recorded(TextTrainConfig(), None)
    out = {
        name: {**defaults[name], **section}
        if name in defaults and isinstance(section, dict)
        else section
        for name, section in saved.items()
    }
    model, data, path = out.get("model"), out.get("data"), now["model"]["path"]
    if isinstance(model, dict) and isinstance(model["path"], str) and path is not None:
        out["model"] = {
            **model,
            "path": path if same_file(model["path"], path) else model["path"],
        }
    if isinstance(data, dict) and data["val"] is not None and now["data"]["val"] is not None:
        # validated each epoch (train.val_metric auto), history.json holds the file's figures:
        # another file would join a second file's to them, so it is compared as the rest
        free = (
            ("val", "val_fraction") if now["train"]["val_metric"] == "none" else ("val_fraction",)
        )
        out["data"] = {**data, **{k: now["data"][k] for k in free}}
    if isinstance(train := out.get("train"), dict):  # neither changes the weights it gives
        out["train"] = {**train, **{k: now["train"][k] for k in _FREE_ON_RESUME}}
    return out


def text_config_guard(cfg: TextTrainConfig, init_from: str | None) -> ConfigGuard:
    """The shared :class:`~siamkit.training.config_guard.ConfigGuard` of a text run of ``cfg``
    started from ``init_from`` (as :func:`start_model` gives them): the checkpoint records the
    config; a resume with another one is refused, naming the keys. ``train.epochs`` may not
    change (the learning rate warms up and decays over all the run's steps, so they fix the
    schedule's length); gradient checkpointing, ``train.checkpoint_every`` and, validated at
    the end alone, a separate validation file may (:func:`_read_saved_config`)."""
    return ConfigGuard(
        _recorded(cfg, init_from), read=_read_saved_config, schedule_spans_epochs=True
    )


def data_hashes(cfg: TextTrainConfig) -> dict[str, dict[str, Any]]:
    """The size and SHA-256 (read in blocks, so a big file costs one read) of the run's data
    files by config key: ``data.train``, and ``data.val`` when given. The checkpoint records
    them, so that a resume notices a file edited under the same path
    (:func:`check_data_files`), which the config guard, comparing paths, cannot. A file that is
    not there is left out (reading the examples then names it)."""
    files = {"data.train": cfg.data.train, **({"data.val": cfg.data.val} if cfg.data.val else {})}
    return {
        key: {"path": path, "size": Path(path).stat().st_size, "sha256": sha256_file(Path(path))}
        for key, path in files.items()
        if Path(path).is_file()
    }


def check_data_files(
    saved: Any, now: dict[str, dict[str, Any]], cfg: TextTrainConfig, checkpoint: Path
) -> str | None:
    """Refuse a resume whose data file differs from the one the checkpoint's run started with
    (``saved``, the checkpoint's :func:`data_hashes`; ``now``, the files' as they are), naming
    it: the examples, their split and every epoch's batches come from its contents, so an
    edited file would continue the run on other data. Under ``train.val_metric: none``
    ``data.val`` may change, as its path may (:func:`_read_saved_config`): only the evaluation
    after training reads it then. Returns the note for a checkpoint from before the hashes were
    recorded (``saved`` None), which resumes unchecked as before, else None."""
    if saved is None:
        return (
            f"{checkpoint} was made before checkpoints recorded their data files' contents, so "
            f"an edit of {listed(list(now), 'or')} since then cannot be noticed on this resume (the "
            "checkpoints it writes record them)"
        )
    free = ("data.val",) if cfg.train.val_metric == "none" else ()
    for key, file in now.items():
        old = saved.get(key)
        if key in free or not isinstance(old, dict):
            continue
        if (old.get("size"), old.get("sha256")) != (file["size"], file["sha256"]):
            raise ValueError(
                f"{key} {file['path']} has changed since {checkpoint} was made (its contents "
                "differ from the ones the run started with): a resume continues on the data it "
                "started with, so put that file back, or start a new run (--out NEW) to train "
                "on the edited one"
            )
    return None


def _load_start(path: str | None, init_from: str | None) -> TextSiameseNetwork:
    try:
        return load_text_model(path)
    except TypeError as err:  # an image model, a tracker, ...
        if init_from is None:
            raise
        raise ValueError(
            f"--init-from {err}: a text run starts from a siamkit text model or a local Hugging "
            "Face folder"
        ) from None


def start_files(model: TextSiameseNetwork) -> dict[str, Any]:
    """What rebuilds ``model`` but its weights, for the checkpoint: its bundle config (the
    transformer's config, the windows, the towers) and the files a saved bundle keeps beside the
    weights (the tokenizer, a lexical tower's arrays), as bytes by relative path."""
    with tempfile.TemporaryDirectory(prefix="siamkit-text-") as tmp:
        model.save_extra_files(Path(tmp))
        files = {
            p.relative_to(tmp).as_posix(): p.read_bytes()
            for p in sorted(Path(tmp).rglob("*"))
            if p.is_file()
        }
    return {"config": model.config(), "files": files}


def _rebuild(start: dict[str, Any], folder: Path) -> TextSiameseNetwork:
    """The model :func:`start_files` described (weights as initialised), its files written into
    ``folder``, which must outlive the run (the tokenizer may read them again when saved)."""
    for name, data in start["files"].items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return TextSiameseNetwork.from_bundle(start["config"], folder)


def run_window(
    cfg: TextTrainConfig, model: TextSiameseNetwork, resumed: bool = False
) -> tuple[int, int]:
    """The window and overlap a run of ``cfg`` trains ``model`` (its start model) at, refused
    naming ``model.max_length`` / ``model.overlap`` when the transformer cannot take them.
    Left out: the start model's (a saved model's own; a Hugging Face folder's
    :func:`~siamkit.encoders.text.default_window`); an overlap left out with a window given,
    :func:`~siamkit.encoders.text.default_overlap` of the given window, as ``pretrained`` gives
    (32 where the window takes it; a run took 32 whatever the window: refused at 64, where the
    text commands run the model at 64/8). ``resumed``: ``model`` was rebuilt from the
    checkpoint at the window its run trained at, whose overlap a left-out one keeps (a run
    checkpointed when a window given got an eighth, 128/16, went on at 128/32)."""
    m, enc = cfg.model, model.encoder
    size = enc.max_length if m.max_length is None else m.max_length
    own = m.max_length is None or (resumed and size == enc.max_length)
    default = enc.overlap if own else default_overlap(size, given=True)
    step = default if m.overlap is None else m.overlap
    check_window(
        size, step, enc.max_positions(), prefix="model.", optional=True, default_step=default
    )
    return size, step


def _setup(
    cfg: TextTrainConfig,
    device: torch.device,
    init_from: str | None = None,
    start: tuple[dict[str, Any], Path] | None = None,
) -> TextSiameseNetwork:
    """The model to train: the start model (``model.path``), or on resume the one the
    checkpoint describes (``start``: its :func:`start_files` and a folder for them)."""
    m = cfg.model
    model = _load_start(m.path, init_from) if start is None else _rebuild(*start)
    window = run_window(cfg, model, resumed=start is not None)
    # both towers of a half-twin: the document tower kept the start model's window for the
    # whole run (validation, calibration), which its saved model does not record
    for tower in (model.encoder, model.doc_encoder):
        if tower is not None:
            tower.set_window(*window)
    if not m.share_weights and model.share_weights:
        lexical = model.lexical
        model = TextSiameseNetwork(model.encoder, share_weights=False, distance=model.distance_name)
        model.lexical = lexical
    if cfg.train.gradient_checkpointing:
        for enc in (model.encoder, model.doc_encoder):
            if enc is not None:
                _checkpoint_activations(enc.transformer)
    return model.to(device)


def _checkpoint_activations(transformer: Any) -> None:
    """Turn on gradient (activation) checkpointing: ``activation_checkpointing_enable`` where
    transformers has it (``gradient_checkpointing_enable`` is its deprecated alias there, which
    warns), the older name before it."""
    enable = getattr(transformer, "activation_checkpointing_enable", None)
    (enable or transformer.gradient_checkpointing_enable)()
