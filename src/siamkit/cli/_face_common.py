"""Options and helpers shared by the ``siamkit face`` commands (face_cmds, face_tools_cmds)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from siamkit.cli._inputs import DistanceThreshold

_JSON = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
_IMAGE = click.Path(exists=True, dir_okay=False)
_GALLERY = click.option(
    "--gallery",
    "gallery_path",
    type=click.Path(dir_okay=False),
    required=True,
    help="Gallery file (SQLite), e.g. staff.db.",
)
_THRESHOLD = click.option(
    "--threshold",
    type=DistanceThreshold(signed=True),  # checked against the model (check_threshold_sign)
    default=None,
    help="Decision threshold on the distance (default: the model's; dlib's published 0.6 for dlib).",
)


def detector_options(fn: Any) -> Any:
    """``--detector`` and ``--upsample``: how faces are found (every command that finds faces)."""
    fn = click.option(
        "--upsample",
        type=click.IntRange(0, 4),
        default=1,
        show_default=True,
        help="Detector upsampling: 1 finds faces down to ~40 px, 0 only from ~80 px (4x faster).",
    )(fn)
    return click.option(
        "--detector",
        type=click.Choice(["hog", "cnn"]),
        default="hog",
        show_default=True,
        help="dlib's HOG detector (fast) or its CNN detector (more faces, ~20x slower on CPU).",
    )(fn)


def _model_options(fn: Any) -> Any:
    fn = detector_options(fn)
    return click.option(
        "--model",
        default="dlib",
        show_default=True,
        help="'dlib' (pretrained) or a siamkit model folder trained on face chips.",
    )(fn)


def gallery_model_options(fn: Any) -> Any:
    """``--model`` (default: the folder the gallery recorded, else dlib), ``--detector`` and
    ``--upsample``: the commands on a gallery (enroll, identify); see :func:`gallery_model`."""
    fn = detector_options(fn)
    return click.option(
        "--model",
        default=None,
        help="'dlib' (pretrained) or a siamkit model folder trained on face chips. Default: the "
        "folder that enrolled into the gallery (enroll with --model records it), else dlib.",
    )(fn)


_USE_RECORDED = (
    "leave out --model (or pass --model {recorded}) to use it, or enroll into a new gallery file"
)
"""How a face command uses the model folder a gallery recorded, in its refusals
(:func:`~siamkit.cli._model_record.other_models_refusal`)."""


def gallery_model(model: str | None, gallery_path: str) -> str:
    """``--model`` if given, else the model folder ``gallery_path`` recorded, else ``"dlib"``; a
    recorded folder that no longer exists is refused, naming it, unless the gallery holds no
    item: it holds nothing that the missing model made, so it gets dlib, said on stderr, as the
    text commands give such a gallery their default model."""
    from siamkit.cli._model_record import empty_with_gone_model, recorded_model

    gone = None if model is not None else empty_with_gone_model(gallery_path)
    if gone is not None:
        click.echo(
            f"model: dlib, the default ({gallery_path} holds no item of the model {gone} it "
            "recorded, which no longer exists)",
            err=True,
        )
        return "dlib"
    return recorded_model(
        model, gallery_path, "dlib", "gallery", refuse_gone=("faces", _USE_RECORDED)
    )[0]


def _not_a_face_gallery(gallery_path: str, folder: str, what: str) -> click.ClickException:
    """The refusal of a gallery that a model embedding no faces enrolled (a signature bank, a
    text gallery): the gallery is the thing to change, not --model, which would only be
    refused as another model than the gallery's."""
    return click.ClickException(
        f"{gallery_path} holds no faces: it was enrolled with the model in {folder}, {what}; "
        "give --gallery a face gallery file, or a new file to enroll faces into"
    )


