"""Training examples for text twins: pairs with a label or graded score, triplets, or
(anchor, positive) pairs; read from CSV or JSONL with every field checked.
"""

from __future__ import annotations

import math
import os
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from siamkit.applications.text.records import column_named, csv_records, jsonl_objects
from siamkit.applications.text.text_checks import is_blank, unicode_problem
from siamkit.clauses import in_number, listed

FORMATS = {
    "pairs": ("a", "b", "label"),  # label 0/1, or a graded score with score_range
    "triplets": ("anchor", "positive", "negative"),
    "anchor_positive": ("anchor", "positive"),
}


@dataclass(frozen=True)
class TextExamples:
    """Columns of texts (``texts[k]`` is the k-th field of every example) and, for pairs,
    ``targets`` (labels or scores scaled to [0, 1])."""

    format: str
    texts: tuple[tuple[str, ...], ...]
    targets: tuple[float, ...] | None

    def __len__(self) -> int:
        return len(self.texts[0])

    def subset(self, idx: Sequence[int]) -> TextExamples:
        t = None if self.targets is None else tuple(self.targets[i] for i in idx)
        return TextExamples(self.format, tuple(tuple(c[i] for i in idx) for c in self.texts), t)


def _rows(path: Path) -> tuple[list[tuple[int, dict[str, object]]], list[str]]:
    """``(line number, row)`` of every example and the columns found; both formats are read by
    the corpus readers, which name the file and line of anything they cannot read."""
    if path.suffix.lower() == ".jsonl":
        objects = jsonl_objects(path)
        return list(objects), sorted({k for _, r in objects for k in r})
    if path.suffix.lower() == ".csv":
        columns, records = csv_records(path)
        return [(n, dict(r)) for n, r in records], columns
    what = "a folder" if path.is_dir() else f"a {path.suffix} file" if path.suffix else "a file"
    raise ValueError(
        f"{path} is {what}; text pairs and triplets are read from a .csv or .jsonl file"
    )


