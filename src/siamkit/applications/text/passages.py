"""Splitting text into sentences and passages, keeping character offsets into the original."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"(?<=[.!?…])([\"'”’)\]]*)\s+|\n\s*\n")
_BLANK_LINE = re.compile(r"\n\s*\n")
_LAST_WORD = re.compile(r"[(\[\"'“‘]*(\S+)$")
_INITIALS = re.compile(r"(?:[A-Za-z]\.)+")  # U.S., D.C., p.m., J. (of J. K. Rowling)
# words whose period is an abbreviation's, not a sentence's end, before a name or a word
_TITLES = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "mt",
        "gen",
        "col",
        "capt",
        "lt",
        "sgt",
        "rev",
        "gov",
        "sen",
        "rep",
        "vs",
        "e.g",
        "i.e",
        "cf",
        "viz",
        "approx",
        "ca",
    ]
)
# ... and before a number: No. 5, Fig. 3, p. 12
_BEFORE_NUMBER = frozenset(
    ["no", "nos", "fig", "figs", "vol", "vols", "p", "pp", "ch", "sec", "art", "eq", "ref"]
)
# ... and before a word in lower case: etc. and, et al. found, Acme Inc. said, wait... no
_BEFORE_LOWER = frozenset(["etc", "al", "inc", "ltd", "co", "corp", "jr", "sr", "dept", "est"])


def _ends_sentence(text: str, m: re.Match[str]) -> bool:
    """Whether the cut ``m`` of :data:`_SENTENCE_END` ends a sentence: a blank line, a closing
    quote or bracket, ``!``, ``?`` always do; a period does unless it closes an abbreviation
    (``Dr. Smith``, ``the U.S. president``, ``3 p.m.``, ``No. 5``, ``etc. and``): cut there, a
    span would start mid-sentence. A text all in lower case still ends its sentences at periods.
    """
    if m.group(1) is None or m.group(1) or _BLANK_LINE.search(m.group(0)):
        return True
    if text[m.start() - 1] != ".":
        return True
    after = text[m.end() : m.end() + 1]
    last = _LAST_WORD.search(text, max(0, m.start() - 40), m.start())
    word = last.group(1) if last else ""
    core = word[:-1].lower()
    if core in _TITLES or (after.isdigit() and core in _BEFORE_NUMBER):
        return False
    if after.islower() and (core in _BEFORE_LOWER or core.endswith("..")):
        return False
    return word == "I." or _INITIALS.fullmatch(word) is None


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
        if _ends_sentence(text, m)
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
            elif short and out:
                # a short last sentence ("Thank you."), or short ones held for it ("Thank you.
                # Bye now."), join the one before it: on their own they would match any text
                # that ends alike, a copied span of nothing
                out[-1] = Passage(out[-1].start, e, text[out[-1].start : e])
            else:
                out.append(Passage(s, e, text[s:e]))
                pending = None
        start = after
    return out
