"""``siamkit face enroll / verify / identify / crop``: faces from whole photos, found and aligned.

    siamkit face enroll --gallery staff.db --label alice alice1.jpg alice2.jpg
    siamkit face verify id_photo.jpg selfie.jpg --json
    siamkit face identify --gallery staff.db turnstile.jpg
    siamkit face crop people/ chips/          # aligned chips, a folder per person, for training

The default encoder is dlib's pretrained 128-d ResNet (``pip install 'siamkit[face]'``); ``--model``
takes a siamkit model trained on face chips instead. Thin shell over
:mod:`siamkit.applications.faces`.
"""

from __future__ import annotations

import json
from typing import Any

import click

from siamkit.clauses import counted
from siamkit.cli._face_common import (
    _GALLERY,
    _IMAGE,
    _JSON,
    _THRESHOLD,
    _emit,
    _hint_no_face,
    _model_options,
    _no_face_hint,
    _open_gallery,
    _pipeline,
    gallery_model_options,
    gallery_pipeline,
    refuse_missing_store,
)
from siamkit.cli._inputs import PROGRESS, OnceOption, check_threshold_sign
from siamkit.cli.gallery_cmds import _friendly, _match_doc, source_note
from siamkit.progress import track


@click.group()
def face() -> None:
    """Faces in photos: enroll, verify 1:1, identify every face 1:N; evaluate, crop chips.

    Faces are found (dlib HOG or CNN detector), aligned on 5 landmarks to 150x150 chips and
    embedded with dlib's pretrained 128-d ResNet (or --model). Needs `pip install 'siamkit[face]'`.
    """


