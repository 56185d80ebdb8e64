"""JSONL objects and CSV records of one file, each with the line it was read on, shared by the
corpus reader and the training pairs' reader; a file, line or field they cannot read is named
in one sentence. ``--text-field title,body`` names several fields read as one text."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from siamkit.applications.text.documents import read_text_file
from siamkit.applications.text.text_checks import is_blank


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's dict, or :class:`_RepeatedKey` for a key it names twice (``json.loads``
    keeps the last one without a word)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _RepeatedKey(key)
        out[key] = value
    return out


def jsonl_objects(path: str | os.PathLike[str]) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` of every non-blank line of a JSONL file; a ``ValueError`` naming
    the file and line of one that is not valid JSON, not a JSON object, or names a key twice.

    Lines are split at ``\\n`` only: a JSON string may hold U+2028 and other characters that
    ``str.splitlines`` would cut at.
    """
    p = Path(path)
    rows = []
    for n, line in enumerate(read_text_file(p).split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as err:
            raise ValueError(f"{p} line {n} is not valid JSON ({err.msg})") from None
        except _RepeatedKey as err:
            raise ValueError(
                f"{p} line {n} names the key {err.key!r} twice; keep one of them, since only one "
                "can be read"
            ) from None
        if not isinstance(row, dict):
            raise ValueError(f"{p} line {n} is not a JSON object (it is a {type(row).__name__})")
        rows.append((n, row))
    return rows


def _raise_field_limit() -> None:
    """Let the csv module read fields of any length (its default stops at 131,072 characters):
    ``sys.maxsize``, halved until the platform's C ``long`` takes it (32 bits on Windows)."""
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 2


def column_named(columns: Sequence[str], name: str) -> str:
    """``name``, or the one column of ``columns`` that is ``name`` but for case and surrounding
    spaces (a spreadsheet's header ``ID,Body`` or ``A,B,Label``); ``name`` when there is none
    or several (the error for a missing column then lists them).

    >>> column_named(["ID", "Body"], "id"), column_named(["Label", "LABEL"], "label")
    ('ID', 'label')
    """
    if name in columns:
        return name
    alike = [c for c in columns if c.strip().casefold() == name.strip().casefold()]
    return alike[0] if len(alike) == 1 else name


_SEVERAL = " (several, comma-separated, are read as one text: --text-field title,body)"


def text_fields(name: str, names: Sequence[str], any_case: bool = True) -> list[str]:
    """The fields ``--text-field`` names among ``names`` (a CSV header, a JSONL file's keys):
    ``name`` itself when a field is so named or it holds no comma, else its comma-separated
    parts (``title,body``); with ``any_case`` (a CSV header) each is read as
    :func:`column_named` reads one.

    >>> text_fields("title, body", ["ID", "Title", "Body"]), text_fields("a,b", ["a,b"])
    (['Title', 'Body'], ['a,b'])
    """

    def find(part: str) -> str:
        return column_named(names, part) if any_case else part

    if find(name) in names or "," not in name:
        return [find(name)]
    return [find(part.strip()) for part in name.split(",") if part.strip()] or [name]


def joined_text(values: Sequence[str]) -> str:
    r"""One text of several fields' values (a ticket's title and body): the value itself for one
    field; else the non-blank ones, stripped, each its own paragraph (a blank line between, so a
    title without a full stop is a sentence of its own).

    >>> joined_text(["Printer jams", "", "It jams on page 2."])
    'Printer jams\n\nIt jams on page 2.'
    """
    if len(values) == 1:
        return values[0]
    return "\n\n".join(v.strip() for v in values if not is_blank(v))


def _delimiter(text: str) -> str:
    """``;`` when the first non-blank line (the header) holds a semicolon and no comma, else
    ``,``: a semicolon-separated file read with commas is one column, whose rows then split
    wherever a text holds a comma."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    return ";" if ";" in header and "," not in header else ","


def _refuse_repeated_columns(p: Path, header: list[str]) -> None:
    """Refuse a header naming a column twice (``a,b,label,label``), whose rows a dict would
    read from the last one without a word; blank names (a spreadsheet's trailing ``,,``) are
    left alone, as no column is read by them."""
    seen: dict[str, int] = {}
    for i, name in enumerate(header, 1):
        if not name.strip():
            continue
        if name in seen:
            raise ValueError(
                f"{p} names the column {name!r} twice in its header (columns {seen[name]} and "
                f"{i}); rename or remove one of them, since only one can be read"
            )
        seen[name] = i


def csv_records(path: str | os.PathLike[str]) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header's columns and ``(line number, {column: value})`` of every record of a CSV file
    (the line a record starts on; blank lines skipped, and rows of empty fields, ``,,``, which
    Excel writes for the empty rows below a table; a short row's missing fields are ``""``).

    Fields of any length are read. Fields are separated by commas, or by semicolons when the
    header has none but holds a semicolon: Excel's CSV where a comma is the decimal mark
    (German, French, ...), ``A;B;Label``. A ``ValueError`` names the file and line of a record
    the csv module cannot parse (strictly: an unclosed quote is an error, not the rest of the
    file in one field), or of one with more (non-empty) fields than the header has columns; one
    names a column the header names twice.
    """
    p = Path(path)
    _raise_field_limit()
    text = read_text_file(p)
    # strict: a quote left open or a stray quote after a closing one is an error, where the
    # lenient reader would swallow the rest of the file into one field or keep the quote
    sep = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    header: list[str] | None = None
    records: list[tuple[int, dict[str, str]]] = []
    start = 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            # a blank line, or a spreadsheet's empty row (",,"; a one-field row of spaces is a
            # blank text, which the corpus reports)
            if not row or (len(row) > 1 and not any(v.strip() for v in row)):
                continue
            if header is None:
                header = row
                _refuse_repeated_columns(p, header)
                continue
            if len(row) > len(header) and any(v.strip() for v in row[len(header) :]):
                raise ValueError(
                    f"{p} line {line} has {len(row)} fields but the header has {len(header)} "
                    f"columns; quote a field that holds a {'comma' if sep == ',' else 'semicolon'}"
                )
            records.append((line, dict(zip(header, row + [""] * (len(header) - len(row))))))
    except csv.Error as err:
        hint = "; a quoted field is not closed" if "end of data" in str(err) else ""
        raise ValueError(f"{p} line {start} is not valid CSV ({err}{hint})") from None
    return header or [], records