def read_examples(
    path: str | os.PathLike[str],
    format: str = "pairs",
    columns: dict[str, str] | None = None,
    score_range: tuple[float, float] | None = None,
    scores_hint: str = "label each pair 0 or 1, or give data.score_range for graded scores",
    columns_key: str | None = None,
    notes: list[str] | None = None,
    columns_of: str | None = None,
    read_for: Literal["training", "evaluation"] = "training",
) -> TextExamples:
    """Read ``format`` examples; ``columns`` renames fields (e.g. ``{"label": "score"}``). A
    column is found whatever its case and surrounding spaces when the file has one such column
    (a spreadsheet's header ``A,B,Label``).

    Pairs: the target column holds 0/1 labels (:data:`LABEL_WORDS` true/false and yes/no read as
    1/0), or scores within ``score_range`` (scaled to [0, 1]; a decimal comma, ``4,5``, is read
    as Excel writes it where the comma is the decimal mark).
    ``scores_hint`` ends the error for a label that is neither 0 nor 1 (without ``score_range``):
    what the caller's user can do about it. ``columns_key``: the setting that maps fields to
    columns (``"data.columns"``), or a command's option (``"--columns"``, read by
    :func:`parse_columns`), which the error for a missing column tells the user to give;
    without it the error names the columns the file needs. ``notes`` gets the line said about
    whole 0s and 1s among fractional scores (see :class:`_Scores`), which may be 0/1 labels;
    ``read_for`` (``"training"`` or ``"evaluation"``) says what such a 1 would do there.
    ``columns_of``: the file read before with the same ``columns`` (``data.train``, for
    ``data.val``), which the error for a missing column tells this one to match.

    >>> read_examples("pairs.csv", "pairs", score_range=(0, 5))  # doctest: +SKIP
    """
    if format not in FORMATS:
        raise ValueError(f"data format is one of {', '.join(FORMATS)}, got {format!r}")
    p = Path(path)
    rows, found = _rows(p)
    if not rows and not found:  # (a header alone holds no examples either: said below)
        how = "a JSON object a line" if p.suffix.lower() == ".jsonl" else "a header, then a row"
        wanted = ", ".join(str((columns or {}).get(f, f)) for f in FORMATS[format])  # as mapped
        raise ValueError(f"{p} is empty; give it {how} per example ({wanted})")
    names = {f: column_named(found, (columns or {}).get(f, f)) for f in FORMATS[format]}
    missing = {f: n for f, n in names.items() if n not in found}
    if missing:
        held = "columns that hold them" if len(missing) > 1 else "column that holds it"
        if columns_key and columns_key.startswith("--"):  # a command's option (parse_columns)
            given = {f: "COLUMN" if f in missing else n for f, n in names.items()}
            example = ",".join(f"{f}={n}" for f, n in given.items())
            fix = f"name the {held} with {columns_key} {example}"
        elif columns_of:  # data.columns reads another file too, which has the columns
            fix = (
                f"{columns_key or 'data.columns'} names the columns of this file and of "
                f"{columns_of} alike: name them {', '.join(names.values())} here too"
            )
        elif columns_key:
            keys = listed([f"{columns_key}.{f}" for f in missing])
            fix = f"set {keys} to the {held}"
        else:
            fix = f"{format} need the columns {', '.join(names.values())}"
        quoted = ", ".join(map(repr, missing.values()))
        raise ValueError(
            f"{p} has no {in_number(len(missing), 'column')} {quoted} (its columns: "
            f"{', '.join(found) or 'none'}); {fix}"
        )
    fields = [f for f in FORMATS[format] if f != "label"]
    texts: list[list[str]] = [[] for _ in fields]
    targets: list[float] = []
    range_key = "--score-range" if columns_key and columns_key.startswith("--") else None
    scores = _Scores(p, names.get("label", "label"), score_range, range_key, read_for)
    for n, row in rows:
        for k, f in enumerate(fields):
            value = row.get(names[f])
            # is_blank, not str.strip: a zero-width or control-only text passed here and was
            # refused mid-run as "text 21 is empty", naming neither the file nor the line
            if not isinstance(value, str) or is_blank(value):
                raise ValueError(
                    f"{p} line {n}: {names[f]!r} is empty or not text; give every example its "
                    "texts, or remove the line"
                )
            if bad := unicode_problem(value):
                raise ValueError(
                    f"{p} line {n}: {names[f]!r} is not valid Unicode ({bad}); correct the text"
                )
            texts[k].append(value)
        if format == "pairs":
            targets.append(scores.read(row.get(names["label"]), n, scores_hint))
    if not rows:
        raise ValueError(f"{p} holds no examples")
    if notes is not None and (note := scores.labels_among_scores()):
        notes.append(note)
    if format == "anchor_positive":
        _refuse_negatives(p, rows, column_named(found, (columns or {}).get("label", "label")))
    return TextExamples(format, tuple(map(tuple, texts)), tuple(targets) if targets else None)


def _refuse_negatives(p: Path, rows: list[tuple[int, dict[str, object]]], col: str) -> None:
    """Refuse anchor_positive rows that a label column ``col`` labels 0 (0, false, no): every
    pair is read as a positive, so a pairs file of duplicates and non-duplicates given as
    anchor_positive trained its non-duplicates as duplicates without a word."""
    zero = [n for n, row in rows if _is_zero(row.get(col))]
    if zero:
        raise ValueError(
            f"{p} labels {len(zero)} of its {len(rows)} pairs 0 in its column {col!r} (line "
            f"{zero[0]} first), and data.format anchor_positive trains every pair as a "
            "positive: keep only the pairs labelled 1, or train on the labels with data.format "
            "pairs and loss contrastive"
        )


def _is_zero(value: object) -> bool:
    """Whether a label cell reads as 0: 0, 0.0, false or no (any case), JSON's false or 0."""
    if isinstance(value, str):
        text = value.strip().casefold()
        if text in LABEL_WORDS:
            return LABEL_WORDS[text] == 0.0
        try:
            return float(text) == 0.0
        except ValueError:
            return False
    return isinstance(value, (bool, int, float)) and float(value) == 0.0


