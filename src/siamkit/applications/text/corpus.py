"""Reading texts: one JSONL/CSV corpus, one file per document, or a folder of files.

Every file is decoded as UTF-8; a file that is not says which file and at which byte.
"""

from __future__ import annotations

import csv
import io
import json
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

TEXT_SUFFIXES = {".txt", ".md", ".text", ".rst", ".html", ".htm", ""}
_INVISIBLE = {"Zs", "Zl", "Zp", "Cc", "Cf"}  # spaces, controls, format (zero-width, BOM)


def is_blank(text: str) -> bool:
    """Whether ``text`` has no visible character: spaces, control and zero-width characters
    only (``"\u200b"``, ``"\x00"``), which a tokenizer turns into no token at all."""
    if any(c.isalnum() for c in text):
        return False
    return all(unicodedata.category(c) in _INVISIBLE for c in text)


def unicode_problem(text: str) -> str | None:
    """``None``, or what keeps ``text`` from being UTF-8 encoded: a lone surrogate (JSON's
    ``"\ud800"`` escapes decode to one), which the tokenizer cannot take."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return f"a lone surrogate {text[err.start]!a} at character {err.start}"
    return None


@dataclass(frozen=True)
class Document:
    """One text of a corpus and the id it is reported under."""

    id: str
    text: str


def read_text_file(path: str | os.PathLike[str]) -> str:
    """The UTF-8 contents of ``path``; a ``ValueError`` naming the file and byte offset otherwise.

    >>> read_text_file("essay.txt")  # doctest: +SKIP
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p} is not a file")
    data = p.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{p} is not UTF-8 text: byte {err.start} (0x{data[err.start]:02x}) cannot be decoded"
        ) from None


def _jsonl(path: Path, text_field: str, id_field: str) -> list[Document]:
    docs = []
    for n, line in enumerate(read_text_file(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} line {n} is not valid JSON ({err.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get(text_field), str):
            raise ValueError(f"{path} line {n} has no string field {text_field!r}")
        if bad := unicode_problem(row[text_field]):
            raise ValueError(f"{path} line {n}: the text is not valid Unicode ({bad})")
        docs.append(Document(str(row.get(id_field, n)), row[text_field]))
    return docs


def _csv(path: Path, text_field: str, id_field: str) -> list[Document]:
    reader = csv.DictReader(io.StringIO(read_text_file(path), newline=""))
    columns = reader.fieldnames or []
    if text_field not in columns:
        raise ValueError(
            f"{path} has no column {text_field!r} (its columns: {', '.join(columns) or 'none'}); "
            "name the text column with --text-field"
        )
    return [
        Document(str(row.get(id_field) or n), row[text_field] or "")
        for n, row in enumerate(reader, 1)
    ]


def read_corpus(
    path: str | os.PathLike[str], text_field: str = "text", id_field: str = "id"
) -> list[Document]:
    """Documents from a ``.jsonl`` / ``.csv`` file, a single text file, or a folder of text files.

    Empty documents (nothing but spaces, control or zero-width characters) are dropped: they
    have nothing to compare. A folder is read recursively;
    ids are paths relative to it.

    >>> docs = read_corpus("corpus.jsonl")  # doctest: +SKIP
    """
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES)
        docs = [Document(str(f.relative_to(p)), read_text_file(f)) for f in files]
    elif p.suffix.lower() == ".jsonl":
        docs = _jsonl(p, text_field, id_field)
    elif p.suffix.lower() == ".csv":
        docs = _csv(p, text_field, id_field)
    else:
        docs = [Document(p.name, read_text_file(p))]
    docs = [d for d in docs if not is_blank(d.text)]
    if not docs:
        raise ValueError(f"{p} holds no non-empty text")
    return docs
