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
from pathlib import Path
from typing import Any

import click

from siamkit.cli.gallery_cmds import _friendly

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
    type=float,
    default=None,
    help="Decision threshold on the distance (default: the model's; dlib's published 0.6 for dlib).",
)


def _model_options(fn: Any) -> Any:
    fn = click.option(
        "--upsample",
        type=click.IntRange(0, 4),
        default=1,
        show_default=True,
        help="Detector upsampling: 1 finds faces down to ~40 px, 0 only from ~80 px (4x faster).",
    )(fn)
    fn = click.option(
        "--detector",
        type=click.Choice(["hog", "cnn"]),
        default="hog",
        show_default=True,
        help="dlib's HOG detector (fast) or its CNN detector (more faces, ~20x slower on CPU).",
    )(fn)
    return click.option(
        "--model",
        default="dlib",
        show_default=True,
        help="'dlib' (pretrained) or a siamkit model folder trained on face chips.",
    )(fn)


def _pipeline(model: str, detector: str, upsample: int) -> Any:
    from siamkit.applications.faces import FaceDetector, FacePipeline, load_embedder

    return FacePipeline(load_embedder(model), FaceDetector(detector, upsample))


def _emit(as_json: bool, doc: Any, text: str) -> None:
    click.echo(json.dumps(doc, indent=2) if as_json else text)


def _largest(pipe: Any, path: str) -> tuple[Any, dict[str, Any]]:
    """The largest face of one image, and a JSON record (box, faces found, note)."""
    from siamkit.applications.faces import read_rgb

    face, n = pipe.largest_face(read_rgb(path))
    if face is None:
        raise click.ClickException(f"no face found in {path}")
    doc: dict[str, Any] = {"image": path, "box": face.box.as_dict(), "faces_found": n}
    if n > 1:
        doc["note"] = f"{n} faces found in {path}; using the largest"
    return face, doc


@click.group()
def face() -> None:
    """Faces in photos: enroll, verify 1:1, identify every face 1:N.

    Faces are found (dlib HOG or CNN detector), aligned on 5 landmarks to 150x150 chips and
    embedded with dlib's pretrained 128-d ResNet (or --model). Needs `pip install 'siamkit[face]'`.
    """


@face.command()
@_GALLERY
@click.option("--label", required=True, help="Who the photos show, e.g. alice.")
@click.argument("images", nargs=-1, required=True, type=_IMAGE)
@_model_options
@_JSON
@_friendly
def enroll(
    gallery_path: str,
    label: str,
    images: tuple[str, ...],
    model: str,
    detector: str,
    upsample: int,
    as_json: bool,
) -> None:
    """Enroll the largest face of each of IMAGES under LABEL (no retraining).

    Every image must show a face; otherwise nothing is enrolled. One transaction.

    \b
    Example:
      siamkit face enroll --gallery staff.db --label alice alice1.jpg alice2.jpg
    """
    import numpy as np

    from siamkit.index import Gallery

    pipe = _pipeline(model, detector, upsample)
    pairs = [_largest(pipe, p) for p in images]
    z = np.stack([f.embedding for f, _ in pairs])  # (N, D)
    with Gallery.open(gallery_path, pipe.embedder, create=True) as gallery:
        ids = gallery.enroll_embeddings(label, z)
        total = len(gallery)
    docs = [d for _, d in pairs]
    doc = {
        "label": label,
        "item_ids": ids,
        "gallery": gallery_path,
        "num_items": total,
        "faces": docs,
    }
    notes = "".join(f"\nnote: {d['note']}" for d in docs if "note" in d)
    _emit(as_json, doc, f"enrolled {len(ids)} face(s) of {label!r} into {gallery_path}{notes}")


