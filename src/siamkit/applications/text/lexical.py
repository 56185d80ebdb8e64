"""A lexical tower joined to the text twin: TF-IDF + LSI fitted on a background corpus.

Each twin embeds a text as ``[sqrt(1 - w) * z, sqrt(w) * l]`` (then L2-normalised): ``z`` the
transformer's unit embedding, ``l`` the unit LSI vector of the text (TF-IDF with sublinear term
frequency and English stop words, projected on the corpus's ``k`` leading singular directions).
For two texts with words in the vocabulary the cosine of the join is
``(1 - w) cos_z + w cos_l``: a semantic and a lexical similarity in one embedding, so galleries,
FAISS, dedup and the service use it unchanged. The lexical part has no trainable weights; a
fine-tuned model keeps it and trains the transformer on the joined score.

Why: on the Lee corpus, MiniLM joined with LSI-100 fitted on the 300 background documents (w
chosen on validation documents) raised the held-out Pearson r from 0.633 to 0.665 (BENCHMARKS.md,
"Lee: a semantic + lexical twin").

With ``--synsets`` (:meth:`LexicalTower.fit_synsets`) the tower's TF-IDF is over WordNet noun
synsets instead of words: each token's noun lemma (``noun.exc``, the word, WordNet's noun suffix
rules) with ``n`` synsets adds ``1/n`` to each of them and to each of their direct hypernyms; raw
term frequency, smooth idf fitted on the corpus, then the same LSI projection, so the embedding
stays ``k``-d. The tower carries the words that reach one of the corpus's synsets, with their
shares (:class:`SynsetWords`): embedding needs no WordNet files.

Fitting uses scikit-learn; embedding uses numpy only (the torch-free ONNX runtime carries the same
files), with scikit-learn's tokenisation: lower case, tokens of 2+ word characters
(``(?u)\\b\\w\\w+\\b``), stop words dropped.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from siamkit.clauses import counted
from siamkit.text_names import shown_folder

if TYPE_CHECKING:
    from siamkit.applications.text.wordnet import NounSynsets

LEXICAL_JSON, LEXICAL_NPZ = "lexical.json", "lexical.npz"
# the files of a second tower joined after the first (``stacked``: synsets after words)
STACKED_JSON, STACKED_NPZ = "lexical_stacked.json", "lexical_stacked.npz"
# the "tf" of a word tower with a tower stacked after it: a siamkit older than stacking reads only
# "sublinear" and refuses anything else as "written by another tokenisation", where it would
# otherwise load the word tower alone and refuse the bundle's digest or, in the ONNX runtime,
# fail on the width (s60_rq1 finding 1)
STACKED_TF = "sublinear, stacked"
TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern
_WORD = re.compile(r"(?u)\w\w+")  # what one TOKEN can be
SYNSET_FEATURES = "wordnet noun synsets"  # lexical.json's "features" of a synset tower


@dataclass(frozen=True)
class SynsetWords:
    """A synset tower's words: the row of ``words[r]`` (CSR ``indptr``, ``indices``, ``data``)
    holds what one token of that word adds to the tower's columns (its lemma's synsets and their
    direct hypernyms, ``1/n`` each, restricted to the synsets of the corpus it was fitted on).
    A word not listed adds nothing. :meth:`LexicalTower.fit_synsets` stores ``data`` as float32
    and ``indptr`` / ``indices`` as int32 (int64 past int32's range): a tower fitted on the 300
    Lee background texts has 9.9 MB of files, 12.4 MB with the float64 / int64 table an earlier
    siamkit wrote. Such files still load, as they are (the digest reads any table as float64 /
    int64, so theirs is unchanged), and a re-save writes them as they are, not narrowed: float32
    rounds the shares (1/3 is not one), which changes the tower's digest and so the model's
    fingerprint, so the same model saved again (``save_model(load_model(M), M2)``, a save over
    M) would be another model to the galleries enrolled with it, and its ONNX export would be
    removed as stale. Refitting the tower (``siamkit text lexical ... --force``) gives the small
    form."""

    words: tuple[str, ...]
    indptr: np.ndarray  # (W + 1,) int32 (int64 from an earlier siamkit)
    indices: np.ndarray  # (nnz,) int32 (int64 from an earlier siamkit): columns of the tower
    data: np.ndarray  # (nnz,) float32 (float64 from an earlier siamkit)

    def __post_init__(self) -> None:
        if (
            self.indptr.shape != (len(self.words) + 1,)
            or self.indices.shape != self.data.shape
            or int(self.indptr[-1]) != len(self.data)
        ):
            raise ValueError(
                f"a synset tower's word arrays disagree: {counted(len(self.words), 'word')}, "
                f"indptr {self.indptr.shape}, indices {self.indices.shape}, data {self.data.shape}"
            )

    @cached_property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}


@dataclass(frozen=True)
class LexicalTower:
    """``transform(texts) -> (N, k)`` unit LSI vectors; ``weight`` is ``w`` of the join.

    >>> tower = LexicalTower.fit(["cats purr softly", "dogs bark loudly", "cats and dogs play"],
    ...                          components=2, weight=0.3)
    >>> tower.transform(["cats purr"]).shape
    (1, 2)
    """

    vocabulary: tuple[str, ...]  # term of each TF-IDF column
    idf: np.ndarray  # (V,)
    components: np.ndarray  # (k, V): the LSI directions
    stop_words: frozenset[str]
    weight: float
    # set for a WordNet synset tower (the vocabulary then names synsets): the words it maps
    synsets: SynsetWords | None = None
    # a synset tower joined after this word tower, its own ``weight`` v the share of the score it
    # takes: a pair then scores (1 - v) ((1 - w) cos_z + w cos_l) + v cos_s (``joined_weight``)
    stacked: LexicalTower | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.weight < 1.0:
            raise ValueError(
                f"the lexical weight w lies strictly between 0 and 1, got {self.weight}"
            )
        if self.components.shape[1] != len(self.vocabulary) or self.idf.shape != (
            len(self.vocabulary),
        ):
            raise ValueError(
                f"a lexical tower's arrays disagree: {counted(len(self.vocabulary), 'term')}, idf "
                f"{self.idf.shape}, components {self.components.shape}"
            )
        if (
            self.synsets is not None
            and len(self.synsets.indices)
            and (
                int(self.synsets.indices.min()) < 0
                or int(self.synsets.indices.max()) >= len(self.vocabulary)
            )
        ):
            raise ValueError(
                f"a synset tower's words name columns outside its "
                f"{counted(len(self.vocabulary), 'synset')}"
            )

        if self.stacked is not None and (
            self.synsets is not None
            or self.stacked.synsets is None
            or self.stacked.stacked is not None
        ):
            raise ValueError("only a synset tower can be joined after a word tower, once")

    @property
    def dim(self) -> int:
        """Width of :meth:`transform`'s rows (with a stacked tower's)."""
        own = int(self.components.shape[0])
        return own + (self.stacked.dim if self.stacked is not None else 0)

    @property
    def joined_weight(self) -> float:
        """The share ``W`` of the score the lexical part takes, as the join's ``w``: the tower's
        ``weight``, or ``1 - (1 - w)(1 - v)`` with a stacked tower of weight ``v``."""
        if self.stacked is None:
            return self.weight
        return 1.0 - (1.0 - self.weight) * (1.0 - self.stacked.weight)

    @classmethod
    def fit(
        cls,
        corpus: Sequence[str],
        components: int = 100,
        weight: float = 0.3,
        max_features: int | None = 50_000,
        seed: int = 0,
    ) -> LexicalTower:
        """TF-IDF (sublinear tf, English stop words, at most ``max_features`` terms by corpus
        frequency) and a truncated SVD with ``components`` directions, fitted on ``corpus``."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

        texts = _fit_texts(corpus, weight, components)
        vec = TfidfVectorizer(sublinear_tf=True, stop_words="english", max_features=max_features)
        try:
            x = vec.fit_transform(texts)
        except ValueError as e:  # "empty vocabulary; perhaps the documents only contain stop words"
            raise ValueError(f"the lexical corpus has no usable words: {e}") from None
        limit = min(x.shape) - 1  # 2 texts or more: 0 only at 1 distinct term
        if limit == 0:  # no --components can do: "lower --components" would be untrue
            raise ValueError(
                f"the lexical corpus has only 1 distinct term ({vec.get_feature_names_out()[0]}, "
                "after English stop words), and LSI needs at least 2; give a corpus with more words"
            )
        if components > limit:  # here components >= 2, texts >= 2 and terms >= 2: plurals
            raise ValueError(
                f"{components:,} lexical components asked for, but {counted(len(texts), 'text')} "
                f"with {counted(x.shape[1], 'distinct term')} allow at most {limit:,}; lower "
                "--components or give a larger corpus"
            )
        svd = TruncatedSVD(components, random_state=seed).fit(x)
        terms = vec.get_feature_names_out()
        return cls(
            tuple(str(t) for t in terms),
            vec.idf_.astype(np.float64),
            svd.components_.astype(np.float32),
            frozenset(ENGLISH_STOP_WORDS),
            float(weight),
        )

    @classmethod
    def fit_synsets(
        cls,
        corpus: Sequence[str],
        wordnet: str | Path | NounSynsets | None = None,
        components: int = 100,
        weight: float = 0.3,
        seed: int = 0,
    ) -> LexicalTower:
        """A tower over WordNet noun synsets (module docstring), fitted on ``corpus``:
        ``wordnet`` the folder of WordNet 3.0's dict files (default ``/usr/share/wordnet``, the
        Debian package ``wordnet-base``) or its :class:`~siamkit.applications.text.wordnet.NounSynsets`.
        TF-IDF (raw tf, smooth idf, L2 rows) over the synsets the corpus reaches, then a truncated
        SVD with ``components`` directions."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfTransformer

        from siamkit.applications.text.wordnet import WORDNET, NounSynsets

        texts = _fit_texts(corpus, weight, components)
        wn = wordnet if isinstance(wordnet, NounSynsets) else NounSynsets.read(wordnet or WORDNET)
        stop = frozenset(ENGLISH_STOP_WORDS)
        counts = wn.counts(texts, stop)
        keep = np.flatnonzero(counts.getnnz(axis=0))  # synsets the corpus reaches
        if len(keep) < 2:  # LSI needs 2 columns
            raise ValueError(
                f"the lexical corpus reaches {counted(len(keep), 'WordNet noun synset')} (its "
                "words, after English stop words, are no WordNet nouns), and a synset tower needs "
                "at least 2; give a corpus of English text"
            )
        tf = TfidfTransformer(smooth_idf=True, norm="l2")
        x = tf.fit_transform(counts[:, keep])
        limit = min(x.shape) - 1
        if components > limit:
            raise ValueError(
                f"{components:,} lexical components asked for, but {counted(len(texts), 'text')} "
                f"reaching {counted(len(keep), 'WordNet noun synset')} allow at most {limit:,}; "
                "lower --components or give a larger corpus"
            )
        svd = TruncatedSVD(components, random_state=seed).fit(x)
        column = {wn.offsets[c]: k for k, c in enumerate(keep)}
        rows: dict[str, dict[int, float]] = {}  # word -> its lemma's shares, as columns
        for lem in wn.senses:
            share = {column[o]: v for o, v in wn.shares(lem).items() if o in column}
            if not share:
                continue
            for w in wn.forms(lem):
                if w not in stop and w == w.lower() and _WORD.fullmatch(w) and wn.lemma(w) == lem:
                    rows[w] = share
        words = tuple(sorted(rows))
        indptr = np.concatenate([[0], np.cumsum([len(rows[w]) for w in words])])
        # float32 shares (1/n sums: the embedding moves by < 1e-6) and int32 positions where they
        # fit: the table is most of a synset tower's npz, and of every training checkpoint
        table = SynsetWords(
            words,
            indptr.astype(_positions(int(indptr[-1]))),
            np.array([c for w in words for c in rows[w]], dtype=_positions(len(keep))),
            np.array([v for w in words for v in rows[w].values()], dtype=np.float32),
        )
        return cls(
            tuple(f"{wn.offsets[c]:08d}-n" for c in keep),
            tf.idf_.astype(np.float64),
            svd.components_.astype(np.float32),
            stop,
            float(weight),
            table,
        )

    @cached_property
    def _index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.vocabulary)}

    def _weights(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The text's TF-IDF row as (term indices, L2-normalised weights)."""
        if self.synsets is not None:
            return self._synset_weights(text)
        counts = self._counts(text, self._index)
        js = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        c = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        return _unit(js, (1.0 + np.log(c)) * self.idf[js] if len(js) else c)

    def _counts(self, text: str, idx: dict[str, int]) -> Counter[int]:
        """How often each of ``idx``'s words (lower-case ``TOKEN``, not a stop word) is in
        ``text``, by its row in ``idx``."""
        return Counter(
            idx[w] for w in TOKEN.findall(text.lower()) if w not in self.stop_words and w in idx
        )

    def _synset_weights(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """A synset tower's TF-IDF row: the tokens' shares summed (raw tf) times the idf."""
        table = self.synsets
        assert table is not None
        acc = np.zeros(len(self.vocabulary), dtype=np.float64)
        for r, c in self._counts(text, table.index).items():
            lo, hi = table.indptr[r], table.indptr[r + 1]
            acc[table.indices[lo:hi]] += c * table.data[lo:hi].astype(np.float64)
        js = np.flatnonzero(acc)
        return _unit(js, acc[js] * self.idf[js])

    def tfidf(self, texts: Sequence[str]) -> np.ndarray:
        """``(N, V)`` L2-normalised TF-IDF rows, as scikit-learn's ``TfidfVectorizer`` with the
        fitted vocabulary (a text with no known word gives a zero row)."""
        out = np.zeros((len(texts), len(self.vocabulary)), dtype=np.float64)
        for r, text in enumerate(texts):
            js, vals = self._weights(text)
            out[r, js] = vals
        return out

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """``(N, k)`` float32 unit LSI vectors (zero rows for texts with no known word). With a
        stacked tower, ``[sqrt((1 - v) w / W) l, sqrt(v / W) s]`` (``W`` :attr:`joined_weight`),
        so the join scores ``(1 - v) ((1 - w) cos_z + w cos_l) + v cos_s``."""
        own = self._lsi(texts)
        if self.stacked is None:
            return own
        w, v, big = self.weight, self.stacked.weight, self.joined_weight
        return np.concatenate(
            [
                math.sqrt((1 - v) * w / big) * own,
                math.sqrt(v / big) * self.stacked.transform(texts),
            ],
            axis=1,
        ).astype(np.float32)

    def _lsi(self, texts: Sequence[str]) -> np.ndarray:
        """This tower's own unit LSI rows."""
        out = np.zeros((len(texts), int(self.components.shape[0])), dtype=np.float32)
        comps = self.components
        for r, text in enumerate(texts):  # sparse rows: only the text's own terms are touched
            js, vals = self._weights(text)
            if len(js):
                y = comps[:, js].astype(np.float64) @ vals
                n = float(np.linalg.norm(y))
                if n > 0:
                    out[r] = y / n
        return out

    def join(self, z: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """The joined unit rows ``[sqrt(1-w) z, sqrt(w) l]`` for unit rows ``z`` of ``texts``."""
        lex, w = self.transform(texts), self.joined_weight
        out = np.concatenate([math.sqrt(1 - w) * z, math.sqrt(w) * lex], axis=1).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    @cached_property
    def _sha256(self) -> str:
        h = hashlib.sha256("\n".join(self.vocabulary).encode())
        h.update(np.ascontiguousarray(self.idf, dtype=np.float64).tobytes())
        h.update(np.ascontiguousarray(self.components, dtype=np.float32).tobytes())
        if self.synsets is not None:  # a word tower's digest is what it was before synsets
            t = self.synsets
            h.update(("\n".join(t.words) + "\0synsets").encode())
            h.update(np.ascontiguousarray(t.indptr, dtype=np.int64).tobytes())
            h.update(np.ascontiguousarray(t.indices, dtype=np.int64).tobytes())
            h.update(np.ascontiguousarray(t.data, dtype=np.float64).tobytes())
        if self.stacked is not None:
            h.update(f"\0stacked {self.stacked.weight!r} {self.stacked.digest()}".encode())
        return h.hexdigest()

    def digest(self) -> str:
        """SHA-256 of the vocabulary, idf and components, and a synset tower's words (in the
        model's fingerprint)."""
        return self._sha256

    def describe(self) -> dict[str, Any]:
        """What the bundle's config records of the tower (the arrays are in the files)."""
        out: dict[str, Any] = {
            "weight": self.weight,
            "components": int(self.components.shape[0]),
            "terms": len(self.vocabulary),
            "sha256": self.digest(),
        }
        if self.synsets is not None:  # "terms" then counts synsets
            out["features"] = SYNSET_FEATURES
            out["words"] = len(self.synsets.words)
        if self.stacked is not None:
            out["stacked"] = self.stacked.describe()
        return out

    def save(self, folder: str | Path) -> None:
        """Write ``lexical.json`` and ``lexical.npz`` (and a stacked tower's
        ``lexical_stacked.json`` / ``.npz``) in ``folder``; a synset table in the dtypes it has
        (an earlier siamkit's float64 one stays so: :class:`SynsetWords`)."""
        folder = Path(folder)
        self._save(folder, LEXICAL_JSON, LEXICAL_NPZ)
        if self.stacked is not None:
            self.stacked._save(folder, STACKED_JSON, STACKED_NPZ)

    def _save(self, folder: Path, json_name: str, npz_name: str) -> None:
        doc: dict[str, object] = {
            "weight": self.weight,
            "vocabulary": list(self.vocabulary),
            "stop_words": sorted(self.stop_words),
            "token_pattern": TOKEN.pattern,
            "tf": "sublinear",
        }
        if self.synsets is None:
            np.savez(folder / npz_name, idf=self.idf, components=self.components)
        else:
            t = self.synsets
            np.savez(
                folder / npz_name,
                idf=self.idf,
                components=self.components,
                word_indptr=t.indptr,
                word_indices=t.indices,
                word_data=t.data,
            )
            doc.update(tf="raw", features=SYNSET_FEATURES, words=list(t.words))
        if self.stacked is not None:
            doc.update(tf=STACKED_TF, stacked=True)
        (folder / json_name).write_text(json.dumps(doc))

    @classmethod
    def load(cls, folder: str | Path) -> LexicalTower:
        """The tower saved in ``folder`` by :meth:`save`. A refusal names the folder as
        :func:`~siamkit.text_names.shown_folder` names it (``./all-MiniLM-L6-v2`` keeps its
        ``./``), torch-free, so the ONNX runtime names it so too (a model's loader passed that
        name as ``shown=``, as importing it loaded torch: s59_FB finding 8)."""
        folder = Path(folder)
        return cls._load(folder, LEXICAL_JSON, LEXICAL_NPZ)

    @classmethod
    def _load(
        cls, folder: Path, json_name: str, npz_name: str, may_stack: bool = True
    ) -> LexicalTower:
        shown = shown_folder(folder)
        if not (folder / json_name).is_file() or not (folder / npz_name).is_file():
            raise ValueError(
                f"{shown} has no {json_name} / {npz_name}, which its config says the model joins"
            )
        doc = json.loads((folder / json_name).read_text())
        synsets = doc.get("features") == SYNSET_FEATURES
        # a stacked word tower's files written before STACKED_TF said "sublinear" + "stacked"
        stacked = bool(doc.get("stacked")) or doc.get("tf") == STACKED_TF
        if doc.get("token_pattern") != TOKEN.pattern or doc.get("tf") not in (
            ("raw",) if synsets else ("sublinear", STACKED_TF)
        ):
            raise ValueError(
                f"{os.path.join(shown, json_name)} was written by another "
                "tokenisation than this siamkit's; fit the lexical tower again (siamkit text "
                "lexical on the transformer model)"
            )
        if stacked and not may_stack:  # followed again, it would load itself forever
            raise ValueError(
                f"{os.path.join(shown, json_name)} says a tower is stacked after it, but it is "
                "the stacked tower itself; fit the lexical tower again"
            )
        table = None
        with np.load(folder / npz_name) as arrays:
            idf, comps = arrays["idf"], arrays["components"]
            if synsets:
                table = SynsetWords(
                    tuple(doc["words"]),
                    arrays["word_indptr"],
                    arrays["word_indices"],
                    arrays["word_data"],
                )
        return cls(
            tuple(doc["vocabulary"]),
            idf,
            comps,
            frozenset(doc["stop_words"]),
            float(doc["weight"]),
            table,
            cls._load(folder, STACKED_JSON, STACKED_NPZ, may_stack=False) if stacked else None,
        )


def _fit_texts(corpus: Sequence[str], weight: float, components: int) -> list[str]:
    """The non-empty texts of ``corpus``, after refusing a weight or component count no tower
    can be fitted with (``fit`` and ``fit_synsets`` alike)."""
    if not 0.0 < weight < 1.0:
        raise ValueError(f"the lexical weight w lies strictly between 0 and 1, got {weight}")
    if components < 1:
        raise ValueError(f"a lexical tower needs at least 1 component, got {components}")
    texts = [t for t in corpus if isinstance(t, str) and t.strip()]
    if len(texts) < 2:
        raise ValueError(
            f"a lexical tower is fitted on a corpus of at least 2 non-empty texts, got {len(texts)}"
        )
    return texts


def _positions(largest: int) -> type[np.signedinteger[Any]]:
    """int32 for a synset table's indptr / indices up to ``largest``, else int64."""
    return np.int32 if largest <= np.iinfo(np.int32).max else np.int64


def _unit(js: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(js, vals)`` with ``vals`` L2-normalised (left as they are when all zero)."""
    n = float(np.linalg.norm(vals))
    return js, vals / n if n > 0 else vals
