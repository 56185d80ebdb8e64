"""A folder read as a corpus: its text files, recursively, one document each (ids: paths
relative to the folder); hidden files, other suffixes, siamkit's plagiarism reports and links
to folders (not followed) are skipped, saying why."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from siamkit.applications.text.documents import (
    CORPUS_SUFFIXES,
    TEXT_SUFFIXES,
    Document,
    read_text_file,
)
from siamkit.applications.text.html_text import HTML_SUFFIXES, html_text
from siamkit.atomic import NotUtf8Error, same_file
from siamkit.clauses import listed

# how every plagiarism report (report_html.render_report) starts: such a file in a corpus folder
# is an earlier run's output, which holds the suspect's text, not a source
REPORT_PREFIX = "<!doctype html><html><head><meta charset='utf-8'><title>Plagiarism report: "


REPORT_WHY = "a siamkit plagiarism report"  # why such a file is skipped

LINK_ADVICE = (
    "copy its files into the folder, or give the folder it links to as a corpus of its own"
)


def text_name(name: str) -> str:
    r"""A file name as text that can be written to JSON, HTML and a gallery: a name that is not
    UTF-8 on disk (Latin-1 bytes from an old archive) reaches Python with surrogates, which failed
    the groups file, the report and ``--json`` at the end ("surrogates not allowed"), after every
    text was embedded; its undecodable bytes become ``\xe9`` escapes, as
    :func:`siamkit.data.folders.text_name` writes them (not imported: it imports torch).

    >>> text_name("caf\udce9.txt"), text_name("Café ü.txt")
    ('caf\\xe9.txt', 'Café ü.txt')
    """
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _why_skip(rel: Path, f: Path, exclude: Mapping[Path, str]) -> str | None:
    """Why a folder's file is not read, or ``None`` to read it."""
    for other, why in exclude.items():
        if same_file(f, other):
            return why
    if rel.name.startswith("."):
        return "hidden"
    suffix = f.suffix.lower()
    if suffix in CORPUS_SUFFIXES or suffix == ".json":
        return f"a {suffix} file inside a folder is not read: give it as the corpus itself"
    if suffix not in TEXT_SUFFIXES:
        kinds = [*sorted(s for s in TEXT_SUFFIXES if s), "no suffix"]
        return f"not a text file: {listed(kinds, 'or')}"
    return None


def _folder(
    root: Path, exclude: Mapping[Path, str]
) -> tuple[list[Document], list[tuple[str, str]], list[Path]]:
    docs, skipped, files = [], [], []
    not_utf8: list[tuple[Path, NotUtf8Error]] = []  # every one, said together after the walk
    for folder, subdirs, names in os.walk(root):
        here = Path(folder)
        for d in sorted(subdirs):
            shown = text_name(f"{(here / d).relative_to(root)}{os.sep}")
            if d.startswith("."):
                skipped.append((shown, "hidden folder"))
            elif (here / d).is_symlink():  # os.walk does not go into it: say so, not nothing
                skipped.append((shown, f"a link to a folder, not followed: {LINK_ADVICE}"))
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(names):
            f = here / name
            rel = f.relative_to(root)
            if not f.is_file():
                continue
            why = _why_skip(rel, f, exclude)
            if why is None:
                try:
                    text = read_text_file(f)
                except NotUtf8Error as err:
                    not_utf8.append((rel, err))
                    continue
                if text.startswith(REPORT_PREFIX):
                    why = REPORT_WHY
                else:
                    if f.suffix.lower() in HTML_SUFFIXES:  # the words, not the markup
                        text = html_text(text)
                    docs.append(Document(text_name(str(rel)), text, text_name(str(f))))
                    files.append(f)
            if why is not None:
                skipped.append((text_name(str(rel)), why))
    _refuse_not_utf8(root, not_utf8)
    _refuse_one_id_of_two_names(root, docs, files)
    return docs, skipped, files


def _refuse_one_id_of_two_names(root: Path, docs: list[Document], files: list[Path]) -> None:
    r"""One sentence naming, by their bytes, two files whose names :func:`text_name` writes as
    one id: a name with the Latin-1 byte 0xe9 and one that holds the four characters ``é``
    both read ``café.txt``, so dedup refused the folder naming one path twice, and enroll
    put two documents under one label. Ordinary names keep their ids; only such a pair is
    refused."""
    first: dict[str, Path] = {}
    for d, f in zip(docs, files):
        rel = f.relative_to(root)
        if d.id in first:
            a, b = (os.fsencode(first[d.id]), os.fsencode(rel))
            raise ValueError(
                f"{root} holds two files whose names both read as the id {d.id} (a name that is "
                f"not UTF-8 shows its bytes as \\x escapes): {a!r} and {b!r}, by their bytes on "
                "disk; rename one of them"
            )
        first[d.id] = rel


def _refuse_not_utf8(root: Path, bad: list[tuple[Path, NotUtf8Error]]) -> None:
    """One sentence naming every file of the folder ``root`` that is not UTF-8 and where, so
    that the user fixes them all at once, not one per run; a single one keeps its own."""
    if len(bad) == 1:
        raise bad[0][1]
    if bad:
        from siamkit.clauses import listing

        def where(rel: Path, err: NotUtf8Error) -> str:  # "line 1: byte 0xe9 at offset 6"
            said = str(err).removeprefix(f"{root / rel} ").split(" is not UTF-8")[0]
            return f"{text_name(str(rel))} ({text_name(said)})"

        raise NotUtf8Error(
            f"{root} holds {len(bad)} files that are not UTF-8 text: "
            f"{listing([where(rel, err) for rel, err in bad])}; save them as UTF-8, or move "
            "them out of the folder"
        )
