"""Enrollment of many images from the shell: labels from folders, progress, a short summary."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from siamkit.clauses import counted


def group_images(inputs: Sequence[str], label: str | None) -> dict[str, list[Path]]:
    r"""``{label: image files}``: everything under ``label`` when given, else one label per
    sub-folder of each folder in ``inputs`` (images found recursively under it).

    A label folder whose name is not UTF-8 (Latin-1 bytes from an old archive) reaches Python
    with surrogates, which no label may hold (SQLite, JSON and the terminal refuse them): its
    label is the name with its undecodable bytes as ``\xe9`` escapes
    (:func:`~siamkit.data.folders.text_name`, as the files' sources and an image folder's class
    names are written), e.g. ``caf\xe9``. Two folders whose names differ but read as one label
    so (``caf\xe9`` spelt out beside that Latin-1 name) are refused: one must be renamed.

    >>> group_images(["staff/"], None)  # doctest: +SKIP
    {'alice': [PosixPath('staff/alice/1.png')], 'bob': [PosixPath('staff/bob/1.png')]}
    """
    from siamkit.cli._image_files import collect_images
    from siamkit.cli._inputs import data_warnings_as_lines
    from siamkit.data.folders import ClassFoldersError, read_class_folders, text_name
    from siamkit.index.store import looks_like_item_id, validate_label

    if label is not None:  # refused before the gallery is opened, so no empty one is created
        return {validate_label(label): collect_images(inputs)[0]}
    groups: dict[str, list[Path]] = {}
    named: dict[str, Path] = {}  # each label's first folder: another name read so is refused
    items = list(map(Path, inputs))
    for item in items:
        if not item.is_dir():
            raise click.UsageError(
                f"{item} is a file: name its label with --label, or give a folder with one "
                "sub-folder per label"
            )
    # the label folders as training reads a folder of classes (its link, unreadable-folder and
    # shared-file rules, each left out and named in a warning line), so a photo is enrolled
    # under the label it would be trained as; one walk of every folder given, so the rules hold
    # across them (a photo hard-linked as s1/alice/a.png and s2/bob/dup.png was enrolled under
    # both: s54_FB finding 2); a folder given inside another, loose images and label folders
    # that all count for nothing are refused by it, as face crop's people are (one route:
    # read_class_folders); a folder that cannot be read is refused by it
    # (UnreadableFolderError); what in the folder cannot be read is named by the walk, not
    # again (s54_R3 finding 3)
    with data_warnings_as_lines():
        try:
            walk = read_class_folders(
                items,
                "label",
                none_found=f"no labelled images found in {', '.join(inputs)}: expected one "
                "sub-folder of images per label",
                nothing="nothing to enroll",
            )
        except ClassFoldersError as e:
            more = ", or give --label to enroll them under one label" if e.kind == "loose" else ""
            raise click.UsageError(f"{e}{more}") from None
    for sub, files in walk.files.items():
        name = text_name(sub.name)  # a name that is not UTF-8: its bytes as \xe9 escapes
        _check_one_spelling(named.setdefault(name, sub), sub, name)
        groups.setdefault(name, []).extend(files)
    for name in groups:
        if looks_like_item_id(name):  # validate_label's "choose another label" is no help here
            folder, renamed = named[name], named[name].parent / f"item-{name[1:]}"
            raise click.UsageError(
                f"the label folder {text_name(str(folder))} gives a label that looks like an "
                "item id ('#' followed by digits names one item in recommend's likes, '#12'): "
                f"rename it, e.g. to {text_name(str(renamed))}"
            )
        validate_label(name)
    return groups


def _check_one_spelling(first: Path, sub: Path, label: str) -> None:
    r"""Refuse ``sub`` when the folder ``first`` of another name (not UTF-8 against its ``\xe9``
    escape spelt out) gives the same ``label``: their images would be enrolled as one label.
    The two print alike, so each is said to be UTF-8 or not."""
    if first.name == sub.name:
        return
    from siamkit.data.folders import text_name

    def named(folder: Path) -> str:
        utf8 = text_name(folder.name) == folder.name
        return f"{text_name(str(folder))} ({'UTF-8' if utf8 else 'not UTF-8'})"

    raise click.UsageError(
        f"the label folders {named(first)} and {named(sub)} both read as the label '{label}', "
        "since a name that is not UTF-8 is read with its bytes as \\xe9 escapes: rename one "
        "of them"
    )


@dataclass
class StoredLabels:
    """How many labels :func:`enroll_groups` has stored so far (each in its own transaction),
    which :func:`stored_labels_kept_on_interrupt` reads when the enrollment is stopped."""

    count: int = 0


@contextlib.contextmanager
def stored_labels_kept_on_interrupt(gallery_path: str) -> Iterator[StoredLabels]:
    """Ctrl-C or SIGTERM while enrolling: say that the labels already stored are kept (each
    label is one transaction) and that running the same command again skips the images they
    hold (:func:`enroll_groups` skips repeats), not the generic "run it again", which left the
    user wondering whether a rerun would store them twice. Stopped before any label was stored
    (while the images are embedded, most of a large enrollment's time: every image is embedded
    before the first label is stored), it says that nothing was enrolled yet. The
    :class:`StoredLabels` it yields is given to :func:`enroll_groups` as ``stored``. Exit status
    130 or 143, as :class:`~siamkit.cli.main.LazyGroup` gives."""
    from siamkit.cli.main import Terminated

    stored = StoredLabels()
    try:
        yield stored
    except (KeyboardInterrupt, Terminated) as stop:
        term = isinstance(stop, Terminated)
        code, signame = (Terminated.STATUS, "SIGTERM") if term else (130, "Ctrl-C")
        if stored.count:
            said = (
                f"before every label was enrolled; the labels already stored in {gallery_path} "
                "are kept: run the same command again to enroll the rest (it skips the images "
                "they hold)"
            )
        else:
            said = (
                f"before any label was stored in {gallery_path}: nothing was enrolled yet; run "
                "it again"
            )
        click.echo(f"interrupted ({signame}) {said}", err=True)
        raise click.exceptions.Exit(code) from None


@dataclass(frozen=True)
class EnrolledImages:
    """What :func:`enroll_groups` did: ``ids``: the new item ids of each label that got any;
    ``skipped``: per label, the images not enrolled because the label already holds them."""

    ids: dict[str, list[int]]
    skipped: dict[str, list[Path]]

    @property
    def all_skipped(self) -> list[str]:
        """The labels every image of which was skipped: they got no new item, so metadata given
        with this enrollment was not written for them (the store keeps the label's old one)."""
        return [label for label in self.skipped if label not in self.ids]


#: Images embedded at once by :func:`enroll_groups`: 256 images at a model's input size
CHUNK = 256
#: Photos embedded at once for a face model, which reads each at its own size (256 12-MP photos
#: are 37 GB as floats) and finds and embeds their faces one photo at a time anyway
PHOTO_CHUNK = 8


def enroll_groups(
    gallery: Any,
    model: Any,
    groups: Mapping[str, Sequence[Path]],
    x: Any,
    metadata: Mapping[str, Any] | None,
    chunk: int | None = None,
    thumbnails: str | Path | None = None,
    stored: StoredLabels | None = None,
) -> EnrolledImages:
    """Embed ``x`` (the images of ``groups``, in order) with progress, then enroll each label in
    one transaction. Every label is checked before anything is written, so a bad label leaves
    the gallery untouched.

    ``thumbnails``: the side file where the enrolled images' 64-pixel thumbnails are kept
    (``thumbnails_path_for(gallery_path)``), as the service's ``/enroll`` keeps them
    (:meth:`~siamkit.index.thumbnail_store.ThumbnailStore.put_enrolled_live`), so that the web page
    shows what matched; they are made with the embeddings, before anything is written.

    ``chunk``: images embedded (and held) at once; by default :data:`CHUNK`, or
    :data:`PHOTO_CHUNK` for a model that takes whole photos (a face model). Embeddings that hold
    NaN or infinite values are refused at the first chunk that holds one, in the gallery's
    sentence, by the files they were made of and counted against the images embedded so far and
    all those given: a broken model is refused after its first chunk, not after hours of a face
    detector over the whole folder (reviewer s55_FB finding 2).

    ``stored``: counts each label once its transaction is committed (that of
    :func:`stored_labels_kept_on_interrupt`, which says what an interruption kept).

    An image its label already holds (enrolled before, or given twice) is skipped, as
    ``siamkit text enroll`` skips a text its label holds: the gallery's ``skip_repeats`` rule
    (:mod:`siamkit.index.repeats`: the same embedding)."""
    import contextlib

    import numpy as np

    from siamkit.cli._inputs import photos_named
    from siamkit.index.embedding import embed_inputs
    from siamkit.index.store import validate_label
    from siamkit.index.thumbnail_store import ThumbnailStore
    from siamkit.progress import progress_off, track

    for label in groups:
        validate_label(label)
    if chunk is None:
        chunk = PHOTO_CHUNK if getattr(model, "input_kind", None) == "photo" else CHUNK
    n = len(x)  # a batch, or a list of photos of their own sizes (a face model)
    files = [p for group in groups.values() for p in group]

    pngs: list[bytes] = []

    def embed(s: int) -> np.ndarray:
        if thumbnails is not None:
            pngs.extend(_thumbnail(p) for p in files[s : s + chunk])
        # a photo without a face is named by its file; the chunk's own "embedding: 100% (1/1
        # batches)" line, shown when a chunk takes seconds, would interleave with this count
        with photos_named(files, start=s), progress_off():
            # what is enrolled is searched for: a half-twin embeds it with branch g, as
            # Gallery.enroll does (the gallery records the document tower as the enrolling one);
            # a NaN is refused below, by its file
            return embed_inputs(model, x[s : s + chunk], role="document", refuse=False)

    starts = range(0, n, chunk)
    weight = lambda s: min(chunk, n - s)  # noqa: E731
    photo = getattr(model, "input_kind", None) == "photo"
    names = [repr(str(p)) for p in files]
    parts: list[np.ndarray] = []
    for s in track(starts, "embedding", n, "images", weight):
        # refused before anything is written, by file
        parts.append(checked_chunk(parts, embed(s), names, photo, "; nothing was enrolled"))
    z = np.concatenate(parts)
    ids: dict[str, list[int]] = {}
    skipped: dict[str, list[Path]] = {}
    start = 0
    with contextlib.ExitStack() as stack:
        store = None
        if thumbnails is not None:
            store = stack.enter_context(contextlib.closing(ThumbnailStore(thumbnails)))
        for label, paths in groups.items():
            rows = z[start : start + len(paths)]
            # each item keeps the file it came from (the path as given), so that "brick-tile
            # item 3" in identify or recommend can be traced back to its photo
            sources = [str(p) for p in paths]
            new = gallery.enroll_embeddings(
                label, rows, metadata, skip_repeats=True, sources=sources
            )
            if stored is not None:
                stored.count += 1
            if store is not None:
                store.put_enrolled_live(gallery, label, new, pngs[start : start + len(paths)])
            start += len(paths)
            if new.skipped:
                skipped[label] = [paths[i] for i in new.skipped]
            if new:
                ids[label] = list(new)
    return EnrolledImages(ids, skipped)


def checked_chunk(
    parts: Sequence[Any],
    part: Any,
    names: Sequence[str],
    photo: bool,
    then: str = "",
    which: str = "no search can rank",
) -> Any:
    """The embeddings ``part`` a model made of a chunk of inputs, those of the chunks before it
    (``parts``, checked) already made, as ``(M, D)`` float32; refused where a row holds NaN or
    infinite values (:func:`~siamkit.index.embedding.model_embeddings`), at this chunk, by
    ``names`` (one per input, of all the inputs), counted against the inputs embedded so far
    and all of them: "1 of the 8 embeddings the model made of the first 8 of the 12 images
    hold NaN ... ('bag/06.png')". ``photo``: a face model's, of "the photos' largest faces".
    ``which``: what cannot be done with them (``embed`` runs no search).

    A chunk's own refusal numbered its rows from the chunk's start ("rows 2" for image 259 of
    300: s54_FA finding 3, and for query 11 of 12 in ``siamkit identify``: s55_FB finding 3);
    refused only once every chunk was embedded, a broken model took the whole folder's time to
    be refused, hours for a face model's detector (s55_FB finding 2). The refusal is worded
    over the chunks before it without joining them and checking them again (a copy of every
    embedding made so far: final35 "Work on the refusal path only")."""
    from siamkit.index.base import UnrankableEmbeddingsError
    from siamkit.index.embedding import model_embeddings

    try:
        return model_embeddings(part)
    except UnrankableEmbeddingsError:
        start = sum(len(p) for p in parts)
        end, n = start + len(part), len(names)
        noun = "photos" if photo else "images"
        of = f"the {noun}" if end == n else f"the first {end} of the {n} {noun}"
        if photo:  # "the photos' largest faces", "the largest faces of the first 8 of ..."
            of = "the photos' largest faces" if end == n else f"the largest faces of {of}"
        # counted over the chunks before it, which were checked: not joined and checked again
        model_embeddings(part, of, names[:end], then, which, before=start)
        raise  # not reached: the rows refused alone are refused again


def _thumbnail(path: Path) -> bytes:
    """The service's 64-pixel PNG thumbnail of the image file ``path``."""
    from siamkit.service.thumbnails import make_thumbnail

    try:
        return make_thumbnail(path.read_bytes())
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot make a thumbnail of {path}: {err}") from None


def enrollment_summary(
    ids: Mapping[str, Sequence[int]],
    gallery_path: str,
    total: int,
    shown: int = 10,
    skipped: int = 0,
    metadata_not_applied: Sequence[str] = (),
) -> str:
    """``enrolled 12 images of 3 labels into g.db (now 40 items): alice 4, bob 4, carol 4``,
    and a second line when ``skipped`` images were already enrolled, naming the labels of
    ``metadata_not_applied`` (given --metadata, but every image of theirs skipped)."""
    n = sum(len(v) for v in ids.values())
    parts = [f"{label} {len(v):,}" for label, v in list(ids.items())[:shown]]
    if len(ids) > shown:
        parts.append(f"... and {counted(len(ids) - shown, 'more label')}")
    line = (
        f"enrolled {counted(n, 'image')} of {counted(len(ids), 'label')} into {gallery_path} "
        f"(now {counted(total, 'item')})" + (": " + ", ".join(parts) if parts else "")
    )
    if skipped:
        line += (
            f"\nskipped {counted(skipped, 'image')} already enrolled under the same label (the "
            "same image: the same embedding)"
        )
        if metadata_not_applied:
            line += (
                f"; --metadata was not applied to {', '.join(metadata_not_applied)}, which got "
                "no new image"
            )
    return line
