"""benchmarks/wordnet_concepts.py (Lee round 7, issue 16): WordNet's noun dict files parsed by
hand, the bag-of-synsets counts and TF-IDF cosine, and the ESA concept score, each checked on a
tiny fake WordNet against figures computed by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from _bench_scripts import load_script

from _fake_wordnet import DATA, INDEX


@pytest.fixture(scope="module")
def wc():
    return load_script("wordnet_concepts")


@pytest.fixture()
def wn(wc, tmp_path: Path):
    (tmp_path / "data.noun").write_text(DATA)
    (tmp_path / "index.noun").write_text(INDEX)
    (tmp_path / "noun.exc").write_text("geese goose\n")
    return wc.NounSynsets.read(tmp_path)


def test_the_dict_files_give_synsets_texts_hypernyms_senses(wn) -> None:
    assert wn.offsets == (10, 20, 30, 40, 50, 60)
    assert wn.texts[:3] == (
        "entity: a thing",
        "animal; beast: a living creature",
        "dog; domestic dog: a domestic canine",
    )
    assert wn.texts[5] == "; ".join(f"l{k}" for k in range(11)) + ": eleven names"
    # @ and @i are hypernyms, ~ (a hyponym) is not
    assert wn.hypernyms == {10: (), 20: (10,), 30: (20,), 40: (20,), 50: (10,), 60: (10,)}
    assert wn.senses == {"animal": (20,), "dog": (30, 50), "entity": (10,), "goose": (40,)}
    assert wn.exceptions == {"geese": "goose"}


def test_lemmas_exceptions_then_the_word_then_morphy_suffix_rules(wn) -> None:
    assert [wn.lemma(w) for w in ("geese", "dog", "dogs", "animals", "chased", "s")] == [
        "goose",
        "dog",
        "dog",
        "animal",
        None,
        None,
    ]


# lemmas reached only by the suffix rules after "s" (their synsets do not matter to lemma());
# "ax" and "axe" both lemmas, so "axes" shows the rules' order; "bill" is one of scikit-learn's
# English stop words that is also a noun lemma (as 118 of them are in the real WordNet)
MORE = """ax n 1 0 1 0 00000010
axe n 1 0 1 0 00000010
bill n 1 1 @ 1 0 00000040
box n 1 0 1 0 00000010
bus n 1 0 1 0 00000010
buzz n 1 0 1 0 00000010
church n 1 0 1 0 00000010
dish n 1 0 1 0 00000010
fly n 1 0 1 0 00000010
woman n 1 0 1 0 00000010
"""


@pytest.fixture()
def wn_more(wc, tmp_path: Path):
    (tmp_path / "data.noun").write_text(DATA)
    (tmp_path / "index.noun").write_text(INDEX + MORE)
    (tmp_path / "noun.exc").write_text("geese goose\n")
    return wc.NounSynsets.read(tmp_path)


def test_each_morphy_noun_suffix_rule_in_its_order(wc, wn_more) -> None:
    words = ("buses", "boxes", "buzzes", "churches", "dishes", "women", "flies", "axes", "boxer")
    # one word per rule after ("s", ""), whose "s" candidate (buse, boxe, ...) is no lemma;
    # "axes": the "s" rule comes first, so axe, not ax; "boxer" does not end in "xes"
    assert [wn_more.lemma(w) for w in words] == [
        "bus",
        "box",
        "buzz",
        "church",
        "dish",
        "woman",
        "fly",
        "axe",
        None,
    ]
    assert [s for s, _ in wc.NOUN_RULES] == ["s", "ses", "xes", "zes", "ches", "shes", "men", "ies"]


def test_stop_words_are_dropped_as_tokens_before_lemmas(wc, wn_more) -> None:
    # "goose" is a lemma of the fake index: as a stop word it adds nothing, in any case; "geese"
    # is another token, not a stop word (the filter is on tokens, as scikit-learn's)
    stop = frozenset({"the", "and", "goose"})
    c = wn_more.counts(["The goose, the GOOSE and a dog.", "geese"], stop).toarray()
    np.testing.assert_allclose(c[0], [0.5, 0.5, 0.5, 0.0, 0.5, 0.0])  # the dog only
    np.testing.assert_allclose(c[1], [0.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    # synset_scores drops scikit-learn's English stop words: "bill" (a lemma) adds nothing
    got = wc.synset_scores(
        wn_more, ["dog", "dog bill"], ["dog", "goose"], np.array([0]), np.array([1])
    )
    np.testing.assert_allclose(got, [1.0], atol=1e-12)


def test_counts_split_a_word_over_its_senses_and_their_hypernyms(wc, wn) -> None:
    stop = frozenset({"the", "and"})
    c = wn.counts(["Dogs chased the geese and a dog.", "", "the"], stop).toarray()
    # dog(s) twice: 1/2 to 30 and its hypernym 20, 1/2 to 50 and its @i 10; geese: 1 to 40 and 20
    np.testing.assert_allclose(c[0], [1.0, 2.0, 1.0, 1.0, 1.0, 0.0])
    np.testing.assert_allclose(c[1:], 0.0)


def test_synset_tfidf_cosine_by_hand(wc, wn) -> None:
    i, j = np.array([0, 0]), np.array([1, 0])
    got = wc.synset_scores(wn, ["dog", "dogs goose"], ["dog", "goose"], i, j)
    # background counts: "dog" [.5, .5, .5, 0, .5, 0], "goose" [0, 1, 0, 1, 0, 0]: df 1 for
    # synsets 10, 30, 40, 50 (smooth idf ln(3/2) + 1 = a), 2 for 20 (idf 1)
    a = math.log(1.5) + 1
    d0 = np.array([0.5 * a, 0.5, 0.5 * a, 0.0, 0.5 * a])
    d1 = np.array([0.5 * a, 1.5, 0.5 * a, a, 0.5 * a])
    want = d0 @ d1 / (np.linalg.norm(d0) * np.linalg.norm(d1))
    assert want == pytest.approx(0.70988, abs=1e-5)
    np.testing.assert_allclose(got, [want, 1.0], atol=1e-12)


def test_concept_score_centres_on_the_background_rows_only(wc) -> None:
    doc = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    back = np.array([[0.0, 0.0], [2.0, 0.0]])  # column means [1, 0]
    # centred rows: [0, 0] (stays zero), [-1, 1] / sqrt 2, [0, 1]
    got = wc.concept_scores(doc, back, np.array([1, 0, 1]), np.array([2, 1, 1]))
    np.testing.assert_allclose(got, [1 / math.sqrt(2), 0.0, 1.0], atol=1e-12)


def test_missing_or_broken_files_are_named(wc, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"data\.noun is missing.*wordnet-base"):
        wc.NounSynsets.read(tmp_path)
    (tmp_path / "data.noun").write_text("00000010 03 n 01 entity 0 00x | a thing\n")
    (tmp_path / "index.noun").write_text(INDEX)
    (tmp_path / "noun.exc").write_text("")
    with pytest.raises(ValueError, match=r"data\.noun line 1 is not a WordNet data line"):
        wc.NounSynsets.read(tmp_path)
