"""WordNet 3.0's noun synsets read from its dict files (``index.noun``, ``data.noun``,
``noun.exc``; Debian's ``wordnet-base`` installs them in ``/usr/share/wordnet``), for the
bag-of-synsets lexical tower (:meth:`siamkit.applications.text.lexical.LexicalTower.fit_synsets`,
``siamkit text lexical --synsets``). Parsed by hand: no nltk, nothing downloaded.

File formats (WordNet's ``wndb(5WN)``): a ``data.noun`` line is ``offset lex_filenum ss_type
w_cnt word lex_id ... p_cnt ptr... | gloss`` (``w_cnt`` hexadecimal, each pointer
``symbol offset pos source/target``); an ``index.noun`` line is ``lemma pos synset_cnt p_cnt
symbol... sense_cnt tagsense_cnt offset...`` (the last ``synset_cnt`` fields, in sense order); a
``noun.exc`` line is ``inflected base...``. Lines starting with a space are the licence header.

Only fitting a tower reads these files; the fitted tower carries what embedding needs (numpy only).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from siamkit.applications.text.lexical import TOKEN  # the word tower's tokens, scikit-learn's

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

#: Where Debian's ``wordnet-base`` puts WordNet 3.0's dict files.
WORDNET = Path("/usr/share/wordnet")
#: WordNet's morphy rules for nouns, in its order: (suffix, replacement).
NOUN_RULES = (
    ("s", ""),
    ("ses", "s"),
    ("xes", "x"),
    ("zes", "z"),
    ("ches", "ch"),
    ("shes", "sh"),
    ("men", "man"),
    ("ies", "y"),
)


@dataclass(frozen=True)
class NounSynsets:
    """The noun synsets of one WordNet: ``offsets`` in ``data.noun`` order, ``texts`` (each
    synset's lemmas, ``_`` read as a space, then its gloss), ``hypernyms`` (offset -> the
    offsets its ``@`` and ``@i`` pointers name), ``senses`` (lemma -> its synset offsets in
    sense order) and ``exceptions`` (inflected form -> base form, ``noun.exc``)."""

    offsets: tuple[int, ...]
    texts: tuple[str, ...]
    hypernyms: dict[int, tuple[int, ...]]
    senses: dict[str, tuple[int, ...]]
    exceptions: dict[str, str]

    @classmethod
    def read(cls, folder: str | Path = WORDNET) -> NounSynsets:
        """The noun synsets of the WordNet dict files in ``folder``; a missing file is a
        ``FileNotFoundError`` naming the folder and the Debian package, a line that is not
        WordNet's a ``ValueError`` naming the file and line."""
        folder = Path(folder)
        paths = [folder / n for n in ("data.noun", "index.noun", "noun.exc")]
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{folder} is not a folder, so it has no WordNet files: install the Debian "
                "package wordnet-base (apt install wordnet-base), or give the folder of WordNet "
                "3.0's dict files"
            )
        for p in paths:
            if not p.is_file():
                raise FileNotFoundError(
                    f"{folder} has no WordNet file {p.name} ({p} is missing): install the "
                    "Debian package wordnet-base (apt install wordnet-base), or give the folder "
                    "of WordNet 3.0's dict files"
                )
        offsets, texts, hyper = [], [], {}
        for n, line in enumerate(paths[0].read_text(encoding="latin-1").splitlines(), 1):
            if line.startswith(" ") or not line.strip():
                continue
            head, _, gloss = line.partition(" | ")
            f = head.split()
            try:
                off, w_cnt = int(f[0]), int(f[3], 16)
                lemmas = [w.replace("_", " ") for w in f[4 : 4 + 2 * w_cnt : 2]]
                k = 4 + 2 * w_cnt
                p_cnt = int(f[k])
                ptrs = [f[k + 1 + 4 * q : k + 5 + 4 * q] for q in range(p_cnt)]
                hyper[off] = tuple(int(p[1]) for p in ptrs if p[0] in ("@", "@i") and p[2] == "n")
            except (IndexError, ValueError):
                raise ValueError(f"{paths[0]} line {n} is not a WordNet data line") from None
            offsets.append(off)
            texts.append("; ".join(lemmas) + ": " + gloss.strip())
        senses = {}
        for n, line in enumerate(paths[1].read_text(encoding="latin-1").splitlines(), 1):
            if line.startswith(" ") or not line.strip():
                continue
            f = line.split()
            try:
                cnt = int(f[2])
                senses[f[0]] = tuple(int(x) for x in f[len(f) - cnt :]) if cnt else ()
            except (IndexError, ValueError):
                raise ValueError(f"{paths[1]} line {n} is not a WordNet index line") from None
        exc: dict[str, str] = {}
        for line in paths[2].read_text(encoding="latin-1").splitlines():
            f = line.split()
            if len(f) >= 2:
                exc.setdefault(f[0], f[1])
        known = set(offsets)
        named = (o for offs in (*senses.values(), *hyper.values()) for o in offs)
        bad = next((o for o in named if o not in known), None)
        if bad is not None:
            raise ValueError(
                f"{folder}'s index.noun or a pointer of its data.noun names synset {bad:08d}, "
                "which its data.noun does not have: the files are not one WordNet"
            )
        return cls(tuple(offsets), tuple(texts), hyper, senses, exc)

    def lemma(self, word: str) -> str | None:
        """``word``'s noun lemma: its ``noun.exc`` base, the word itself, then the first suffix
        rule giving a lemma WordNet lists (``None`` if none does)."""
        base = self.exceptions.get(word)
        if base is not None and base in self.senses:
            return base
        if word in self.senses:
            return word
        for suffix, repl in NOUN_RULES:
            cand = word[: len(word) - len(suffix)] + repl
            if word.endswith(suffix) and cand in self.senses:
                return cand
        return None

    def shares(self, lemma: str) -> dict[int, float]:
        """What one token of noun lemma ``lemma`` adds, by synset offset: ``1/n`` to each of its
        ``n`` synsets and ``1/n`` to each of their direct hypernyms."""
        offs = self.senses[lemma]
        acc: dict[int, float] = {}
        for o in offs:
            for t in (o, *self.hypernyms.get(o, ())):
                acc[t] = acc.get(t, 0.0) + 1.0 / len(offs)
        return acc

    def forms(self, lemma: str) -> Iterator[str]:
        """The words whose :meth:`lemma` may be ``lemma``: itself, its ``noun.exc`` inflections
        and what each suffix rule maps onto it (:meth:`lemma` decides which of them it is)."""
        yield lemma
        yield from self._inflections.get(lemma, ())
        for suffix, repl in NOUN_RULES:
            if lemma.endswith(repl):
                yield lemma[: len(lemma) - len(repl)] + suffix

    @cached_property
    def _inflections(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for infl, base in self.exceptions.items():
            out.setdefault(base, []).append(infl)
        return out

    def counts(self, texts: Sequence[str], stop_words: frozenset[str]) -> csr_matrix:
        """``(len(texts), len(offsets))`` sparse bag-of-synsets counts: each token (lower-case,
        ``TOKEN``, not a stop word) whose noun lemma has ``n`` synsets adds ``1/n`` to each of
        them and ``1/n`` to each of their direct hypernyms."""
        from scipy.sparse import csr_matrix

        col = {o: c for c, o in enumerate(self.offsets)}
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for r, text in enumerate(texts):
            acc: dict[int, float] = {}
            for w in TOKEN.findall(text.lower()):
                if w in stop_words or (lem := self.lemma(w)) is None:
                    continue
                offs = self.senses[lem]
                for o in offs:
                    for t in (o, *self.hypernyms.get(o, ())):
                        acc[col[t]] = acc.get(col[t], 0.0) + 1.0 / len(offs)
            rows += [r] * len(acc)
            cols += list(acc)
            vals += list(acc.values())
        return csr_matrix((vals, (rows, cols)), shape=(len(texts), len(self.offsets)))
