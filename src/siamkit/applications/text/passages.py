"""Splitting text into sentences and passages, keeping character offsets into the original."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"(?<=[.!?…])([\"'”’)\]]*)\s+|\n\s*\n")


@dataclass(frozen=True)
class Passage:
    """``text[start:end]`` of the document it came from, and its sentence index range."""

    start: int
    end: int
    text: str


def split_sentences(text: str, min_words: int = 4) -> list[Passage]:
    """Sentences of ``text`` (ends at ``.!?`` + space, or a blank line); a sentence shorter than
    ``min_words`` words is joined to the next one (the last, to the one before it), so tiny
    fragments do not match on their own.

    >>> [p.text for p in split_sentences("One two three four. Five six seven eight!")]
    ['One two three four.', 'Five six seven eight!']
    """
    out: list[Passage] = []
    start = 0
    pending: int | None = None
    cuts = [
        (m.end(1) if m.group(1) is not None else m.start(), m.end())
        for m in _SENTENCE_END.finditer(text)
    ]
    for end, after in [*cuts, (len(text), len(text))]:
        seg_start = pending if pending is not None else start
        piece = text[seg_start:end]
        lead = len(piece) - len(piece.lstrip())
        s, e = seg_start + lead, seg_start + len(piece.rstrip())
        if e > s:
            short = len(text[s:e].split()) < min_words
            if short and end != len(text):
                pending = s
            elif short and out and pending is None:
                # a short last sentence ("Thank you.") joins the one before it: on its own it
                # would match any text that ends alike, a copied span of nothing
                out[-1] = Passage(out[-1].start, e, text[out[-1].start : e])
            else:
                out.append(Passage(s, e, text[s:e]))
                pending = None
        start = after
    return out
