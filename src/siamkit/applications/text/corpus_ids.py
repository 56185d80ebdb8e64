"""A corpus's ids: the field whose name ends in the word id when the file has no ``id``
(:func:`id_like`), and the refusal of an id given twice (:func:`refuse_repeated_ids`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from siamkit.applications.text.documents import Document


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
