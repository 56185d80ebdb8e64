"""Reading texts: one JSONL/CSV corpus, one file per document, or a folder of files.

Every file is decoded as UTF-8; a file that is not says which file and at which byte. JSONL and
CSV files are read by :func:`jsonl_objects` and :func:`csv_records` (shared with the training
pairs' reader), which name the file and line of anything they cannot read.

Ids (:func:`load_corpus`): the ``id`` field/column when the file has one (``--id-field`` names
another, which must then exist; a CSV's columns are found whatever their case, ``ID``, as the
text column is: :func:`column_named`); without one, the one field whose name ends in the word id
(``Article ID``, ``article_id``: :func:`id_like`) when its values are ids, each given once, said
in :attr:`Corpus.id_note`; else the text's line number (JSONL) or row number (CSV). When
the id field exists, every text needs a non-empty id of its own: an empty id is refused rather
than replaced by a number that could equal another text's id, and so is an id given twice (unless
the caller shares ids on purpose: a gallery's labels). A folder's ids are paths relative to it.

An ``.html`` / ``.htm`` file is read as the text a browser shows (:func:`html_text`): no tags,
script, style or head, one paragraph per block element; so its sentences split as a text file's
do, and a plagiarism report shows and highlights the words, not the markup.

Folders are read recursively; hidden files and folders (``.DS_Store``, ``.git/``), files whose
suffix is not a text suffix (:data:`TEXT_SUFFIXES`) and siamkit's own plagiarism reports are
skipped, and :attr:`Corpus.skipped` says which and why.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from siamkit.applications.text.html_text import HTML_SUFFIXES, html_text, looks_like_html
from siamkit.atomic import NotUtf8Error, read_utf8, relative_note, same_file

TEXT_SUFFIXES = {".txt", ".md", ".text", ".rst", ".html", ".htm", ""}
CORPUS_SUFFIXES = {".jsonl", ".csv"}
_INVISIBLE = {"Zs", "Zl", "Zp", "Cc", "Cf"}  # spaces, controls, format (zero-width, BOM)
# how every plagiarism report (report_html.render_report) starts: such a file in a corpus folder
# is an earlier run's output, which holds the suspect's text, not a source
REPORT_PREFIX = "<!doctype html><html><head><meta charset='utf-8'><title>Plagiarism report: "


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


def check_texts(texts: object, names: Sequence[str] | None = None) -> list[str]:
    """A list of non-empty strings, or one sentence saying what is wrong; ``names``: what the
    sentence calls each text (``("A", "B")``), by default ``text 0``, ``text 1``, ...

    Here, not beside the PyTorch model, because the torch-free ONNX runtime checks its texts
    too: a tensor can only be given where torch is imported already."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(texts, torch.Tensor):
        raise TypeError(
            f"a text model embeds strings, got a tensor of shape {tuple(texts.shape)} (an image?); "
            "use an image model for images"
        )
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, Sequence) or isinstance(texts, bytes | bytearray):
        raise TypeError(f"a text model embeds a list of strings, got {type(texts).__name__}")
    for i, t in enumerate(texts):
        name = f"text {i}" if names is None else names[i]
        if not isinstance(t, str):  # (a list given where one string goes: name which, and what)
            raise TypeError(
                f"{name} is of type {type(t).__name__}, not str; give each text as a str"
            )
        if is_blank(t):
            raise ValueError(f"{name} is empty; every text needs at least one visible character")
        if bad := unicode_problem(t):
            raise ValueError(f"{name} is not valid Unicode ({bad})")
    return list(texts)


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


