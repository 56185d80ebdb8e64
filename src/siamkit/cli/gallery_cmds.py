"""``siamkit enroll / identify / verify / gallery``: a gallery of enrolled people or items from the shell.

    siamkit enroll MODEL --gallery staff.db --label alice img1.png img2.png
    siamkit identify MODEL --gallery staff.db query.png --k 5 --json
    siamkit verify MODEL a.png b.png --json
    siamkit gallery staff.db list | remove LABEL | remove --id 57 | stats | check | backup OUT
    siamkit gallery remove --id 57 staff.db        (the command first, options anywhere)

Thin shell over :class:`siamkit.index.Gallery`: parse, call the library, print text or JSON.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import click

from siamkit.clauses import counted
from siamkit.cli._gallery_remove import (
    ID_HELP,
    ItemId,
    removal_target,
    remove_items_report,
    remove_whole_label,
)
from siamkit.cli._inputs import (
    INDEX_CHOICES,
    PROGRESS,
    DistanceThreshold,
    OnceOption,
    check_threshold_sign,
    photos_named,
    store_errors,
)
from siamkit.cli._metric_tables import format_table

F = TypeVar("F", bound=Callable[..., Any])

_MODEL = click.argument("model", type=click.Path(exists=True, file_okay=False))
_GALLERY = click.option(
    "--gallery",
    "gallery_path",
    type=click.Path(dir_okay=False),
    required=True,
    help="Gallery file (SQLite), e.g. staff.db.",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
_THRESHOLD = click.option(
    "--threshold",
    type=DistanceThreshold(signed=True),  # a score-normalised model's: checked once loaded
    default=None,
    help="Decision threshold on the distance (default: the model's calibrated threshold).",
)
_IMAGE = click.Path(exists=True, dir_okay=False)


_friendly = store_errors("gallery")


def _load_model(path: str, gallery_path: str | None = None) -> Any:
    """The model at ``path`` for a gallery at ``gallery_path`` (or, without one, a pair to
    verify); a tracker (SiamFC) is refused in one sentence naming what it is and what to give
    instead (it was told it "does not record the shape of the images it takes")."""
    from pathlib import Path

    import siamkit

    net = siamkit.load_model(path)
    if getattr(net, "kind", None) != "siamfc":
        return net
    if gallery_path is None:
        instead = (
            "verify compares embeddings: give an embedding model, e.g. one `siamkit train` saved"
        )
    elif Path(gallery_path).exists():
        instead = (
            f"a gallery needs one: give the model that enrolled {gallery_path} (`siamkit gallery "
            f"{gallery_path} stats` shows its fingerprint)"
        )
    else:
        instead = "a gallery needs one, e.g. a model `siamkit train` saved"
    raise click.ClickException(
        f"{path} is a tracker (a SiamFC tracking model, used by `siamkit track`), not an "
        f"embedding model; {instead}"
    )


def _read_images(
    model: Any,
    paths: Sequence[Any],
    where: str = "this model",
    role: str = "query",
    lazy: bool = False,
) -> Any:
    """``(N, C, H, W)`` images in [0, 1], resized to the model's input shape; for a model that
    takes whole photos (``input_kind == "photo"``, a face model), a list of ``(C, H, W)`` images
    at their own sizes, so that its detector still finds small faces.

    ``role="document"``: images to enroll or to compare against, which a half-twin (two towers:
    trained with ``task: half_twin``, or a HalfTwinNetwork saved in Python) embeds with branch
    g, whose input size may differ from branch f's.
    ``lazy``: the batch as :class:`~siamkit.cli._image_files.ImageFiles` (a face model's
    photos as :class:`~siamkit.cli._image_files.PhotoFiles`), every file checked but read again
    a slice at a time, so that enrolling a folder of tens of thousands of photos holds one chunk
    of pixels.
    """
    from siamkit.cli._image_files import (
        open_image_files,
        open_photo_files,
        read_each_image,
        read_image_files,
    )
    from siamkit.cli._inputs import model_image_shape

    if getattr(model, "input_kind", None) == "photo":
        if lazy:
            return open_photo_files(paths)
        from siamkit.data.image_io import read_image

        return read_each_image(paths, lambda p: read_image(p, channels=3))

    from siamkit.cli._half_twin_inputs import refuse_other_tower_size
    from siamkit.encoders.text import generic_text_model_refusal, reads_text_tower

    # the tower this role reads with, before the swap to branch g, which hides what the model is
    if reads_text_tower(model, "g" if role == "document" else "f"):
        raise click.ClickException(generic_text_model_refusal(where, model))
    refuse_other_tower_size(model, paths, role)  # a half-twin: an image of the other kind
    if role == "document":  # a half-twin's branch g, at its own input size
        from siamkit.index.embedding import role_tower

        model = role_tower(model, role)
    try:
        shape = model_image_shape(model, where)
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    return open_image_files(list(paths), shape) if lazy else read_image_files(list(paths), shape)


def _identify_queries(gallery: Any, x: Any, queries: Sequence[str], k: int) -> list[Any]:
    """``gallery.identify_batch`` of the queries ``x``: in one call for a batch; for a face
    model's :class:`~siamkit.cli._image_files.PhotoFiles` embedded a chunk of photos at a time,
    then searched in one call (each query is searched on its own, so the results are the
    same), so that a shell glob of thousands of full-size photos holds one chunk; a photo
    without a face is named by its file, and a NaN embedding too, counted against the queries
    given, at the first chunk that holds one (:func:`~siamkit.cli._enroll.checked_chunk`). A
    batch's NaN is named by its query's file as well, where the gallery said "(rows 2)"
    (final35 "NaN wording")."""
    import numpy as np

    from siamkit.cli._enroll import PHOTO_CHUNK, checked_chunk
    from siamkit.cli._image_files import PhotoFiles
    from siamkit.index.embedding import embed_inputs

    names = [repr(q) for q in queries]
    if not isinstance(x, PhotoFiles):  # a NaN named by its query's file, not its row
        z = embed_inputs(gallery.model, x, refuse=False)
        return list(gallery.identify_embeddings(checked_chunk([], z, names, photo=False), k))
    parts: list[Any] = []
    for s in range(0, len(x), PHOTO_CHUNK):
        with photos_named(queries, start=s):
            part = embed_inputs(gallery.model, x[s : s + PHOTO_CHUNK], refuse=False)
        parts.append(checked_chunk(parts, part, names, photo=True))
    return list(gallery.identify_embeddings(np.concatenate(parts), k))


def _verify_label(gallery: Any, x: Any, image: str, label: str) -> Any:
    """``gallery.verify(x, label)`` of the one image ``x`` read from ``image``, with a NaN
    embedding refused by its file, as ``verify A B`` and ``identify`` refuse it: the gallery
    said "the inputs (rows 0), which no search can rank", naming no file (s57_FA Q1)."""
    from siamkit.clauses import NO_VERDICT
    from siamkit.index.embedding import embed_inputs, model_embeddings

    z = embed_inputs(gallery.model, x, refuse=False)  # refused here, by the file's name
    photo = getattr(gallery.model, "input_kind", None) == "photo"
    of = "the photo's largest face" if photo else "the image"
    z = model_embeddings(z, of, [repr(image)], which=NO_VERDICT)
    return gallery.verify_embedding(z, label)


NO_THRESHOLD = (
    "no threshold to decide: the model has none. Fit one on held-out images of its training "
    "classes with `siamkit calibrate MODEL --data FOLDER` (or pass --threshold)"
)
#: :data:`NO_THRESHOLD` for a model that learned without labels (``task: ssl``): it has no
#: training classes, so the threshold is fit on images the user labelled
NO_THRESHOLD_UNLABELED = (
    "no threshold to decide: the model learned without labels, so it has none. Fit one on a "
    "folder of labelled images (one sub-folder per class) with `siamkit calibrate MODEL --data "
    "FOLDER` (or pass --threshold)"
)
#: :data:`NO_THRESHOLD` for a half-twin (two towers), which ``siamkit calibrate`` refuses: its
#: threshold is fit in Python, on distances from tower f to tower g
NO_THRESHOLD_HALF_TWIN = (
    "no threshold to decide: the model has none, and a half-twin's is not fit by `siamkit "
    "calibrate`. Fit one in Python on distances f(x) to g(y) of matching and non-matching pairs "
    "(siamkit.evaluation.ThresholdCalibrator().fit(genuine, impostor).threshold_, set "
    "net.threshold and siamkit.save_model) (or pass --threshold)"
)


def no_threshold_text(model_path: str) -> str:
    """The sentence for the saved model at ``model_path`` that has no threshold: how to fit one
    (:data:`NO_THRESHOLD`, :data:`NO_THRESHOLD_UNLABELED` or :data:`NO_THRESHOLD_HALF_TWIN`)."""
    from siamkit.cli._eval_data import _learned_without_labels
    from siamkit.export.bundle import read_model_config

    try:
        config = read_model_config(model_path)
    except (OSError, ValueError):  # (a model that loaded has one: nothing to tell apart then)
        config = {}
    if (config.get("model") or {}).get("kind") == "half_twin":
        return NO_THRESHOLD_HALF_TWIN
    meta = config.get("metadata") or {}
    return NO_THRESHOLD_UNLABELED if _learned_without_labels(meta) else NO_THRESHOLD


def _no_threshold(model_path: str, verb: str = "decide") -> str:
    """The one sentence that says the model has no threshold to ``verb`` with and how to fit
    one: on held-out images of its training classes, or for a model whose run recorded
    ``labels_used: false`` (``task: ssl``, as :func:`~siamkit.cli._eval_data._learned_without_labels`
    reads it for evaluate) on a labelled folder, since it trained on no classes; for a half-twin,
    which ``siamkit calibrate`` refuses, in Python (:func:`no_threshold_text`)."""
    text = no_threshold_text(model_path)
    return text.replace("no threshold to decide", f"no threshold to {verb}")


@contextlib.contextmanager
def _threshold_said_here() -> Iterator[None]:
    """The gallery's warning that the model has no threshold (for Python users) left unshown:
    the command says so itself in one sentence (:func:`_no_threshold`), not also as Python shows
    a warning (a source file, a line number and a line of siamkit's code)."""
    from siamkit.index.gallery import NO_THRESHOLD as GALLERY_NO_THRESHOLD
    from siamkit.index.gallery import NO_THRESHOLD_HALF_TWIN as GALLERY_NO_THRESHOLD_HALF_TWIN

    with warnings.catch_warnings():
        for said in (GALLERY_NO_THRESHOLD, GALLERY_NO_THRESHOLD_HALF_TWIN):
            warnings.filterwarnings("ignore", re.escape(said), UserWarning)
        yield


def _open(
    gallery_path: str, model: Any = None, create: bool = False, folder: str = "", **kw: Any
) -> Any:
    """``Gallery.open`` with ``model`` (loaded from ``folder``), or without one for `siamkit
    gallery PATH ...`; a gallery that another model enrolled with `siamkit enroll` (or a text
    model with `siamkit text enroll`: its texts, searched with `siamkit text identify`) is refused
    naming the folder it recorded (:func:`~siamkit.cli._model_record.other_models_refusal`),
    as the face, signature and text commands refuse theirs, not with two fingerprints."""
    from pathlib import Path

    from siamkit.cli._model_record import other_models_refusal
    from siamkit.index import Gallery
    from siamkit.index.results import GalleryMismatchError

    if model is None and not Path(gallery_path).exists():  # `siamkit gallery PATH ...`
        raise FileNotFoundError(
            f"no gallery at {gallery_path}; create it with `siamkit enroll MODEL --gallery "
            f"{gallery_path} ...`"
        )
    try:
        return Gallery.open(gallery_path, model, create=create, **kw)
    except GalleryMismatchError:
        from siamkit.cli.text_identify import holds_texts

        if holds_texts(gallery_path):  # `siamkit text enroll` filled it: it searches them
            use_it = (
                f"search them with `siamkit text identify --gallery {gallery_path} TEXT` (it "
                "uses that model), or enroll your images into a new gallery file"
            )
            refusal = other_models_refusal(
                gallery_path, folder, folder, use_it, things="texts", option="--model"
            )
        else:
            use_it = "give {recorded} as MODEL to use it, or enroll into a new gallery file"
            refusal = other_models_refusal(gallery_path, folder, folder, use_it, things="images")
        if refusal is None:  # enrolled from Python: the fingerprints are all there is
            raise
        raise refusal from None


def _emit(as_json: bool, doc: Any, text: str) -> None:
    click.echo(json.dumps(doc, indent=2) if as_json else text)


def _score_kind(net: Any) -> str:
    """What the printed numbers are: ``"distance"``, or with the model's cohort score
    normalisation (``eval.score_norm``) a ``"snorm-normalised score"``, which is no distance."""
    from siamkit.evaluation._common import score_kind
    from siamkit.index.embedding import model_distance

    return score_kind(model_distance(net))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


@click.command()
@_MODEL
@_GALLERY
@click.option(
    "--label",
    cls=OnceOption,
    help="Who or what the images show, e.g. alice [default: one label per sub-folder of each "
    "folder given].",
)
@click.option(
    "--metadata", default=None, help='JSON object stored with the items, e.g. \'{"team": "ops"}\'.'
)
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True))
@_JSON
@PROGRESS
@_friendly
def enroll(
    model: str,
    gallery_path: str,
    label: str | None,
    metadata: str | None,
    images: tuple[str, ...],
    as_json: bool,
) -> None:
    """Add IMAGES (files or folders) to a gallery (created if missing), no retraining.

    A half-twin model (two towers: trained with `task: half_twin`, or a HalfTwinNetwork saved
    in Python) enrolls IMAGES with its tower g (the second kind of input, read at g's input
    size); identify and verify search with its tower f.

    With --label, every image given (folders are searched recursively) is of that label.
    Without it, give folders with one sub-folder per label (e.g. staff/alice/*.png,
    staff/bob/*.png); a sub-folder whose name is not UTF-8 (Latin-1 bytes from an old archive)
    is enrolled under that name with those bytes as \\xe9 escapes (e.g. caf\\xe9). Each
    label's enrollment is one transaction: once this command prints, the images are stored
    durably. An image its label already holds (enrolled before, or given
    twice: the same embedding) is skipped, so enrolling a folder again adds only what is new.
    Each image's 64-pixel thumbnail is kept beside the gallery (GALLERY.thumbs), as `siamkit
    serve` keeps those it enrolls, so its web page shows what matched.

    Stopped (Ctrl-C, SIGTERM, an error), it keeps the labels already stored, each whole; a
    gallery file it created is removed again when no label was stored in it yet.

    \b
    Examples:
      siamkit enroll out/model --gallery staff.db --label alice a1.png a2.png
      siamkit enroll out/model --gallery staff.db staff/
    """
    from siamkit.cli._enroll import (
        enroll_groups,
        enrollment_summary,
        group_images,
        stored_labels_kept_on_interrupt,
    )
    from siamkit.cli._new_gallery import new_gallery_removed_if_unused
    from siamkit.index.store import storable
    from siamkit.index.thumbnail_store import thumbnails_path_for

    meta = None
    if metadata is not None:
        try:
            meta = json.loads(metadata)
        except json.JSONDecodeError as err:
            raise click.BadParameter(f"not valid JSON: {err}", param_hint="--metadata") from None
        if not isinstance(meta, dict):
            raise click.BadParameter(
                f'give a JSON object, e.g. \'{{"team": "ops"}}\', not {metadata}',
                param_hint="--metadata",
            )
    groups = group_images(images, label)
    net = _load_model(model, gallery_path)
    files = [p for paths in groups.values() for p in paths]
    x = _read_images(net, files, model, "document", lazy=True)
    with (
        stored_labels_kept_on_interrupt(gallery_path) as stored,
        new_gallery_removed_if_unused(gallery_path),  # a first enrollment stopped: no file left
        _open(gallery_path, net, create=True, folder=model) as gallery,
    ):
        # `siamkit gallery PATH stats` names it; recorded first, so that the labels stored by an
        # enrollment stopped part-way (Ctrl-C) are recorded as this folder's
        gallery.remember_model_path(model)
        # thumbnails beside the gallery, as the service's /enroll keeps them (the page's matches)
        done = enroll_groups(
            gallery,
            net,
            groups,
            x,
            meta,
            thumbnails=thumbnails_path_for(gallery_path),
            stored=stored,
        )
        total = len(gallery)
    ids = done.ids
    skipped = sum(len(v) for v in done.skipped.values())
    if label is not None:
        doc: dict[str, Any] = {"label": label, "item_ids": ids.get(label, [])}
    else:
        doc = {"labels": [{"label": k, "item_ids": ids.get(k, [])} for k in groups]}
    unapplied = done.all_skipped if meta is not None else []
    doc.update(
        gallery=gallery_path,
        num_items=total,
        skipped_already_enrolled=skipped,
        skipped={k: [storable(str(p)) for p in v] for k, v in done.skipped.items()},
        metadata_not_applied=unapplied,
    )
    text = enrollment_summary(
        ids, gallery_path, total, skipped=skipped, metadata_not_applied=unapplied
    )
    _emit(as_json, doc, text)