def parse_columns(text: str | None, option: str = "--columns") -> dict[str, str] | None:
    """``"a=ticket_one,b=ticket_two,label=is_duplicate"`` -> ``{"a": "ticket_one", ...}``: the
    columns of a pairs file holding the fields a, b and label (the mapping ``data.columns``
    gives training, for a command's ``option``); ``None`` for ``None``. A field given twice, one
    that pairs do not have, or an entry without ``=`` is refused in one sentence."""
    if text is None:
        return None
    fields = FORMATS["pairs"]
    out: dict[str, str] = {}
    for entry in text.split(","):
        field, eq, column = (s.strip() for s in entry.partition("="))
        if not eq or not field or not column:
            raise ValueError(
                f"{option} {text!r}: {entry.strip()!r} is not FIELD=COLUMN; give e.g. "
                f"{option} a=ticket_one,b=ticket_two,label=is_duplicate"
            )
        if field.lower() not in fields:
            raise ValueError(
                f"{option} {text!r}: pairs have no field {field!r}; name the columns of "
                f"{', '.join(fields)} (e.g. {option} a=ticket_one,b=ticket_two,label=is_duplicate)"
            )
        if field.lower() in out:
            raise ValueError(f"{option} {text!r}: {field!r} is given twice; give it once")
        out[field.lower()] = column
    return out


def read_labelled_pairs(
    path: str | os.PathLike[str],
    purpose: str,
    columns: dict[str, str] | None = None,
    columns_key: str | None = None,
) -> TextExamples:
    """Pairs labelled 1 (same) and 0 (not the same), both present: what fitting a verification
    threshold needs. ``purpose`` names the caller in the errors (e.g. ``"calibration"``);
    ``columns`` and ``columns_key`` as :func:`read_examples` takes them.

    >>> read_labelled_pairs("val.csv", "calibration")  # doctest: +SKIP
    """
    need = f"{purpose} needs pairs labelled 1 (same) and 0 (not the same)"
    ex = read_examples(path, "pairs", columns, scores_hint=need, columns_key=columns_key)
    present = sorted(set(ex.targets or ()))
    if present != [0.0, 1.0]:
        raise ValueError(f"{need}; {path} has only label {int(present[0])}")
    return ex


