"""``siamkit export MODEL --format onnx [--int8]``: ONNX and int8 files for edge devices."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from siamkit.clauses import counted, in_number, listed
from siamkit.cli._inputs import PROGRESS, refuse_existing
from siamkit.progress import step

if TYPE_CHECKING:
    from siamkit.cli._int8_check import CheckImages, RunProtocol, SignatureData

INT8_MODES = ("static", "dynamic")
# how a text model's int8 graph is quantised (applications/text/onnx.py, quantize_int8)
_TEXT_INT8 = (
    "int8 weights per output channel, activations quantised per token as the graph runs; no "
    "calibration data"
)


def _signature_corpus(folder: str) -> bool:
    """Whether ``folder`` is laid out as a signature corpus (CEDAR, GPDS, BHSig, folders)."""
    from siamkit.data.signature_layouts import detect_layout

    try:
        detect_layout(folder)
    except (ValueError, FileNotFoundError):
        return False
    return True


def _signature_calibration(
    source: str | None,
    model_doc: dict[str, Any],
    input_shape: tuple[int, ...],
    count: int,
    run_sigs: SignatureData | str | None,
) -> tuple[Any, str] | None:
    """A signature model's calibration images (and ``signatures:DIR`` for any model): the given
    corpus, else the signatures its run trained on, read as the signature commands read them;
    ``None`` when neither applies."""
    from siamkit.cli._int8_check import (
        SIGNATURES,
        given_signatures,
        is_signature_model,
        signature_calibration,
    )

    if source is not None and source.startswith(SIGNATURES):
        try:
            return signature_calibration(
                given_signatures("--calib-data", source, input_shape), count
            )
        except ValueError as err:
            raise click.UsageError(str(err)) from None
    if not is_signature_model(model_doc):
        return None
    if source is not None and _signature_corpus(source):
        raise click.UsageError(
            f"--calib-data {source} is a signature corpus, and a folder of images is read "
            "without the signature preprocessing the model takes (ink cropped, centred, "
            f"inverted): pass --calib-data signatures:{source}"
        )
    if source is not None:
        return None
    if run_sigs is not None and not isinstance(run_sigs, str):
        return signature_calibration(run_sigs, count)
    raise click.UsageError(
        f"static int8 calibrates a signature model on signatures like those it trained on, and "
        f"{run_sigs or 'they were not looked for'}: pass --calib-data signatures:DIR (a "
        "signature corpus), or use --int8-mode dynamic"
    )


def _calibration(
    source: str | None,
    model_doc: dict[str, Any],
    input_shape: tuple[int, ...],
    count: int,
    run_sigs: SignatureData | str | None = None,
) -> tuple[Any, str]:
    """Calibration images: --calib-data, else the model's own training data (built in, the
    image folder it trained on when that is still there, or a signature model's run's
    signatures: ``run_sigs``, :func:`~siamkit.cli._int8_check.run_signatures`), else
    Fashion-MNIST for 1-channel models."""
    from siamkit.cli._eval_data import _learned_without_labels, training_folder
    from siamkit.export.calibration import BUILTIN_SOURCES, calibration_images

    if len(input_shape) != 3:  # a vector model: no images are like its inputs
        raise click.UsageError(
            f"static int8 calibrates on images, and this model takes vectors {input_shape}: "
            "use --int8-mode dynamic (no calibration data), or quantise the fp32 export in "
            "Python with siamkit.export.quantize_onnx, its calibration an (N, "
            f"{', '.join(map(str, input_shape))}) array of training vectors"
        )
    signatures = _signature_calibration(source, model_doc, input_shape, count, run_sigs)
    if signatures is not None:
        return signatures
    meta = model_doc.get("metadata") or {}
    run = meta.get("run") or {}
    classes: list[Any] | None = None
    given = source is not None
    root, train = training_folder(meta)
    train, gone = _training_sub_folders(root, train)  # gone: why the folder is not used
    if source is None and run.get("dataset") in BUILTIN_SOURCES:
        source, classes = run["dataset"], run.get("train_classes")
    elif source is None and root is not None and not gone:
        source, classes = root, train
    elif source is None:
        own = _half_twin_training_images(meta, input_shape, count)
        if not isinstance(own, str):
            return own  # an image half-twin's x (tower f's inputs), not Fashion-MNIST
        gone = gone or own  # why a half-twin's x images are not used
        if input_shape[0] != 1:
            raise click.UsageError(
                f"static int8 needs calibration images like the training data"
                f"{f' ({gone})' if gone else ''}; for a model taking {input_shape} inputs pass "
                "--calib-data FOLDER (or use --int8-mode dynamic)"
            )
        source = "fashion-mnist"
    try:
        images = calibration_images(source, input_shape, count=count, classes=classes)
    except (ValueError, FileNotFoundError) as err:
        if not given:
            raise
        raise click.BadParameter(str(err).strip(), param_hint="'--calib-data'") from None
    if source == root and not given:
        what = "all its classes" if classes is None else f"its {len(classes)} training classes"
        if _learned_without_labels(meta):  # task: ssl: sub-folders (if any) are not classes
            what = "its images, which the model learned from without labels"
        label = f"the training folder {root} ({what})"
    elif classes is not None:
        label = f"{source} classes {list(classes)}"
    else:
        label = source
        if gone and not given:
            label += f" ({gone}; pass --calib-data FOLDER to calibrate on the training images)"
    return images, label


def _training_sub_folders(
    root: str | None, train: list[str] | None
) -> tuple[list[str] | None, str]:
    r"""The training classes' sub-folders of ``root`` by their names on disk, and why the
    folder cannot be used ("" when it can). A class name is its folder's
    :func:`~siamkit.data.folders.text_name`: one named in Latin-1 bytes is recorded as
    ``kl\xe4sse``, and no folder has that name."""
    from siamkit.data.folders import text_name

    if root is None:
        return train, ""
    if not Path(root).is_dir():
        return train, f"the training folder {root} is not there"
    if train is None:
        return None, ""
    try:
        on_disk = {text_name(p.name): p.name for p in Path(root).iterdir() if p.is_dir()}
    except OSError:  # a folder this user may enter but not list: its sub-folders by name
        on_disk = {c: c for c in train if (Path(root) / c).is_dir()}
    if missing := [c for c in train if c not in on_disk]:
        return train, f"the training folder {root} has no sub-folder {missing[0]!r}"
    return [on_disk[c] for c in train], ""


def _half_twin_training_images(
    meta: dict[str, Any], input_shape: tuple[int, ...], count: int
) -> tuple[Any, str] | str:
    """A seeded sample of ``count`` of the ``x`` images an image half-twin (``task:
    half_twin``) trained tower f on, and their label, when its ``data.path`` is still there and
    holds images of f's input shape; else why not (``""``: not a half-twin), which the
    calibration's label says where it falls back to Fashion-MNIST."""
    import numpy as np

    from siamkit.cli._half_twin_check_data import recorded_data_path

    if meta.get("task") != "half_twin":
        return ""
    path, why = recorded_data_path(meta)  # an old model's relative one: from here, said in _run
    if path is None:
        return why
    try:
        with np.load(path, allow_pickle=False) as f:
            x = f.get("x")
    except (OSError, ValueError, EOFError):
        return f"its run's data.path {path} is not a readable .npz file"
    if x is None or x.ndim != 4 or tuple(x.shape[1:]) != tuple(input_shape) or not len(x):
        shape = "x".join(map(str, input_shape))
        return f"its run's data.path {path} holds no x images of tower f's input shape {shape}"
    pick = np.random.default_rng(0).choice(len(x), min(count, len(x)), replace=False)
    return x[np.sort(pick)].astype(np.float32), f"the x images of its training data {path}"


