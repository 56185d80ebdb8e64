"""The duplicate benchmark's WordNet synonym swaps (benchmarks/text_bench_data.py), on a tiny
fixture in WordNet's dict-file format (not the Debian package)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
from text_bench_data import WordNetSynonyms

LICENCE = "  1 This software and database is being provided to you, the LICENSEE, by  \n"
INDEX = {
    # lemma pos synset_cnt p_cnt [ptr...] sense_cnt tagsense_cnt offsets (the first = first sense)
    "noun": "automobile n 2 1 @ 2 0 00000001 00000002  \nhouse n 1 0 1 0 00000003  \n"
    "quickly n 1 0 1 0 00000009  \n",
    "verb": "drive v 1 0 1 0 00000004  \nquickly v 1 0 1 0 00000010  \n",
    "adj": "quick a 1 0 1 0 00000005  \n",
    "adv": "quickly r 1 0 1 0 00000006  \n",
}
DATA = {
    # offset lex_filenum ss_type w_cnt (hex) word lex_id ... | gloss
    "noun": "00000001 06 n 03 automobile 0 auto 0 motor_vehicle 0 000 | a vehicle  \n"
    "00000002 06 n 02 automobile 0 gondola 0 000 | of a cable railway  \n"
    "00000003 06 n 01 house 0 000 | a building  \n"
    "00000009 06 n 02 quickly 0 speedily 0 000 | (the noun sense comes first)  \n",
    "verb": "00000004 38 v 02 drive 0 motor 0 000 | travel by car  \n"
    "00000010 38 v 02 quickly 0 hurry 0 000 | unused  \n",
    "adj": "00000005 00 a 0b quick(a) 0 speedy 0 fast 0 rapid 0 flying 0 agile 0 nimble 0 "
    "spry 0 zippy 0 brisk 0 swift 0 000 | moving fast  \n",
    "adv": "00000006 02 r 01 quickly 0 000 | fast  \n",
}


@pytest.fixture
def wordnet(tmp_path: Path) -> WordNetSynonyms:
    for pos in INDEX:
        (tmp_path / f"index.{pos}").write_text(LICENCE + INDEX[pos])
        (tmp_path / f"data.{pos}").write_text(LICENCE + DATA[pos])
    return WordNetSynonyms(tmp_path)


def test_synonyms_come_from_the_first_sense_single_words_only(wordnet: WordNetSynonyms) -> None:
    syn = wordnet.synonyms
    # not motor_vehicle (two words), not gondola (the second sense)
    assert syn["automobile"] == ["auto"]
    assert "house" not in syn  # its only sense has no other lemma
    assert syn["drive"] == ["motor"]
    assert syn["quickly"] == ["speedily"]  # the noun's first sense before the verb's and adverb's
    # hexadecimal word count (0b = 11) and the adjective marker "(a)" removed
    assert syn["quick"] == [
        "speedy", "fast", "rapid", "flying", "agile", "nimble", "spry", "zippy", "brisk", "swift",
    ]  # fmt: skip


def test_swap_replaces_the_rate_of_swappable_words_only(wordnet: WordNetSynonyms) -> None:
    text = "Automobile makers drive the quick automobile, the automobile and the house. Big Car!"
    out = wordnet.swap(text, random.Random(0), rate=1.0)
    # every lowercase swappable word (drive, quick, automobile x2) changed; capitalised words,
    # short words, words without synonyms and the punctuation kept
    assert out.startswith("Automobile makers motor the ")
    assert out.endswith(" auto, the auto and the house. Big Car!")
    assert out.count("auto") == 2 and " quick " not in out
    half = wordnet.swap(text, random.Random(1), rate=0.5)  # round(0.5 * 4) = 2 swaps of 4
    changed = [a != b for a, b in zip(text.split(), half.split())]
    assert sum(changed) == 2
    assert wordnet.swap(text, random.Random(1), rate=0.5) == half  # seeded: reproducible


def test_a_missing_folder_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="wordnet-base"):
        WordNetSynonyms(tmp_path)