@face.command()
@click.argument("image", type=_IMAGE)
@click.argument("other", type=_IMAGE)
@_THRESHOLD
@_model_options
@_JSON
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
    import torch

    from siamkit.index.embedding import model_distance

    pipe = _pipeline(model, detector, upsample)
    (fa, da), (fb, db) = _largest(pipe, image), _largest(pipe, other)
    za, zb = (torch.from_numpy(f.embedding[None]) for f in (fa, fb))  # (1, D) each
    distance = float(model_distance(pipe.embedder).pairwise(za, zb)[0])
    used = threshold if threshold is not None else pipe.threshold
    same = None if used is None else bool(distance <= used)
    doc = {
        "same": same,
        "distance": distance,
        "threshold": used,
        "distance_name": pipe.embedder.distance_name,
        "faces": [da, db],
    }
    verdict = {True: "same person", False: "different people", None: "no threshold to decide"}
    notes = "".join(f"\nnote: {d['note']}" for d in (da, db) if "note" in d)
    th = "-" if used is None else f"{used:.4f}"
    _emit(as_json, doc, f"{verdict[same]} (distance {distance:.4f}, threshold {th}){notes}")


def _identify_text(docs: list[dict[str, Any]]) -> str:
    lines = []
    for d in docs:
        if not d["faces"]:
            lines.append(f"{d['image']}: no face found")
            continue
        lines.append(f"{d['image']}: {len(d['faces'])} face(s)")
        for f in d["faces"]:
            b, best = f["box"], (f["matches"][0] if f["matches"] else None)
            who = f["label"] if f["label"] is not None else "unknown"
            near = f" (distance {best['distance']:.4f} to {best['label']})" if best else ""
            lines.append(
                f"  box ({b['left']}, {b['top']})-({b['right']}, {b['bottom']}): {who}{near}"
            )
    return "\n".join(lines)


@face.command()
@_GALLERY
@click.argument("images", nargs=-1, required=True, type=_IMAGE)
@click.option(
    "--k", default=3, show_default=True, type=click.IntRange(min=1), help="Labels per face."
)
@_THRESHOLD
@_model_options
@_JSON
@_friendly
def identify(
    gallery_path: str,
    images: tuple[str, ...],
    k: int,
    threshold: float | None,
    model: str,
    detector: str,
    upsample: int,
    as_json: bool,
) -> None:
    """Who is each face in IMAGES? Every face with its box: an enrolled label or unknown.

    \b
    Example:
      siamkit face identify --gallery staff.db turnstile.jpg --json
    """
    import numpy as np

    from siamkit.applications.faces import read_rgb
    from siamkit.index import Gallery

    pipe = _pipeline(model, detector, upsample)
    if not Path(gallery_path).exists():
        raise click.ClickException(f"no gallery at {gallery_path}; enroll faces first")
    docs = []
    with Gallery.open(gallery_path, pipe.embedder, create=False, threshold=threshold) as gallery:
        for path in images:
            faces = pipe.faces(read_rgb(path))
            z = np.stack([f.embedding for f in faces]) if faces else None
            results = gallery.identify_embeddings(z, k=k) if z is not None else []
            docs.append({"image": path, "faces": [_face_doc(f, r) for f, r in zip(faces, results)]})
        used = gallery.threshold
    _emit(as_json, {"threshold": used, "images": docs}, _identify_text(docs))


def _face_doc(face: Any, result: Any) -> dict[str, Any]:
    matches = [
        {"label": m.label, "distance": m.distance, "item_id": m.item_id, "accepted": m.accepted}
        for m in result.matches
    ]
    return {
        "box": face.box.as_dict(),
        "label": result.label,
        "unknown": result.label is None,
        "matches": matches,
    }