LABEL_WORDS = {"true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}
"""Label words read as 0/1 (any case), as JSON's ``true`` and ``false`` are: a spreadsheet's
checkbox column exports as TRUE/FALSE (Excel, Google Sheets), a "duplicate?" column as yes/no."""


_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")


_WHOLE = re.compile(r"[+-]?\d+")


_READ_AS = {"training": "trains as", "evaluation": "is evaluated as"}
"""What a 0/1 label read as a graded score does, by what the pairs are read for."""


class _Scores:
    """The target column ``col`` of pairs file ``p`` read row by row (:meth:`read`): 0/1 labels,
    or scores on ``rng`` scaled to [0, 1]. ``range_key`` names the setting of the range in the
    errors (default ``data.score_range``; a command's ``--score-range``); ``read_for``: whether
    the pairs are read for training or for an evaluation, which the line's verb follows.

    Under a range other than [0, 1], 0/1 labels among the scores would train as the scores 0
    and 1 on that scale (a "1" meant as "duplicate" as 1 of 5). A label word (yes/no,
    true/false, JSON's true/false) is never a score: it is refused. Whole numbers may be either:
    once the file is read, :meth:`labels_among_scores` gives a line when the values written as
    whole numbers (``1``, not ``1.0``; JSON's ``1``, not ``1.0``) are 0 and 1 alone, a 1 among
    them, beside values written as fractions, as a 0/1 file joined to a graded one is; it is a
    line, not a refusal, since a small graded file written by Excel (which writes 1.0 as ``1``)
    can look the same. A graded file of whole scores writes other whole numbers too (``0`` to
    ``5``), and one that writes a 1 as ``1.0`` gives no line; a column of 0/1 alone (no
    fractions) has its own line in a training run
    (:func:`~siamkit.applications.text.train_checks.labels_read_as_scores`)."""

    def __init__(
        self,
        p: Path,
        col: str,
        rng: tuple[float, float] | None,
        range_key: str | None,
        read_for: Literal["training", "evaluation"] = "training",
    ) -> None:
        if read_for not in _READ_AS:
            raise ValueError(f"read_for is 'training' or 'evaluation', got {read_for!r}")
        self.p, self.col, self.rng, self.read_as = p, col, rng, _READ_AS[read_for]
        self.key = range_key or "data.score_range"
        self.check = rng is not None and tuple(rng) != (0.0, 1.0)
        self.whole: dict[float, int] = {}  # a value written as a whole number -> its first line
        self.whole_count = 0  # values written as the whole numbers 0 or 1
        self.fraction: tuple[int, object] | None = None  # the first value written otherwise

    def read(self, value: object, n: int, hint: str) -> float:
        """The target of line ``n`` (``hint``: as :func:`read_examples` takes it)."""
        if self.check:
            self._note(value, n)
        return _target(value, self.rng, self.p, n, self.col, hint, self.key)

    def _note(self, value: object, n: int) -> None:
        rng = self.rng
        assert rng is not None
        word = isinstance(value, bool) or (
            isinstance(value, str) and value.strip().casefold() in LABEL_WORDS
        )
        if word:
            raise ValueError(
                f"{self.p} line {n}: {self.col}={value!r} is a 0/1 label, but {self.key} "
                f"[{rng[0]:g}, {rng[1]:g}] reads {self.col} as graded scores on that scale; "
                f"{self._fix()}"
            )
        text = value.strip() if isinstance(value, str) else value
        whole = isinstance(text, int) or (isinstance(text, str) and _WHOLE.fullmatch(text))
        if whole:
            x = float(text)  # type: ignore[arg-type]
            self.whole.setdefault(x, n)
            self.whole_count += x in (0.0, 1.0)
        elif self.fraction is None and text not in (None, ""):
            self.fraction = (n, text)

    def _fix(self) -> str:
        null = "set data.score_range: null" if self.key == "data.score_range" else "leave out "
        null += "" if self.key == "data.score_range" else self.key
        assert self.rng is not None
        return (
            f"{null} if every pair is labelled 0/1, else write each label as a score on "
            f"[{self.rng[0]:g}, {self.rng[1]:g}] (a duplicate as {self.rng[1]:g})"
        )

    def labels_among_scores(self) -> str | None:
        """The line on whole 0s and 1s beside fractions (see the class), naming a line of each;
        None when the column has none such."""
        if not self.check or self.fraction is None or 1.0 not in self.whole:
            return None
        if set(self.whole) - {0.0, 1.0}:
            return None
        rng = self.rng
        assert rng is not None
        (n, shown), one = self.fraction, self.whole[1.0]
        return (
            f"{self.p}: {self.col} holds {self.whole_count} whole 0s and 1s (line {one}: 1) "
            f"beside fractional scores (line {n}: {shown}) on {self.key} [{rng[0]:g}, "
            f"{rng[1]:g}]: if they are 0/1 labels, a 1 meant as a duplicate {self.read_as} a "
            f"score of 1 on that scale; write each 0/1 label as a score on it (a duplicate as "
            f"{rng[1]:g}), or a score that is 1 as 1.0"
        )


def _target(
    value: object,
    rng: tuple[float, float] | None,
    p: Path,
    n: int,
    col: str,
    hint: str,
    key: str = "data.score_range",
) -> float:
    where = f"{p} line {n}: {col}"
    if value is None or (isinstance(value, str) and not value.strip()):
        need = "a label 0 or 1" if rng is None else f"a score in [{rng[0]:g}, {rng[1]:g}]"
        raise ValueError(f"{where} is empty; give every pair {need}")
    word = LABEL_WORDS.get(value.strip().casefold()) if isinstance(value, str) else None
    if isinstance(value, str) and _DECIMAL_COMMA.fullmatch(value.strip()):
        value = value.strip().replace(",", ".")  # Excel's "4,5" where the comma is the decimal mark
    try:
        x = word if word is not None else float(value)  # type: ignore[arg-type]
        if math.isnan(x):  # "nan", as pandas may write a missing value
            raise ValueError
    except (TypeError, ValueError):
        if rng is None:
            raise ValueError(
                f"{where}={value!r} is not 0 or 1 (nor true/false or yes/no); {hint}"
            ) from None
        raise ValueError(
            f"{where}={value!r} is not a number; give a score in [{rng[0]:g}, {rng[1]:g}]"
        ) from None
    if rng is None:
        if x not in (0.0, 1.0):
            raise ValueError(f"{where}={x:g} is not 0 or 1; {hint}")
        return x
    lo, hi = rng
    if not lo <= x <= hi:
        raise ValueError(
            f"{where}={x} is outside the score range [{lo:g}, {hi:g}]; correct the score, or "
            f"set {key} to the scale your scores use"
        )
    return (x - lo) / (hi - lo)


class NoDuplicatesBatchSampler:
    """Batches of example indices in which no text occurs twice, so that with in-batch negatives
    (multiple-negatives ranking) a duplicate never acts as a negative. Seeded; each epoch reshuffles.

    It has no ``len()``: where texts repeat, an epoch makes more batches than
    ``ceil(len(examples) / batch_size)``, and each epoch's order makes its own number (one
    epoch 23, the next 22). Count an epoch's batches by drawing them, as training does
    (:class:`~siamkit.applications.text.train_loop.EpochBatches`).

    >>> list(NoDuplicatesBatchSampler([("a", "b"), ("a", "c"), ("d", "e")], 2, seed=0))
    [[0, 2], [1]]
    """

    def __init__(
        self,
        examples: Sequence[Sequence[str]],
        batch_size: int,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.examples, self.batch_size, self.seed, self.drop_last = (
            examples,
            batch_size,
            seed,
            drop_last,
        )
        self.epoch = 0

    def __iter__(self) -> Iterator[list[int]]:
        order = list(range(len(self.examples)))
        random.Random(self.seed + self.epoch).shuffle(order)
        self.epoch += 1
        for batch in _no_duplicate_batches(self.examples, order, self.batch_size):
            if len(batch) == self.batch_size or not self.drop_last:
                yield batch


def _no_duplicate_batches(
    examples: Sequence[Sequence[str]], order: list[int], size: int
) -> list[list[int]]:
    """The batches of :class:`NoDuplicatesBatchSampler`: batch 0 takes, in ``order``, every
    example whose texts are not yet in it, until it holds ``size``; what it passes over stays, in
    order, for batch 1, which does the same with what is left, and so on.

    Drawn in one pass over ``order``, which gives the same batches: an example goes to the first
    batch that has room and none of its texts when it comes, since each batch before that one
    passed over it (full by then, or holding one of its texts), and what a batch holds when an
    example comes depends only on the examples before it. Going through what is left again for
    every batch, as the rule reads, copied it each time (quadratic in the examples: 6.7 s for
    200,000 pairs at batch size 16) and looked again, for every batch, at every example left
    that holds a common text (quadratic in that text's examples: 25 s where a tenth of 200,000
    pairs share one ticket, 7 minutes where a fifth do). Here the first such batch is found by
    skipping, with path-compressed pointers, the full batches (``up``) and the batches that hold
    each of the example's texts (``skip``): each example is looked at once, and an epoch takes
    near-linear time whatever the texts.
    """
    batches: list[list[int]] = []
    held: list[list[tuple[str, int]]] = []  # per batch with room: its keys in skip
    up = [0]  # up[r] == r while batch r has room (r == len(batches): a new batch), else later
    skip: dict[tuple[str, int], int] = {}  # (t, r) -> a later batch, while batch r holds text t
    for i in order:
        texts = set(examples[i])
        r, s = _first_free(up, 0), -1
        while s != r:  # until r has room and none of the texts
            s = r
            for t in texts:
                if (t, r) in skip:
                    r = _past(skip, t, r)
            if r != s:
                r = _first_free(up, r)
        if r == len(batches):
            batches.append([])
            held.append([])
            up.append(r + 1)
        batch, keys = batches[r], held[r]
        batch.append(i)
        for t in texts:
            skip[t, r] = r + 1
            keys.append((t, r))
        if len(batch) == size:  # full: no example goes to it now, and its texts need no skip
            up[r] = r + 1
            for key in keys:
                del skip[key]
            held[r] = []
    return batches


def _first_free(up: list[int], r: int) -> int:
    """The first batch from ``r`` on with room, pointing every batch passed straight at it."""
    root = r
    while up[root] != root:
        root = up[root]
    while up[r] != root:
        up[r], r = root, up[r]
    return root


def _past(skip: dict[tuple[str, int], int], text: str, r: int) -> int:
    """The first batch from ``r`` on that does not hold ``text`` (or is full, which
    :func:`_first_free` then skips), pointing every batch passed straight at it."""
    passed = []
    while (key := (text, r)) in skip:
        passed.append(key)
        r = skip[key]
    for key in passed:
        skip[key] = r
    return r
