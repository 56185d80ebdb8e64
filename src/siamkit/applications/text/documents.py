"""One document: :class:`Document` (a text and its id), and reading one text file as UTF-8
(:func:`read_text_file`), an ``.html`` page as the text it shows (:func:`read_document`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from siamkit.applications.text.html_text import HTML_SUFFIXES, html_text
from siamkit.atomic import NotUtf8Error, read_utf8, relative_note

TEXT_SUFFIXES = {".txt", ".md", ".text", ".rst", ".html", ".htm", ""}
CORPUS_SUFFIXES = {".jsonl", ".csv"}


@dataclass(frozen=True)
class Document:
    """One text of a corpus and the id it is reported under; ``where`` says where it was read
    (``"tickets.jsonl line 3"``), for errors."""

    id: str
    text: str
    where: str = field(default="", compare=False)


def read_text_file(path: str | os.PathLike[str]) -> str:
    """The UTF-8 contents of ``path``; a ``ValueError`` naming the file, line and byte otherwise.

    >>> read_text_file("essay.txt")  # doctest: +SKIP
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p} is not a file{relative_note(p)}")
    return read_utf8(p)  # one sentence naming the file, line and byte, and what to do


def read_document(path: str | os.PathLike[str]) -> str:
    """The text of one document file: :func:`read_text_file`'s, and for ``.html`` / ``.htm``
    the text the page shows (:func:`html_text`), so that markup is neither compared nor
    reported. A file that is not UTF-8 and whose suffix is not a text suffix (an essay.docx,
    a source.pdf) is refused as a document to save as plain text, not as text to re-encode.

    >>> read_document("sources/article.html")  # doctest: +SKIP
    """
    suffix = Path(path).suffix.lower()
    try:
        text = read_text_file(path)
    except NotUtf8Error:
        if suffix and suffix not in TEXT_SUFFIXES and suffix not in CORPUS_SUFFIXES:
            raise NotUtf8Error(
                f"{path} is not a text file (a {suffix} file is not plain text); save or export "
                "it as plain text (.txt) and give that"
            ) from None
        raise
    return html_text(text) if suffix in HTML_SUFFIXES else text


def written_as_a_path(value: str) -> bool:
    """Whether a command-line text ``value`` is written as a path: it holds a path separator
    (``notes/``, ``./data``) or ends in a suffix the corpus readers read (``notes.txt``,
    ``tickets.jsonl``). A word that merely names a file or folder in the current folder (``.``,
    ``data``, ``a``) is not: refusing those left no way to give such a text.

    >>> written_as_a_path("tickets/"), written_as_a_path("new_ticket.txt"), written_as_a_path("data")
    (True, True, False)
    """
    if "\n" in value:
        return False
    if "/" in value or os.sep in value or (os.altsep is not None and os.altsep in value):
        return True
    suffix = os.path.splitext(value)[1].lower()
    return bool(suffix) and suffix in TEXT_SUFFIXES | CORPUS_SUFFIXES | {".json"}
