"""Aligned face chips of a folder of photos (one sub-folder per person), for training.

Example:
    >>> crop_folder(Path("people"), Path("chips"))  # doctest: +SKIP
    (118, [PosixPath('people/bob/blurry.jpg')])
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

from PIL import Image

from siamkit.applications.faces.align import FaceAligner
from siamkit.applications.faces.detect import FaceDetector
from siamkit.applications.faces.pipeline import read_rgb
from siamkit.atomic import remove_stale_temp_folders, temp_folder
from siamkit.data.folders import read_class_folders
from siamkit.image_decode import probe_image
from siamkit.progress import track


def read_people(
    root: str | os.PathLike[str], noun: str, none_found: str
) -> tuple[list[Path], list[str]]:
    """Image files of ``root/<person>/...`` and their person (the name of their folder in
    ``root``), in order, listed and checked as ``siamkit enroll`` lists a folder of labels
    (:func:`~siamkit.data.folders.read_class_folders`, training's class walk): a photo two
    people's folders hold (a hard link, or links to one file) is left out of both, a link into
    another person's folder or a link loop is left out, and each is named in a warning, as are
    the folders of ``noun`` ("person", "identity") without images and the files that are no
    images by their extension. ``face crop`` and ``face evaluate --identities`` list through
    it: listed by a plain walk of every file, a photo hard-linked into two people was cropped
    into a chip for each (then trained as two classes) or counted as two identities, and
    ``bob/alice -> ../alice`` read Alice's photos as Bob's too, without a word.

    Raises:
        ValueError: ``root`` is no folder or holds no folder of ``noun`` (``none_found``);
            :class:`~siamkit.data.folders.ClassFoldersError`: photos lie directly in it (of no
            person), or no folder holds an image that can be read and that no other holds
            (each folder named, with why).
    """
    base = Path(root)
    if not base.is_dir():
        raise ValueError(none_found)
    # warns (LeftOutFilesWarning, EmptyFoldersWarning) of what it leaves out, and why
    walk = read_class_folders(base, noun, "photo", none_found=none_found)
    paths = [f for files in walk.files.values() for f in files]
    return paths, [f.relative_to(base).parts[0] for f in paths]


def crop_folder(
    source: Path, dest: Path, detector: str = "hog", upsample: int = 1
) -> tuple[int, list[Path]]:
    """Write ``dest/<person>/<stem>.png`` chips (150x150 RGB) of the largest face of each image
    under ``source/<person>/``; images in which no face is found are skipped and returned.
    Images of one folder that share a stem (``a.jpg``, ``a.png``) keep their whole name
    (``a.jpg.png``, ``a.png.png``), so no chip overwrites another.

    All or nothing: every file's header is checked before any face is searched, and the chips
    are written into a hidden folder and moved into place only once every image has been read,
    so a file that is not a readable image stops the crop with its
    :class:`~siamkit.image_decode.ImageReadError`, and an interruption (Ctrl-C) with nothing
    written. A new ``dest`` is staged beside it and appears with one rename. An existing ``dest``
    must be empty (a mount point, or a folder whose parent is read-only, such as
    ``/scratch/$USER``); the chips are staged inside it and its person folders moved in, moved
    back out on an interruption. Staging folders of crops killed with SIGKILL, untouched for
    10 minutes, are removed.

    Raises:
        ValueError: ``dest`` is ``source`` or inside it, no images under ``source``, photos
            directly in ``source`` (not in a folder per person), none that no other person's
            folder holds too (:func:`read_people`), or ``dest`` is a folder that is not empty.

    Returns:
        the number of chips written and the images in which no face was found.
    """
    home, landing = Path(source).resolve(), Path(dest).resolve()
    if landing == home or home in landing.parents:
        where = "is" if landing == home else "is inside"
        raise ValueError(  # people/alice/chips: every chip, bob's too, read as alice's after
            f"{dest} {where} {source}: its chips would be read as photos of the person whose "
            f"folder holds them the next time {source} is read; give a destination outside "
            f"{source}, e.g. {home.parent / 'chips'}"
        )
    none = (
        f"no images found under {source}; give a folder of one sub-folder of photos per "
        f"person, e.g. {Path(source) / 'alice'}/*.jpg"
    )
    paths = read_people(source, "person", none)[0]  # as training reads the chips' folder
    # staged on dest's file system: inside dest when it exists (hidden, so never read as a
    # person), else beside it, in its nearest existing parent (dest's parent may be read-only)
    target = Path(dest).absolute()
    existing = target.is_dir()
    anchor = target if existing else next(p for p in target.parents if p.is_dir())
    prefix = f".{target.name or 'dest'}.crop-"
    for folder in {anchor, target.parent} if target.parent.is_dir() else {anchor}:
        remove_stale_temp_folders(folder, prefix)
    if existing and any(target.iterdir()):
        raise ValueError(
            f"{dest} is not empty; give a new or empty folder for the chips, "
            "or remove the earlier ones"
        )
    for path in paths:  # a file that is not an image stops here, before minutes of detection
        probe_image(path)
    names = _chip_names(paths, source)
    det, aligner = FaceDetector(detector, upsample), FaceAligner()
    staging = temp_folder(anchor, prefix)
    try:
        chips, skipped = [], []
        for path in track(paths, "cropping faces", unit="images"):  # seconds per photo (cnn)
            image = read_rgb(path)
            boxes = det(image)
            if not boxes:
                skipped.append(path)
                continue
            rel = names[path]
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(aligner.chip(image, boxes[0])).save(staging / rel, format="PNG")
            chips.append(rel)
        if chips and existing:
            _move_in(staging, target)
        elif chips:  # a data set that can be made again: no fsync
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return len(chips), skipped


def _chip_names(paths: list[Path], source: Path) -> dict[Path, Path]:
    """Each image's chip path relative to DEST: ``<stem>.png``, or ``<name>.png`` for images
    whose stem another image of the same folder shares.

    Raises:
        ValueError: two images would still get one chip path (``a.jpg`` beside ``a.jpg.png``).
    """
    rels = {path: path.relative_to(source) for path in paths}
    stems = Counter(rel.with_suffix("") for rel in rels.values())
    names = {
        path: rel.with_suffix(".png")
        if stems[rel.with_suffix("")] == 1
        else rel.with_name(rel.name + ".png")
        for path, rel in rels.items()
    }
    seen: dict[Path, Path] = {}
    for path, name in names.items():
        if name in seen:
            raise ValueError(
                f"{seen[name]} and {path} would both be cropped to {name}; "
                "rename one of them and crop again"
            )
        seen[name] = path
    return names


def _move_in(staging: Path, target: Path) -> None:
    """Rename each entry of ``staging`` into the empty folder ``target``; on any error or
    interruption, rename the ones already moved back, leaving ``target`` as it was."""
    moved: list[str] = []
    try:
        for entry in sorted(staging.iterdir()):
            os.rename(entry, target / entry.name)
            moved.append(entry.name)
    except BaseException:
        for name in reversed(moved):
            os.rename(target / name, staging / name)
        raise
