"""Safe model files: one folder with ``model.safetensors`` and ``siamkit.json``. No pickle.

``siamkit.json`` holds the format version, the siamkit version, the architecture (encoder name
and arguments, head, distance, preprocessing), the calibrated threshold and the SHA-256 of the
weights file, so a tampered or truncated file is refused before anything is built from it.

A model built from a user's parts (an encoder or distance registered by the user's module) also
records ``plugins``: the plug-in modules the run imported
(``siamkit --plugin``, ``$SIAMKIT_PLUGINS``, a config's ``plugins:``) and the modules defining
those parts. Loading imports none of them unless told to (importing runs their code, and a
model folder may come from anyone): without, a part no imported module registers is one sentence
naming the recorded modules and how to import them; :func:`load_model` with
``trust_plugins=True`` (``siamkit --trust-plugins``, ``$SIAMKIT_TRUST_PLUGINS=1``) imports the
ones not yet imported before it builds the model, for model folders you trust.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shlex
import shutil
import sys
import time
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar, cast, overload

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from siamkit._version import __version__
from siamkit.atomic import sha256_file, temp_folder, umask_mode
from siamkit.clauses import in_number, listed
from siamkit.encoders.registry import former_encoder_spec, keep_former_encoder_spec
from siamkit.export.runtime import set_aside_folder
from siamkit.export.sidecar import (
    SIDECAR_FILE,
    TEXT_DIGESTS_KEY,
    TEXT_EXPORT_DIR,
    TEXT_EXPORT_META,
    TEXT_EXPORT_NAMES,
    TEXT_INT8_NAME,
    entry_digest,
    read_sidecar,
)
from siamkit.model_protocol import EmbeddingModel
from siamkit.models import (
    HalfTwinNetwork,
    JoinedEmbedding,
    SiameseNetwork,
    is_model,
    model_class,
    model_fingerprint,
    model_kinds,
)
from siamkit.models.preprocess import EncoderInputError
from siamkit.registry import (
    PluginImportError,
    PluginNotImportedError,
    import_plugins,
    plugin_name,
    trusts_recorded_plugins,
    used_plugins,
)
from siamkit.text_names import shown_folder

FORMAT = "siamkit-model"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "siamkit.json"
#: Where ``siamkit export MODEL --branch g`` writes a half-twin's branch g graph alone, unless
#: --out: its one definition, which the command and the commands a removal names both read.
BRANCH_G_FILE = "model.g.onnx"
#: ``siamkit.json``'s key for the spec a generic model's encoder recorded before it recorded
#: the window it resolved (:func:`~siamkit.encoders.registry.former_encoder_spec`), absent
#: where there is none; older siamkit reads past it.
FORMER_ENCODER_KEY = "former_encoder"
#: ``siamkit.json``'s key for the SHA-256 of each file or folder a kind writes beside its
#: weights (a text model's ``tokenizer/`` and lexical files), by name
#: (:func:`extra_files_as_saved`); absent in folders saved before it and in kinds that write
#: none. Outside the hashed description; older siamkit reads past it.
EXTRA_FILES_KEY = "extra_files_sha256"

Model = SiameseNetwork | HalfTwinNetwork | JoinedEmbedding
M = TypeVar("M", bound=torch.nn.Module)
"""The model class a caller of :func:`load_model` expects (``expect=``), and gets typed as."""
MAX_INPUT_SIDE = 16384
MAX_INPUT_PIXELS = 8192 * 8192
"""Largest ``input_shape`` a model folder may declare (a larger one is refused at load)."""
STALE_TEMP_S = 600.0
"""A ``.model.*`` temp folder older than this belongs to a killed save and is removed."""
DRY_RUN_PIXELS = 1024 * 1024
"""Models whose input is at most this large run one zero image at load, to check the shape."""


class ModelFileError(ValueError):
    """A model folder that is missing, corrupted, tampered with, or from a newer siamkit."""


class ModelFolderNotFinishedError(OSError, ValueError):
    """:func:`save_model` saved the model but could not move the user's files out of the
    replaced folder (``.M.old``), or, once they were moved, remove the replaced model's files
    from it; its sentence says which to move or remove. A ValueError too, so that
    every command's handler of a user's mistake says that sentence, not a traceback (as a bare
    OSError it was one); its ``errno`` is the refused move's, ``why`` the refusal in
    words (``PATH: Permission denied``), and ``removed`` the replaced model's stale export files
    it had deleted already, for a caller that says what became of the model
    (``siamkit train --overwrite`` removes a failed run's)."""

    why: str = ""
    removed: tuple[Path, ...] = ()


class _ModelFolderNotFinishedPermission(ModelFolderNotFinishedError, PermissionError):
    """:class:`ModelFolderNotFinishedError` for a move refused for want of permission."""


_LEFT_IN_OLD_SAID: ContextVar[bool] = ContextVar("siamkit_left_in_old_said", default=False)


@contextlib.contextmanager
def replaced_files_left_said() -> Iterator[None]:
    """Within it, a :func:`save_model` that saved its model and moved every file of the
    user's into it, but could not remove the replaced model's own files from ``.M.old``,
    says its :class:`ModelFolderNotFinishedError`'s sentence on stderr and returns, instead of
    raising it: for a caller whose work goes on once the model is saved (``siamkit train
    --overwrite``: the error stopped the run, and its cleanup then removed the new model, whose
    save had finished). A failed move of the user's files is raised as ever."""
    token = _LEFT_IN_OLD_SAID.set(True)
    try:
        yield
    finally:
        _LEFT_IN_OLD_SAID.reset(token)


def save_model(
    model: Model | torch.nn.Module,
    path: str | os.PathLike[str],
    threshold: float | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` to the folder ``path`` (replaced atomically if it exists).

    Replacing a model folder replaces only what its save wrote (the weights, ``siamkit.json``
    and the files its kind writes beside them) and the ONNX exports made from the replaced
    model (``onnx.json`` and the files it lists, a text export's own files in MODEL/onnx) where
    they would no longer match it: those it does not write anew are removed and named in one
    line on stderr ("Removed ..."). Everything else in the folder is kept: a user's files, and
    an export of a model with the same fingerprint and threshold (it embeds and decides as this
    one does: a save of the same model, a re-run that trains the same weights, keeps it and says
    nothing; one with another threshold carries the old one, and is removed, as ``siamkit
    calibrate`` removes it when it changes the threshold: :func:`remove_stale_exports`). A file
    at a name ``onnx.json`` lists is removed only where it is the one the export wrote (the
    SHA-256 the record gives); another there (a user's own file, or a link) is kept and named
    ("Kept ..."). An ``.onnx`` file that no record lists (written with ``--out`` into a
    sub-folder, MODEL/edge/model.onnx) and whose metadata names another model or threshold is
    kept but named on stderr. A user's entry at a name this model writes (a ``tokenizer/`` where
    a text model replaces an image model) is replaced by the model's, and named ("Replaced
    ..."). A kill during the replacement leaves the old model or the new one, never a mix
    (:func:`recover_model_folder`).
    An existing folder of other files that is not a model folder is refused.

    ``path`` may be a symbolic link to a model folder, or to where none is yet: the folder it
    leads to is written or replaced there (a replaced one is set aside beside it, under its
    own name: ``.TARGET.old``), and the link is kept as it is; a link that leads to a file is
    refused, as a file is.

    Args:
        model: a :class:`SiameseNetwork`, :class:`HalfTwinNetwork`, :class:`JoinedEmbedding` or
            another registered kind
            (:func:`siamkit.models.register_model_kind`).
        threshold: calibrated distance threshold; defaults to ``model.threshold``. Once the
            folder is written, ``model.threshold`` is set to it too, so the model in memory
            decides as the saved one does.
        metadata: JSON-serialisable extras (training data, metrics, ...).

    Raises:
        TypeError: ``model`` is of no registered kind.
        ValueError: the threshold is not a finite number (NaN or inf; load_model refuses it),
            or ``path`` is a folder holding files but no model, or a file (or a link to one),
            or ``.path.old`` is a file or a link of the user's, or (left by an interrupted save)
            still holds files that could not be moved into ``path``.
        ModelFolderNotFinishedError: (an OSError and a ValueError; a PermissionError where the
            move was refused so) the model is saved, but files of the user's could not be moved
            out of the replaced folder ``.path.old``, or, once they were, the replaced model's
            files could not be removed from it: its sentence names them, the replaced model's
            export files it had removed, and the user's entries the model's own replaced (the
            second case is said on stderr, not raised, within
            :func:`replaced_files_left_said`).
        OSError: anything else the file system refuses (a full disk, a folder it may not
            write in), as it came: the new model's temporary folder is removed, and the folder
            at ``path`` is as it was, or, where the refusal came between the save's two renames,
            set aside as ``.path.old``, which the next save or load puts back.

    >>> save_model(net, "out/model")  # doctest: +SKIP
    """
    if not is_model(model):
        raise TypeError(
            f"save_model takes a model of a registered kind ({', '.join(model_kinds())}), "
            f"got {type(model).__name__}"
        )
    model = cast(Model, model)  # a registered kind has a Model's members (config, threshold, ...)
    threshold = model.threshold if threshold is None else float(threshold)
    if threshold is not None and not math.isfinite(threshold):  # load_model would refuse it
        raise ValueError(
            f"save_model: the threshold is {threshold!r}; it must be a finite number (or None "
            "for a model without one)"
        )
    config = model.config()
    dest = _model_folder(path)
    _refuse_other_folder(Path(path))
    tmp = temp_folder(dest.parent, prefix=f".{dest.name}.")  # a model folder's usual permissions
    try:
        tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(tensors, str(tmp / WEIGHTS_FILE))
        extras: dict[str, str] = {}
        if callable(extra := getattr(model, "save_extra_files", None)):
            extra(tmp)  # files a kind needs beside its weights (a text model's tokenizer)
            names = sorted(p.name for p in tmp.iterdir() if p.name != WEIGHTS_FILE)
            extras = {name: d for name in names if (d := entry_digest(tmp / name)) is not None}
        doc = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "siamkit_version": __version__,
            "model": config,
            "embedding_dim": model.embedding_dim,
            "distance": model.distance_name,
            "threshold": threshold,
            "weights_sha256": sha256_file(tmp / WEIGHTS_FILE),
            "fingerprint": model_fingerprint(model),
            "metadata": metadata or {},
        }
        if plugins := model_plugins(config):
            doc["plugins"] = plugins
        if extras:
            doc[EXTRA_FILES_KEY] = extras
        # outside the hashed description: the spec an unsaved model's former fingerprint
        # hashes (SiameseNetwork.former_fingerprints), which load_model gives back to it
        encoder = getattr(model, "encoder", None)
        if isinstance(encoder, torch.nn.Module) and (former := former_encoder_spec(encoder)):
            doc[FORMER_ENCODER_KEY] = former
        (tmp / CONFIG_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True))
        mode = umask_mode(0o666)  # safetensors writes 0600: follow the umask
        for file in (WEIGHTS_FILE, CONFIG_FILE):
            (tmp / file).chmod(mode)
        if not recover_model_folder(dest):
            _remove_stale_temps(dest)
        removed: tuple[list[Path], bool, list[Path]] = ([], False, [])
        commands: list[tuple[Path, str, list[Path]]] = []
        unhashed: list[Path] = []  # text exports whose files go by their names, said so
        fingerprints: Any = None
        kept: list[Path] = []  # listed files of the user's, found by the carry's one look
        if dest.exists():
            old = set_aside_folder(dest)
            if old.is_symlink() or (os.path.lexists(old) and not old.is_dir()):
                raise ValueError(_not_a_saves_folder(old))  # a user's: never touched
            if os.path.lexists(old):  # never deleted whole: it may hold a user's files
                raise ValueError(_unresolved_old(dest, old))
            dest.rename(old)
            tmp.rename(
                dest
            )  # a kill before this line leaves only ``old``: see recover_model_folder
            # and one after it the user's files in ``old``, which the next save or load moves
            fingerprints = _fingerprints(model, str(doc["fingerprint"]))
            deleted: list[Path] = []  # the stale exports the carry deleted, for its failure
            overwritten: list[Path] = []  # the user's entries the model's own replaced, too
            try:
                commands = _commands_said(old, dest, fingerprints)  # read before the carry deletes
                unhashed = [dest / p.name for p in unhashed_text_exports(old)]
                removed = _carry_over(
                    old, dest, fingerprints, threshold, deleted, kept, overwritten
                )
            except OSError as err:  # the model is saved: say what is left in ``old``, and how
                model.threshold = threshold
                shown = _where_now(dest, old, deleted)
                moved_all = _moved_all(old, dest, fingerprints, threshold)
                said = _not_carried(
                    dest, old, err, fingerprints, threshold, moved_all, shown, overwritten
                )
                if not (moved_all and _LEFT_IN_OLD_SAID.get()):
                    raise _not_finished(err, said, shown) from err
                print(said, file=sys.stderr)  # the save finished but for the replaced
                # model's files: said, not raised, where the caller asked (train --overwrite)
        else:
            tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    model.threshold = threshold
    _say_removed(dest, *removed, commands, unhashed)
    if fingerprints is not None:  # a model folder replaced
        named = _say_kept_listed(dest, [str(p.relative_to(old)) for p in kept])
        _say_unrecorded_stale(dest, fingerprints, threshold, named)
    return Path(path)


def _refuse_other_folder(given: Path) -> None:
    """Refuse to save into the folder ``given`` (or where it leads if it is a link:
    :func:`_model_folder`) when it is a folder holding files but no model: replacing
    keeps what is not a model's, so a user's folder would take a model's files among its own.
    Hidden entries (a desktop's ``.DS_Store``) do not count: ``ls`` shows the folder empty, and
    they are kept as the user's, as in a model folder. A file at ``dest`` is refused too:
    replacing it would hide it as ``.NAME.old``. Each refusal names ``given``, the path the
    user gave, and, where it is a link, says so and names where it leads. A command that saves
    a model calls it too, to refuse before anything is fitted (``siamkit text lexical``)."""
    dest = _model_folder(given)
    link = given.is_symlink()
    if dest.exists() and not dest.is_dir():
        what = f"a link to the file {dest}" if link else "a file"
        raise ValueError(
            f"{shown_folder(given)} is {what}, not a siamkit model folder: save the model to a "
            "new or empty folder, or to a model folder to replace that model"
        )
    shown = (p for p in dest.iterdir() if not p.name.startswith(".")) if dest.is_dir() else ()
    if dest.is_dir() and not (dest / CONFIG_FILE).is_file() and any(shown):
        what = f"a link to {dest}, a folder" if link else "a folder"
        raise ValueError(
            f"{shown_folder(given)} is {what} of other files, not a siamkit model folder (no "
            f"{CONFIG_FILE}): save the model to a new or empty folder, or to a model folder to "
            "replace that model"
        )


def _fingerprints(model: Any, fingerprint: str) -> Any:
    """A function giving the fingerprints ``model`` goes by (``fingerprint`` and those of its
    former formulas), computed once and only when called: an export made from any of them
    embeds as the model does."""
    found: set[str] = set()

    def fingerprints() -> set[str]:
        if not found:
            former = getattr(model, "former_fingerprints", None)
            found.update([fingerprint, *(former() if callable(former) else ())])
        return found

    return fingerprints


def _own_names(folder: Path) -> set[str]:
    """The entries of the model folder ``folder`` that its save wrote: the weights,
    ``siamkit.json`` and the files its kind wrote beside them (:data:`EXTRA_FILES_KEY`; in a
    text model's folder saved before that record, a text model's names)."""
    names = {WEIGHTS_FILE, CONFIG_FILE}
    try:
        doc = json.loads((folder / CONFIG_FILE).read_text())
    except (OSError, ValueError):
        return names
    if not isinstance(doc, dict):
        return names
    recorded = doc.get(EXTRA_FILES_KEY)
    if isinstance(recorded, dict):
        names.update(n for n in recorded if isinstance(n, str) and n and Path(n).name == n)
    elif isinstance(doc.get("model"), dict) and doc["model"].get("kind") == "text":
        names.update(_TEXT_MODEL_FILES)
    return names


#: A text model's files beside its weights (``tokenizer/``, a lexical or stacked tower's), which
#: its export copies: the export's names but its graphs and its own record.
_TEXT_MODEL_FILES = frozenset(
    n for n in TEXT_EXPORT_NAMES if n != TEXT_EXPORT_META and not n.endswith(".onnx")
)


def _stale_exports(
    folder: Path, fingerprints: Any, threshold: float | None, kept: list[Path] | None = None
) -> list[Path]:
    """The ONNX exports in the model folder ``folder`` made from a model that goes by none of
    ``fingerprints()``, or that record another threshold than ``threshold`` (the new model's:
    an export carries its threshold in its metadata and record, and decides a match by it):
    the files an image export lists in ``onnx.json``, and ``onnx.json`` itself; a text export's
    own files in a sub-folder (MODEL/onnx), or that folder whole when nothing of the user's is
    in it. Paths within ``folder``. The files at names a stale ``onnx.json`` lists, or a stale
    text export's ``text_onnx.json`` records, that are not the ones its export wrote (another
    SHA-256 than the recorded one, a link: :func:`_listed_exports`, :func:`_text_export_own`:
    the user's, kept) are added to ``kept``, from the same look: each graph is read once, and
    what is removed and what is said kept cannot disagree. A text export that records no
    SHA-256 (:data:`TEXT_DIGESTS_KEY`: written before siamkit recorded them) has its files
    taken by their names (:func:`unhashed_text_exports`)."""
    stale: list[Path] = []
    if (folder / SIDECAR_FILE).is_file():
        graphs, other = _listed_exports(folder, fingerprints, threshold)
        if graphs is not None:
            stale += [*graphs, folder / SIDECAR_FILE]
        if kept is not None:
            kept += other
    for sub in sorted(folder.iterdir()):
        meta = sub / TEXT_EXPORT_META
        if sub.is_symlink() or not meta.is_file():
            continue
        made: Any = None
        try:
            made = json.loads(meta.read_text())
            exported = {made["fingerprint"], *made.get("former_fingerprints", ())}
            same_threshold = made.get("threshold") == threshold
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            exported, same_threshold = set(), False
        if same_threshold and not exported.isdisjoint(fingerprints()):
            continue
        entries = sorted(sub.iterdir())
        own, other = _text_export_own(entries, meta, made)
        if len(own) + 1 == len(entries):  # nothing but the export's own files and its meta
            stale.append(sub)
        else:  # its meta last: a kill before it leaves the folder still known as an export
            stale += [*own, meta]
            if kept is not None:
                kept += other
    return stale


def _text_export_own(entries: list[Path], meta: Path, made: Any) -> tuple[list[Path], list[Path]]:
    """Of the ``entries`` of a text export's folder, whose ``text_onnx.json`` (``meta``) reads
    ``made``: those at the export's names (:data:`TEXT_EXPORT_NAMES`, its meta aside) that are
    still as it wrote them (the SHA-256 :data:`TEXT_DIGESTS_KEY` records; not a link), and
    those at its names that are not (the user's). An export that records no SHA-256 (written
    before siamkit recorded them) has all of them taken as its own, by their names."""
    named = [e for e in entries if e.name in TEXT_EXPORT_NAMES and e != meta]
    digests = made.get(TEXT_DIGESTS_KEY) if isinstance(made, dict) else None
    if not isinstance(digests, dict):
        return named, []
    own: list[Path] = []
    for entry in named:
        recorded = digests.get(entry.name)
        try:
            same = isinstance(recorded, str) and not entry.is_symlink()
            same = same and entry_digest(entry) == recorded
        except OSError:  # unreadable: not known to be the export's
            same = False
        if same:
            own.append(entry)
    return own, [e for e in named if e not in own]


def unhashed_text_exports(folder: Path) -> list[Path]:
    """The text exports' folders in the model folder ``folder`` (MODEL/onnx) whose
    ``text_onnx.json`` records no SHA-256 of their files (:data:`TEXT_DIGESTS_KEY`: written
    before siamkit recorded them), whose files a removal takes by their names: read before it,
    for the line that says so (:func:`by_name_clause`)."""
    found: list[Path] = []
    for sub in sorted(folder.iterdir()):
        meta = sub / TEXT_EXPORT_META
        if sub.is_symlink() or not meta.is_file():
            continue
        try:
            made = json.loads(meta.read_text())
        except (OSError, ValueError):
            made = None
        if not isinstance(made, dict) or not isinstance(made.get(TEXT_DIGESTS_KEY), dict):
            found.append(sub)
    return found


def by_name_clause(unhashed: list[Path], removed: list[Path]) -> str:
    """The clause of a "Removed ..." line that says which of the text exports ``unhashed``
    (:func:`unhashed_text_exports`) lost files by their names in ``removed``: they record no
    SHA-256 to tell a file of the user's at one of those names. ``""`` where none did."""
    gone = set(removed)
    hit = [p for p in unhashed if p in gone or any(r.parent == p for r in gone)]
    if not hit:
        return ""
    its = "its" if len(hit) == 1 else "their"
    return (
        f"; the text {in_number(len(hit), 'export')} in {_listed(hit)} recorded no SHA-256 of "
        f"{its} files (written before siamkit recorded them): they were removed by their "
        "names, with no check that each was the one it wrote"
    )


def _listed_exports(
    folder: Path, fingerprints: Any, threshold: float | None
) -> tuple[list[Path] | None, list[Path]]:
    """The files ``onnx.json`` in the model folder ``folder`` lists, where it records a model
    that goes by none of ``fingerprints()`` or another threshold than ``threshold`` (``None``
    and ``[]`` where it does not): those still as the export wrote them, a plain file of the
    SHA-256 its entry records, to remove; and those at a listed name that are not (a user's own
    file put there, one changed since, a link), to keep as the user's. In name order."""
    doc = read_sidecar(folder)
    if doc.get("fingerprint") in fingerprints() and doc.get("threshold") == threshold:
        return None, []
    exported: list[Path] = []
    other: list[Path] = []
    for name, entry in sorted((n, e) for n, e in doc["exports"].items() if isinstance(n, str)):
        path = folder / name
        if name in ("", ".", "..") or Path(name).name != name or not os.path.lexists(path):
            continue
        recorded = entry.get("sha256") if isinstance(entry, dict) else None
        try:
            same = path.is_file() and not path.is_symlink() and sha256_file(path) == recorded
        except OSError:  # unreadable: not known to be the export's
            same = False
        (exported if same else other).append(path)
    return exported, other


def _say_kept_listed(
    dest: Path, names: list[str], whose: str = "the replaced model's"
) -> list[Path]:
    """Say, on stderr, which files a save kept in ``dest`` at names the replaced model's
    (``whose``) ``onnx.json`` listed, or its text export's ``text_onnx.json`` recorded (``names``
    within ``dest``: ``onnx/text.onnx``), as they are not the files siamkit exported there (their
    SHA-256 is not the recorded one): why, and what to do, one line for each record. Returns
    their paths."""
    kept = [dest / n for n in names if os.path.lexists(dest / n)]
    for folder in sorted({p.parent for p in kept}):
        these = [p for p in kept if p.parent == folder]
        it, is_ = ("it", "it is") if len(these) == 1 else ("them", "they are")
        if folder == dest:  # an image export's, listed in onnx.json
            said = (
                f"{whose} {dest / SIDECAR_FILE} listed {it} as its ONNX export, but {is_} not "
                f"the {in_number(len(these), 'file')} siamkit exported (not a plain file of the "
                "SHA-256 it recorded: another content, a link, a folder, or one siamkit cannot "
                "read)"
            )
        else:  # a text export's, in its folder (MODEL/onnx)
            said = (
                f"{whose} text export in {folder} wrote "
                f"{'one of that name' if len(these) == 1 else 'entries of those names'}, but "
                f"{is_} not the {in_number(len(these), 'one')} siamkit exported "
                f"(another content than the SHA-256 its {TEXT_EXPORT_META} recorded, a link, or "
                "one siamkit cannot read)"
            )
        print(
            f"Kept {_listed(these)}: {said}, so {is_} taken as yours; {it} would not match "
            f"this model: move {it} out of {folder} before you export this model there, or "
            f"delete {it}",
            file=sys.stderr,
        )
    return kept


def remove_stale_exports(
    path: str | os.PathLike[str],
    threshold: float | None = None,
    deleted: list[Path] | None = None,
) -> list[Path]:
    """Remove from the model folder ``path`` the ONNX exports that no longer match its
    ``siamkit.json``: made from a model of another fingerprint, or recording another threshold
    than ``threshold`` (``None``: the one ``siamkit.json`` records; the graph's metadata,
    ``onnx.json``, ``text_onnx.json`` carry it, and the torch-free runtime decides a match by
    it). The rule :func:`save_model` follows when it replaces a model, for ``siamkit
    calibrate``, which calls it with the threshold it is about to write, before it writes it:
    an export that would no longer match is never left to be served, not even by a kill
    between the two (that loses at most an export, which ``siamkit export`` writes again). A
    file at a name ``onnx.json`` lists that is not the one the export wrote is kept and named on
    stderr, as a save keeps it. Returns the paths removed (an export's graphs before the record
    listing them); nothing where every export matches. An ``.onnx`` file no record lists
    (MODEL/edge/model.onnx, written with ``--out``) of another model or threshold is kept but
    named, as a save names it. A text export's files (MODEL/onnx) are removed where they are
    of the SHA-256 its ``text_onnx.json`` records, and a file of the user's put at one of their
    names is kept and named; an export written before siamkit recorded them has its files
    removed by their names (:func:`unhashed_text_exports`: the caller's line says so).
    Each path is added to ``deleted`` once it is deleted, for a caller to name what a failed
    deletion had removed already, as :func:`save_model` names it.

    >>> remove_stale_exports("runs/shoes/model")  # doctest: +SKIP
    [PosixPath('runs/shoes/model/model.onnx'), PosixPath('runs/shoes/model/onnx.json')]
    """
    folder = Path(path)
    doc = read_model_config(folder)

    def fingerprints() -> set[Any]:
        return {doc.get("fingerprint")}

    if threshold is None:
        threshold = doc.get("threshold")
    kept: list[Path] = []
    stale = _stale_exports(folder, fingerprints, threshold, kept)
    for entry in stale:
        with contextlib.suppress(FileNotFoundError):  # removed meanwhile by another process
            _delete_entry(entry)
        if deleted is not None:
            deleted.append(entry)
    named = _say_kept_listed(folder, [str(p.relative_to(folder)) for p in kept], "the model's")
    _say_unrecorded_stale(folder, fingerprints, threshold, named)
    return stale


def _carry_over(
    old: Path,
    dest: Path,
    fingerprints: Any,
    threshold: float | None,
    deleted: list[Path] | None = None,
    kept: list[Path] | None = None,
    overwritten: list[Path] | None = None,
) -> tuple[list[Path], bool, list[Path]]:
    """Move the entries of the replaced model folder ``old`` that are not its model's into the
    new one ``dest``: the user's files stay, and so does an export made from a model that goes
    by one of ``fingerprints()`` with the new model's ``threshold`` (it embeds and decides as
    the new one does). Left in ``old``, to be deleted
    with it: the files the replaced model's save wrote, and the exports made from it
    (:func:`_stale_exports`, deleted here from a text export folder that holds files of the
    user's). Returns those not written anew in ``dest``, as paths in ``dest``, whether an
    export is among them, and the entries of the user's that the new model's own of the same
    name replaced (a ``tokenizer/`` in an image model's folder that a text model replaces).
    The stale export files it deletes (from a folder of the user's before moving that folder,
    then from ``old``: :func:`_delete_replaced`) are added to ``deleted`` as it goes (as paths
    in ``old``), so that a failure part-way can say what is gone (:func:`_not_carried`). The
    user's files at names the stale ``onnx.json`` lists are added to ``kept`` (as paths in
    ``old``, :func:`_stale_exports`), to be said; the entries of the user's the new model's own
    replaced are added to ``overwritten`` (as paths in ``old``) once deleted, for a failure of
    a later deletion to name them too."""
    own = _own_names(old)
    try:
        if not dest.is_dir():  # replaced again meanwhile (another save): that one finishes it
            return [], False, []
        stale = _stale_exports(old, fingerprints, threshold, kept)
        entries = sorted(old.iterdir())
    except FileNotFoundError:  # another process (a load) finished it first
        return [], False, []
    removed: list[Path] = []
    replaced: list[Path] = []
    for entry in entries:
        there = dest / entry.name
        if entry.name in own or entry in stale:
            if not os.path.lexists(there):
                removed.append(there)
            continue
        if os.path.lexists(there):  # a name the new model writes: said, as it is deleted
            replaced.append(there)
            continue
        for inner in (p for p in stale if p.parent == entry):
            with contextlib.suppress(FileNotFoundError):  # deleted by another process finishing it
                _delete_entry(inner)
                if deleted is not None:
                    deleted.append(inner)
            removed.append(there / inner.name)
        with contextlib.suppress(FileNotFoundError):  # moved by another process finishing it
            entry.rename(there)
    _delete_replaced(old, own, stale, [old / p.name for p in replaced], deleted, overwritten)
    return removed, bool(stale), replaced


def _delete_entry(path: Path) -> None:
    """Delete a file, a link or a folder (a text export's, its :data:`TEXT_EXPORT_META` last:
    a kill before it leaves the folder still known as an export)."""
    if not path.is_dir() or path.is_symlink():
        path.unlink()
        return
    meta = path / TEXT_EXPORT_META
    for entry in sorted(path.iterdir(), key=lambda e: e == meta):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    path.rmdir()


def _delete_replaced(
    old: Path,
    own: set[str],
    stale: list[Path],
    replaced: list[Path],
    deleted: list[Path] | None = None,
    overwritten: list[Path] | None = None,
) -> None:
    """Delete from the replaced folder ``old``, after :func:`_carry_over` moved the user's
    files out, only what is known to be its model's: its stale exports (the graphs before the
    record listing them, :func:`_stale_exports`' order), the user's entries that the new model's
    own replaced, then the files its save wrote, ``siamkit.json`` last; then ``old`` itself
    where it is empty. A kill part-way leaves what remains still known for what it is; anything
    else (a file the carry could not move) stays for the next recovery to move, never deleted.
    Each stale export deleted is added to ``deleted``, and each replaced entry deleted to
    ``overwritten``, for a failure of a later deletion to name them."""
    exports = [p for p in stale if p.parent == old]
    order = exports + replaced
    order += [old / n for n in sorted(own) if n != CONFIG_FILE] + [old / CONFIG_FILE]
    for path in order:
        with contextlib.suppress(FileNotFoundError):  # deleted by another process finishing it
            _delete_entry(path)
            if deleted is not None and path in exports:
                deleted.append(path)
            if overwritten is not None and path in replaced:
                overwritten.append(path)
    with contextlib.suppress(OSError):  # not empty: what the carry could not move stays
        old.rmdir()


def _where_now(dest: Path, old: Path, deleted: list[Path]) -> list[Path]:
    """The stale export files ``deleted`` from the replaced folder ``old`` (paths in it), each
    named where its folder is now: a text export's folder of the user's that the carry moved on
    into ``dest`` after deleting them is ``dest``'s, no longer ``old``'s."""
    return [p if p.parent.is_dir() else dest / p.relative_to(old) for p in deleted]


def _removed_clause(
    deleted: list[Path] | tuple[Path, ...], saver: str = "it", model: str = "this model"
) -> str:
    """The clause naming the replaced model's stale export files a save (``saver``) had
    ``deleted`` before it failed, which the user would otherwise find gone unsaid: ``model``
    is the model they would no longer match."""
    if not deleted:
        return ""
    return (
        f"; {saver} had removed {_listed(sorted(deleted))}, the replaced model's export, which "
        f"would no longer match {model}"
    )


def _moved_all(old: Path, dest: Path, fingerprints: Any, threshold: float | None) -> bool:
    """Whether nothing of the user's is left in the replaced folder ``old`` to move into
    ``dest`` (a refused move leaves its entry there; an entry the model's own of the same name
    replaced is not moved but deleted: :func:`_to_move`): a save that failed then failed at a
    deletion, its model saved and the user's files in it."""
    try:
        return not _to_move(old, dest, fingerprints, threshold)[0]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _to_move(
    old: Path, dest: Path, fingerprints: Any, threshold: float | None
) -> tuple[list[Path], list[Path]]:
    """The user's entries in the replaced folder ``old`` (:func:`_users_entries`), as those to
    move into ``dest`` and those the new model's own entry of the same name in ``dest``
    replaced (a user's ``tokenizer/`` where a text model writes its own), which the save
    deletes rather than moves: a refused deletion of one leaves it in ``old``, and moving it
    into ``dest`` would put it over the model's own (s64_r3 finding 1)."""
    yours = _users_entries(old, fingerprints, threshold)
    taken = _own_names(dest)
    replaced = [e for e in yours if e.parent == old and e.name in taken]
    replaced = [e for e in replaced if os.path.lexists(dest / e.name)]
    return [e for e in yours if e not in replaced], replaced


def _replaced_clause(dest: Path, overwritten: list[Path]) -> str:
    """The clause naming the user's entries (paths in the replaced folder, ``overwritten``)
    that the model's own of the same name in ``dest`` replaced before a save failed: their
    "Replaced ..." line is said only where the save finishes."""
    if not overwritten:
        return ""
    shown = _listed(sorted(dest / p.name for p in overwritten))
    return f"; it had deleted {shown} of yours, which this model's own of the same name replaced"


def _not_carried(
    dest: Path,
    old: Path,
    err: OSError,
    fingerprints: Any,
    threshold: float | None,
    moved_all: bool,
    deleted: list[Path],
    overwritten: list[Path] | None = None,
) -> str:
    """The sentence of a save that could not move the user's files out of the replaced folder
    ``old`` (``err``), or, where it had moved them all (``moved_all``: :func:`_moved_all`),
    could not remove the replaced model's files from it: what to move and remove, the replaced
    model's stale export files it had deleted already (``deleted``, named where they were:
    :func:`_where_now`), and the user's entries the model's own replaced (``overwritten``, as
    paths in ``old``), which the user would otherwise find gone unsaid."""
    advice = _what_to_move(dest, old, fingerprints, threshold)
    gone = _removed_clause(deleted) + _replaced_clause(dest, overwritten or [])
    if moved_all:  # a refused move leaves the entry in ``old``: a later deletion failed
        return (
            f"Saved the model to {dest} and moved your files into it, but could not remove the "
            f"replaced model's files from {old} ({_why(err)}): {advice}{gone}"
        )
    return (
        f"Saved the model to {dest}, but could not finish moving your files out of the replaced "
        f"folder {old} ({_why(err)}): {advice}{gone}"
    )


def _why(err: OSError) -> str:
    return f"{err.filename}: {err.strerror}" if err.filename and err.strerror else str(err)


def _not_finished(
    err: OSError, message: str, removed: list[Path] | None = None
) -> ModelFolderNotFinishedError:
    """The error for a save that could not move the user's files (``err``), saying ``message``:
    a PermissionError still where ``err`` was one; ``removed``, the stale export files it had
    deleted (:func:`_removed_clause`), for a caller that says the sentence anew."""
    denied = isinstance(err, PermissionError)
    cls = _ModelFolderNotFinishedPermission if denied else ModelFolderNotFinishedError
    raised = cls(message)
    raised.errno, raised.why, raised.removed = err.errno, _why(err), tuple(removed or ())
    return raised


def _not_a_saves_folder(old: Path) -> str:
    what = "a link" if old.is_symlink() else "a file"
    return (
        f"{old} is {what}, not a folder a siamkit save left: rename or remove it, then save again"
    )


def _unresolved_old(dest: Path, old: Path) -> str:
    return (
        f"{old} holds files of an interrupted save of {dest} that could not be moved into it: "
        f"{_users_files_advice(dest, old)}, then save again"
    )


def _users_files_advice(dest: Path, old: Path) -> str:
    """:func:`_what_to_move` for the replaced folder ``old`` a save of ``dest`` could not
    empty, against the model in ``dest`` (its siamkit.json's fingerprint and threshold): the
    exports of that model in ``old`` are the user's to keep. Used by ``siamkit train
    --overwrite`` too, for the ``.model.old`` its run's save left."""
    fingerprint, threshold = _saved_as(dest)
    return _what_to_move(dest, old, lambda: {fingerprint}, threshold)


def _holds_users_files(dest: Path, old: Path) -> bool:
    """Whether the replaced folder ``old`` a save of ``dest`` could not empty still holds
    entries of the user's (:func:`_moved_all`, against the model in ``dest``), not only the
    replaced model's own files: a deletion failed then, not a move."""
    fingerprint, threshold = _saved_as(dest)
    return not _moved_all(old, dest, lambda: {fingerprint}, threshold)


def _saved_as(dest: Path) -> tuple[Any, Any]:
    """The fingerprint and threshold of the model in ``dest`` (``None`` each where its
    siamkit.json cannot be read): the model whose exports in a replaced folder are the user's
    to keep."""
    try:
        doc = json.loads((dest / CONFIG_FILE).read_text())
        return doc.get("fingerprint"), doc.get("threshold")
    except (OSError, ValueError, AttributeError):
        return None, None


def _what_to_move(dest: Path, old: Path, fingerprints: Any, threshold: float | None) -> str:
    """What to do with the replaced folder ``old`` that a save could not empty: move the
    user's entries in it, named, into ``dest``, and remove the rest, the replaced model's (its
    files and stale exports, :func:`_own_names`, :func:`_stale_exports`). Moving it all would
    put the replaced model's siamkit.json and weights over the new model's."""
    try:
        yours, replaced = _to_move(old, dest, fingerprints, threshold)
    except (OSError, ValueError, KeyError, TypeError):
        return (
            f"move your files in it into {dest} (or elsewhere), not its {CONFIG_FILE}, weights "
            f"or exports, and remove {old} (those are the replaced model's)"
        )
    if not yours and not replaced:
        return f"remove {old} (nothing of yours is in it, only the replaced model's files)"
    moves = [f"move {_listed(yours)} into {dest} (or elsewhere)"] if yours else []
    if replaced:  # never into ``dest``: the model's own of the same name is there
        its = "its place" if len(replaced) == 1 else "their places"
        moves.append(
            f"move {_listed(replaced)} elsewhere (this model's own of the same name took {its} "
            f"in {dest})"
        )
    return f"{listed(moves)}, and remove {old} (the rest of it is the replaced model's)"


def _users_entries(old: Path, fingerprints: Any, threshold: float | None) -> list[Path]:
    """The entries of the replaced folder ``old`` that are the user's: neither its model's own
    files nor its stale exports (:func:`_own_names`, :func:`_stale_exports`), and within a
    stale text export's folder, the user's files in it."""
    own = _own_names(old)
    stale = set(_stale_exports(old, fingerprints, threshold))
    yours: list[Path] = []
    for entry in (e for e in sorted(old.iterdir()) if e.name not in own and e not in stale):
        if any(p.parent == entry for p in stale):  # a stale text export holding your files
            yours += [e for e in sorted(entry.iterdir()) if e not in stale]
        else:
            yours.append(entry)
    return yours


def _unrecorded_exports(folder: Path) -> list[Path]:
    """The ``.onnx`` files in the model folder ``folder`` and one level down that no record
    lists: not in its ``onnx.json``, nor in a text export's folder (``text_onnx.json``). An
    export written with ``--out`` into a sub-folder (MODEL/edge/model.onnx) is one."""
    listed = set(read_sidecar(folder)["exports"])
    found = [p for p in sorted(folder.glob("*.onnx")) if p.name not in listed]
    for sub in sorted(folder.iterdir()):
        if sub.is_dir() and not sub.is_symlink() and not (sub / TEXT_EXPORT_META).exists():
            found += sorted(sub.glob("*.onnx"))
    return [p for p in found if p.is_file() and not p.is_symlink()]


def _say_unrecorded_stale(
    dest: Path, fingerprints: Any, threshold: float | None, said: list[Path] | None = None
) -> None:
    """Name, on stderr, the ONNX exports in the model folder ``dest`` that no record lists
    (:func:`_unrecorded_exports`) and whose metadata gives another model's fingerprint or another
    threshold than the one just saved: they are kept (they may be a user's copy of an earlier
    model), but would no longer match it. Nothing where onnx is not installed; nothing of
    those in ``said`` (named already, :func:`_say_kept_listed`)."""
    try:
        import onnx
    except ImportError:
        return
    if not dest.is_dir():  # replaced again meanwhile (another save): that one says it
        return
    stale: list[Path] = []
    again: dict[Path, str] = {}  # each stale graph's fp32 file: the flags that write it again
    true = True  # whether the flags each was written with write it again for this model
    kind = _model_kind(dest)
    for path in (p for p in _unrecorded_exports(dest) if p not in (said or ())):
        try:
            meta = {
                p.key: p.value
                for p in onnx.load(str(path), load_external_data=False).metadata_props
            }
            recorded = json.loads(meta["threshold"]) if "threshold" in meta else None
        except Exception:  # not a graph onnx reads: not siamkit's to judge
            continue
        if "fingerprint" not in meta:  # not a siamkit export
            continue
        if meta["fingerprint"] not in fingerprints() or recorded != threshold:
            stale.append(path)
            # true where this very model exported it so, or one of its kind (a half-twin's
            # --branch g) with no static --int8 (it calibrates on another model's data)
            true &= meta["fingerprint"] in fingerprints() or (
                meta.get("model_kind") == kind != "text" and meta.get("int8_mode") != "static"
            )
            stem = path.name[:-5].removesuffix(".int8")
            base = stem.removesuffix(".document") + ".onnx"
            flag = ""
            if meta.get("branch") == "g" and not stem.endswith(".document"):  # g alone
                flag = " --branch g"
            if meta.get("precision") == "int8":
                flag += " --int8-mode dynamic" if meta.get("int8_mode") == "dynamic" else " --int8"
            again[path.with_name(base)] = again.get(path.with_name(base)) or flag
    if not stale:
        return
    it = "it" if len(stale) == 1 else "them"
    model = shlex.quote(str(dest))
    if true:
        commands = listed(
            [
                f"`siamkit export {model} --out {shlex.quote(str(out))} --force{flag}`"
                for out, flag in again.items()
            ]
        )
        again_said = f"export {it} again with {commands}"
    else:  # another kind's flags (--branch g is a half-twin's) would be refused, or untrue
        out = "FOLDER" if kind == "text" else "FILE"
        again_said = f"`siamkit export {model} --out {out} --force` writes an export of this model"
    print(
        f"Kept {_listed(stale)}, which no {SIDECAR_FILE} lists: an ONNX export of another "
        f"model or threshold, which would no longer match this one ({again_said}, or delete "
        f"{it})",
        file=sys.stderr,
    )


def _model_kind(folder: Path) -> Any:
    """The ``model.kind`` the model folder ``folder``'s siamkit.json records (None where it
    cannot be read)."""
    try:
        model = json.loads((folder / CONFIG_FILE).read_text()).get("model")
    except (OSError, ValueError, AttributeError):
        return None
    return model.get("kind") if isinstance(model, dict) else None


def export_commands(folder: Path, named: Path | None = None) -> list[tuple[Path, str, list[Path]]]:
    """The ``siamkit export`` commands that write the ONNX exports of the model folder
    ``folder`` again as they were: for each, the record that lists it (``onnx.json``; a text
    export's ``text_onnx.json``), the command, and the files it writes (an image export's
    graphs, a text export's folder), each named in ``named`` (``folder`` where not given: a save
    reads the replaced folder set aside, and names the model folder). ``--out`` where it was
    written elsewhere than the command's default (MODEL/model.onnx, with ``--branch g``
    MODEL/:data:`BRANCH_G_FILE`; MODEL/onnx), ``--branch g``
    for a half-twin's branch g alone, ``--int8`` or ``--int8-mode dynamic`` where an int8 graph
    was written (without it, none is). Read before the export is removed."""
    from siamkit.export.runtime import ONNX_FILE

    named = folder if named is None else named
    export = f"siamkit export {shlex.quote(str(named))}"
    groups: dict[str, dict[str, Any]] = {}  # each export's fp32 graph name: its entries
    for name, entry in read_sidecar(folder)["exports"].items():
        base = name
        if name.lower().endswith(".onnx"):  # X.int8.onnx, X.document.onnx: X.onnx's export
            base = name[:-5].removesuffix(".int8").removesuffix(".document") + name[-5:]
        groups.setdefault(base, {})[name] = entry if isinstance(entry, dict) else {}
    commands: list[tuple[Path, str, list[Path]]] = []
    for base, entries in groups.items():
        found = [e.get("int8_mode") for e in entries.values() if e.get("precision") == "int8"]
        if any(m is not None and not isinstance(m, str) for m in found):
            continue  # a hand-edited record: no command named for it, the generic wording
        modes = set(found)
        flag = " --int8-mode dynamic" if modes == {"dynamic"} else " --int8" if modes else ""
        branch = " --branch g" if (entries.get(base) or {}).get("branch") == "g" else ""
        # the command's own default: MODEL/model.onnx, with --branch g MODEL/model.g.onnx (one
        # export_onnx(MODEL, branch="g") wrote at model.onnx needs its --out)
        default = BRANCH_G_FILE if branch else ONNX_FILE
        out = "" if base == default else f" --out {shlex.quote(str(named / base))}"
        files = [named / n for n in entries]
        commands.append((named / SIDECAR_FILE, f"{export}{out}{branch}{flag}", files))
    for sub in sorted(folder.iterdir()):
        if sub.is_dir() and not sub.is_symlink() and (sub / TEXT_EXPORT_META).is_file():
            there = named / sub.name
            out = "" if sub.name == TEXT_EXPORT_DIR else f" --out {shlex.quote(str(there))}"
            flag = " --int8" if (sub / TEXT_INT8_NAME).is_file() else ""
            commands.append((there / TEXT_EXPORT_META, f"{export}{out}{flag}", [there]))
    return commands


def _commands_said(old: Path, dest: Path, fingerprints: Any) -> list[tuple[Path, str, list[Path]]]:
    """:func:`export_commands` of the replaced model folder ``old`` named in ``dest``, for a
    save's "Removed ..." line: only where each writes the export again for the NEW model, that
    is where its record lists one of the new model's ``fingerprints()`` (the same model saved
    with another threshold) and it is an export of the new model's kind (an image export's
    ``onnx.json``, a text export's folder); otherwise none, and the line says the generic
    "writes an export of it" (a half-twin's ``--branch g`` is refused for a Siamese model that
    replaced it). A record it cannot read (a hand-edited ``onnx.json``) gives none too: the line
    comes after the folders were swapped, and an error there would leave the user's files in
    ``old`` and the model unloadable."""
    try:
        commands = export_commands(old, dest)
        model = json.loads((dest / CONFIG_FILE).read_text()).get("model")
        text = isinstance(model, dict) and model.get("kind") == "text"
        true = True
        for record, _command, _files in commands:
            if record.name == SIDECAR_FILE:
                doc = read_sidecar(old)
                ours = not text
            else:
                doc = json.loads((old / record.parent.name / record.name).read_text())
                ours = text
            true &= ours and isinstance(doc, dict) and doc.get("fingerprint") in fingerprints()
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return []
    if true:
        return commands
    # the generic command (""), for the file of the user's it refuses to replace: the default
    # place of an export of the new model's kind
    default = dest / ("onnx" if text else "model.onnx")
    return [(r, "", [default]) for r, _c, fs in commands if default in fs]


def export_again(
    commands: list[tuple[Path, str, list[Path]]], removed: list[Path]
) -> tuple[dict[str, list[Path]], list[Path]]:
    """Of ``commands`` (:func:`export_commands`), those that write again an export of which
    ``removed`` took a file (or its record), each with the files it writes; and the entries
    still at those files' paths (a file of the user's kept at a name a command writes: the
    command refuses to replace it until it is moved)."""
    gone = set(removed)
    made: dict[str, list[Path]] = {}
    for record, command, files in commands:
        if gone & {record, record.parent, *files} or any(p.parent in files for p in gone):
            made.setdefault(command, files)
    blocking = sorted({f for fs in made.values() for f in fs if os.path.lexists(f)})
    return made, blocking


def _say_removed(
    dest: Path,
    removed: list[Path],
    exports: bool,
    replaced: list[Path],
    commands: list[tuple[Path, str, list[Path]]] | None = None,
    unhashed: list[Path] | None = None,
    old: Path | None = None,
) -> None:
    """Say, on stderr, which of the replaced model's files and exports (``exports``: some are)
    a save removed, with the ``siamkit export`` commands of ``commands`` that write the
    exports again (:func:`export_again`, as calibrate names them), and which of the text
    exports ``unhashed`` lost files by their names (:func:`by_name_clause`), and which entries
    that were not the replaced model's it replaced. ``removed`` may name files in the replaced
    folder ``old`` (a recovery that failed part-way, :func:`_where_now`): the commands and
    ``unhashed`` name them in ``dest``, where the commands write them again."""
    if removed:
        hint = ""
        there = [dest / p.relative_to(old) if old and p.is_relative_to(old) else p for p in removed]
        made, blocking = export_again(commands or [], there) if exports else ({}, [])
        if made and "" not in made:
            it = "it" if len(made) == 1 else "them"
            hint = f" ({listed([f'`{c}`' for c in made])} {in_number(len(made), 'writes', 'write')}"
            hint += f" {it} again"
            if blocking:
                hint += f" once you move {_listed(blocking)} elsewhere"
            hint += ")"
        elif exports:
            hint = f" (siamkit export {dest} --format onnx writes an export of it"
            if blocking:
                hint += f" once you move {_listed(blocking)} elsewhere"
            hint += ")"
        print(
            f"Removed {_listed(removed)}: the replaced model's, which this model does not write "
            f"and which would no longer match it{hint}{by_name_clause(unhashed or [], there)}",
            file=sys.stderr,
        )
    if replaced:
        print(
            f"Replaced {_listed(replaced)}, which the replaced model had not written, with this "
            "model's own of the same name: the earlier one is deleted",
            file=sys.stderr,
        )


def _listed(paths: list[Path]) -> str:
    return listed([str(p) for p in paths])


def extra_files_as_saved(path: str | os.PathLike[str], doc: dict[str, Any]) -> bool:
    """Whether the files a kind wrote beside a saved folder's weights (a text model's
    ``tokenizer/`` and lexical files) are still the ones ``save_model`` recorded in ``doc``
    (:data:`EXTRA_FILES_KEY`), byte for byte: what ``siamkit recommend`` checks before it takes
    ``siamkit.json``'s tokenizer digest for the one loading would compute (a ``tokenizer/``
    swapped or edited after the save is another model to the full load, s56_R5 finding 1).
    ``True`` for a folder saved without the record (before it, or writing no such files),
    trusted as before; ``False`` for a record that is not one (a name that is not a plain
    file or folder name in the folder)."""
    recorded = doc.get(EXTRA_FILES_KEY)
    if recorded is None:
        return True
    if not isinstance(recorded, dict):
        return False
    folder = Path(path)
    for name, digest in recorded.items():
        if not isinstance(name, str) or name in ("", ".", "..") or Path(name).name != name:
            return False
        try:
            if not isinstance(digest, str) or entry_digest(folder / name) != digest:
                return False
        except OSError:  # unreadable: the full load says what
            return False
    return True


def _part_modules(node: Any) -> list[str]:
    """The ``module`` of every part in a model description that a user's module registers (an
    encoder's spec, a registered distance's), in order."""
    if isinstance(node, dict):
        own = [node["module"]] if isinstance(node.get("module"), str) else []
        return own + [m for v in node.values() for m in _part_modules(v)]
    if isinstance(node, list):
        return [m for v in node for m in _part_modules(v)]
    return []


def model_plugins(config: dict[str, Any]) -> list[str]:
    """The plug-in modules a model described by ``config`` records so that loading it imports
    them: none when all its parts are siamkit's; else the plug-ins this process imported
    (:func:`~siamkit.registry.used_plugins`, a file as its absolute path) and then each module
    defining a part that none of them is (a Python user's own, imported before saving)."""
    modules = dict.fromkeys(_part_modules(config))
    needed = [m for m in modules if m != "__main__"]  # a script's own: not importable
    if not needed:
        return []
    imported = used_plugins()
    names = {plugin_name(spec) for spec in imported}
    return [*imported, *(m for m in needed if m not in names)]


def _model_folder(path: str | os.PathLike[str]) -> Path:
    """The folder a save replaces: ``path``, or where it leads if it is a symbolic link (the
    replacement is made there, beside the target, and the link is kept; renaming the link
    would replace the link with a folder and leave the target's old model behind)."""
    dest = Path(path)
    return dest.resolve() if dest.is_symlink() else dest


def recover_model_folder(path: str | os.PathLike[str]) -> bool:
    """Undo a :func:`save_model` killed between its two renames, or finish one killed after
    them; True if something was restored or finished.

    Replacing a folder takes two renames (``model`` -> ``.model.old``, new -> ``model``). A kill
    between them leaves no ``model`` (or an empty one made since) but a complete ``.model.old``:
    it is renamed back, so the interrupted save is as if it never started (the new copy is
    discarded with the temp folders).
    A kill after them, before the user's files were moved from ``.model.old`` into the new
    ``model``, leaves them there: they are moved now (and the replaced model's files and exports
    removed, as the save would have, said on stderr).

    >>> recover_model_folder("out/model")  # doctest: +SKIP
    False
    """
    dest = _model_folder(path)
    old = set_aside_folder(dest)
    if old.is_symlink():  # not a replacement's (a save renames folders, never links): a
        return False  # user's, or an older siamkit's, left in place (a save refuses it, said)
    if (dest / CONFIG_FILE).is_file() and old.is_dir():  # killed after the two renames
        return _finish_replacement(dest, old)
    if not (old / CONFIG_FILE).is_file() or not (old / WEIGHTS_FILE).is_file():
        return False
    if dest.is_dir() and not dest.is_symlink() and not any(dest.iterdir()):
        # an empty folder made after a kill between the renames (a script's ``makedirs``)
        with contextlib.suppress(OSError):
            dest.rmdir()
    if dest.exists():
        return False
    try:
        old.rename(dest)
    except FileNotFoundError:  # another process restored it first
        return dest.exists()
    _remove_stale_temps(dest)
    return True


def _finish_replacement(dest: Path, old: Path, errors: list[OSError] | None = None) -> bool:
    """Finish a :func:`save_model` killed after its two renames, before it had moved the user's
    files out of the replaced folder ``old``: move them into ``dest`` now, and remove (and say)
    what the save would have removed. False where it cannot (a read-only folder); the OSError
    that stopped it is appended to ``errors``, for a caller that says why."""
    deleted: list[Path] = []  # the stale exports the carry deleted, said where it fails
    overwritten: list[Path] = []  # and the user's entries the model's own replaced
    commands: list[tuple[Path, str, list[Path]]] = []
    unhashed: list[Path] = []
    try:
        doc = json.loads((dest / CONFIG_FILE).read_text())
        fingerprints, threshold = (lambda: {doc.get("fingerprint")}), doc.get("threshold")
        kept: list[Path] = []
        commands = _commands_said(old, dest, fingerprints)  # read before the carry deletes
        unhashed = [dest / p.name for p in unhashed_text_exports(old)]
        removed = _carry_over(old, dest, fingerprints, threshold, deleted, kept, overwritten)
    except OSError as err:  # said now: the next save's refusal cannot know what this one deleted
        if errors is not None:
            errors.append(err)
        if deleted or overwritten:
            shown = sorted(_where_now(dest, old, deleted))
            replaced = sorted(dest / p.name for p in overwritten)
            _say_removed(dest, shown, bool(deleted), replaced, commands, unhashed, old)
        return False
    except (ValueError, AttributeError):
        return False
    _remove_stale_temps(dest)
    _say_removed(dest, *removed, commands, unhashed)
    said = _say_kept_listed(dest, [str(p.relative_to(old)) for p in kept])
    _say_unrecorded_stale(dest, fingerprints, threshold, said)
    return True


def _remove_stale_temps(dest: Path, age_s: float = STALE_TEMP_S) -> None:
    """Delete ``.dest.*`` temp folders of saves killed long ago (a running save's is recent)."""
    now, aside = time.time(), set_aside_folder(dest)
    for stale in dest.parent.glob(f".{dest.name}.*"):
        try:
            if stale.is_dir() and stale != aside and now - stale.stat().st_mtime > age_s:
                shutil.rmtree(stale, ignore_errors=True)
        except FileNotFoundError:
            continue


def _check_threshold(value: Any, cfg_path: Path, signed: bool) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ModelFileError(
            f"{cfg_path} has threshold {value!r}; it must be a finite number (or null)"
        )
    if value < 0 and not signed:
        raise ModelFileError(
            f"{cfg_path} has a negative threshold {value!r}; this model's distances are >= 0"
        )


def _input_shapes(node: Any) -> list[Any]:
    """Every ``input_shape`` value inside the model description (both towers of a half-twin)."""
    if isinstance(node, dict):
        found = [node["input_shape"]] if node.get("input_shape") is not None else []
        return found + [s for k, v in node.items() if k != "input_shape" for s in _input_shapes(v)]
    if isinstance(node, list):
        return [s for v in node for s in _input_shapes(v)]
    return []


def _check_input_shape(shape: Any, cfg_path: Path) -> None:
    ok = (
        isinstance(shape, list)
        and len(shape) in (1, 3)
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape)
    )
    if not ok:
        raise ModelFileError(
            f"{cfg_path} has input_shape {shape!r}; expected [C, H, W] or [F] of positive integers"
        )
    if len(shape) == 3:
        c, h, w = shape
        if c > 4 or max(h, w) > MAX_INPUT_SIDE or h * w > MAX_INPUT_PIXELS:
            raise ModelFileError(
                f"{cfg_path} has input_shape {shape}: at most 4 channels, {MAX_INPUT_SIDE} pixels "
                f"a side and {MAX_INPUT_PIXELS:,} pixels are accepted; the file is corrupted or "
                "was edited by hand"
            )


def _text_export_given(folder: Path) -> str:
    """The refusal of a text model's ONNX export folder given as a model: the model it was
    exported from is what the commands take (``siamkit serve MODEL --runtime onnx-int8`` runs
    that model's export in MODEL/onnx). Folders are named as :func:`shown_folder` names them."""
    shown, model = shown_folder(folder), shown_folder(folder.parent)
    if (folder.parent / CONFIG_FILE).is_file():  # MODEL/onnx, siamkit export's own place
        return (
            f"{shown} is the ONNX export of the model {model}, not a model folder: give "
            f"{model} (siamkit serve runs this export with --runtime onnx or onnx-int8)"
        )
    return (
        f"{shown} is a text model's ONNX export, not a model folder: give the siamkit model "
        "folder it was exported from, and to serve its export write it there with `siamkit "
        "export MODEL --format onnx --int8`, then `siamkit serve MODEL --runtime onnx-int8`"
    )


def _recorded_collapse(checkpoint: Path) -> str | None:
    """The collapse a self-supervised run recorded in its checkpoint when it stopped on one
    (``epoch N: the embedding collapsed ...; no model saved: try ...``), the record a
    ``--resume`` of it refuses on (the SSL monitor's state, ``ssl_monitor``; this layer does not
    import the applications); ``None`` for any other run's checkpoint or an unreadable file."""
    try:  # mmap: a large encoder's weights are not read for one string
        state = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # a truncated or foreign file: the other sentences stand
        return None
    monitor = state.get("ssl_monitor") if isinstance(state, dict) else None
    said = monitor.get("collapsed") if isinstance(monitor, dict) else None
    return said if isinstance(said, str) and said else None


def _run_without_model(folder: Path) -> str:
    """The sentence for a training run's folder that holds a checkpoint but no ``model/``: it
    was told to give ``OUT/model``, which is not there. Told by what the run recorded, not by
    ``report.html`` (every finished run writes one, and a collapsed run without matplotlib
    none): a self-supervised run that stopped on a collapse records it in its checkpoint and
    saves no model; a finished run writes ``metrics.json`` after its model, so that model was
    moved or deleted since; any other run stopped before saving one, and if interrupted a
    ``--resume`` finishes it."""
    model = folder / "model"
    shown = shown_folder(folder)  # (folder / "model" is no model's name: Path names it)
    collapsed = _recorded_collapse(folder / "checkpoint.pt")
    if collapsed is not None:  # (a --resume of it is refused: it would save the collapsed model)
        report = folder / "report.html"
        curves = f"; the curves: {report}" if report.is_file() else ""
        return (
            f"{shown} is a training run's folder without a saved model (no {model}): its run "
            f"stopped at {collapsed}{curves}"
        )
    if (folder / "metrics.json").is_file():
        return (
            f"{shown} is a training run's folder whose model is missing: its run finished and "
            f"saved {model}, which has since been moved or deleted (no {model / CONFIG_FILE}): "
            "put it back, or train again"
        )
    return (
        f"{shown} is a training run's folder without a saved model (no {model}): its run "
        f"stopped before saving one; if it was interrupted, siamkit train CONFIG --out {shown} "
        "--resume finishes it and saves one"
    )


def read_model_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate ``siamkit.json`` of a model folder, without building the model."""
    folder = Path(path)
    shown = shown_folder(folder)  # ./all-MiniLM-L6-v2 stays so, not the bundled model's name
    cfg_path = folder / CONFIG_FILE
    if not folder.exists():
        raise ModelFileError(
            f"{shown} does not exist: give a model folder, the one `siamkit train --out OUT` "
            "writes as OUT/model (or siamkit.save_model writes)"
        )
    if not folder.is_dir():
        raise ModelFileError(
            f"{shown} is a file, not a model folder (expected a directory with {CONFIG_FILE} and "
            f"{WEIGHTS_FILE})"
        )
    if not cfg_path.is_file():
        if (folder / "model" / CONFIG_FILE).is_file():  # a run's folder: its model is inside
            raise ModelFileError(
                f"{shown} is a training run's folder, not a model folder: give {folder / 'model'}"
            )
        if (folder / "checkpoint.pt").is_file():  # a run's folder, whose run saved no model
            raise ModelFileError(_run_without_model(folder))
        if (folder / TEXT_EXPORT_META).is_file():  # `siamkit text export --out edge/`
            raise ModelFileError(_text_export_given(folder))
        raise ModelFileError(
            f"{shown} has no {CONFIG_FILE}, so it is not a siamkit model folder: give the "
            "folder `siamkit train --out OUT` writes as OUT/model (or siamkit.save_model writes)"
        )
    try:
        doc = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelFileError(
            f"{cfg_path} is not valid JSON ({err}); the file is corrupted"
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFileError(f"{cfg_path} is not a siamkit model description")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{shown} was written in model format {version!r} by siamkit {doc.get('siamkit_version')}; this siamkit "
            f"({__version__}) reads format {FORMAT_VERSION} or older — upgrade siamkit"
        )
    plugins = doc.get("plugins", [])
    if not isinstance(plugins, list) or not all(isinstance(p, str) and p for p in plugins):
        raise ModelFileError(
            f"{cfg_path} has plugins {plugins!r}, expected a list of module names or .py files; "
            "the file is corrupted or was edited by hand"
        )
    model = doc.get("model")
    if not isinstance(model, dict):
        raise ModelFileError(
            f"{cfg_path} has no model description ('model' is {model!r}, expected an object "
            "with a 'kind'); the file is corrupted or was edited by hand"
        )
    if model.get("kind") not in model_kinds():
        raise ModelFileError(f"{cfg_path} names an unknown model kind {model.get('kind')!r}")
    # score-normalised distances (z-scores against a cohort) may be negative; raw distances not
    _check_threshold(doc.get("threshold"), cfg_path, signed=model.get("score_norm") is not None)
    for shape in _input_shapes(model):
        _check_input_shape(shape, cfg_path)
    return doc


def _import_recorded_plugins(doc: dict[str, Any]) -> dict[str, str]:
    """Import the plug-in modules the model records (``plugins``) that this process has not,
    saying so in one line each; returns those that could not be imported -> why. Their failure
    is the model's only if it then names a part none registers (a run may record a plug-in of
    its loss alone, which the model does not need)."""
    failed: dict[str, str] = {}
    for spec in doc.get("plugins", []):
        if plugin_name(spec) in sys.modules:  # --plugin given again, or imported in Python
            continue
        print(f"importing plug-in module {spec} recorded in the model", file=sys.stderr)
        try:
            import_plugins([spec], entry_points=False)
        except PluginImportError as err:
            failed[spec] = err.reason
    return failed


def _plugin_failed(folder: Path, failed: dict[str, str]) -> ModelFileError:
    spec, reason = next(iter(failed.items()))
    return ModelFileError(
        f"{shown_folder(folder)} cannot be loaded: the plug-in module {spec!r} recorded in the "
        f"model cannot be imported ({reason}); install it, or pass --plugin naming its module or "
        ".py file (in Python, import it before load_model)"
    )


def _untrusted(folder: Path, err: PluginNotImportedError, pending: list[str]) -> ModelFileError:
    """The sentence for a model needing a part of the plug-ins it records, not imported because
    loading was not told to trust them: which modules, and the two ways to import them."""
    names = ", ".join(repr(spec) for spec in pending)
    modules = in_number(len(pending), "module")
    options = " ".join(f"--plugin {shlex.quote(spec)}" for spec in pending)
    needs = f"its {err.part} needs" if err.part else "it needs"
    return ModelFileError(
        f"{shown_folder(folder)} cannot be loaded: {needs} the plug-in {modules} {names} that the "
        f"model records, which loading does not import unless told to; pass {options} (or set "
        f"SIAMKIT_PLUGINS={shlex.quote(','.join(pending))}), or --trust-plugins to import the "
        "modules the model records, only for model folders you trust (in Python, import them "
        "first or call load_model(path, trust_plugins=True))"
    )


@overload
def load_model(
    path: str | os.PathLike[str],
    map_location: str | torch.device = "cpu",
    *,
    trust_plugins: bool | None = None,
    expect: None = None,
) -> Model: ...


@overload
def load_model(
    path: str | os.PathLike[str],
    map_location: str | torch.device = "cpu",
    *,
    trust_plugins: bool | None = None,
    expect: type[M],
) -> M: ...


def load_model(
    path: str | os.PathLike[str],
    map_location: str | torch.device = "cpu",
    *,
    trust_plugins: bool | None = None,
    expect: type[torch.nn.Module] | None = None,
) -> torch.nn.Module:
    """Load a model folder written by :func:`save_model`, in eval mode. Never unpickles anything,
    and imports nothing unless ``trust_plugins``.

    Without ``expect`` the result is typed as any saved kind (``SiameseNetwork | HalfTwinNetwork
    | JoinedEmbedding``), so a ``mypy --strict`` caller needs an ``isinstance`` before using
    one kind's members; ``expect=SiameseNetwork`` (or ``HalfTwinNetwork``, ``JoinedEmbedding``,
    an application's class such as ``TextSiameseNetwork``) gives that class, typed, and refuses
    a folder of another kind in one sentence naming what it holds, before reading its weights.

    Args:
        path: the model folder.
        map_location: the device its weights are loaded on.
        trust_plugins: import the plug-in modules a model of a user's parts records
            (``plugins`` in ``siamkit.json``) that are not imported yet, each announced in one
            line on stderr; one that cannot be imported, when the model needs a part it
            registers, is a :class:`ModelFileError` naming it. Importing runs their code: only
            for model folders you trust. ``None`` (default): only within a command run with
            ``siamkit --trust-plugins`` (:func:`~siamkit.registry.trusting_recorded_plugins`).
            Without it, a part no imported module registers is a :class:`ModelFileError`
            naming the recorded modules and how to import them.
        expect: the model class the folder must hold (a subclass counts), which the result is
            typed as; a folder of another kind is a :class:`ModelFileError`.

    >>> net = load_model("out/model")  # doctest: +SKIP
    >>> twin = load_model("out/model", expect=SiameseNetwork)  # doctest: +SKIP
    """
    if expect is not None and not isinstance(expect, type):
        raise TypeError(
            f"expect must be a model class such as siamkit.SiameseNetwork, got {expect!r}"
        )
    recover_model_folder(path)
    doc = read_model_config(path)
    if expect is not None:
        _check_expected_kind(Path(path), doc["model"]["kind"], expect)
    weights = Path(path) / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelFileError(
            f"{shown_folder(path)} has no {WEIGHTS_FILE}, so it is not a whole siamkit model folder; give "
            "the model/ folder a run wrote (siamkit train saves OUT/model)"
        )
    if sha256_file(weights) != doc.get("weights_sha256"):
        raise ModelFileError(
            f"{weights} does not match the checksum in {CONFIG_FILE}: it is truncated or was modified"
        )
    try:
        state = load_file(str(weights), device=str(map_location))
    except (SafetensorError, OSError) as err:
        raise ModelFileError(f"{weights} cannot be read: {err}") from None
    if trust_plugins is None:
        trust_plugins = trusts_recorded_plugins()
    # a whole folder's, before its parts are built
    failed = _import_recorded_plugins(doc) if trust_plugins else {}
    try:
        cls: Any = model_class(doc["model"]["kind"])
        rebuild = getattr(cls, "from_bundle", None)  # kinds that read extra files of the folder
        model = rebuild(doc["model"], Path(path)) if rebuild else cls.from_config(doc["model"])
        model.load_state_dict(state, strict=True)
    except PluginNotImportedError as err:  # a user's part: name the module to import
        if failed:
            raise _plugin_failed(Path(path), failed) from None
        pending = [s for s in doc.get("plugins", []) if plugin_name(s) not in sys.modules]
        if pending and not trust_plugins:
            raise _untrusted(Path(path), err, pending) from None
        raise ModelFileError(f"{shown_folder(path)} cannot be loaded: {err}") from None
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise ModelFileError(
            f"{shown_folder(path)} describes a model that cannot be rebuilt: {err}"
        ) from None
    model.threshold = doc.get("threshold")
    if FORMER_ENCODER_KEY in doc:  # save_model's record, checked before it is kept
        keep_former_encoder_spec(getattr(model, "encoder", None), doc[FORMER_ENCODER_KEY])
    model = model.to(map_location).eval()
    if expect is not None and not isinstance(model, expect):  # a kind whose rebuild says otherwise
        raise ModelFileError(_not_expected(Path(path), doc["model"]["kind"], type(model), expect))
    _dry_run(model, Path(path))
    return model  # type: ignore[no-any-return]


#: What each built-in kind of model folder holds, in words, for a refusal naming it.
_KIND_WORDS = {
    "siamese": "a Siamese model whose twins share one encoder",
    "half_twin": "a half-twin model with two towers",
    "joined": "a Siamese model joined with appearance features",
    "text": "a text model",
    "siamfc": "a SiamFC tracker",
    "dlib_face": "dlib's face model",
}


def _not_expected(folder: Path, kind: str, cls: type, expect: type) -> str:
    """The sentence refusing a folder of ``kind`` (rebuilt as ``cls``) to a caller expecting
    ``expect``: what the folder holds and the two ways to load it."""
    words = _KIND_WORDS.get(kind, "a model")
    return (
        f"{shown_folder(folder)} holds {words} ({cls.__name__}, kind {kind!r}), not a "
        f"{expect.__name__}: load it with expect={cls.__name__}, or without expect= to take any "
        "kind"
    )


def _check_expected_kind(folder: Path, kind: str, expect: type) -> None:
    """Refuse a folder whose kind's class is not ``expect`` (or a subclass), before its weights
    are read or its recorded plug-ins imported."""
    try:
        cls = model_class(kind)
    except (ImportError, AttributeError, ValueError):  # its class cannot be imported: loading
        return  # goes on and says so as it does without expect
    if isinstance(cls, type) and not issubclass(cls, expect):
        raise ModelFileError(_not_expected(folder, kind, cls, expect))


def _dry_run(model: Any, folder: Path) -> None:
    """Embed one zero image of ``input_shape``, so a shape that the encoder cannot take fails now.

    Only torch's own errors (a shape the layers cannot take) count: a kind may refuse a blank
    image for what it shows (a face model finds no face in it), which says nothing of the shape.
    """
    shape = model.input_shape if isinstance(model, EmbeddingModel) else None
    if shape is None or len(shape) != 3:
        return
    if math.prod(shape[1:]) > DRY_RUN_PIXELS:
        return
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    try:
        with torch.inference_mode():
            model.embed(torch.zeros(1, *shape, device=device))
    except EncoderInputError as err:  # channels or features the encoder declares it cannot take
        raise ModelFileError(
            f"{folder}: its input_shape {list(shape)} does not fit its encoder ({err}); "
            f"the {CONFIG_FILE} is corrupted or was edited by hand"
        ) from None
    except ValueError:  # about the content (a face model finds no face in a blank image)
        return
    except RuntimeError as err:  # torch's own: a shape the layers cannot take
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelFileError(
            f"{folder}: its input_shape {list(shape)} does not fit its encoder ({first}); "
            f"the {CONFIG_FILE} is corrupted or was edited by hand"
        ) from None