def _match_doc(m: Any, sources: dict[int, str]) -> dict[str, Any]:
    """One match as JSON; ``source``: the file its item was enrolled from (``None`` for an
    item enrolled before siamkit kept it, or from Python)."""
    return {
        "label": m.label,
        "distance": m.distance,
        "item_id": m.item_id,
        "accepted": m.accepted,
        "source": sources.get(m.item_id),
    }


def source_note(source: str | None) -> str:
    """``  (from products/brick-tile/3.jpg)`` after an item in a table, '' when unknown."""
    return f"  (from {source})" if source is not None else ""


@click.command()
@_MODEL
@_GALLERY
@click.argument("queries", nargs=-1, required=True, type=_IMAGE)
@click.option(
    "--k",
    "k",
    default=5,
    show_default=True,
    type=click.IntRange(min=1),
    help="Labels to list per query.",
)
@_THRESHOLD
@click.option(
    "--index",
    default="exact",
    show_default=True,
    type=click.Choice(INDEX_CHOICES),
    help="Search structure.",
)
@_JSON
@PROGRESS
@_friendly
def identify(
    model: str,
    gallery_path: str,
    queries: tuple[str, ...],
    k: int,
    threshold: float | None,
    index: str,
    as_json: bool,
) -> None:
    """Who is in each QUERY image? The K nearest enrolled labels, best first.

    A query whose best match is beyond the threshold is reported as unknown.

    A half-twin model (two towers: trained with `task: half_twin`, or a HalfTwinNetwork saved
    in Python) embeds each QUERY with its tower f (the first kind of input, read at f's input
    size) against items enrolled with its tower g.

    \b
    Example:
      siamkit identify out/model --gallery staff.db query.png --k 5 --json
    """
    from siamkit.index.store import storable

    net = _load_model(model, gallery_path)
    check_threshold_sign(threshold, net)
    photos = getattr(net, "input_kind", None) == "photo"
    x = _read_images(net, queries, model, lazy=photos)  # a face model's: a chunk at a time
    with _open(gallery_path, net, threshold=threshold, index=index, folder=model) as gallery:
        with _threshold_said_here():
            results = _identify_queries(gallery, x, queries, k)
        used, empty = gallery.threshold, len(gallery) == 0
        sources = gallery.sources([m.item_id for r in results for m in r.matches])
    docs = [
        {  # a name that is not UTF-8 keeps its bytes as \xe9 escapes, as the gallery's sources
            "image": storable(path),
            "label": r.label,
            "unknown": r.label is None,
            "matches": [_match_doc(m, sources) for m in r.matches],
        }
        for path, r in zip(queries, results)
    ]
    lines, kind = [], _score_kind(net)
    for d in docs:
        lines.append(f"{d['image']}: {d['label'] if d['label'] is not None else 'unknown'}")
        for m in d["matches"]:
            flag = {True: "accepted", False: "rejected", None: ""}[m["accepted"]]
            row = f"  {m['label']:<24} {kind} {m['distance']:.4f}  item {m['item_id']}  {flag}"
            lines.append(row + source_note(m["source"]) if m["source"] is not None else row)
    if empty:  # every answer is "unknown" because nobody is enrolled, not because of the images
        lines.append(f"{gallery_path} is empty: enroll images first (siamkit enroll MODEL ...)")
    elif used is None:
        lines.append(_no_threshold(model, "accept"))
    doc = {"threshold": used, "queries": docs, **({"gallery_empty": True} if empty else {})}
    _emit(as_json, doc, "\n".join(lines))


