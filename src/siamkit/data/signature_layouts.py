"""The folder layouts signature corpora come in: CEDAR, GPDS, BHSig260 and siamkit's own.

- ``cedar``: ``full_org/original_<writer>_<n>.png`` and ``full_forg/forgeries_<writer>_<n>.png``.
- ``gpds``: one folder per writer, ``c-<writer>-<n>.<ext>`` genuine, ``cf-<writer>-<n>.<ext>`` forged.
- ``bhsig``: one folder per writer (optionally under ``Bengali/`` and ``Hindi/``),
  ``<B|H>-S-<writer>-G-<n>.tif`` genuine and ``<B|H>-S-<writer>-F-<n>.tif`` forged.
- ``folders``: ``<writer>/genuine/*`` and ``<writer>/forged/*`` (:func:`scan_signatures`).

:func:`scan_signature_layout` with ``layout="auto"`` recognises each of them.

Example:
    >>> writers = scan_signature_layout("CEDAR/")  # doctest: +SKIP
    >>> writers[0].writer, len(writers[0].genuine), len(writers[0].forged)  # doctest: +SKIP
    ('1', 24, 24)
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path

from siamkit.data.folders import EmptyFoldersWarning, list_images, missing_folder
from siamkit.data.signatures import WriterSignatures, scan_signatures, warn_left_out_writers

__all__ = ["SIGNATURE_LAYOUTS", "detect_layout", "scan_signature_layout"]

_CEDAR = re.compile(r"^(original|forgeries)_(\d+)_(\d+)$", re.IGNORECASE)
_GPDS = re.compile(r"^(c|cf)-(\d+)-(\d+)$", re.IGNORECASE)
_BHSIG = re.compile(r"^[A-Z]-S-(\d+)-([GF])-(\d+)$", re.IGNORECASE)


def _sort_key(name: str) -> tuple[int, str]:
    return (int(name), name) if name.isdigit() else (1 << 30, name)


def _group(files: list[tuple[str, bool, Path]]) -> list[WriterSignatures]:
    """``(writer, forged, path)`` triples -> writers sorted naturally, files sorted by name."""
    by_writer: dict[str, tuple[list[Path], list[Path]]] = {}
    for writer, forged, path in files:
        by_writer.setdefault(writer, ([], []))[int(forged)].append(path)
    return [
        WriterSignatures(w, sorted(g), sorted(f))
        for w, (g, f) in sorted(by_writer.items(), key=lambda kv: _sort_key(kv[0]))
        if g
    ]


def _scan_cedar(root: Path) -> list[WriterSignatures]:
    files = []
    for sub in ("full_org", "full_forg"):
        folder = root / sub
        for path in list_images(folder) if folder.is_dir() else []:
            m = _CEDAR.match(path.stem)
            if m:
                files.append((m.group(2), m.group(1).lower() == "forgeries", path))
    return _group(files)


def _writer_dirs(root: Path) -> list[tuple[str, Path]]:
    """Writer folders directly under ``root``, or one level down (``Bengali/1``, ``Hindi/1``);
    a folder with neither images nor sub-folders is an (empty) writer folder."""
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        subs = [(f"{d.name}/{s.name}", s) for s in sorted(d.iterdir()) if s.is_dir()]
        out += [(d.name, d)] if list_images(d) or not subs else subs
    return out


def _scan_per_writer(
    root: Path, pattern: re.Pattern[str], forged_of: Callable[[re.Match[str]], bool]
) -> list[WriterSignatures]:
    files = []
    dirs = _writer_dirs(root)
    for name, folder in dirs:
        for path in list_images(folder):
            m = pattern.match(path.stem)
            if m:
                files.append((name, forged_of(m), path))
    writers = _group(files)
    if writers:  # else not this layout (detect_layout tries them in turn): nothing to say
        found = {w.writer for w in writers}
        left_out = [n for n, _ in dirs if n not in found and not n.split("/")[-1].startswith(".")]
        warn_left_out_writers(root, left_out)
    return writers


def _scan_gpds(root: Path) -> list[WriterSignatures]:
    return _scan_per_writer(root, _GPDS, lambda m: m.group(1).lower() == "cf")


def _scan_bhsig(root: Path) -> list[WriterSignatures]:
    return _scan_per_writer(root, _BHSIG, lambda m: m.group(2).upper() == "F")


SIGNATURE_LAYOUTS: dict[str, Callable[[Path], list[WriterSignatures]]] = {
    "cedar": _scan_cedar,
    "gpds": _scan_gpds,
    "bhsig": _scan_bhsig,
    "folders": lambda root: scan_signatures(root),
}


def detect_layout(root: str | os.PathLike[str]) -> str:
    """Which of :data:`SIGNATURE_LAYOUTS` the folder ``root`` is in.

    Raises:
        FileNotFoundError: ``root`` is missing.
        ValueError: none of the layouts finds a writer with a genuine signature.
    """
    root = Path(root)
    if not root.is_dir():
        raise missing_folder(root, "Signature")
    if (root / "full_org").is_dir():
        return "cedar"
    for name in ("folders", "gpds", "bhsig"):
        try:
            with warnings.catch_warnings():  # the scan that reads the layout says it, once
                warnings.simplefilter("ignore", EmptyFoldersWarning)
                if SIGNATURE_LAYOUTS[name](root):
                    return name
        except ValueError:
            continue
    raise ValueError(
        f"'{root}' is in no known signature layout; expected CEDAR (full_org/, full_forg/), "
        "GPDS (<writer>/c-*.png, cf-*.png), BHSig (<writer>/*-G-*.tif, *-F-*.tif) or "
        "<writer>/genuine/*, <writer>/forged/*."
    )


def scan_signature_layout(
    root: str | os.PathLike[str], layout: str = "auto"
) -> list[WriterSignatures]:
    """The writers under ``root`` in ``layout`` (``"auto"`` detects it), sorted by writer.

    Raises:
        ValueError: an unknown layout name, or no writers found.

    Warns:
        EmptyFoldersWarning: some writer folders hold no genuine signatures and are left out.
    """
    if layout == "auto":
        layout = detect_layout(root)
    if layout not in SIGNATURE_LAYOUTS:
        raise ValueError(
            f"unknown signature layout {layout!r}; choose auto, {', '.join(SIGNATURE_LAYOUTS)}."
        )
    root = Path(root)
    if not root.is_dir():
        raise missing_folder(root, "Signature")
    writers = SIGNATURE_LAYOUTS[layout](root)
    if not writers:
        raise ValueError(
            f"No signatures in the {layout} layout under '{root}'; the known layouts are auto "
            f"(detect), {', '.join(SIGNATURE_LAYOUTS)}: pick one with --layout on siamkit "
            "signature evaluate, data.layout in a training config, or layout= in Python."
        )
    return writers