def jsonl_objects(path: str | os.PathLike[str]) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` of every non-blank line of a JSONL file; a ``ValueError`` naming
    the file and line of one that is not valid JSON or not a JSON object.

    Lines are split at ``\\n`` only: a JSON string may hold U+2028 and other characters that
    ``str.splitlines`` would cut at.
    """
    p = Path(path)
    rows = []
    for n, line in enumerate(read_text_file(p).split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{p} line {n} is not valid JSON ({err.msg})") from None
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


def csv_records(path: str | os.PathLike[str]) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header's columns and ``(line number, {column: value})`` of every record of a CSV file
    (the line a record starts on; blank lines skipped, and rows of empty fields, ``,,``, which
    Excel writes for the empty rows below a table; a short row's missing fields are ``""``).

    Fields of any length are read. Fields are separated by commas, or by semicolons when the
    header has none but holds a semicolon: Excel's CSV where a comma is the decimal mark
    (German, French, ...), ``A;B;Label``. A ``ValueError`` names the file and line of a record
    the csv module cannot parse (strictly: an unclosed quote is an error, not the rest of the
    file in one field), or of one with more (non-empty) fields than the header has columns.
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


@dataclass(frozen=True)
class Corpus(Sequence[Document]):
    """What :func:`load_corpus` read: ``docs`` to work on; ``blank``: documents dropped for
    having no visible character; ``skipped``: ``(path, why)`` of a folder's files not read;
    ``files``: the files read (to check an output file against); ``id_note``: where the ids
    came from when the file has no ``id`` field (:func:`id_like`), else ``""``.

    A corpus is also the sequence of its ``docs`` (``len``, indexing, iteration), so it goes
    wherever a list of documents does, e.g. :func:`~siamkit.applications.text.plagiarism.find_plagiarism`.
    """

    path: Path
    docs: list[Document]
    blank: list[Document]
    skipped: list[tuple[str, str]]
    files: list[Path]
    id_note: str = ""  # where the ids came from, when the file has no id field of that name
    html_note: str = ""  # which texts of a JSONL/CSV were HTML, read as the text they show

    @overload
    def __getitem__(self, index: int) -> Document: ...

    @overload
    def __getitem__(self, index: slice) -> list[Document]: ...

    def __getitem__(self, index: int | slice) -> Document | list[Document]:
        return self.docs[index]

    def __len__(self) -> int:
        return len(self.docs)

    def notes(self, limit: int = 10) -> list[str]:
        """Where the ids came from when the file has no ``id`` field (:attr:`id_note`), then
        :meth:`left_out`'s lines."""
        said = [n for n in (self.id_note, self.html_note) if n]
        return said + self.left_out(limit)

    def left_out(self, limit: int = 10) -> list[str]:
        """One line per thing left out, e.g. ``skipped 2 blank text(s): ids t3, t9``."""
        from siamkit.index.results import listing

        out = []
        if self.blank:
            where = [d.where.removeprefix(f"{self.path} ") for d in self.blank]
            shown = [d.id if w == d.where else f"{d.id} ({w})" for d, w in zip(self.blank, where)]
            out.append(
                f"skipped {len(self.blank)} blank text(s) of {self.path}: ids {listing(shown, limit)}"
            )
        if self.skipped:
            out.append(
                f"skipped {len(self.skipped)} file(s) of {self.path}: "
                + listing([f"{name} ({why})" for name, why in self.skipped], limit)
            )
        return out


def _shown_text(path: Path, docs: list[Document]) -> tuple[list[Document], str]:
    """``docs`` with each text that holds HTML (:func:`looks_like_html`: a CMS export's bodies)
    replaced by the text it shows, and a note naming them, ``""`` if none: read as markup, a
    body's ``<p>`` sentences ran together into one 'sentence' that matched nothing."""
    from siamkit.index.results import listing

    marked = [k for k, d in enumerate(docs) if looks_like_html(d.text)]
    if not marked:
        return docs, ""
    out = list(docs)
    for k in marked:
        out[k] = Document(docs[k].id, html_text(docs[k].text), docs[k].where)
    return out, (
        f"{path}: {len(marked)} text(s) hold HTML markup (ids {listing([docs[k].id for k in marked], 5)}): "
        "read as the text they show, without tags"
    )


def _text_id(value: object) -> str | None:
    """A JSON id as text: strings as they are, whole numbers in decimal; ``None`` otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def id_like(names: Iterable[str]) -> list[str]:
    """The names whose last word, of two or more, is ``id``: a spreadsheet's ``Article ID``,
    ``article_id``, ``ArticleId``; not ``id`` itself (read as it is), ``Valid`` or ``GUID``.

    >>> id_like(["Article ID", "Title", "Body", "Valid", "doc_id"])
    ['Article ID', 'doc_id']
    """
    out = []
    for name in names:
        words = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", name)
        if len(words) > 1 and words[-1].casefold() == "id":
            out.append(name)
    return out


def _guess_ids(
    path: Path,
    names: Sequence[str],
    values: Mapping[str, Sequence[object]],
    unique: bool,
    kind: str,
) -> tuple[str | None, str]:
    """With no ``id`` field or column: the one :func:`id_like` field whose values are all
    non-empty ids (and distinct when ``unique``), and a note saying it is read as the ids; else
    ``None`` (the texts are numbered) and a note naming the candidates it did not read, if any.
    ``kind``: ``"column"`` or ``"field"``; ``values``: each candidate's values, row by row."""
    found = id_like(names)
    numbered = "line" if kind == "field" else "row"
    if not found:
        return None, ""
    if len(found) == 1:
        name, vals = found[0], values[found[0]]
        ids = [_text_id(v) for v in vals]
        if all(i is not None and i.strip() for i in ids) and (
            not unique or len(set(ids)) == len(ids)
        ):
            return name, (
                f"{path}: ids from the {kind} {name!r} (it has no {kind} 'id'; --id-field names "
                "another)"
            )
        why = "empty, not an id, or repeated" if unique else "empty or not an id"
        return None, (
            f"{path}: texts numbered by {numbered}: the {kind} {name!r} has values {why}; "
            f"name an id {kind} with --id-field"
        )
    return None, (
        f"{path}: texts numbered by {numbered}: it has no {kind} 'id' but {len(found)} that may "
        f"hold ids ({', '.join(found)}); name the one to report texts by with --id-field"
    )


def _jsonl(
    path: Path, text_field: str, id_field: str | None, unique: bool = True
) -> tuple[list[Document], str]:
    rows = jsonl_objects(path)
    key = id_field or "id"
    has_ids = any(key in row for _, row in rows)
    note = ""
    keys = list(dict.fromkeys(k for _, row in rows for k in row))
    fields = text_fields(text_field, keys, any_case=False)  # "title,body": one text of both
    if id_field is None and not has_ids:  # "article_id": its ids were replaced by line numbers
        names = list(dict.fromkeys(k for _, row in rows for k in row if k not in fields))
        values = {k: [row.get(k) for _, row in rows] for k in id_like(names)}
        guessed, note = _guess_ids(path, names, values, unique, "field")
        if guessed is not None:
            key, has_ids = guessed, True
    if id_field is not None and rows and not has_ids:
        raise ValueError(
            f"{path} has no field {id_field!r} on any line; name the id field with --id-field"
        )
    for name in fields:
        if rows and not any(name in row for _, row in rows):
            n, first = rows[0]
            raise ValueError(
                f"{path} has no field {name!r} on any line (line {n}'s fields: "
                f"{', '.join(map(str, first)) or 'none'}); name the text field with --text-field"
                f"{_SEVERAL}"
            )
    docs = []
    for n, row in rows:
        where = f"{path} line {n}"
        for name in fields:
            if name not in row:
                raise ValueError(
                    f"{where} has no field {name!r}, though other lines have one; give every "
                    "line its text"
                )
            if not isinstance(row[name], str):
                raise ValueError(
                    f"{where}: the field {name!r} is {json.dumps(row[name])[:40]}, not a "
                    "string; give the text as a JSON string"
                )
            if bad := unicode_problem(row[name]):
                raise ValueError(f"{where}: the text is not valid Unicode ({bad})")
        text = joined_text([row[name] for name in fields])
        if not has_ids:
            docs.append(Document(str(n), text, where))
            continue
        if key not in row:
            raise ValueError(f"{where} has no {key!r}, though other lines have one")
        text_id = _text_id(row[key])
        if text_id is None:
            raise ValueError(
                f"{where}: the id {key!r} is {json.dumps(row[key])[:40]}, not a string or a "
                "whole number"
            )
        if not text_id.strip():
            raise ValueError(f"{where} has an empty id ({key!r})")
        if bad := unicode_problem(text_id):  # outputs are UTF-8, which it cannot be written in
            raise ValueError(f"{where}: the id {key!r} is not valid Unicode ({bad})")
        docs.append(Document(text_id, text, where))
    return docs, note


def _csv(
    path: Path, text_field: str, id_field: str | None, unique: bool = True
) -> tuple[list[Document], str]:
    columns, records = csv_records(path)
    if not columns:
        raise ValueError(
            f"{path} is empty; a CSV corpus starts with a header row naming its columns (the "
            f"texts under {text_field!r}, or name that column with --text-field)"
        )

    def missing(col: str, option: str) -> ValueError:
        return ValueError(
            f"{path} has no column {col!r} (its columns: {', '.join(columns) or 'none'}); "
            f"name the {option.removesuffix('-field')} column with --{option}"
            + (_SEVERAL if option == "text-field" else "")
        )

    # a spreadsheet's "ID,Body" for --text-field body and the default id column: its ids
    # were replaced by row numbers without a word
    fields = text_fields(text_field, columns)  # "title,body": one text of both columns
    for name in fields:
        if name not in columns:
            raise missing(name, "text-field")
    if id_field is not None and (id_field := column_named(columns, id_field)) not in columns:
        raise missing(id_field, "id-field")
    key = id_field or (ids if (ids := column_named(columns, "id")) in columns else None)
    note = ""
    if key is None:  # "Article ID": its ids were replaced by row numbers without a word
        names = [c for c in columns if c not in fields]
        values = {c: [row[c] for _, row in records] for c in id_like(names)}
        key, note = _guess_ids(path, names, values, unique, "column")
    docs = []
    for n, (line, row) in enumerate(records, 1):
        where = f"{path} line {line}"
        text = joined_text([row[name] for name in fields])
        if key is None:
            docs.append(Document(str(n), text, where))
            continue
        if not row[key].strip():
            raise ValueError(f"{where} has an empty id (column {key!r})")
        docs.append(Document(row[key], text, where))
    return docs, note


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
        return f"not a text file: {' '.join(sorted(s for s in TEXT_SUFFIXES if s))} or no suffix"
    return None


def _folder(
    root: Path, exclude: Mapping[Path, str]
) -> tuple[list[Document], list[tuple[str, str]], list[Path]]:
    docs, skipped, files = [], [], []
    not_utf8: list[tuple[Path, NotUtf8Error]] = []  # every one, said together after the walk
    for folder, subdirs, names in os.walk(root):
        here = Path(folder)
        for d in sorted(subdirs):
            if d.startswith("."):
                skipped.append((f"{(here / d).relative_to(root)}{os.sep}", "hidden folder"))
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
                    why = "a siamkit plagiarism report"
                else:
                    if f.suffix.lower() in HTML_SUFFIXES:  # the words, not the markup
                        text = html_text(text)
                    docs.append(Document(str(rel), text, str(f)))
                    files.append(f)
            if why is not None:
                skipped.append((str(rel), why))
    _refuse_not_utf8(root, not_utf8)
    return docs, skipped, files


def _refuse_not_utf8(root: Path, bad: list[tuple[Path, NotUtf8Error]]) -> None:
    """One sentence naming every file of the folder ``root`` that is not UTF-8 and where, so
    that the user fixes them all at once, not one per run; a single one keeps its own."""
    if len(bad) == 1:
        raise bad[0][1]
    if bad:
        from siamkit.index.results import listing

        def where(rel: Path, err: NotUtf8Error) -> str:  # "line 1: byte 0xe9 at offset 6"
            said = str(err).removeprefix(f"{root / rel} ").split(" is not UTF-8")[0]
            return f"{rel} ({said})"

        raise NotUtf8Error(
            f"{root} holds {len(bad)} files that are not UTF-8 text: "
            f"{listing([where(rel, err) for rel, err in bad])}; save them as UTF-8, or move "
            "them out of the folder"
        )


def refuse_repeated_ids(
    docs: Iterable[Document], noun: str = "text", file: str = "", hint: str = ""
) -> None:
    """One sentence naming both documents when two share an id: each by its ``where``, else by
    its place in ``docs`` (``"source 1 repeats the id 's' of source 0"``). ``file``: the file
    every ``where`` begins with, left out of the earlier one's name (``"of line 1"``);
    ``hint``: said after the sentence's end (how to name another id field).

    >>> refuse_repeated_ids([Document("s", "one"), Document("s", "two")], "source")
    Traceback (most recent call last):
    ValueError: source 1 repeats the id 's' of source 0; every source needs an id of its own
    """
    first: dict[str, str] = {}
    for k, d in enumerate(docs):
        here = d.where or f"{noun} {k}"
        if d.id in first:
            there = first[d.id].removeprefix(f"{file} ") if file else first[d.id]
            raise ValueError(
                f"{here} repeats the id {d.id[:80]!r} of {there}; every {noun} needs an id of "
                f"its own{hint}"
            )
        first[d.id] = here


def load_corpus(
    path: str | os.PathLike[str],
    text_field: str = "text",
    id_field: str | None = None,
    *,
    unique_ids: bool = True,
    exclude: Mapping[str | os.PathLike[str], str] | None = None,
) -> Corpus:
    """Documents from a ``.jsonl`` / ``.csv`` file, a single text file, or a folder of text files
    (see the module's notes on ids and skipped files).

    ``id_field``: ``None`` reads the ``id`` field/column when there is one, else numbers the
    texts; a name given must exist. ``unique_ids``: refuse an id given twice (naming both lines).
    ``exclude``: ``{file: why}`` of files a folder corpus must not read (the suspect of a
    plagiarism check); they are listed in :attr:`Corpus.skipped`.

    Documents with no visible character are dropped into :attr:`Corpus.blank`; a corpus with
    nothing left is a ``ValueError`` that says what was skipped.

    >>> corpus = load_corpus("sources/", exclude={"essay.txt": "the suspect itself"})  # doctest: +SKIP
    """
    p = Path(path)
    skip = {Path(k): v for k, v in (exclude or {}).items()}
    skipped: list[tuple[str, str]] = []
    id_note = html_note = ""
    suffix = p.suffix.lower()
    if p.is_dir():
        docs, skipped, files = _folder(p, skip)
    elif suffix == ".json":
        raise ValueError(
            f"{p}: a corpus is a .jsonl file (one JSON object per line), a .csv file, a text file "
            "or a folder; write the JSON array's objects one per line as .jsonl"
        )
    else:
        files = [p]
        if suffix == ".jsonl":
            docs, id_note = _jsonl(p, text_field, id_field, unique_ids)
        elif suffix == ".csv":
            docs, id_note = _csv(p, text_field, id_field, unique_ids)
        else:
            docs = [Document(p.name, read_document(p), str(p))]
        if suffix in CORPUS_SUFFIXES:  # a CMS export's HTML bodies
            docs, html_note = _shown_text(p, docs)
    if unique_ids:
        refuse_repeated_ids(docs, file=str(p), hint=" (--id-field names the id field)")
    corpus = Corpus(
        p,
        [d for d in docs if not is_blank(d.text)],
        [d for d in docs if is_blank(d.text)],
        skipped,
        files,
        id_note,
        html_note,
    )
    if not corpus.docs:
        left_out = "; ".join(corpus.left_out())
        raise ValueError(
            f"{p} holds no non-empty text"
            + (f" ({left_out})" if left_out else "")
            + "; give a corpus with at least one text that has visible characters"
        )
    return corpus


def read_corpus(
    path: str | os.PathLike[str],
    text_field: str = "text",
    id_field: str | None = None,
    unique_ids: bool = True,
) -> list[Document]:
    """The non-blank documents of :func:`load_corpus` (ids unique unless ``unique_ids=False``).

    >>> docs = read_corpus("corpus.jsonl")  # doctest: +SKIP
    """
    return load_corpus(path, text_field, id_field, unique_ids=unique_ids).docs
