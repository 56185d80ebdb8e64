"""``siamkit signature ...``: offline signature verification from the shell.

    siamkit signature synth sigs/ --writers 40                 # synthetic writer/genuine|forged folders
    siamkit train configs/signatures.yaml --out runs/sig        # writer-independent training
    siamkit signature evaluate runs/sig/model --data sigs/ --report report.html
    siamkit signature enroll --gallery bank.db --writer 0042 r1.png r2.png r3.png
    siamkit signature verify --gallery bank.db --writer 0042 cheque.png --json

Thin shell over :mod:`siamkit.applications.signatures`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from siamkit.clauses import counted
from siamkit.cli._face_common import DistanceThreshold, refuse_missing_store
from siamkit.cli._inputs import PROGRESS, OnceOption, store_errors
from siamkit.cli._model_record import recorded_model

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_MODEL = "runs/sig/model"

_MODEL_OPT = click.option(
    "--model",
    "model_path",
    default=None,
    type=click.Path(),
    help="The trained signature model (siamkit train configs/signatures.yaml --out runs/sig). "
    f"Default: the model that enrolled into the bank, else {DEFAULT_MODEL}.",
)
_GALLERY = click.option(
    "--gallery",
    "gallery_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The bank's reference file (SQLite), e.g. bank.db.",
)
_WRITER = click.option(
    "--writer", cls=OnceOption, required=True, help="The writer's id, e.g. 0042."
)
_REDUCE = click.option(
    "--reduce",
    type=click.Choice(["mean", "min", "max"]),
    default=None,
    help="Distance to the K references that decides (default: the one the model was trained for).",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
_IMAGE = click.Path(exists=True, dir_okay=False)


_friendly = store_errors("bank")


def _model_dir(model_path: str | None, gallery_path: str) -> tuple[str, str]:
    """``--model`` if given, else the folder the bank recorded (if it still exists), else the
    default; with a note for the error message when the recorded folder is gone."""
    return recorded_model(model_path, gallery_path, DEFAULT_MODEL, "bank")


def _open_bank(gallery_path: str, model: Any, model_dir: str, *args: Any, **kwargs: Any) -> Any:
    """``SignatureBank.open`` of ``model`` (loaded from ``model_dir``); a bank that another model
    enrolled says which folder did, and what to do, instead of two fingerprints."""
    from siamkit.applications.signatures.bank import SignatureBank
    from siamkit.cli._model_record import other_models_refusal
    from siamkit.index.results import GalleryMismatchError

    try:
        return SignatureBank.open(gallery_path, model, *args, **kwargs)
    except GalleryMismatchError:
        use_it = "leave out --model to use it, or enroll into a new bank file"
        refusal = other_models_refusal(
            gallery_path, model_dir, model_dir, use_it, things="signatures", store="bank"
        )
        if refusal is None:  # a face gallery (dlib records no folder), or enrolled from Python
            if _made_by_dlib(gallery_path):
                raise ValueError(
                    f"{gallery_path} is a face gallery (dlib's face encoder enrolled it), not a "
                    "signature bank; give --gallery a bank that `siamkit signature enroll` made, "
                    "or a new file to enroll the writer into"
                ) from None
            raise  # the fingerprints are all there is
        raise refusal from None


def _made_by_dlib(gallery_path: str) -> bool:
    """Whether dlib's face encoder enrolled the gallery at ``gallery_path`` (`face enroll`
    without --model, which records no model folder); False when the face extra is missing."""
    from siamkit.index.store import GalleryStore
    from siamkit.models.fingerprint import model_fingerprint

    try:
        from siamkit.applications.faces.pipeline import load_embedder

        dlib = model_fingerprint(load_embedder("dlib"))
    except (ImportError, OSError, RuntimeError, ValueError):  # no dlib or its model files
        return False
    store = GalleryStore(gallery_path, create=False, create_schema=False)
    try:
        return bool(store.meta().get("model_fingerprint") == dlib)
    finally:
        store.close()


_TRAIN = "`siamkit train configs/signatures.yaml --out runs/sig`"


def _load(
    model_path: str, note: str = "", *, warn: bool = False, given: str | None = None
) -> tuple[Any, dict[str, Any]]:
    """The model and its ``metadata.signatures``; with ``warn``, one ``warning: ...`` line on
    stderr when the model has none (not a refusal: a model trained another way may still be a
    signature model, but a digits model's scores say nothing about signatures). ``given``: how
    the user named ``model_path`` (``"--model"``, ``"MODEL"``), or ``None`` for the default
    or the bank's record, which a missing folder's sentence advises --model instead of."""
    import siamkit
    from siamkit.applications.signatures.bank import signature_shape_problem
    from siamkit.export.bundle import read_model_config

    if not Path(model_path).is_dir():
        if given is None:
            fix = f"train one with {_TRAIN} or pass --model"
        else:
            fix = f"give {given} a trained signature model's folder (runs/sig/model after {_TRAIN})"
        raise FileNotFoundError(f"no signature model at {model_path}{note}; {fix}.")
    metadata = read_model_config(model_path).get("metadata", {})
    model = siamkit.load_model(model_path)
    got = signature_shape_problem(model)  # a face or digits-RGB model
    if got is not None:
        raise ValueError(
            f"{model_path} is a model of {got}, not of 1-channel (1, H, W) signature images; "
            "train a signature model with `siamkit train configs/signatures.yaml --out runs/sig`."
        )
    if warn and "signatures" not in metadata:
        click.echo(
            f"warning: the model {model_path} has no signature metadata (it was not trained by "
            "the signature task), so its genuine/forged scores may mean nothing; train a "
            "signature model with `siamkit train configs/signatures.yaml --out runs/sig`.",
            err=True,
        )
    return model, metadata.get("signatures", {})


def _scans(paths: tuple[str, ...]) -> list[Any]:
    """Read each scan as grayscale (a transparent background as white paper); a blank one is
    named before anything is written."""
    from siamkit.applications.signatures.bank import read_signature
    from siamkit.data.signature_preprocess import BlankSignatureError, signet_preprocess

    scans = [read_signature(p) for p in paths]
    for path, scan in zip(paths, scans):
        try:
            signet_preprocess(scan, size=(32, 32))
        except BlankSignatureError:
            raise ValueError(f"the signature image {path} is blank (no ink on the page).") from None
    return scans


@click.group("signature")
def signature() -> None:
    """Offline signature verification: genuine or forged, against a writer's references."""


@signature.command()
@_MODEL_OPT
@_GALLERY
@_WRITER
@click.argument("images", nargs=-1, required=True, type=_IMAGE)
@_JSON
@_friendly
def enroll(
    model_path: str | None,
    gallery_path: str,
    writer: str,
    images: tuple[str, ...],
    as_json: bool,
) -> None:
    """Store IMAGES as WRITER's genuine reference signatures (no retraining).

    The bank records the model folder, so later `verify` and `enroll` calls on it find the model
    without --model. A scan the writer already holds (enrolled before, or given twice: the same
    embedding) is skipped, so enrolling the same scans again adds only what is new. IMAGES are
    files (a shell pattern such as refs/0042/*.png gives a folder's scans). Stopped (Ctrl-C,
    SIGTERM, an error) before the references were stored, it removes the bank file it created;
    a bank that was there before keeps exactly what it held.

    \b
    Example:
      siamkit signature enroll --gallery bank.db --writer 0042 ref1.png ref2.png ref3.png
    """
    from siamkit.cli._enroll import checked_chunk
    from siamkit.cli._new_gallery import new_gallery_removed_if_unused
    from siamkit.index.store import validate_label

    try:  # before the model loads and before the bank file is created
        validate_label(writer)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--writer") from None
    model_dir, note = _model_dir(model_path, gallery_path)
    model, _ = _load(model_dir, note, warn=True, given=model_path and "--model")
    scans = _scans(images)
    names = [repr(p) for p in images]
    # a first enrollment stopped (Ctrl-C, SIGTERM, a scan the model cannot embed) before its
    # references were stored leaves no bank file behind (the bank closed first)
    with new_gallery_removed_if_unused(gallery_path):
        bank = _open_bank(gallery_path, model, model_dir)
        try:
            # a NaN is refused by its scan's file, as siamkit enroll names it, where the bank's
            # gallery said "(rows 1)": embedded here, checked, then enrolled as bank.enroll does
            z = bank._embed(scans).numpy()
            z = checked_chunk([], z, names, photo=False, then="; nothing was enrolled")
            # each reference keeps its scan's file (the path as given), so that a verdict names
            # the scans it was compared with
            ids = bank.gallery.enroll_embeddings(writer, z, skip_repeats=True, sources=list(images))
            bank.gallery.remember_model_path(model_dir)
            total = len(bank.references(writer))
        finally:
            bank.close()
    skipped = len(ids.skipped)
    doc = {
        "writer": writer,
        "enrolled": len(ids),
        "references": total,
        "skipped_already_enrolled": skipped,
    }
    text = f"enrolled {counted(len(ids), 'reference')} for writer {writer} ({total:,} in all)"
    if skipped:
        text += (
            f"\nskipped {counted(skipped, 'reference')} already enrolled for this writer (the same "
            "signature image: the same embedding)"
        )
    click.echo(json.dumps(doc, indent=2) if as_json else text)


@signature.command()
@_MODEL_OPT
@_GALLERY
@_WRITER
@click.argument("image", type=_IMAGE)
@_REDUCE
@click.option(
    "--threshold", type=DistanceThreshold(), default=None, help="Override the model's threshold."
)
@_JSON
@_friendly
def verify(
    model_path: str | None,
    gallery_path: str,
    writer: str,
    image: str,
    reduce: str | None,
    threshold: float | None,
    as_json: bool,
) -> None:
    """Is IMAGE a genuine signature of WRITER? Score against the enrolled references.

    \b
    Example:
      siamkit signature verify --gallery bank.db --writer 0042 cheque.png --json
    """
    refuse_missing_store(gallery_path, "signature bank", "enroll a writer first.")
    model_dir, note = _model_dir(model_path, gallery_path)
    model, meta = _load(model_dir, note, warn=True, given=model_path and "--model")
    scan = _scans((image,))[0]
    reduce = reduce or meta.get("reduce", "mean")
    bank = _open_bank(gallery_path, model, model_dir, reduce, threshold, create=False)
    try:
        decision = bank.verify(writer, scan, name=image)  # a NaN named by its file
    finally:
        bank.close()
    if as_json:
        click.echo(json.dumps(decision.to_dict(), indent=2))
        return
    verdict = {True: "GENUINE", False: "FORGED", None: "no threshold"}[decision.genuine]
    th = "-" if decision.threshold is None else f"{decision.threshold:.4f}"
    refs = len(decision.distances)
    click.echo(
        f"{verdict}: score {decision.score:.4f} ({decision.reduce} distance to "
        f"{counted(refs, 'reference')}), threshold {th}"
    )
    if any(s is not None for s in decision.sources):  # a bank enrolled before: as before
        from siamkit.cli.gallery_cmds import source_note

        for i, d, s in zip(decision.item_ids, decision.distances, decision.sources):
            click.echo(f"  reference item {i}  distance {d:.4f}{source_note(s)}")


@signature.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option(
    "--writers", default=20, show_default=True, type=click.IntRange(1), help="Writers to make."
)
@click.option(
    "--genuine",
    default=12,
    show_default=True,
    type=click.IntRange(1),
    help="Genuine signatures per writer.",
)
@click.option(
    "--forged",
    default=12,
    show_default=True,
    type=click.IntRange(0),
    help="Skilled forgeries per writer.",
)
@click.option(
    "--seed",
    default=1000,
    show_default=True,
    type=int,
    help="Random seed. The default makes writers unlike those configs/signatures.yaml trains on "
    "(seed 0), as evaluate's synthetic:N does; --seed 0 repeats the training writers.",
)
@PROGRESS
@_friendly
def synth(out: str, writers: int, genuine: int, forged: int, seed: int) -> None:
    """Write SYNTHETIC signatures to OUT/<writer>/genuine/*.png and OUT/<writer>/forged/*.png.

    OUT must be a new or an empty folder. OUT/SYNTHETIC marks it as generated: evaluating or
    training on it (or on a copy that keeps the file) says "synthetic", as synthetic:N does.

    \b
    Example:
      siamkit signature synth sigs/ --writers 40
    """
    from siamkit.atomic import check_writable_folder
    from siamkit.data.synthetic_signatures import write_signature_folders

    try:
        check_writable_folder(out, f"OUT {out}")  # sigs.txt/new: not a mkdir traceback
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    if Path(out).is_dir() and any(Path(out).iterdir()):  # old writers would mix with the new
        raise click.UsageError(
            f"OUT {out} is not empty; give a new or empty folder (writers written there before "
            "would stay beside the new ones and be read as part of the same set)"
        )
    _say_making(writers, genuine + forged, f" in {out}")
    write_signature_folders(out, writers, genuine, forged, seed)
    click.echo(f"wrote {writers} synthetic writers to {out}")


MANY_SYNTHETIC = 240
"""From this many synthetic signatures on (about 2 s here: 1,440 took 12 s, the delay after
which a progress bar shows), making them says so first: one call with no count to report."""


def _say_making(writers: int, per_writer: int, where: str = "") -> None:
    """``making N synthetic writers' M signatures ...`` while progress is on, for many."""
    from siamkit.progress import step

    if writers * per_writer >= MANY_SYNTHETIC:
        step(f"making {writers} synthetic writers' {writers * per_writer} signatures{where}")


def _eval_data(data: str, layout: str, size: tuple[int, int]) -> tuple[Any, bool]:
    """A signature folder, or ``synthetic:WRITERS[:SEED]`` for generated writers; and whether
    they are synthetic (generated here, or a folder ``signature synth`` wrote)."""
    from siamkit.data.signature_set import load_signature_set, synthetic_signature_set
    from siamkit.data.synthetic_signatures import is_synthetic_folder

    if data.startswith("synthetic:"):
        parts = data.split(":")[1:]
        try:
            writers, seed = int(parts[0]), int(parts[1]) if len(parts) > 1 else 1000
        except (ValueError, IndexError):
            raise ValueError(
                f"--data {data}: write synthetic:WRITERS or synthetic:WRITERS:SEED."
            ) from None
        if writers < 1:  # was generate_signatures' own words, naming no option
            raise ValueError(
                f"--data {data}: give at least one writer, e.g. synthetic:20 (two or more to "
                "score random forgeries)."
            )
        _say_making(writers, 12 + 12)
        return synthetic_signature_set(writers, 12, 12, seed, size), True
    return load_signature_set(data, layout, size), is_synthetic_folder(data)


@signature.command("evaluate")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.option(
    "--data",
    required=True,
    help="A signature folder (CEDAR, GPDS, BHSig or writer/genuine|forged), or "
    "synthetic:WRITERS[:SEED] (writers made on the fly; seed 1000 unless given).",
)
@click.option(
    "--layout", default="auto", show_default=True, help="auto, folders, cedar, gpds, bhsig."
)
@click.option(
    "--references",
    default=5,
    show_default=True,
    type=click.IntRange(1),
    help="Genuine signatures per writer taken as its references; the rest are probes.",
)
@_REDUCE
@click.option(
    "--threshold", type=DistanceThreshold(), default=None, help="Override the model's threshold."
)
@click.option(
    "--report", type=click.Path(dir_okay=False), default=None, help="Write an HTML report."
)
@click.option("--seed", default=0, show_default=True, help="Which genuines are the references.")
@_JSON
@PROGRESS
@_friendly
def evaluate_cmd(
    model_path: str,
    data: str,
    layout: str,
    references: int,
    reduce: str | None,
    threshold: float | None,
    report: str | None,
    seed: int,
    as_json: bool,
) -> None:
    """FAR, FRR and EER of MODEL on skilled and on random forgeries of the writers in --data.

    \b
    Examples:
      siamkit signature evaluate runs/sig/model --data sigs/ --report report.html
      siamkit signature evaluate runs/sig/model --data CEDAR/ --references 5 --reduce mean --json
    """
    evaluate_signature_data(
        model_path, data, layout, references, reduce, threshold, report, seed, as_json
    )


def evaluate_signature_data(
    model_path: str,
    data: str,
    layout: str = "auto",
    references: int = 5,
    reduce: str | None = None,
    threshold: float | None = None,
    report: str | None = None,
    seed: int = 0,
    as_json: bool = False,
) -> None:
    """The body of ``siamkit signature evaluate`` (also ``siamkit evaluate --data signatures:DIR``)."""
    from siamkit.applications.signatures.evaluate import evaluate_signatures, signature_scores
    from siamkit.applications.signatures.train import _checked_signatures, embed_signatures
    from siamkit.evaluation.report import check_report_path

    if report:  # before the evaluation, not after
        check_report_path(report)
    model, meta = _load(model_path, warn=True, given="MODEL")  # as enroll and verify do
    reduce = reduce or meta.get("reduce", "mean")
    source = "given" if threshold is not None else "model"
    threshold = threshold if threshold is not None else model.threshold
    sigs, synthetic = _eval_data(data, layout, (model.input_shape[1], model.input_shape[2]))
    z = _checked_signatures(embed_signatures(model, sigs.images), sigs)
    args = (z, sigs.writer, sigs.forged, references, reduce, model.distance)
    ev = evaluate_signatures(*args, threshold=threshold, seed=seed, threshold_source=source)
    doc = {"data": data, "synthetic": synthetic, **ev.to_dict()}
    if report:
        from siamkit.applications.signatures.report import write_signature_report

        title = f"Signature verification on {'SYNTHETIC ' if synthetic else ''}{data}"
        write_signature_report(report, ev, signature_scores(*args, seed=seed), title)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    label = " (synthetic data)" if synthetic else ""
    writers = counted(ev.n_writers, "writer")
    skipped = ev.n_writers - ev.n_writers_evaluated
    if skipped:  # the rates are of the others only
        writers = (
            f"{ev.n_writers_evaluated:,} of {writers} ({skipped:,} with at most "
            f"{counted(references, 'genuine signature')}, none left to question: lower "
            "--references to include them)"
        )
    click.echo(f"{writers}, {counted(references, 'reference')}, {reduce} distance{label}")
    click.echo(f"threshold {ev.threshold:.4f} ({ev.threshold_source})")
    missing = {
        "skilled": "no skilled forgeries in --data",
        "random": "one writer evaluated: no other writer's signature to question",
    }
    for name, r in (("skilled", ev.skilled), ("random", ev.random)):
        if r.n_forged == 0:  # NaN rates before
            click.echo(f"{name:8s} EER -       FAR -       FRR {r.frr:.4f}  ({missing[name]})")
        else:
            click.echo(f"{name:8s} EER {r.eer:.4f}  FAR {r.far:.4f}  FRR {r.frr:.4f}")
    if report:
        click.echo(f"report: {report}")