@click.command()
@_MODEL
@click.argument("image", type=_IMAGE)
@click.argument("other", required=False, type=_IMAGE)
@click.option(
    "--gallery",
    "gallery_path",
    type=click.Path(dir_okay=False),
    help="Verify against a gallery label instead.",
)
@click.option("--label", cls=OnceOption, help="The claimed label (with --gallery).")
@_THRESHOLD
@_JSON
@_friendly
def verify(
    model: str,
    image: str,
    other: str | None,
    gallery_path: str | None,
    label: str | None,
    threshold: float | None,
    as_json: bool,
) -> None:
    """Is IMAGE the same as OTHER (or as --label in --gallery)?

    A half-twin model (two towers: trained with `task: half_twin`, or a HalfTwinNetwork saved
    in Python) embeds IMAGE with its tower f (the first kind of input) and OTHER with its tower
    g (the second kind; a gallery's items were enrolled with g), each read at its own tower's
    input size: the distance is f(IMAGE) to g(OTHER).

    \b
    Examples:
      siamkit verify out/model a.png b.png --json
      siamkit verify out/model query.png --gallery staff.db --label alice
    """
    from siamkit.index.store import storable

    if (other is None) == (gallery_path is None) or (gallery_path is None) != (label is None):
        raise click.UsageError("give either a second image, or --gallery and --label")
    net = _load_model(model, gallery_path)
    check_threshold_sign(threshold, net)
    if other is not None:
        from siamkit.index import verify_pair

        # the other image is the reference: a half-twin reads it at branch g's size
        a = _read_images(net, [image], model)[0]
        b = _read_images(net, [other], model, "document")[0]
        with photos_named([image, other], ("the first photo", "the second photo")):
            # a NaN embedding is refused by its file, not as "the inputs (rows 0)"
            result = verify_pair(net, a, b, threshold=threshold, names=(image, other))
    else:
        opened = _open(gallery_path, net, threshold=threshold, folder=model)  # type: ignore[arg-type]
        with opened as gallery, photos_named([image]), _threshold_said_here():
            result = _verify_label(gallery, _read_images(net, [image], model), image, label)  # type: ignore[arg-type]
    # a name that is not UTF-8 keeps its bytes as \xe9 escapes, as the gallery's sources
    doc = {**dataclasses.asdict(result), "image": storable(image), "other": storable(other)}
    kind = _score_kind(net)
    if result.same is None:
        text = f"{kind} {result.distance:.4f}; {_no_threshold(model)}"
    else:
        verdict = "same" if result.same else "not the same"
        text = f"{verdict} ({kind} {result.distance:.4f}, threshold {_fmt(result.threshold)})"
    _emit(as_json, doc, text)


