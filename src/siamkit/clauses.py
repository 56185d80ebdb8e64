"""The words messages share: what a NaN or infinite embedding stops, one home for the clauses
that end the refusal's sentence (``which=`` of :func:`~siamkit.index.embedding.model_embeddings`):
"... hold NaN or infinite values ('b.png'), which no verdict can be given on"; and
:func:`counted`, a count in its grammatical number ("1 image", "1,234 images"); and
:func:`listed`, several things in one list ("a, b and c", or the first few of many: "a, b and 3
more"), and :func:`listing`, values enumerated ("3, 8, 12": ids, names in parentheses) with those
past a limit counted ("3, 8 and 5 more"); the "and N more" was written by hand in eight places.

A module of the lowest layer, without torch, so that :mod:`siamkit.index` and the face
application's ``recognize`` (``siamkit face verify`` with dlib starts without torch) import the
same text; each was written out in two or three places (s57_FB). The evaluation report, the
training protocol's refusals and the commands' summaries count with the one :func:`counted`, and
every message lists with the one :func:`listed` (it was built by hand in a dozen places, one of
them with the Oxford comma: s62 c8)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Sized
from itertools import islice

__all__ = ["NO_EVALUATION", "NO_VERDICT", "counted", "in_number", "listed", "listing"]

NO_VERDICT = "no verdict can be given on"
"""What a NaN embedding stops in a 1:1 verification (``siamkit verify``, ``face verify``,
``signature verify``, the service's /verify), which runs no search."""

NO_EVALUATION = "no evaluation can score"
"""What a NaN embedding stops in an evaluation (``siamkit face``, ``text`` and ``signature
evaluate``), which runs no search either: the gallery's "which no search can rank" was false of
it (s55_R2 finding 2's aside)."""


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun`` in the number it takes, as messages say a count: ``1 text``, ``0
    texts``, ``1,234 images`` (the thousands separated, as every message writes a count);
    ``plural``: the noun's plural where it takes no bare s (``"queries"``, ``"classes"``).

    >>> counted(1, "text"), counted(0, "duplicate group"), counted(12345, "text")
    ('1 text', '0 duplicate groups', '12,345 texts')
    >>> counted(1, "query", "queries"), counted(1234, "query", "queries")
    ('1 query', '1,234 queries')
    """
    return f"{n:,} {in_number(n, noun, plural)}"


def in_number(n: int, noun: str, plural: str | None = None) -> str:
    """``noun`` in the number ``n`` gives it, for a message that names the things instead of
    counting them: "unknown key 'bogus'", "unknown keys 'a', 'b'".

    >>> in_number(1, "key"), in_number(2, "key"), in_number(2, "class", "classes")
    ('key', 'keys', 'classes')
    """
    return noun if n == 1 else plural or noun + "s"


def listed(items: Sequence[str], last: str = "and", more: int = 0) -> str:
    """``items`` as one list in a sentence, in the one style of siamkit's messages: "a", "a and
    b", "a, b and c" (no comma before the last); ``last``: the word before the last item
    (``"or"`` for options to choose among: "--ways, --shots or --episodes"); "" for none.
    ``more``: how many were left out of ``items`` (the first few shown of many), said as the
    last item: "a, b and 3 more"; none at ``more <= 0``, so that ``listed(x[:3], more=len(x) -
    3)`` names three and counts the rest.

    >>> listed([]), listed(["a"]), listed(["a", "b"]), listed(["a", "b", "c"])
    ('', 'a', 'a and b', 'a, b and c')
    >>> listed(["--ways", "--shots", "--seed"], "or")
    '--ways, --shots or --seed'
    >>> listed(["a", "b"], more=1234), listed(["a", "b"], more=0)
    ('a, b and 1,234 more', 'a and b')
    """
    if more > 0:
        items = [*items, f"{more:,} more"]
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def listing(values: Iterable[object], limit: int = 10) -> str:
    """``values`` enumerated for a message, by commas alone (item ids, row numbers, the class
    names in parentheses): ``3, 8, 12``; past ``limit``, the first ``limit`` and how many more,
    as :func:`listed` says it: ``3, 8 and 5 more``.

    >>> listing([4, 9, 15]), listing([4, 9, 15], limit=2), listing(range(1234), limit=2)
    ('4, 9, 15', '4, 9 and 1 more', '0, 1 and 1,232 more')

    Only the values shown are turned into strings, the rest only counted: a refusal of 200,000
    rows made 200,000 strings to show five of them, half its peak (s56_R4 finding 4).
    """
    it = iter(values)
    shown = [str(v) for v in islice(it, limit)]
    count = len(values) if isinstance(values, Sized) else len(shown) + sum(1 for _ in it)
    return listed(shown, more=count - limit) if count > limit else ", ".join(shown)
