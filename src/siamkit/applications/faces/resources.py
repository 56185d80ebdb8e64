"""Where dlib's pretrained face models live, and which versions they are, without importing them.

The ``.dat`` files come from the PyPI package ``face-recognition-models``. Its ``__init__``
imports ``pkg_resources`` (gone from recent setuptools), so the package is never imported here:
its folder is found with :func:`importlib.util.find_spec` (which does not run the package), or
else through the installed distribution's file list (its ``RECORD``). ``SIAMKIT_FACE_MODELS``
names another folder holding the same files (e.g. downloaded from dlib.net); the SHA-256 check
in :class:`~siamkit.applications.faces.model.DlibFaceEncoder` makes sure they are the same.

Example:
    >>> model_file("recognition").name  # doctest: +SKIP
    'dlib_face_recognition_resnet_model_v1.dat'
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Any

INSTALL_HINT = "pip install 'siamkit[face]'"
PACKAGE = "face_recognition_models"
DISTRIBUTION = "face-recognition-models"
ENV_DIR = "SIAMKIT_FACE_MODELS"

MODEL_FILES: dict[str, str] = {
    "recognition": "dlib_face_recognition_resnet_model_v1.dat",  # 128-d ResNet, LFW 99.38%
    "landmarks5": "shape_predictor_5_face_landmarks.dat",  # 5-point shape predictor
    "cnn_detector": "mmod_human_face_detector.dat",  # MMOD CNN face detector
}
"""The files a face model uses, by role."""


def import_dlib() -> ModuleType:
    """``import dlib`` with an error that says how to install it."""
    try:
        import dlib
    except ImportError:
        raise ImportError(f"face recognition needs dlib: {INSTALL_HINT}") from None
    return dlib


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "siamkit" / "dlib"


def frontal_face_detector() -> Any:
    """dlib's HOG frontal-face detector, read from a cached copy when there is one.

    ``dlib.get_frontal_face_detector()`` decodes the detector from a text constant compiled into
    dlib, which takes about half a second of every new process; the same detector saved with its
    ``save`` loads in a few milliseconds. The copy lives in ``~/.cache/siamkit/dlib`` (named by
    the dlib version), is written atomically on first use, and is checked against the built-in
    detector's shape (5 sub-detectors of an 80x80 window) when read; an unreadable, odd or
    unwritable cache falls back to the built-in detector.
    """
    from siamkit.atomic import atomic_path

    dlib = import_dlib()
    path = _cache_dir() / f"frontal_face_detector-{getattr(dlib, '__version__', 'x')}.svm"
    if path.is_file():
        try:
            det = dlib.fhog_object_detector(str(path))
            if det.num_detectors == 5 and (
                det.detection_window_width,
                det.detection_window_height,
            ) == (80, 80):
                return det
        except RuntimeError:
            pass
    det = dlib.get_frontal_face_detector()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            det.save(str(tmp))
    except (OSError, RuntimeError):
        pass  # a read-only home: no cache, the built-in detector still works
    return det


def _package_dir() -> Path | None:
    spec = importlib.util.find_spec(PACKAGE)  # finds the folder without running __init__
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            if (Path(location) / "models").is_dir():
                return Path(location) / "models"
    try:
        files = importlib.metadata.files(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:  # the distribution's RECORD
        if f.name == MODEL_FILES["recognition"]:
            return Path(str(f.locate())).parent
    return None


def models_dir() -> Path:
    """The folder with dlib's ``.dat`` files: ``$SIAMKIT_FACE_MODELS`` or the installed package."""
    override = os.environ.get(ENV_DIR)
    if override:
        folder = Path(override)
        if not folder.is_dir():
            raise FileNotFoundError(f"{ENV_DIR}={override} is not a folder")
        return folder
    found = _package_dir()
    if found is None:
        raise ImportError(
            f"dlib's pretrained face models are not installed (package {DISTRIBUTION}): {INSTALL_HINT}"
        )
    return found


def model_file(role: str) -> Path:
    """The path of the ``.dat`` file for ``role`` (a key of :data:`MODEL_FILES`)."""
    if role not in MODEL_FILES:
        raise ValueError(f"unknown face model file {role!r}; known: {', '.join(MODEL_FILES)}")
    path = models_dir() / MODEL_FILES[role]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall the face models: {INSTALL_HINT}")
    return path


@functools.lru_cache(maxsize=16)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, computed once per (path, size, mtime)."""
    st = path.stat()
    return _sha256_cached(str(path), st.st_size, st.st_mtime_ns)


def versions() -> dict[str, str]:
    """Installed versions of dlib and of the face-model package (``"unknown"`` if not recorded)."""
    out: dict[str, str] = {}
    for key, dist in (("dlib", "dlib-bin"), ("face_recognition_models", DISTRIBUTION)):
        try:
            out[key] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[key] = "unknown"
    if out["dlib"] == "unknown":
        out["dlib"] = str(getattr(import_dlib(), "__version__", "unknown"))
    return out