class _GalleryGroup(click.Group):
    """`siamkit gallery PATH COMMAND`, and every command also with the command first (`siamkit
    gallery check staff.db`), as an operator types them, with the command's options anywhere
    (`siamkit gallery remove --id 57 staff.db`)."""

    def path_first(self, ctx: click.Context, args: list[str]) -> list[str]:
        """``args`` as click reads them, ``PATH COMMAND ...``, in whatever order they were given
        (``_gallery_args.path_first``); the help texts' check routes its examples with it."""
        from siamkit.cli._gallery_args import path_first

        try:
            return path_first(args, self.commands, ctx.help_option_names)
        except click.UsageError as err:
            if ctx.resilient_parsing:  # shell completion: words typed so far, no file yet
                return args
            err.ctx = ctx  # the error shows `siamkit gallery`'s usage line
            raise

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self.path_first(ctx, args))


@click.group(cls=_GalleryGroup)
@click.argument("path", type=click.Path(dir_okay=False))
@click.pass_context
def gallery(ctx: click.Context, path: str) -> None:
    """Look after the gallery file PATH: list its labels, remove one or single items by id,
    show statistics, check it, back it up. Each command also takes the command first (gallery
    check PATH), and its options before or after PATH.

    \b
    Examples:
      siamkit gallery staff.db list
      siamkit gallery staff.db remove alice
      siamkit gallery remove --id 57 staff.db
      siamkit gallery staff.db stats --json
      siamkit gallery check staff.db
      siamkit gallery check --model out/model staff.db
      siamkit gallery backup staff.db backups/staff-monday.db
    """
    ctx.obj = path