@face.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@click.argument("dest", type=click.Path(file_okay=False))
@click.option("--detector", type=click.Choice(["hog", "cnn"]), default="hog", show_default=True)
@click.option("--upsample", type=click.IntRange(0, 4), default=1, show_default=True)
@_JSON
@_friendly
def crop(source: str, dest: str, detector: str, upsample: int, as_json: bool) -> None:
    """Aligned 150x150 chips of the largest face of every image in SOURCE (a folder per person)
    into DEST (same folders), to train a siamkit face model with `siamkit train`.

    Images without a face are skipped and listed.

    \b
    Example:
      siamkit face crop people/ chips/
    """
    from siamkit.applications.faces.crop import crop_folder

    written, skipped = crop_folder(Path(source), Path(dest), detector, upsample)
    doc = {"written": written, "skipped": [str(p) for p in skipped], "dest": dest}
    text = f"wrote {written} chip(s) into {dest}" + "".join(
        f"\nskipped (no face): {p}" for p in skipped
    )
    _emit(as_json, doc, text)


@face.command()
@click.option("--lfw-pairs", type=_IMAGE, default=None, help="LFW-style pairs.txt (10 folds).")
@click.option(
    "--images",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="The folder pairs.txt names images in (<name>/<name>_0001.jpg).",
)
@click.option(
    "--identities",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="A folder per identity, for open-set 1:N (rank-1, DIR@FAR).",
)
@click.option(
    "--unknown-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.5, show_default=True
)
@click.option("--far", "fars", type=float, multiple=True, default=(0.01, 0.1), show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@_model_options
@_JSON
@_friendly
def evaluate(
    lfw_pairs: str | None,
    images: str | None,
    identities: str | None,
    unknown_fraction: float,
    fars: tuple[float, ...],
    seed: int,
    model: str,
    detector: str,
    upsample: int,
    as_json: bool,
) -> None:
    """Score a face model on LFW-style pairs (10-fold accuracy, each fold's threshold chosen on
    the other nine) or on an identities folder (open-set 1:N: a seeded --unknown-fraction of the
    identities is not enrolled; the others enroll their first image and probe with the rest).

    \b
    Examples:
      siamkit face evaluate --lfw-pairs lfw/pairs.txt --images lfw/ --json
      siamkit face evaluate --identities staff_photos/ --far 0.01
    """
    if (lfw_pairs is None) == (identities is None) or (lfw_pairs is None) != (images is None):
        raise click.UsageError("give either --lfw-pairs and --images, or --identities")
    from siamkit.applications.faces.evaluate import evaluate_identities, evaluate_lfw
    from siamkit.applications.faces.lfw import read_lfw_pairs

    pipe = _pipeline(model, detector, upsample)
    if lfw_pairs is not None:
        res = evaluate_lfw(pipe, read_lfw_pairs(lfw_pairs, images))  # type: ignore[arg-type]
        acc = res.accuracy
        doc: dict[str, Any] = {
            "lfw": {
                "accuracy": acc.mean,
                "std": acc.std,
                "fold_accuracy": acc.fold_accuracy.tolist(),
                "fold_threshold": acc.fold_threshold.tolist(),
            },
            "no_face": [str(p) for p in res.no_face],
        }
        text = (
            f"LFW 10-fold accuracy {acc.mean:.4f} ± {acc.std:.4f} ({len(acc.fold_accuracy)} folds)"
        )
    else:
        out, no_face = evaluate_identities(pipe, identities, unknown_fraction, 1, fars, seed)  # type: ignore[arg-type]
        doc = {
            "identification": {
                "rank1": out.rank1,
                "dir_at_far": {str(k): v for k, v in out.dir_at_far.items()},
                "threshold_at_far": {str(k): v for k, v in out.thresholds.items()},
                "num_known_probes": out.num_known,
                "num_unknown_probes": out.num_unknown,
            },
            "no_face": [str(p) for p in no_face],
        }
        dirs = ", ".join(f"DIR@FAR={k:g} {v:.4f}" for k, v in out.dir_at_far.items())
        text = f"rank-1 {out.rank1:.4f}" + (f", {dirs}" if dirs else "")
    if doc["no_face"]:
        text += (
            f"\nnote: no face detected in {len(doc['no_face'])} image(s); embedded a centred box"
        )
    _emit(as_json, doc, text)