def _model_input_shape(model_doc: dict[str, Any]) -> tuple[int, ...]:
    """The recorded input shape; a joined model (the demo's: network + appearance features)
    records it on the network it wraps (``model.net``)."""
    cfg = model_doc["model"]
    while True:
        prep = cfg.get("preprocess") or cfg.get("preprocess_f") or {}
        if prep.get("input_shape") or not isinstance(cfg.get("net"), dict):
            return tuple(prep.get("input_shape") or ())
        cfg = cfg["net"]


def _parse_shape(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        shape = ()
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise click.BadParameter(f"{text!r} is not C,H,W (e.g. 1,28,28) or F (e.g. 16)")
    return shape


def _targets(model: str, out: str | None, int8: bool, both: bool = False) -> list[Path]:
    """The files an export writes: the fp32 ``.onnx`` and, with int8, the file next to it; a
    half-twin's (``both``) branch g graphs beside them too."""
    from siamkit.export.onnx import document_path
    from siamkit.export.quantize import int8_path
    from siamkit.export.runtime import ONNX_FILE

    fp32 = Path(out) if out else Path(model) / ONNX_FILE
    graphs = [fp32, document_path(fp32)] if both else [fp32]
    return [*graphs, *(int8_path(g) for g in graphs)] if int8 else graphs


def _exported_int8(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Of the int8 files ``paths`` beside the graphs an export without --int8 writes: those an
    earlier --int8 export wrote, and the others (a file of the user's put at that name, a
    link), which are the user's. In a model folder, the export's is a plain file of the SHA-256
    its ``onnx.json`` records; elsewhere (``--out`` into a folder with no ``onnx.json``), an int8
    graph whose metadata siamkit's quantiser wrote (a fingerprint, ``precision`` int8). Beside
    an ``onnx.json`` that does not list it, it is not the export's, whatever its metadata: a
    copy of another model's int8 graph put there was deleted (s64_r2 finding 1)."""
    from siamkit.atomic import sha256_file
    from siamkit.export.sidecar import SIDECAR_FILE, read_sidecar

    exported: list[Path] = []
    for path in paths:
        entry = read_sidecar(path.parent)["exports"].get(path.name)
        recorded = entry.get("sha256") if isinstance(entry, dict) else None
        try:
            same = path.is_file() and not path.is_symlink()
            if entry is not None:
                same = same and sha256_file(path) == recorded
            elif os.path.lexists(path.parent / SIDECAR_FILE):  # a record that lists it not
                same = False
            else:
                same = same and _is_siamkit_int8(path)
        except OSError:  # unreadable: not known to be the export's
            same = False
        if same:
            exported.append(path)
    return exported, [p for p in paths if p not in exported]


def _is_siamkit_int8(path: Path) -> bool:
    """Whether ``path`` is an int8 graph siamkit's quantiser wrote (its metadata: a fingerprint
    and ``precision`` int8)."""
    try:
        import onnx

        meta = {
            p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props
        }
    except Exception:  # not a graph onnx reads (or no onnx): not known to be siamkit's
        return False
    return "fingerprint" in meta and meta.get("precision") == "int8"


def _say_kept_int8(kept: list[Path]) -> None:
    """Say, on stderr, which files at the names of an int8 export's files an export without
    --int8 kept, as they are not the ones an earlier --int8 export wrote there."""
    if not kept:
        return
    one = len(kept) == 1
    it, is_ = ("it", "it is") if one else ("them", "they are")
    click.echo(
        f"Kept {listed([str(p) for p in kept])}: {is_} not the int8 "
        f"{in_number(len(kept), 'file')} an earlier --int8 export wrote (not of the SHA-256 an "
        f"onnx.json beside {it} records, nor an int8 graph of siamkit's), so {is_} taken as "
        f"yours; {it} "
        f"would not match the new {in_number(len(kept), 'graph')}: move {it} elsewhere, or "
        f"delete {it}",
        err=True,
    )


def _refuse_existing(targets: list[Path], stale: list[Path], force: bool) -> None:
    """A usage error, unless ``force``, naming the files among ``targets`` that exist (which
    --force replaces) and the existing int8 files ``stale`` of an earlier --int8 export (which
    --force removes, as they would no longer match the new graphs)."""
    if not stale:
        refuse_existing(targets, force, "or --out elsewhere")
        return
    if force:
        return
    one = len(stale) == 1
    names = listed([str(p) for p in stale])
    int8 = f"the int8 {in_number(len(stale), 'file')} of an earlier --int8 export"
    match = f"would no longer match the new {in_number(len(stale), 'graph')}"
    old = f"{names}, {int8}, which {match}"
    existing = [str(p) for p in targets if p.exists()]
    if not existing:  # the sentence starts with words, not a path (never capitalised)
        raise click.UsageError(
            f"{int8[0].upper()}{int8[1:]}, {names}, already {'exists' if one else 'exist'} and "
            f"{match}; pass --force to have {'it' if one else 'them'} removed, or --out elsewhere"
        )
    raise click.UsageError(
        f"{listed(existing)} already {'exists' if len(existing) == 1 else 'exist'}; pass "
        f"--force to replace {'it' if len(existing) == 1 else 'them'} ({old}, would be "
        "removed), or --out elsewhere"
    )


def _run(
    model: str,
    out: str | None,
    opset: int,
    exporter: str,
    int8_mode: str | None,
    calib_data: str | None,
    calib_size: int,
    input_shape: tuple[int, ...] | None = None,
    force: bool = False,
    check_data: str | None = None,
    branch: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | str | None, list[Path]]:
    """The rows of the files written, the int8 check (or why there is none), and the int8 files
    of an earlier export that this one removed (``stale``)."""
    try:
        from siamkit.export.bundle import read_model_config
        from siamkit.export.onnx import ParityNotCheckedWarning, export_onnx, kind_without_export
        from siamkit.export.quantize import import_quantizer, quantize_onnx
        from siamkit.export.sidecar import forget_export
    except ImportError as err:
        raise click.ClickException(f"{err}; pip install 'siamkit[onnx]'") from None
    if int8_mode is not None:  # before anything is written: the fp32 file would block a retry
        import_quantizer()
    doc = read_model_config(model)
    why = kind_without_export(model, (doc.get("model") or {}).get("kind"))
    if why is not None:  # before calibration images are looked for
        raise click.ClickException(why)
    kind = (doc.get("model") or {}).get("kind")
    if branch == "g" and kind != "half_twin":  # was "branch='g' is for half-twin networks"
        raise click.ClickException(
            f"{model} is a {kind or 'one-tower'} model with one tower (f): drop --branch g, "
            "which exports the second tower (g) of a half-twin (a HalfTwinNetwork, trained with "
            "`task: half_twin` or saved in Python)"
        )
    shape = input_shape or _model_input_shape(doc)
    from siamkit.cli._half_twin_check_data import read_here_note
    from siamkit.cli._int8_check import is_signature_model, run_signatures

    # a signature model's own signatures (or why there are none), read once for both defaults
    run_sigs: SignatureData | str | None = None
    if is_signature_model(doc) and (
        (int8_mode == "static" and calib_data is None)
        or (int8_mode is not None and check_data is None and branch != "g")
    ):
        step("reading the signatures the model's run trained and tested on")
        run_sigs = run_signatures(model, shape)
    # a half-twin's two branches (f: what is searched with, g: what is enrolled), unless --branch
    both = branch is None and kind == "half_twin"
    # an old half-twin's relative data.path is read from here (f's calibration images, the
    # check's rows): said once, before either reader's line or refusal names it
    calibrates = int8_mode == "static" and calib_data is None and len(shape) == 3
    checks = int8_mode is not None and both and check_data is None
    if (calibrates or checks) and (note := read_here_note(doc.get("metadata") or {})):
        click.echo(note, err=True)
    calib, source = None, None
    if int8_mode == "static":  # before exporting, so a bad --calib-data writes nothing
        calib, source = _calibration(calib_data, doc, shape, calib_size, run_sigs)
    # the held-out images of the int8 check (or why there are none), before exporting too
    check_images: CheckImages | str | None = None
    if int8_mode is not None and branch != "g":
        check_images = _check_images(model, doc, shape, check_data, both, run_sigs)
    targets = _targets(model, out, int8_mode is not None, both)
    # an earlier --int8 export's int8 files beside the graphs this export writes without int8:
    # quantised from the graphs it replaces, they would no longer match; removed, and said so
    stale = [] if int8_mode is not None else _targets(model, out, True, both)[len(targets) :]
    # removed only where they are the files that export wrote (onnx.json's SHA-256): a file of
    # the user's at such a name is kept, and named (:func:`_say_kept_int8`)
    stale, yours = _exported_int8([p for p in stale if os.path.lexists(p)])
    _refuse_existing(targets, stale, force)
    with warnings.catch_warnings():  # _print says it in its own words, --json included
        warnings.simplefilter("ignore", ParityNotCheckedWarning)
        fp32 = export_onnx(
            model, out, opset=opset, exporter=exporter, input_shape=input_shape, branch=branch
        )
    for path in stale:
        path.unlink(missing_ok=True)
        forget_export(path)
    for path in yours:  # its record described the export's file, no longer there
        forget_export(path)
    _say_kept_int8(yours)
    graphs = [("f", fp32), ("g", fp32.document)] if fp32.document is not None else [("", fp32)]
    rows = [{"precision": "fp32", **({"branch": b} if b else {}), "path": str(g.path),
             "bytes": g.size_bytes, "max_abs_diff": g.max_abs_diff}
            for b, g in graphs if g is not None]  # fmt: skip
    if int8_mode is None:
        return rows, None, stale
    with _int8_or_none(targets[len(graphs) :], fp32.path):
        if fp32.document is not None:  # g first (onnx.json's input shape stays f's),
            # dynamically: no calibration images are known to be like g's inputs (--branch g)
            qg = quantize_onnx(fp32.document.path, mode="dynamic")
            rows.append({"precision": "int8", "branch": "g", "int8_mode": "dynamic",
                         "path": str(qg.path), "bytes": qg.size_bytes})  # fmt: skip
        q = quantize_onnx(fp32.path, mode=int8_mode, calibration=calib, calibration_source=source)
    rows.insert(len(graphs), {"precision": "int8", **({"branch": "f"} if both else {}),
                              "int8_mode": int8_mode, "path": str(q.path),
                              "bytes": q.size_bytes, "calibration": source})  # fmt: skip
    if branch == "g":  # the check embeds probes with f, which a lone g export lacks
        why = "accuracy change not measured for --branch g: compare its embeddings yourself"
        return rows, why, stale
    assert check_images is not None  # loaded above for the f tower
    from siamkit.cli._int8_check import run_protocol

    return rows, _int8_check(check_images, str(fp32.path), str(q.path), run_protocol(doc)), stale


@contextmanager
def _int8_or_none(int8_files: list[Path], fp32: Path) -> Iterator[None]:
    """On any error while the new graphs are quantised, remove ``int8_files`` (the int8 files
    beside them: an earlier --int8 export's, quantised from the graphs just replaced, or the
    first of this export's two), so that no int8 file is left that does not match its graph; the
    error says so, whatever its type: onnxruntime's own (``Fail``, ``InvalidGraph``: plain
    Exceptions), a RuntimeError, MemoryError or OSError were raised bare and the removal went
    unsaid. An interruption (Ctrl-C, SIGTERM) says it in a line on stderr and goes on up, to
    the command's own "interrupted" line."""
    from siamkit.export.sidecar import forget_export

    try:
        yield
    except BaseException as err:
        removed = [p for p in int8_files if p.exists()]
        for path in removed:
            path.unlink(missing_ok=True)
            forget_export(path)
        if not removed:
            raise
        files = listed([str(p) for p in removed])
        said = (
            f"{fp32} was written without its int8 file, and the int8 "
            f"{in_number(len(removed), 'file')} beside it, {files}, {in_number(len(removed), 'was', 'were')} "
            "removed so that none is used with it: export again with --int8 --force"
        )
        if not isinstance(err, Exception):  # Ctrl-C, SIGTERM: main's line follows this one
            click.echo(said, err=True)  # not capitalised: it starts with a path
            raise
        raise click.ClickException(f"{_quantiser_error(err)}; {said} once this is fixed") from (
            None if isinstance(err, (ValueError, TypeError, FileNotFoundError)) else err
        )


def _quantiser_error(err: Exception) -> str:
    """What failed, in words: the message of the errors the quantiser raises for bad input, an
    OSError the disk refused as ``siamkit`` says it elsewhere, else the type and message of an
    unexpected one (onnxruntime's ``Fail: [ONNXRuntimeError] ...``).

    >>> _quantiser_error(RuntimeError("out of ideas"))
    'quantisation failed (RuntimeError: out of ideas)'
    """
    if isinstance(err, (ValueError, TypeError, FileNotFoundError)):
        return str(err).strip() or type(err).__name__
    if isinstance(err, OSError):
        from siamkit.cli.main import disk_error

        if (sentence := disk_error(err)) is not None:
            return sentence
    message = str(err).strip()
    return f"quantisation failed ({type(err).__name__}{f': {message}' if message else ''})"


@contextmanager
def _removing_new_folders(folder: Path) -> Iterator[None]:
    """On any error, remove the folders of ``folder``'s path that did not exist before and are
    still empty, deepest first: a failed export leaves the file system as it was."""
    from siamkit.atomic import missing_folders, remove_empty_folders

    new = missing_folders(folder)
    try:
        yield
    except BaseException:
        remove_empty_folders(new)  # one never made is skipped: a text export moves it in last
        raise


def _folder_export(model: str) -> Any:
    """The model kind's ``export_onnx_folder`` (text: graph + tokenizer), or None (one graph)."""
    from siamkit.export.bundle import read_model_config
    from siamkit.models.kinds import onnx_folder_exporter

    return onnx_folder_exporter(read_model_config(model)["model"]["kind"])


def _folder_entries(folder: Path) -> list[Path]:
    """The entries of ``folder`` (none when it is not a folder), listed before a forced export
    replaces it: those gone after it are the earlier export's files that it did not write
    (:func:`_removed_line`); a user's are kept in the new export. With them, as paths in
    ``folder``, those of an earlier replacement killed after it had moved its export aside
    (``.NAME.old``), which the export puts back or empties first: an int8 graph there was
    removed unsaid."""
    from siamkit.export.runtime import set_aside_folder

    names = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    aside = set_aside_folder(folder)
    if aside.is_dir() and not aside.is_symlink():
        names.update(p.name for p in aside.iterdir())
    return sorted(folder / name for name in names)


def _removed_line(removed: list[Path], text: bool) -> str:
    """The line that says a forced export removed ``removed``: an image export's stale int8
    files, or (``text``) the earlier text export's files that this one does not write (an int8
    graph, a stacked tower's ``lexical_stacked.*``, a half-twin's document graph)."""
    names = [str(p) for p in removed]
    files = listed(names)
    if not text:
        return (
            f"Removed {files}: the earlier --int8 export's, quantised from the graph this "
            "export replaced (export with --int8 to write a new one)"
        )
    hint = ""
    if any(p.name.endswith(".int8.onnx") for p in removed):
        hint = " (export with --int8 to write a new int8 graph)"
    return (
        f"Removed {files}: the earlier export's {in_number(len(removed), 'file')}, which this "
        f"export does not write and which would no longer match it{hint}"
    )


def _run_folder(
    model: str, out: str | None, int8_mode: str | None, refused: dict[str, bool], force: bool
) -> tuple[list[dict[str, Any]], list[Path]]:
    """Export a kind that writes a folder (a text bundle: ``MODEL/onnx/`` by default): the rows
    of the graphs written, and the earlier export's files that a forced export removed."""
    for option, given in refused.items():
        if given:
            raise click.UsageError(
                f"{option} is for image models; a text model exports its encoder (opset 17) and "
                f"tokenizer (int8: {_TEXT_INT8})"
            )
    if int8_mode == "static":
        raise click.UsageError(
            f"a text model's int8 export is dynamic ({_TEXT_INT8}): use --int8 or "
            "--int8-mode dynamic"
        )
    from siamkit.export.bundle import load_model

    if int8_mode is not None:  # before the folder is written: a retry would need --force
        from siamkit.export.quantize import import_quantizer

        import_quantizer()
    folder = Path(out) if out else Path(model) / "onnx"
    step(f"loading the model from {model}")
    net: Any = load_model(model)  # a kind that exports a folder (a text model): not a Model
    before = _folder_entries(folder)
    try:
        rows = net.export_onnx_folder(folder, int8=int8_mode is not None, force=force)
    except FileExistsError:
        raise click.UsageError(
            f"{folder} already exists; pass --force to replace it, or --out elsewhere"
        ) from None
    removed = [p for p in before if not os.path.lexists(p)]  # the user's are kept (links too)
    return [
        {
            "precision": r.precision,
            **({"int8_mode": "dynamic"} if r.precision == "int8" else {}),
            "path": str(r.path),
            "bytes": r.size_bytes,
            "max_abs_diff": r.max_abs_diff,
            "min_cosine": r.min_cosine,
            "tokenizer": str(folder / "tokenizer"),
        }
        for r in rows
    ], removed


def _signature_check_images(
    doc: dict[str, Any],
    shape: tuple[int, ...],
    data: str | None,
    run_sigs: SignatureData | str | None,
) -> CheckImages | str | None:
    """A signature model's check images (and ``signatures:DIR``'s for any model): the given
    corpus's genuine signatures, else its run's test writers', or why there are none; ``None``
    when neither applies."""
    from siamkit.cli._int8_check import (
        SIGNATURES,
        given_signatures,
        is_signature_model,
        signature_check_images,
    )

    if data is not None and data.startswith(SIGNATURES):
        try:
            return signature_check_images(given_signatures("--check-data", data, shape), doc)
        except ValueError as err:
            raise click.UsageError(str(err)) from None
    if not is_signature_model(doc):
        return None
    if data is not None and _signature_corpus(data):
        raise click.UsageError(
            f"--check-data {data} is a signature corpus, whose forgeries a class folder would "
            f"count as genuine signatures: pass --check-data signatures:{data}"
        )
    if data is not None:
        return None
    if run_sigs is not None and not isinstance(run_sigs, str):
        return signature_check_images(run_sigs, doc)
    return (
        f"accuracy change not measured: {run_sigs or 'its signatures were not looked for'}; "
        "pass --check-data signatures:DIR (signatures of writers it did not train on)"
    )


def _check_images(
    model: str,
    doc: dict[str, Any],
    shape: tuple[int, ...],
    data: str | None,
    both: bool = False,
    run_sigs: SignatureData | str | None = None,
) -> CheckImages | str:
    """The held-out images of the int8 check, or why there are none. A --check-data that cannot
    be used is refused here, before anything is written; the default data only goes unmeasured.
    A signature model is checked on signatures (``run_sigs``: its run's, read once for its
    calibration too), as is any model given ``--check-data signatures:DIR``.

    A half-twin exported with both towers (``both``) is checked on its run's own rows without
    --check-data: ``x`` through f, ``y`` through g, each tower on inputs of its own kind (vector
    half-twins included); where they are not there, on held-out images through f and the same
    images resized through g, and the check's line says why."""
    from siamkit.cli._int8_check import held_out_images

    signatures = _signature_check_images(doc, shape, data, run_sigs)
    if signatures is not None:
        return signatures
    no_rows = ""  # why a half-twin's g is not checked on its own kind of input
    if both and data is None:
        from siamkit.cli._half_twin_check_data import half_twin_rows

        g_prep = (doc.get("model") or {}).get("preprocess_g") or {}
        rows = half_twin_rows(doc, shape, tuple(g_prep.get("input_shape") or ()))
        if not isinstance(rows, str):
            return rows
        no_rows = rows
    elif both:
        no_rows = "--check-data gives one kind of input, f's"
    try:
        images = held_out_images(model, doc, shape, data)
    except (ValueError, FileNotFoundError) as err:
        if data is not None:
            why = str(err).strip()
            raise click.UsageError(
                why if why.startswith("--check-data") else f"--check-data {data}: {why}"
            ) from None
        return f"accuracy change not measured: {_default_check_data(str(err).strip(), doc)}"
    rows = f" (nor its run's own x, y rows: {no_rows})" if both else ""
    if images is None and len(shape) != 3:  # --check-data is images: nothing to pass
        return (
            f"accuracy change not measured: the check reads held-out images, and this model "
            f"takes vectors {shape}{rows}; compare the int8 file's embeddings with the fp32 "
            "file's on held-out vectors of your own (siamkit.export.OnnxEmbedder)"
        )
    if images is None:
        return (
            f"accuracy change not measured: pass --check-data FOLDER (held-out images by class)"
            f"{rows}"
        )
    return images._replace(no_g_inputs=no_rows) if both else images


def _default_check_data(why: str, doc: dict[str, Any]) -> str:
    """Why the folder the int8 check read in place of --check-data cannot be measured on, said
    as that: the reason names it as ``--check-data FOLDER``, which export of a self-supervised
    photo folder's model (no --check-data given) printed as if the user had passed the folder.

    >>> _default_check_data("--check-data p holds images and no class sub-folders", {})
    'no --check-data was given, and p holds images and no class sub-folders'
    """
    from siamkit.cli._eval_data import training_folder

    if not why.startswith("--check-data "):
        return why
    said = why.removeprefix("--check-data ")
    root = training_folder(doc.get("metadata") or {})[0]  # what the check read, as it names it
    if root is not None and said.startswith(f"{root} "):
        said = f"the folder it trained on, {root}, {said.removeprefix(f'{root} ')}"
    return f"no --check-data was given, and {said}"


def _int8_check(
    images: CheckImages | str,
    fp32: str,
    q: str,
    protocol: RunProtocol | None = None,
) -> dict[str, Any] | str:
    """The int8 file's accuracy change on held-out images, or why it was not measured; N-way
    K-shot as the model's run recorded it (``protocol``: its ways, shots, episodes, queries and
    seed) where the images allow."""
    from siamkit.cli._int8_check import int8_accuracy_change

    if isinstance(images, str):
        return images
    on = counted(len(images[1]), "image")
    step(f"measuring how much int8 changes EER and few-shot accuracy on {on}")
    try:
        return int8_accuracy_change(fp32, q, images, protocol)
    except ValueError as err:  # the files are written: say why they were not checked
        return f"accuracy change not measured: {err}"
    except KeyboardInterrupt:  # "run it again" would be refused: the files are complete
        return (
            "accuracy change not measured: interrupted (Ctrl-C); the files are complete (export "
            "again with --force to check them)"
        )


@click.command("export")
@click.argument("model", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["onnx"]),
    default="onnx",
    show_default=True,
    help="Export format.",
)
@click.option(
    "--int8",
    is_flag=True,
    help="Also write an int8-quantised model (model.int8.onnx; a text model: text.int8.onnx in "
    "its export folder).",
)
@click.option(
    "--int8-mode",
    type=click.Choice(INT8_MODES),
    default=None,
    help="Image models: static: calibrated, fastest on CPU (the default with --int8); dynamic: "
    "no calibration data, but activation ranges are taken per batch, so an image's embedding "
    "shifts slightly with the other images in its batch. A text model's int8 is always dynamic, "
    "its activations quantised per token (so not batch-dependent); static is refused. "
    "Implies --int8.",
)
@click.option(
    "--calib-data",
    default=None,
    help="Calibration images for an image model's static int8: 'fashion-mnist', 'digits', a "
    "folder of training images, or signatures:DIR (a signature corpus, read as the signature "
    "commands read it) [default: the model's own training data and classes: its built-in data "
    "set, or the image folder it trained on while that is still there; a signature model: its "
    "run's training writers (the data.root its run recorded in the model, or its synthetic "
    "writers made again; so in a copy of the model folder too); else "
    "fashion-mnist for 1-channel models]. The output says which data it calibrated on. A "
    "vector model has no calibration images: export it with --int8-mode dynamic.",
)
@click.option(
    "--calib-size",
    default=300,
    show_default=True,
    type=click.IntRange(1),
    help="Calibration images used by static int8.",
)
@click.option(
    "--opset",
    default=None,
    type=click.IntRange(9, 30),
    help="ONNX opset version of the graph [default: 17; 18 with --exporter dynamo, which "
    "writes 18 or newer].",
)
@click.option(
    "--exporter",
    type=click.Choice(["torchscript", "dynamo"]),
    default="torchscript",
    show_default=True,
    help="torch.onnx exporter (dynamo needs --opset 18 or newer).",
)
@click.option(
    "--out",
    type=click.Path(),  # a file for image models, a folder for text models: checked per kind
    default=None,
    help="Image models: where to write the fp32 .onnx file [default: MODEL/model.onnx]; the "
    "int8 file goes next to it. A text model writes a folder (graphs, tokenizer) [default: "
    "MODEL/onnx/].",
)
@click.option(
    "--input-shape",
    default=None,
    help="Input shape C,H,W (or F) for a model that does not record one.",
)
@click.option(
    "--check-data",
    default=None,
    help="Image models: held-out images (a folder with one sub-folder per class, fashion-mnist / "
    "digits, or signatures:DIR: a signature corpus's genuine signatures by writer) on which --int8 reports the int8 model's EER and N-way K-shot change (the eval.ways, "
    "eval.shots, eval.episodes, eval.queries and eval.seed the model's run recorded, where "
    "these images allow, so that on its test classes the fp32 figures are metrics.json's; else "
    "up to 5-way 1-shot) [default: the test split of the model's built-in data, or the image "
    "folder it trained on while that is still there: its test classes; a self-supervised "
    "model: the labelled validation folder its run recorded (data.val_root); a signature model: its "
    "run's test writers' genuine signatures, and its skilled- and random-forgery EER on them "
    "as `siamkit signature evaluate` scores them; a half-twin (task: "
    "half_twin, vectors too): its run's validation rows, x through f and y through g, while "
    "its data.path is still there; a 1-channel 28x28 model that records no data of its own (or "
    "none the check reads, such as a half-twin's gone data.path): Fashion-MNIST's train split "
    "(its recorded training classes, else all ten), never the test split's test classes]. Any "
    "other vector model's int8 change is not measured: compare its embeddings on held-out "
    "vectors yourself.",
)
@click.option(
    "--branch",
    type=click.Choice(["f", "g"]),
    default=None,
    help="Only this tower of a half-twin model: f (its first kind of input) or g (the second "
    "kind; default file MODEL/model.g.onnx; with --int8, model.g.int8.onnx, quantised "
    "dynamically). A gallery or siamkit serve --runtime onnx needs both, which a half-twin "
    "exports without --branch: f as MODEL/model.onnx, g beside it as model.document.onnx "
    "(with --int8, model.document.int8.onnx, quantised dynamically). A Siamese model has one "
    "tower, f.",
)
@click.option(
    "--force",
    "--overwrite",
    "force",
    is_flag=True,
    help="Replace existing .onnx files (a text model: its export folder's own files; yours in "
    "it are kept; --overwrite, as in train, is the same).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the written files as JSON.")
@PROGRESS
def export(
    model: str,
    fmt: str,
    int8: bool,
    int8_mode: str | None,
    calib_data: str | None,
    calib_size: int,
    opset: int | None,
    exporter: str,
    out: str | None,
    input_shape: str | None,
    check_data: str | None,
    branch: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Export MODEL's embedding network (preprocessing included) for ONNX Runtime.

    An image model's ONNX file takes the same (N, C, H, W) float batch in [0, 1] as the model
    and returns its (N, D) embeddings; the embedding size, distance, threshold and input shape
    are stored in its metadata, and MODEL/onnx.json lists the exports. Run it with `siamkit
    serve MODEL --runtime onnx` or siamkit.export.runtime.OnnxEmbedder (numpy + onnxruntime
    only, no torch). With --int8, also reports how much the int8 file changes EER and N-way
    K-shot accuracy (as the model's run recorded them) on held-out images (--check-data). The
    ONNX file is checked against the model on a few images before it is written; where
    onnxruntime is not installed it is written unchecked, which the output says (with --json, in
    a warning line on stderr). A vector model (an (N, F) input, as a half-twin on vectors) quantises with --int8-mode
    dynamic: no images calibrate it.
    A half-twin (two towers: trained with `task: half_twin`, or a HalfTwinNetwork saved in
    Python) writes its branch f (what is searched with) as that file and its branch g (what
    is enrolled) beside it, model.document.onnx (and model.document.int8.onnx), each checked
    against its PyTorch branch; its int8 check scores probes through f against references
    through g, as the pair is deployed, on its run's validation rows (x through f, y through g;
    vectors too) while its data.path is there, else on held-out images through both (the
    output says so).

    A text model (siamkit text, siamkit train of a text config) writes the folder MODEL/onnx/
    (or --out FOLDER): text.onnx (text.int8.onnx with --int8, dynamic quantisation), whose
    graph takes (N, L) int64 token ids and attention mask and returns (N, F) mean-pooled
    vectors, the tokenizer, and text_onnx.json (window, threshold, fingerprint) instead of
    onnx.json; a half-twin (model.share_weights: false) also writes its document tower,
    text.document.onnx (and text.document.int8.onnx), which embeds the enrolled texts. Run it with `siamkit serve MODEL --runtime onnx` or
    siamkit.applications.text.onnx.TextOnnxEmbedder (no torch). It reports each graph's lowest
    cosine to the PyTorch embeddings on probe texts and writes nothing if the fp32 graph's is
    below 0.9999.

    Existing files are only replaced with --force; an export without --int8 then removes the
    int8 file of an earlier --int8 export beside it, which no longer matches (the output says so;
    a file of yours at its name, not of the SHA-256 onnx.json records, is kept and named).
    A text model's forced export likewise removes, and says, each file of its earlier export that
    it does not write (an int8 graph, a stacked tower's lexical_stacked.*); yours are kept.

    \b
    Example:
        siamkit export runs/shoes/model --format onnx
        siamkit export runs/shoes/model --format onnx --int8 --force
        siamkit export runs/tickets/model --format onnx --int8   # a text model
    """
    try:
        folder_export = _folder_export(model)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as err:
        raise click.ClickException(str(err).strip() or type(err).__name__) from None
    from siamkit.cli._inputs import given_on_command_line

    # it was silently ignored without static int8
    calib_size_given = given_on_command_line(click.get_current_context(), "calib_size")
    if folder_export is not None:
        if out is not None and Path(out).suffix.lower() == ".onnx":  # made a folder named t.onnx
            raise click.BadParameter(
                f"{out} ends in .onnx, but a text model exports a folder (graphs and tokenizer): "
                f"give --out a folder, e.g. {Path(out).with_suffix('')}",
                param_hint="'--out'",
            )
        refused = {
            "--calib-data": calib_data is not None,
            "--calib-size": calib_size_given,
            "--input-shape": input_shape is not None,
            "--check-data": check_data is not None,
            "--exporter dynamo": exporter == "dynamo",
            f"--opset {opset}": opset not in (None, 17),
            "--branch g": branch == "g",
        }
        try:
            with _removing_new_folders(Path(out) if out else Path(model) / "onnx"):
                rows, removed = _run_folder(
                    model, out, int8_mode or ("dynamic" if int8 else None), refused, force
                )
        except (ValueError, TypeError, ImportError) as err:
            raise click.ClickException(str(err).strip() or type(err).__name__) from None
        _print(rows, None, fmt, as_json, removed)
        return
    from siamkit.export.onnx import DYNAMO_MIN_OPSET

    if exporter == "dynamo" and opset is not None and opset < DYNAMO_MIN_OPSET:
        raise click.BadParameter(  # it wrote opset 18 anyway, with onnx.json saying 17
            f"--exporter dynamo writes opset {DYNAMO_MIN_OPSET} or newer, not {opset}: give "
            f"--opset {DYNAMO_MIN_OPSET} or more (or leave it out), or use --exporter torchscript "
            f"for opset {opset}",
            param_hint="'--opset'",
        )
    opset = opset or (DYNAMO_MIN_OPSET if exporter == "dynamo" else 17)
    if out is not None and Path(out).is_dir():
        raise click.BadParameter(
            f"{out} is a folder; an image model exports to a .onnx file, e.g. {Path(out) / 'model.onnx'}",
            param_hint="'--out'",
        )
    if out is not None and Path(out).suffix.lower() != ".onnx":
        raise click.BadParameter(
            f"{out} does not end in .onnx; an image model exports to a .onnx file, e.g. "
            f"{Path(out).with_suffix('.onnx')}",
            param_hint="'--out'",
        )
    if out is not None:  # notes.txt/model.onnx: refused before the export, not by mkdir after
        from siamkit.atomic import check_writable_file

        try:
            check_writable_file(out, f"--out {out}")
        except ValueError as err:
            raise click.UsageError(str(err)) from None
    mode = int8_mode or ("static" if int8 else None)
    if branch == "g":
        if int8_mode == "static" or calib_data is not None or check_data is not None:
            raise click.UsageError(
                "--branch g quantises dynamically (--int8 or --int8-mode dynamic), without "
                "--calib-data or --check-data: those are images for the f tower"
            )
        if calib_size_given:
            raise click.UsageError(
                "--branch g quantises dynamically, with no calibration images: leave --calib-size "
                "out"
            )
        mode = None if mode is None else "dynamic"
        from siamkit.export.bundle import BRANCH_G_FILE

        out = out or str(Path(model) / BRANCH_G_FILE)
    for option, given in (
        ("--calib-data", calib_data is not None),
        ("--calib-size", calib_size_given),
    ):
        if given and mode != "static":
            raise click.UsageError(
                f"{option} is for static int8 quantisation (--int8): leave it out, or add --int8"
                + (" without --int8-mode dynamic" if mode else "")
            )
    if check_data is not None and mode is None:
        raise click.UsageError(
            "--check-data measures how much int8 changes accuracy: add --int8, or leave "
            "--check-data out"
        )
    try:
        shape = _parse_shape(input_shape)
        with _removing_new_folders(Path(out).parent if out else Path(model)):
            rows, check, removed = _run(
                model, out, opset, exporter, mode, calib_data, calib_size, shape, force,
                check_data, branch,
            )  # fmt: skip
    except (ValueError, TypeError, FileNotFoundError, ImportError) as err:
        raise click.ClickException(str(err).strip() or type(err).__name__) from None
    _print(rows, check, fmt, as_json, removed)
    folder = Path(rows[0]["path"]).parent  # export_onnx records files written into MODEL
    if folder.resolve() == Path(model).resolve() and not as_json:  # with --out there too
        click.echo(f"Recorded in {folder / 'onnx.json'}")


_NOT_CHECKED = (
    "not checked against the torch model (onnxruntime is not installed: pip install "
    "'siamkit[onnx]' and export again with --force to check it)"
)


def _parity_unchecked(row: dict[str, Any]) -> bool:
    """Whether ``row``'s fp32 image graph was written without its parity check (no onnxruntime:
    a text graph's export refuses to go on without it, and an int8 graph is measured apart)."""
    return (
        row["precision"] == "fp32" and "min_cosine" not in row and row.get("max_abs_diff") is None
    )


def _print(
    rows: list[dict[str, Any]],
    check: dict[str, Any] | str | None,
    fmt: str,
    as_json: bool,
    removed: list[Path] | None = None,
) -> None:
    from siamkit.export.onnx import PARITY_ATOL

    unchecked = [r["path"] for r in rows if _parity_unchecked(r)]
    if as_json:
        doc: dict[str, Any] = {"format": fmt, "files": rows}
        if check is not None:
            doc["int8_check"] = check
        if removed:
            doc["removed"] = [str(p) for p in removed]
        click.echo(json.dumps(doc, indent=2))
        if unchecked:  # max_abs_diff null alone: a script's log showed no word of it
            files = ", ".join(str(p) for p in unchecked)
            verb = in_number(len(unchecked), "was", "were")
            click.echo(f"warning: {files} {verb} {_NOT_CHECKED}", err=True)
        return
    for row in rows:
        what = row["precision"] + (f" ({row['int8_mode']})" if "int8_mode" in row else "")
        what = f"{row['branch']} {what}" if "branch" in row else what  # a half-twin's branch
        extra = ""
        if row.get("max_abs_diff") is not None and "min_cosine" in row:
            # a text graph is held to its cosine (parity_note below), not to PARITY_ATOL: an int8
            # graph's 2e-02 read "within 1e-04: the export embeds as the torch model"
            extra = f", max |torch - onnx| = {row['max_abs_diff']:.1e}"
        elif row.get("max_abs_diff") is not None:
            extra = (
                f", max |torch - onnx| = {row['max_abs_diff']:.1e} (within {PARITY_ATOL:.0e}: "
                "the export embeds as the torch model)"
            )
        elif _parity_unchecked(row):
            extra = f", {_NOT_CHECKED}"
        if row.get("calibration"):
            extra += f", calibrated on {row['calibration']}"
        if row.get("min_cosine") is not None:
            from siamkit.applications.text.onnx_export import parity_note

            extra += ", " + parity_note(row["precision"], row["min_cosine"])
        click.echo(f"{what:15s} {row['path']}  {row['bytes'] / 1024:.0f} KiB{extra}")
    if rows and "tokenizer" in rows[0]:
        click.echo(f"tokenizer      {rows[0]['tokenizer']}")
    if check is not None:
        from siamkit.cli._int8_check import describe

        click.echo(check if isinstance(check, str) else describe(check))
    if removed:
        click.echo(_removed_line(removed, text=bool(rows) and "tokenizer" in rows[0]))


COMMANDS = [export]