@gallery.command("list")
@_JSON
@click.pass_obj
@_friendly
def list_labels(path: str, as_json: bool) -> None:
    """List the enrolled labels with their item counts and metadata."""
    with _open(path) as g:
        infos = g.labels()
    doc = {"labels": [dataclasses.asdict(i) for i in infos]}
    # a metadata column only when some label has metadata: an empty one read as missing data
    with_meta = any(i.metadata for i in infos)
    header = ["label", "items"] + (["metadata"] if with_meta else [])
    rows = []
    for i in infos:
        row = [i.label, str(i.count)]
        if with_meta:
            row.append(json.dumps(i.metadata) if i.metadata else "-")
        rows.append(row)
    _emit(as_json, doc, format_table(rows, header) if rows else "(empty gallery)")


@gallery.command("remove")
@click.argument("label", required=False)
@click.option("--id", "item_ids", type=ItemId(), multiple=True, help=ID_HELP)
@_JSON
@click.pass_obj
@_friendly
def remove_label(path: str, label: str | None, item_ids: tuple[int, ...], as_json: bool) -> None:
    """Remove LABEL and all its items, or with --id single items (a wrongly enrolled photo),
    with their thumbnails, in one transaction. A label left without items is no longer listed.

    \b
    Examples:
      siamkit gallery staff.db remove alice
      siamkit gallery staff.db remove --id 57 --id 58 --json
      siamkit gallery remove staff.db alice
      siamkit gallery remove --id 57 staff.db
    """
    removal_target(label, item_ids)
    with _open(path) as g:
        if item_ids:
            _emit(as_json, *remove_items_report(g, item_ids))
            return
        removed = remove_whole_label(g, path, str(label))
    text = f"removed {label!r} ({counted(removed, 'item')})"
    _emit(as_json, {"label": label, "removed": removed}, text)