@face.command()
@_GALLERY
@click.option("--label", cls=OnceOption, required=True, help="Who the photos show, e.g. alice.")
@click.option(
    "--metadata", default=None, help='JSON object stored with the faces, e.g. \'{"team": "ops"}\'.'
)
@click.argument("images", nargs=-1, required=True, type=_IMAGE)
@gallery_model_options
@_JSON
@PROGRESS
@_friendly
def enroll(
    gallery_path: str,
    label: str,
    metadata: str | None,
    images: tuple[str, ...],
    model: str | None,
    detector: str,
    upsample: int,
    as_json: bool,
) -> None:
    """Enroll the largest face of each of IMAGES under LABEL (no retraining).

    Every image must show a face; otherwise nothing is enrolled. One transaction. A face the
    label already holds (the same photo enrolled before, or given twice: the same embedding) is
    skipped, so enrolling the same photos again adds only what is new. IMAGES are files (a
    shell pattern such as alice/*.jpg gives a folder's photos). With --model FOLDER the gallery
    records the folder, so later `enroll` and `identify` calls on it find it without --model.
    Each photo's 64-pixel thumbnail is kept beside the gallery (GALLERY.thumbs), as `siamkit
    serve` keeps those it enrolls, so its web page shows who matched. Stopped (Ctrl-C,
    SIGTERM, an error) before the faces were stored, it removes the gallery file it created.

    \b
    Example:
      siamkit face enroll --gallery staff.db --label alice alice1.jpg alice2.jpg
    """
    import contextlib
    from pathlib import Path

    import numpy as np

    from siamkit.applications.faces import read_rgb
    from siamkit.applications.faces.recognize import face_record, largest_face_of
    from siamkit.cli._enroll import _thumbnail, checked_chunk
    from siamkit.cli._new_gallery import new_gallery_removed_if_unused
    from siamkit.index.store import encode_metadata, validate_label
    from siamkit.index.thumbnail_store import ThumbnailStore, thumbnails_path_for

    try:
        meta = None if metadata is None else json.loads(metadata)
    except json.JSONDecodeError as err:
        raise click.BadParameter(f"not valid JSON: {err}", param_hint="--metadata") from None
    if meta is not None and not isinstance(meta, dict):
        raise click.BadParameter(
            f'give a JSON object, e.g. \'{{"team": "ops"}}\', not {metadata}',
            param_hint="--metadata",
        )
    # before any face is searched and before the gallery file is created
    try:
        validate_label(label)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--label") from None
    try:
        encode_metadata(meta)  # NaN, or more than the gallery keeps
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--metadata") from None
    model, pipe = gallery_pipeline(model, gallery_path, detector, upsample)
    # a NaN refused by its photo's file, as siamkit enroll names it, not by its row, at the
    # photo that made it (not after every photo's faces were searched), counted against the
    # photos so far: largest_face_of(refuse=False) leaves the refusal to this loop
    names = [repr(str(p)) for p in images]
    chosen: list[Any] = []
    rows: list[np.ndarray] = []  # each photo's (1, D), checked
    with _hint_no_face(detector, upsample):  # every face found before any write
        for p in track(images, "finding faces", unit="images"):
            chosen.append(largest_face_of(pipe, read_rgb(p), p, refuse=False))
            row = chosen[-1].face.embedding[None]
            rows.append(checked_chunk(rows, row, names, photo=True, then="; nothing was enrolled"))
    # the whole photo's thumbnail, as the service's /enroll keeps a face model's, before any write
    pngs = [_thumbnail(Path(p)) for p in images]
    z = np.concatenate(rows)  # (N, D)
    with (
        new_gallery_removed_if_unused(gallery_path),  # a first enrollment stopped: no file left
        _open_gallery(gallery_path, model, pipe.embedder, create=True) as gallery,
    ):
        # each face keeps its photo (the path as given: the largest face of it is the one
        # enrolled), so that "alice item 12" in identify can be traced back to the photo
        sources = [str(p) for p in images]
        ids = gallery.enroll_embeddings(label, z, metadata=meta, skip_repeats=True, sources=sources)
        with contextlib.closing(ThumbnailStore(thumbnails_path_for(gallery_path))) as store:
            # as /enroll and siamkit enroll keep them: read back, so a removal in between
            # leaves no thumbnail of its items
            store.put_enrolled_live(gallery, label, ids, pngs)
        if model != "dlib":  # later enroll / identify on the gallery find it without --model
            gallery.remember_model_path(model)
        total = len(gallery)
    skipped, new_ids = set(ids.skipped), iter(ids)  # the new ids, in input order
    docs = [
        {
            **face_record(c),
            "item_id": None if i in skipped else next(new_ids),
            "skipped": i in skipped,
        }
        for i, c in enumerate(chosen)
    ]
    unapplied = [label] if meta is not None and not ids else []  # every face was a repeat
    doc = {
        "label": label,
        "item_ids": list(ids),
        "gallery": gallery_path,
        "num_items": total,
        "skipped_already_enrolled": len(ids.skipped),
        "metadata_not_applied": unapplied,
        "faces": docs,
    }
    text = f"enrolled {counted(len(ids), 'face')} of {label!r} into {gallery_path}"
    if ids.skipped:
        text += (
            f"\nskipped {counted(len(ids.skipped), 'face')} already enrolled under the same "
            "label (the same face: the same embedding)"
        )
        if unapplied:
            text += f"; --metadata was not applied to {label!r}, which got no new face"
    text += "".join(f"\nnote: {d['note']}" for d in docs if "note" in d)
    _emit(as_json, doc, text)


@face.command()
@click.argument("image", type=_IMAGE)
@click.argument("other", type=_IMAGE)
@_THRESHOLD
@_model_options
@_JSON
@PROGRESS
@_friendly
def verify(
    image: str,
    other: str,
    threshold: float | None,
    model: str,
    detector: str,
    upsample: int,
    as_json: bool,
) -> None:
    """Do IMAGE and OTHER show the same person? Euclidean distance of their largest faces.

    \b
    Example:
      siamkit face verify id_photo.jpg selfie.jpg --json
    """
    from siamkit.applications.faces.pipeline import read_rgb
    from siamkit.applications.faces.recognize import face_record, verify_faces

    pipe = _pipeline(model, detector, upsample, store=False)
    check_threshold_sign(threshold, pipe.embedder)  # negative: a score-normalised model's only
    if detector == "cnn":  # 15 s for two 512x512 photos here, with nothing to count
        from siamkit.progress import step

        step("finding the faces with dlib's CNN detector (seconds a photo on a CPU)")
    with _hint_no_face(detector, upsample):
        r = verify_faces(pipe, read_rgb(image), read_rgb(other), threshold, names=(image, other))
    doc = {
        "same": r.same,
        "distance": r.distance,
        "threshold": r.threshold,
        "distance_name": r.distance_name,
        "faces": [face_record(r.a), face_record(r.b)],
    }
    verdict = {True: "same person", False: "different people", None: "no threshold to decide"}
    notes = "".join(f"\nnote: {c.note}" for c in (r.a, r.b) if c.note)
    th = "-" if r.threshold is None else f"{r.threshold:.4f}"
    _emit(as_json, doc, f"{verdict[r.same]} (distance {r.distance:.4f}, threshold {th}){notes}")