def gallery_pipeline(
    model: str | None, gallery_path: str, detector: str, upsample: int
) -> tuple[str, Any]:
    """:func:`gallery_model` and its face pipeline; a recorded model folder that embeds no faces
    (``signature enroll`` or ``text enroll`` made the gallery) is refused naming the gallery."""
    from siamkit.applications.faces.errors import NotAFaceModelError

    chosen = gallery_model(model, gallery_path)
    try:
        return chosen, _pipeline(chosen, detector, upsample)
    except NotAFaceModelError as err:
        if model is not None:  # the user's own --model: its refusal names it
            raise
        raise _not_a_face_gallery(gallery_path, chosen, err.what) from None


def _pipeline(model: str, detector: str, upsample: int, store: bool = True) -> Any:
    """The face pipeline of the command's options; ``store=False`` for commands that use no
    gallery (dlib's encoder without torch: a new process starts several times faster)."""
    from siamkit.applications.faces.detect import FaceDetector
    from siamkit.applications.faces.pipeline import FacePipeline

    return FacePipeline.from_model(model, FaceDetector(detector, upsample), store=store)


def _no_face_hint(detector: str, upsample: int) -> str:
    """What to do about a photo in which the detector of these options found no face: a photo
    that shows one clearly, or a search for smaller (or turned) faces."""
    clearer = "use a photo in which a face is clearly visible"
    if upsample < 4:
        return f"{clearer}, or find smaller faces with --upsample {upsample + 1}"
    return f"{clearer}, or try --detector cnn" if detector == "hog" else clearer


@contextlib.contextmanager
def _hint_no_face(detector: str, upsample: int) -> Iterator[None]:
    """Around finding the faces of photos: "no face found in X" says what to do about it."""
    from siamkit.applications.faces.errors import NoFaceError

    try:
        yield
    except NoFaceError as err:
        raise NoFaceError(f"{err}; {_no_face_hint(detector, upsample)}", err.index) from None


def _open_gallery(gallery_path: str, model: str, embedder: Any, **kwargs: Any) -> Any:
    """``Gallery.open`` with ``model``'s embedder; another model's gallery is refused naming
    the folder it recorded (:func:`~siamkit.cli._model_record.other_models_refusal`), not two
    fingerprints."""
    from siamkit.cli._model_record import other_models_refusal
    from siamkit.index import Gallery
    from siamkit.index.results import GalleryMismatchError

    try:
        return Gallery.open(gallery_path, embedder, **kwargs)
    except GalleryMismatchError:
        _refuse_a_gallery_of_no_faces(gallery_path)
        folder = None if model == "dlib" else model
        refusal = other_models_refusal(gallery_path, model, folder, _USE_RECORDED, things="faces")
        if refusal is None:
            raise
        raise refusal from None


def _refuse_a_gallery_of_no_faces(gallery_path: str) -> None:
    """On a gallery that refused the command's model: when the model folder it recorded embeds
    no faces, say so (:func:`_not_a_face_gallery`) rather than advise that folder's model, which
    the face commands refuse in turn."""
    from siamkit.applications.faces.errors import NotAFaceModelError
    from siamkit.applications.faces.pipeline import load_embedder
    from siamkit.index.gallery import recorded_model_path

    recorded = recorded_model_path(gallery_path)
    if recorded is None or not Path(recorded).is_dir():
        return
    try:
        load_embedder(recorded)
    except NotAFaceModelError as err:
        raise _not_a_face_gallery(gallery_path, recorded, err.what) from None
    except (OSError, ValueError, RuntimeError):  # a folder that does not load: the caller's
        return  # refusal names it


def refuse_missing_store(path: str, what: str, hint: str) -> None:
    """One sentence, before the model is loaded, when a query's store file is missing or empty
    (0 bytes), as :func:`~siamkit.index.store.existing_store_problem` decides for the store."""
    from siamkit.index.store import existing_store_problem

    problem = existing_store_problem(path)
    if problem == "missing":
        raise click.ClickException(f"no {what} at {path}; {hint}")
    if problem == "empty":
        raise click.ClickException(f"{path} is empty, not a {what}; {hint}")


def _emit(as_json: bool, doc: Any, text: str) -> None:
    click.echo(json.dumps(doc, indent=2) if as_json else text)