@gallery.command("stats")
@_JSON
@click.pass_obj
@_friendly
def stats(path: str, as_json: bool) -> None:
    """Show item and label counts, embedding size, distance and the model fingerprint.

    The gallery does not store a threshold: the model that opens it brings its calibrated one
    (or --threshold), so the threshold is not shown here."""
    with _open(path) as g:
        s = g.stats()
    doc = dataclasses.asdict(s)
    doc.pop("threshold")  # opened without a model: always None, which read as "not calibrated"
    _emit(as_json, doc, "\n".join(f"{k:<18} {v}" for k, v in doc.items()))


@gallery.command("check")
@click.option(
    "--model",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="The model folder that enrolls into it: check too that it made the gallery (its "
    "fingerprint, distance and embedding size).",
)
@_JSON
@click.pass_obj
@_friendly
def check(path: str, model: str | None, as_json: bool) -> None:
    """Check the gallery file: SQLite's integrity check, its items and labels, and that every
    stored embedding has the gallery's dimension and only finite values (no NaN), with --model
    also that this model made it. Prints a short report; when something is wrong, exits with
    status 1 and a sentence naming it. A sound gallery with no items is said to hold none
    (status 0). Thumbnails or text previews beside it (GALLERY.thumbs) that belong to no item
    are counted in a note (status 0): those left by an enrollment stopped before its commit,
    which the next enrollment that stores an item deletes, and those of items gone (an
    enrollment killed while keeping them, an older siamkit's removal, items deleted by hand),
    which stay. Only reads the files, so it is safe while
    `siamkit serve` uses them.

    \b
    Examples:
      siamkit gallery check staff.db
      siamkit gallery staff.db check --model out/model --json
      siamkit gallery check --model out/model staff.db
    """
    from siamkit.index.store_files import check_gallery_file

    wanted, net = None, None
    if model is not None:
        from siamkit.index.provenance import wanted_meta

        net = _load_model(model, path)
        wanted = wanted_meta(net, None, None)
    found = check_gallery_file(path, wanted, net)
    # a sound file that holds nothing (enrolled into by no one, or every label removed) is no
    # fault, but "ok" alone reads as a gallery to search; say so plainly
    empty = found.ok and found.num_items == 0
    note = f"{found.path} holds no items: nothing is enrolled in it" if empty else None
    doc = {
        **dataclasses.asdict(found),
        "problems": list(found.problems),
        "ok": found.ok,
        "note": note,
    }
    # every bad id only in --json: thousands of them were a wall (the problem counts them)
    hidden = ("problems", "ok", "note", "notes", "bad_item_ids")
    shown = {k: v for k, v in doc.items() if k not in hidden}
    if model is not None:
        shown["model"] = model
    text = "\n".join(f"{k:<18} {'-' if v is None else v}" for k, v in shown.items())
    verdict = f"\nok, but {note}" if note else "\nok" if found.ok else ""
    _emit(as_json, doc, text + verdict + "".join(f"\nnote: {n}" for n in found.notes))
    if len(found.problems) == 1:
        raise click.ClickException(found.problems[0])
    if found.problems:
        # a problem may end with its own period (check_enrolled_tower's): one each, not two
        said = " ".join(f"({i}) {p.removesuffix('.')}." for i, p in enumerate(found.problems, 1))
        raise click.ClickException(f"{len(found.problems)} problems: {said}")