def _identify_text(docs: list[dict[str, Any]], no_face_hint: str, kind: str = "distance") -> str:
    """Each face's box and decision, then its k matches (rank, label, distance, accepted), as
    ``siamkit identify`` prints them; ``kind`` names the numbers (distance or normalised score)."""
    from siamkit.applications.faces.detect import box_name

    lines = []
    for d in docs:
        if not d["faces"]:
            lines.append(f"{d['image']}: no face found; {no_face_hint}")
            continue
        lines.append(f"{d['image']}: {counted(len(d['faces']), 'face')}")
        for f in d["faces"]:
            who = f["label"] if f["label"] is not None else "unknown"
            lines.append(f"  {box_name(f['box'])}: {who}")
            for rank, m in enumerate(f["matches"], 1):
                flag = {True: "accepted", False: "rejected", None: ""}[m["accepted"]]
                row = f"    {rank}. {m['label']:<24} {kind} {m['distance']:.4f}  {flag}".rstrip()
                lines.append(row + source_note(m["source"]))
    return "\n".join(lines)


@face.command()
@_GALLERY
@click.argument("images", nargs=-1, required=True, type=_IMAGE)
@click.option(
    "--k", default=3, show_default=True, type=click.IntRange(min=1), help="Labels per face."
)
@_THRESHOLD
@gallery_model_options
@_JSON
@PROGRESS
@_friendly
def identify(
    gallery_path: str,
    images: tuple[str, ...],
    k: int,
    threshold: float | None,
    model: str | None,
    detector: str,
    upsample: int,
    as_json: bool,
) -> None:
    """Who is each face in IMAGES? Every face with its box: an enrolled label or unknown.

    \b
    Example:
      siamkit face identify --gallery staff.db turnstile.jpg --json
    """
    from siamkit.applications.faces import read_rgb
    from siamkit.applications.faces.recognize import identify_faces
    from siamkit.evaluation._common import score_kind

    refuse_missing_store(gallery_path, "gallery", "enroll faces first")
    model, pipe = gallery_pipeline(model, gallery_path, detector, upsample)
    check_threshold_sign(threshold, pipe.embedder)  # negative: a score-normalised model's only
    hint = _no_face_hint(detector, upsample)
    docs = []
    opened = _open_gallery(gallery_path, model, pipe.embedder, create=False, threshold=threshold)
    with opened as gallery:
        if len(gallery) == 0:
            raise click.ClickException(f"{gallery_path} has no enrolled faces; enroll faces first")
        for path in track(images, "identifying faces", unit="images"):
            found = identify_faces(pipe, gallery, read_rgb(path), k=k, name=repr(str(path)))
            sources = gallery.sources([m.item_id for _, r in found for m in r.matches])
            faces = [_face_doc(f, r, sources) for f, r in found]
            doc: dict[str, Any] = {"image": path, "faces": faces}
            if not found:  # what to do, as the text line says (only then: no field changes)
                doc["hint"] = hint
            docs.append(doc)
        used, kind = gallery.threshold, score_kind(gallery.distance)
    text = _identify_text(docs, hint, kind)
    _emit(as_json, {"threshold": used, "images": docs}, text)


def _face_doc(face: Any, result: Any, sources: dict[int, str]) -> dict[str, Any]:
    """One face as JSON; each match's ``source``: the photo its item was enrolled from
    (``None`` for a face enrolled before siamkit kept it, or from Python)."""
    matches = [_match_doc(m, sources) for m in result.matches]
    return {
        "box": face.box.as_dict(),
        "label": result.label,
        "unknown": result.label is None,
        "matches": matches,
    }


# evaluate and crop live in face_tools_cmds (this file would pass 300 lines); they join the group here
from siamkit.cli.face_tools_cmds import crop, evaluate  # noqa: E402

face.add_command(crop)
face.add_command(evaluate)
