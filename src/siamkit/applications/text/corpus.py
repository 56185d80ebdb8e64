"""Reading texts: one JSONL/CSV corpus, one file per document, or a folder of files.

Every file is decoded as UTF-8; a file that is not says which file and at which byte. JSONL and CSV
files are read by :func:`~siamkit.applications.text.records.jsonl_objects` and
:func:`~siamkit.applications.text.records.csv_records` (shared with the training pairs' reader),
which name the file and line of anything they cannot read.

Ids (:func:`load_corpus`): the ``id`` field/column when the file has one (``--id-field`` names
another, which must then exist; a CSV's columns are found whatever their case, ``ID``, as the text
column is: :func:`~siamkit.applications.text.records.column_named`); without one, the one field
whose name ends in the word id (``Article ID``, ``article_id``:
:func:`~siamkit.applications.text.corpus_ids.id_like`) when its values are ids, each given once,
said in :attr:`Corpus.id_note`; else the text's line number (JSONL) or row number (CSV). When the
id field exists, every text needs a non-empty id of its own: an empty id is refused rather than
replaced by a number that could equal another text's id, and so is an id given twice (unless the
caller shares ids on purpose: a gallery's labels). A folder's ids are paths relative to it.

An ``.html`` / ``.htm`` file is read as the text a browser shows
(:func:`~siamkit.applications.text.html_text.html_text`): no tags, script, style or head, one
paragraph per block element; so its sentences split as a text file's do, and a plagiarism report
shows and highlights the words, not the markup.

Folders are read recursively; hidden files and folders (``.DS_Store``, ``.git/``), files whose
suffix is not a text suffix (:data:`~siamkit.applications.text.documents.TEXT_SUFFIXES`) and
siamkit's own plagiarism reports are skipped, and :attr:`Corpus.skipped` says which and why.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

from siamkit.applications.text.corpus_folder import REPORT_WHY, _folder
from siamkit.applications.text.corpus_ids import _guess_ids, _text_id, id_like, refuse_repeated_ids
from siamkit.applications.text.documents import (
    CORPUS_SUFFIXES,
    TEXT_SUFFIXES,
    Document,
    read_document,
)
from siamkit.applications.text.html_text import html_text, looks_like_html
from siamkit.applications.text.records import (
    _SEVERAL,
    column_named,
    csv_records,
    joined_text,
    jsonl_objects,
    text_fields,
)
from siamkit.applications.text.text_checks import is_blank, unicode_problem
from siamkit.clauses import counted


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
        """One line per thing left out, e.g. ``skipped 2 blank texts of c.jsonl: ids t3, t9``."""
        from siamkit.clauses import listing

        out = []
        if self.blank:
            where = [d.where.removeprefix(f"{self.path} ") for d in self.blank]
            shown = [d.id if w == d.where else f"{d.id} ({w})" for d, w in zip(self.blank, where)]
            out.append(
                f"skipped {counted(len(self.blank), 'blank text')} of {self.path}: ids "
                f"{listing(shown, limit)}"
            )
        if self.skipped:
            out.append(
                f"skipped {counted(len(self.skipped), 'file')} of {self.path}: "
                + listing([f"{name} ({why})" for name, why in self.skipped], limit)
            )
        return out


def _shown_text(path: Path, docs: list[Document]) -> tuple[list[Document], str]:
    """``docs`` with each text that holds HTML (:func:`looks_like_html`: a CMS export's bodies)
    replaced by the text it shows, and a note naming them, ``""`` if none: read as markup, a
    body's ``<p>`` sentences ran together into one 'sentence' that matched nothing."""
    from siamkit.clauses import listing

    marked = [k for k, d in enumerate(docs) if looks_like_html(d.text)]
    if not marked:
        return docs, ""
    out = list(docs)
    for k in marked:
        out[k] = Document(docs[k].id, html_text(docs[k].text), docs[k].where)
    return out, (
        f"{path}: {counted(len(marked), 'text')} {'holds' if len(marked) == 1 else 'hold'} HTML "
        f"markup (ids {listing([docs[k].id for k in marked], 5)}): "
        "read as the text they show, without tags"
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
        if p.is_dir() and not files and _skipped_text_files(skipped, skip):
            # its text files are all skipped (the suspect itself, hidden, an earlier report):
            # it does hold text files, so say which were skipped, not which files are texts
            hidden = any(why == "hidden" for _, why in skipped)
            raise ValueError(
                f"{p} holds no text to read but the text files it skips ({left_out}); put the "
                "texts to compare beside them"
                + (", or rename the hidden ones without their leading dot" if hidden else "")
                + ", or give another corpus"
            )
        if p.is_dir() and not files:  # no file read: say which files a folder's texts are
            suffixes = " ".join(sorted(s for s in TEXT_SUFFIXES if s))
            raise ValueError(
                f"{p} holds no text files to read (a folder's texts are the files in it and its "
                f"sub-folders ending in {suffixes} or with no suffix)"
                + (f"; {left_out}" if left_out else "")
                + "; put the texts in it as such files, or give a .jsonl or .csv corpus"
            )
        raise ValueError(
            f"{p} holds no non-empty text"
            + (f" ({left_out})" if left_out else "")
            + "; give a corpus with at least one text that has visible characters"
        )
    return corpus


def _skipped_text_files(skipped: list[tuple[str, str]], exclude: Mapping[Path, str]) -> bool:
    """Whether a folder's skipped files include a text file: one skipped as ``exclude`` says (the
    suspect), as a siamkit plagiarism report, or as hidden with a text suffix (``.notes.txt``;
    not ``.DS_Store``)."""
    suffixes = {s for s in TEXT_SUFFIXES if s}
    return any(
        why in exclude.values()
        or why == REPORT_WHY
        or (why == "hidden" and Path(name).suffix.lower() in suffixes)
        for name, why in skipped
    )


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