@gallery.command("backup")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option(
    "--force",
    "--overwrite",
    "force",
    is_flag=True,
    help="Overwrite OUT (and OUT.thumbs); stop whatever uses OUT first.",
)
@_JSON
@click.pass_obj
@_friendly
def backup(path: str, out: str, force: bool, as_json: bool) -> None:
    """Copy the gallery file to OUT with SQLite's online backup API: a consistent copy of
    everything committed, safe while `siamkit serve` or an enrollment is using the gallery (a
    plain file copy then can be torn). Its thumbnails (GALLERY.thumbs) go to OUT.thumbs. OUT is
    written under a temporary name and renamed when complete; an existing OUT is refused
    unless --force. To restore, stop whatever uses the gallery, delete GALLERY-wal and
    GALLERY-shm if a crash left them, and copy OUT back to GALLERY and OUT.thumbs to
    GALLERY.thumbs.

    \b
    Examples:
      siamkit gallery backup staff.db backups/staff-monday.db
      siamkit gallery backup --force staff.db backups/staff-monday.db
    """
    from siamkit.index.store_files import BackupExistsError, backup_gallery_file

    try:
        done = backup_gallery_file(path, out, force=force)
    except BackupExistsError as err:
        raise click.ClickException(str(BackupExistsError(err.path, "--force"))) from None
    doc = {"gallery": path, **done._asdict()}
    thumbs = f" and its thumbnails to {done.thumbnails}" if done.thumbnails else ""
    text = (
        f"backed up {path} ({counted(done.num_items, 'item')}, "
        f"{counted(done.num_labels, 'label')}) to {done.out}" + thumbs
    )
    _emit(as_json, doc, text)


COMMANDS = [enroll, identify, verify, gallery]
