"""The WordNet synset tower (``siamkit text lexical --synsets``, issue 16): WordNet's noun dict
files read by siamkit.applications.text.wordnet, the tower's TF-IDF and LSI by hand and against
scikit-learn, the words it carries (exactly the lemma rules, no WordNet needed to embed), the
bundle, the ONNX runtime and the command's refusals, on tiny fake WordNet folders."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from _fake_wordnet import DATA, INDEX
from siamkit.applications.text.lexical import LexicalTower, SynsetWords
from siamkit.applications.text.wordnet import NOUN_RULES, NounSynsets
from siamkit.cli.main import cli

# _fake_wordnet holds synsets 10-60; more: 70 vehicle, 80 car/auto, 90 bus, 100 axe; "ax"
# (reached) and "axe" (synset 100, which no corpus below reaches): "axes" is axe's by the rules'
# order, so it adds nothing though "ax" would; "bill" a stop word lemma
DATA_MORE = """00000070 06 n 01 vehicle 0 001 @ 00000010 n 0000 | a conveyance
00000080 06 n 02 car 0 auto 0 001 @ 00000070 n 0000 | a motor vehicle
00000090 06 n 01 bus 0 001 @ 00000070 n 0000 | a large vehicle
00000100 06 n 01 axe 0 000 | an edge tool
"""
INDEX_MORE = """auto n 1 0 1 0 00000080
ax n 1 0 1 0 00000070
axe n 1 0 1 0 00000100
bill n 1 0 1 0 00000040
bus n 1 0 1 0 00000090
car n 1 0 1 0 00000080
vehicle n 1 0 1 0 00000070
"""
BACKGROUND = [
    "The dog chased a goose.",
    "Two dogs, three geese and a beast.",
    "Cars and buses on the road.",
    "An auto is a vehicle; a bus is a vehicle.",
    "The dog sat in the car.",
    "Every entity: animals and vehicles.",
]
TEXTS = [
    "dogs and geese",
    "a car, an auto, a bus",
    "axes",  # axe's: its synset 100 is not the corpus's, so nothing
    "ax",
    "zzz unknown words only",
    "The DOG bill",  # bill: a stop word
]


def write(folder: Path, data: str, index: str, exc: str = "geese goose\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.noun").write_text(data)
    (folder / "index.noun").write_text(index)
    (folder / "noun.exc").write_text(exc)
    return folder


@pytest.fixture()
def small(tmp_path: Path) -> Path:
    return write(tmp_path / "wn-small", DATA, INDEX)


@pytest.fixture()
def fake(tmp_path: Path) -> Path:
    return write(tmp_path / "wn", DATA + DATA_MORE, INDEX + INDEX_MORE)


def test_the_dict_files_give_synsets_hypernyms_senses(small) -> None:
    wn = NounSynsets.read(small)
    assert wn.offsets == (10, 20, 30, 40, 50, 60)
    assert wn.texts[2] == "dog; domestic dog: a domestic canine"
    assert wn.texts[5] == "; ".join(f"l{k}" for k in range(11)) + ": eleven names"
    assert wn.hypernyms == {10: (), 20: (10,), 30: (20,), 40: (20,), 50: (10,), 60: (10,)}
    assert wn.senses == {"animal": (20,), "dog": (30, 50), "entity": (10,), "goose": (40,)}
    assert wn.exceptions == {"geese": "goose"}
    assert [s for s, _ in NOUN_RULES] == ["s", "ses", "xes", "zes", "ches", "shes", "men", "ies"]
    # dog(s) twice: 1/2 to 30 and its hypernym 20, 1/2 to 50 and its @i 10; geese: 1 to 40 and 20
    c = wn.counts(["Dogs chased the geese and a dog.", ""], frozenset({"the", "and"})).toarray()
    np.testing.assert_allclose(c, [[1.0, 2.0, 1.0, 1.0, 1.0, 0.0], [0.0] * 6])


def former_counts(folder: Path, texts: list[str], stop: frozenset[str]) -> np.ndarray:
    """Lee round 7's bag-of-synsets counts as benchmarks/wordnet_concepts.py computed them before
    stop 60 moved its parser into src (kept here, condensed, as the reference)."""
    import re

    data = (folder / "data.noun").read_text(encoding="latin-1").splitlines()
    offsets, hyper = [], {}
    for line in data:
        if line.startswith(" ") or not line.strip():
            continue
        f = line.partition(" | ")[0].split()
        k = 4 + 2 * int(f[3], 16)
        ptrs = [f[k + 1 + 4 * q : k + 5 + 4 * q] for q in range(int(f[k]))]
        offsets.append(int(f[0]))
        hyper[int(f[0])] = [int(p[1]) for p in ptrs if p[0] in ("@", "@i") and p[2] == "n"]
    senses = {}
    for line in (folder / "index.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith(" ") or not line.strip():
            continue
        f = line.split()
        senses[f[0]] = [int(x) for x in f[len(f) - int(f[2]) :]] if int(f[2]) else []
    exc: dict[str, str] = {}
    for line in (folder / "noun.exc").read_text(encoding="latin-1").splitlines():
        if len(f := line.split()) >= 2:
            exc.setdefault(f[0], f[1])
    rules = [("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"),
             ("shes", "sh"), ("men", "man"), ("ies", "y")]  # fmt: skip

    def lemma(w: str) -> str | None:
        if exc.get(w) in senses:
            return exc[w]
        if w in senses:
            return w
        for suffix, repl in rules:
            if w.endswith(suffix) and (c := w[: len(w) - len(suffix)] + repl) in senses:
                return c
        return None

    col = {o: c for c, o in enumerate(offsets)}
    out = np.zeros((len(texts), len(offsets)))
    for r, text in enumerate(texts):
        for w in re.findall(r"(?u)\b\w\w+\b", text.lower()):
            if w in stop or (lem := lemma(w)) is None:
                continue
            for o in senses[lem]:
                for t in (o, *hyper[o]):
                    out[r, col[t]] += 1.0 / len(senses[lem])
    return out


def test_counts_match_the_benchmarks_former_function(fake) -> None:
    stop = frozenset({"the", "and", "a", "bill"})
    texts = BACKGROUND + TEXTS + ["boxes of flies", "women", "buses axes geese gooses"]
    got = NounSynsets.read(fake).counts(texts, stop).toarray()
    np.testing.assert_allclose(got, former_counts(fake, texts, stop), atol=1e-12)
    assert got.any(axis=1).sum() >= 8  # the texts do reach synsets


def test_tfidf_and_the_lsi_direction_by_hand(small) -> None:
    t = LexicalTower.fit_synsets(["dog", "goose"], small, components=1, weight=0.2)
    # the corpus reaches 10, 20, 30, 40, 50 (not 60); smooth idf: df 1 -> ln(3/2) + 1 = a, 20
    # (in both) -> 1
    assert t.vocabulary == ("00000010-n", "00000020-n", "00000030-n", "00000040-n", "00000050-n")
    a = math.log(1.5) + 1
    np.testing.assert_allclose(t.idf, [a, 1.0, a, a, a])
    # "dogs goose": 10 .5, 20 .5 + 1, 30 .5, 40 1, 50 .5, times the idf, L2
    d = np.array([0.5 * a, 1.5, 0.5 * a, a, 0.5 * a])
    np.testing.assert_allclose(t.tfidf(["dogs goose"])[0], d / np.linalg.norm(d), atol=1e-12)
    # two unit rows r1, r2 with r1 . r2 > 0: the leading direction is (r1 + r2) / |r1 + r2|
    r1 = np.array([0.5 * a, 0.5, 0.5 * a, 0.0, 0.5 * a])
    r2 = np.array([0.0, 1.0, 0.0, a, 0.0])
    u = r1 / np.linalg.norm(r1) + r2 / np.linalg.norm(r2)
    assert abs(float(t.components[0] @ u) / np.linalg.norm(u)) == pytest.approx(1.0, abs=1e-6)
    assert abs(float(t.transform(["dogs goose"])[0, 0])) == pytest.approx(1.0, abs=1e-6)
    # the words it carries: each lemma's own form, noun.exc's and the suffix rules' that
    # WordNet's lemma rules send to it
    assert t.synsets is not None
    assert t.synsets.words == (
        *("animal", "animals", "dog", "dogs", "entities", "entity", "entitys"),
        *("geese", "goose", "gooses"),
    )


def test_the_tower_is_scikit_learns_pipeline_on_the_counts(fake) -> None:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfTransformer

    wn = NounSynsets.read(fake)
    t = LexicalTower.fit_synsets(BACKGROUND, fake, components=3, weight=0.2)
    stop = frozenset(ENGLISH_STOP_WORDS)
    tf = TfidfTransformer(smooth_idf=True, norm="l2").fit(wn.counts(BACKGROUND, stop))
    svd = TruncatedSVD(3, random_state=0).fit(tf.transform(wn.counts(BACKGROUND, stop)))
    texts = TEXTS + BACKGROUND
    y = svd.transform(tf.transform(wn.counts(texts, stop)))
    norms = np.linalg.norm(y, axis=1, keepdims=True)
    want = np.where(norms > 1e-9, y / np.maximum(norms, 1e-12), 0.0)
    got = t.transform(texts)
    np.testing.assert_allclose(got, want, atol=1e-6)
    # the rows the rules decide: "axes" is axe's (unreached), "ax" reaches 70; unknown words and
    # the stop word "bill" add nothing
    assert not got[2].any() and got[3].any() and not got[4].any()
    np.testing.assert_allclose(got[5], t.transform(["dog"])[0], atol=1e-7)


@pytest.fixture(scope="module")
def tiny(tiny_hf):  # type: ignore[no-untyped-def]
    from siamkit.applications.text import load_text_model

    return load_text_model(tiny_hf)


def test_bundle_and_onnx_runtime_embed_the_same(tiny, fake, tmp_path) -> None:
    from siamkit.applications.text import load_text_model
    from siamkit.applications.text.onnx import TextOnnxEmbedder
    from siamkit.applications.text.onnx_export import export_text_bundle
    from siamkit.export.bundle import save_model

    tiny.lexical = LexicalTower.fit_synsets(BACKGROUND, fake, components=3, weight=0.2)
    try:
        with torch.inference_mode():
            z = tiny.embed(TEXTS).numpy()
        plain = z[:, : z.shape[1] - 3]
        lex = tiny.lexical.transform(TEXTS)
        save_model(tiny, tmp_path / "m")
        export_text_bundle(tiny, tmp_path / "onnx")
    finally:
        tiny.lexical = None
    # the join: (1 - w) cos_z + w cos_l for texts with synsets
    plain = plain / np.linalg.norm(plain, axis=1, keepdims=True)
    want = 0.8 * float(plain[0] @ plain[1]) + 0.2 * float(lex[0] @ lex[1])
    assert float(z[0] @ z[1]) == pytest.approx(want, abs=1e-5)
    back = load_text_model(tmp_path / "m")
    assert back.lexical is not None and back.lexical.synsets is not None
    np.testing.assert_allclose(back.embed(TEXTS).numpy(), z, atol=1e-6)
    cfg = json.loads((tmp_path / "m" / "siamkit.json").read_text())
    assert cfg["model"]["lexical"]["features"] == "wordnet noun synsets"
    got = TextOnnxEmbedder(tmp_path / "onnx").embed(TEXTS)
    assert got.shape == z.shape
    assert float((got * z).sum(1).min()) > 0.99999
    # the words' shares are part of the digest: changed, the bundle is refused
    with np.load(tmp_path / "m" / "lexical.npz") as f:
        arrays = dict(f)
    arrays["word_data"] = arrays["word_data"] * 2
    np.savez(tmp_path / "m" / "lexical.npz", **arrays)
    with pytest.raises(ValueError, match="SHA-256 differs"):
        load_text_model(tmp_path / "m")


def test_cli_joins_a_synset_tower_and_refuses_bad_input(tiny_hf, fake, tmp_path) -> None:
    from siamkit.applications.text import load_text_model

    src = tmp_path / "background.txt"
    src.write_text("\n".join(BACKGROUND) + "\n")
    run = CliRunner().invoke
    out = tmp_path / "joined"
    base = ["text", "lexical", "--corpus", str(src), "--model", str(tiny_hf)]
    res = run(cli, [*base, "--synsets", "--wordnet", str(fake), "--components", "3",
                    "--weight", "0.2", "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "3-d LSI over 8 WordNet noun synsets" in res.output and "w = 0.2" in res.output
    m = load_text_model(out)
    assert m.lexical is not None and m.lexical.synsets is not None and m.lexical.weight == 0.2
    meta = json.loads((out / "siamkit.json").read_text())["metadata"]
    assert meta["lexical_wordnet"] == str(fake)
    # bad input: one sentence, nothing written
    bad = tmp_path / "bad"
    missing = tmp_path / "nowordnet"
    res = run(cli, [*base, "--synsets", "--wordnet", str(missing), "--out", str(bad)])
    assert res.exit_code != 0 and not bad.exists()
    assert f"{missing} is not a folder, so it has no WordNet files" in res.output
    assert "Debian package wordnet-base" in res.output
    missing.mkdir()  # a folder without data.noun
    res = run(cli, [*base, "--synsets", "--wordnet", str(missing), "--out", str(bad)])
    assert res.exit_code != 0 and not bad.exists()
    assert f"{missing} has no WordNet file data.noun" in res.output
    assert "Debian package wordnet-base" in res.output
    res = run(cli, [*base, "--wordnet", str(fake), "--out", str(bad)])
    assert res.exit_code != 0 and "pass --synsets too" in res.output and not bad.exists()
    res = run(cli, [*base, "--synsets", "--wordnet", str(fake), "--max-terms", "10",
                    "--out", str(bad)])  # fmt: skip
    assert res.exit_code != 0 and "--max-terms" in res.output and not bad.exists()
    res = run(cli, [*base, "--synsets", "--wordnet", str(fake), "--components", "6",
                    "--out", str(bad)])  # fmt: skip
    assert res.exit_code != 0 and "allow at most 5" in res.output and not bad.exists()
    words = tmp_path / "nouns.txt"
    words.write_text("zzz qqq\nthe and of\n")
    res = run(cli, ["text", "lexical", "--corpus", str(words), "--model", str(tiny_hf),
                    "--synsets", "--wordnet", str(fake), "--out", str(bad)])  # fmt: skip
    assert res.exit_code != 0 and "reaches 0 WordNet noun synsets" in res.output
    assert not bad.exists()
    broken = write(tmp_path / "broken", DATA, INDEX + "cat n 1 0 1 0 00000099\n")
    res = run(cli, [*base, "--synsets", "--wordnet", str(broken), "--out", str(bad)])
    assert res.exit_code != 0 and "names synset 00000099" in res.output and not bad.exists()


def test_a_synset_tower_stacked_after_a_word_tower_scores_round_7s_form(
    tiny, fake, tmp_path
) -> None:
    import dataclasses

    from siamkit.applications.text import load_text_model
    from siamkit.applications.text.onnx import TextOnnxEmbedder
    from siamkit.applications.text.onnx_export import export_text_bundle
    from siamkit.export.bundle import save_model

    words = LexicalTower.fit(BACKGROUND, components=3, weight=0.5)
    syn = LexicalTower.fit_synsets(BACKGROUND, fake, components=3, weight=0.2)
    with torch.inference_mode():
        z = tiny.embed(TEXTS).numpy()
    tiny.lexical = dataclasses.replace(words, stacked=syn)
    try:
        assert tiny.lexical.joined_weight == pytest.approx(0.6)
        with torch.inference_mode():
            j = tiny.embed(TEXTS).numpy()
        save_model(tiny, tmp_path / "m")
        export_text_bundle(tiny, tmp_path / "onnx")
    finally:
        tiny.lexical = None
    assert j.shape == (len(TEXTS), z.shape[1] + 6)
    lw, ls = words.transform(TEXTS), syn.transform(TEXTS)
    for a, b in [(0, 1), (0, 5), (1, 5)]:  # texts with words in both towers
        assert lw[a].any() and ls[a].any() and lw[b].any() and ls[b].any()
        current = 0.5 * float(z[a] @ z[b]) + 0.5 * float(lw[a] @ lw[b])
        want = 0.8 * current + 0.2 * float(ls[a] @ ls[b])
        assert float(j[a] @ j[b]) == pytest.approx(want, abs=1e-5)
    back = load_text_model(tmp_path / "m")
    assert back.lexical is not None and back.lexical.stacked is not None
    np.testing.assert_allclose(back.embed(TEXTS).numpy(), j, atol=1e-6)
    got = TextOnnxEmbedder(tmp_path / "onnx").embed(TEXTS)
    assert got.shape == j.shape and float((got * j).sum(1).min()) > 0.99999
    # a siamkit older than stacking accepts only tf "sublinear" in lexical.json: the first tower's
    # says otherwise, so that siamkit refuses the model ("written by another tokenisation")
    # instead of loading the word tower alone (s60_rq1 finding 1); files written before that
    # mark (tf "sublinear" and "stacked": true) still load as stacked
    for folder in (tmp_path / "m", tmp_path / "onnx"):
        doc = json.loads((folder / "lexical.json").read_text())
        assert doc["tf"] not in ("sublinear", "raw") and doc["stacked"] is True
    doc["tf"] = "sublinear"
    (tmp_path / "onnx" / "lexical.json").write_text(json.dumps(doc))
    got = TextOnnxEmbedder(tmp_path / "onnx").embed(TEXTS)
    assert got.shape == j.shape and float((got * j).sum(1).min()) > 0.99999
    # a stacked tower's file that says a tower is stacked after it is refused in one sentence
    # (it was followed again, to itself, until "maximum recursion depth exceeded": s60_rq1 2)
    for folder in (tmp_path / "m", tmp_path / "onnx"):
        doc = json.loads((folder / "lexical_stacked.json").read_text())
        (folder / "lexical_stacked.json").write_text(json.dumps({**doc, "stacked": True}))
    said = "lexical_stacked.json says a tower is stacked after it, but it is the stacked tower"
    with pytest.raises(ValueError, match=said):
        load_text_model(tmp_path / "m")
    with pytest.raises(ValueError, match=said):
        TextOnnxEmbedder(tmp_path / "onnx")
    # the stacked tower's files are in the digest
    doc = json.loads((tmp_path / "onnx" / "lexical_stacked.json").read_text())
    doc.pop("stacked")
    doc["weight"] = 0.3
    (tmp_path / "m" / "lexical_stacked.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="SHA-256 differs"):
        load_text_model(tmp_path / "m")
    # a forced export of the word tower alone over this export leaves no lexical_stacked.*, and
    # keeps a file of the user's (it was deleted with the earlier export)
    (tmp_path / "onnx" / "notes.txt").write_text("mine")
    tiny.lexical = words
    try:
        export_text_bundle(tiny, tmp_path / "onnx", force=True)
    finally:
        tiny.lexical = None
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == [
        "lexical.json", "lexical.npz", "notes.txt", "text.onnx", "text_onnx.json", "tokenizer"
    ]  # fmt: skip
    assert TextOnnxEmbedder(tmp_path / "onnx").embed(TEXTS).shape == (len(TEXTS), z.shape[1] + 3)


def test_cli_stacks_synsets_on_a_word_tower_model_only(tiny_hf, fake, tmp_path) -> None:
    from siamkit.applications.text import load_text_model

    src = tmp_path / "background.txt"
    src.write_text("\n".join(BACKGROUND) + "\n")
    run = CliRunner().invoke
    fit = ["text", "lexical", "--corpus", str(src), "--components", "3"]
    syn = ["--synsets", "--wordnet", str(fake)]
    hybrid, both = tmp_path / "hybrid", tmp_path / "both"
    res = run(cli, [*fit, "--model", str(tiny_hf), "--weight", "0.5", "--out", str(hybrid)])
    assert res.exit_code == 0, res.output
    other = tmp_path / "other.txt"  # the synset tower's corpus, not the word tower's
    other.write_text("\n".join(reversed(BACKGROUND)) + "\n")
    stack = ["text", "lexical", "--corpus", str(other), "--components", "3", *syn]
    res = run(cli, [*stack, "--model", str(hybrid), "--weight", "0.2", "--out", str(both)])
    assert res.exit_code == 0, res.output
    # each tower's corpus is recorded (the word tower's was overwritten: s60_rq1 finding 3)
    meta = json.loads((both / "siamkit.json").read_text())["metadata"]
    assert meta["lexical_corpus"] == str(src) and meta["lexical_stacked_corpus"] == str(other)
    assert meta["lexical_wordnet"] == str(fake)
    assert "v = 0.2: a pair scores (1 - v) * MODEL's score + v * synset cosine" in res.output
    m = load_text_model(both)
    assert m.lexical is not None and m.lexical.stacked is not None
    assert (m.lexical.weight, m.lexical.stacked.weight) == (0.5, 0.2)
    assert m.embedding_dim == load_text_model(hybrid).embedding_dim + 3
    bad = tmp_path / "bad"
    res = run(cli, [*fit, "--model", str(hybrid), "--out", str(bad)])  # words on words
    assert res.exit_code != 0 and "(or join a --synsets tower to it)" in res.output
    for start in (both, tmp_path / "syn"):  # on a stacked model, or synsets on synsets
        if not start.exists():
            assert (
                run(cli, [*fit, *syn, "--model", str(tiny_hf), "--out", str(start)]).exit_code == 0
            )
        res = run(cli, [*fit, *syn, "--model", str(start), "--out", str(bad)])
        assert res.exit_code != 0 and "already joins a lexical tower" in res.output
        assert "--synsets tower to it" not in res.output and not bad.exists()


def _names(n: int) -> list[str]:
    """``n`` distinct lower-case words of letters alone ("zqaa", "zqab", ...): WordNet lemmas
    and TF-IDF terms alike."""
    abc = "abcdefghijklmnopqrstuvwxyz"
    return [f"zq{abc[k // 26 // 26 % 26]}{abc[k // 26 % 26]}{abc[k % 26]}" for k in range(n)]


def test_counts_of_a_thousand_or_more_carry_the_separator(tiny_hf, fake, tmp_path) -> None:
    """`siamkit text lexical`'s line and the towers' fit refusals printed "10257 words",
    "1001 terms", "1000 texts" without the separator every count now has (s60_FB finding 2)."""
    from siamkit.applications.text import load_text_model

    lines = [f"{w} {'dog car' if k % 2 else 'goose bus'}" for k, w in enumerate(_names(1000))]
    with pytest.raises(ValueError) as e:
        LexicalTower.fit(lines, components=5000)
    assert str(e.value).startswith(
        "5,000 lexical components asked for, but 1,000 texts with 1,004 distinct terms allow at "
        "most 999;"
    )
    with pytest.raises(ValueError) as e:
        LexicalTower.fit_synsets(lines, fake, components=5000)
    assert "5,000 lexical components asked for, but 1,000 texts reaching " in str(e.value)
    src = tmp_path / "corpus.txt"
    src.write_text("\n".join(lines) + "\n")
    run = CliRunner().invoke
    base = ["text", "lexical", "--corpus", str(src), "--model", str(tiny_hf), "--components", "3"]
    res = run(cli, [*base, "--out", str(tmp_path / "words")])
    assert res.exit_code == 0, res.output
    assert "3-d LSI over 1,004 terms, w = " in res.output
    # a WordNet whose dog synset has 1,000 more lemmas, each in index.noun
    index = INDEX + INDEX_MORE + "".join(f"{w} n 1 0 1 0 00000030\n" for w in _names(1000))
    big = write(tmp_path / "wn-big", DATA + DATA_MORE, "".join(sorted(index.splitlines(True))))
    res = run(cli, [*base, "--synsets", "--wordnet", str(big), "--out", str(tmp_path / "syn")])
    assert res.exit_code == 0, res.output
    tower = load_text_model(tmp_path / "syn").lexical
    assert tower is not None and tower.synsets is not None
    n = len(tower.synsets.words)
    assert n >= 1000 and f" WordNet noun synsets ({n:,} words), w = " in res.output


def test_a_damaged_towers_refusals_carry_the_separator() -> None:
    """The towers' refusals of arrays that disagree (a damaged lexical.npz) printed "1004
    terms", "1 words", "1001 synsets" beside fit refusals that separate thousands (s60_LR
    finding 2)."""
    terms = tuple(f"t{i}" for i in range(1004))
    with pytest.raises(ValueError) as e:
        LexicalTower(terms, np.ones(1003), np.ones((2, 1004)), frozenset(), 0.3)
    assert str(e.value) == (
        "a lexical tower's arrays disagree: 1,004 terms, idf (1003,), components (2, 1004)"
    )
    one, empty = np.array([0, 1]), np.zeros(0)
    with pytest.raises(ValueError) as e:
        SynsetWords(("dog",), one, np.array([0]), empty)
    assert str(e.value).startswith("a synset tower's word arrays disagree: 1 word, indptr ")
    outside = SynsetWords(("dog",), one, np.array([1004]), np.ones(1))
    with pytest.raises(ValueError) as e:
        LexicalTower(terms, np.ones(1004), np.ones((2, 1004)), frozenset(), 0.3, synsets=outside)
    assert str(e.value) == "a synset tower's words name columns outside its 1,004 synsets"


def test_a_stacked_models_default_threshold_refusal_names_both_weights(fake) -> None:
    """It said "joins a lexical tower (w = 0.6)": the joined weight 1 - 0.5 * 0.8, which
    `siamkit text lexical` neither took nor printed (s60_FB finding 4)."""
    import dataclasses
    from types import SimpleNamespace

    from siamkit.applications.text.similarity import refuse_default_for_lexical

    words = LexicalTower.fit(BACKGROUND, components=3, weight=0.5)
    syn = LexicalTower.fit_synsets(BACKGROUND, fake, components=3, weight=0.2)
    with pytest.raises(ValueError) as e:
        refuse_default_for_lexical(SimpleNamespace(lexical=dataclasses.replace(words, stacked=syn)))
    assert str(e.value).startswith(
        "this model joins a word tower (w = 0.5) and a WordNet synset tower after it (v = 0.2), "
        "so all-MiniLM-L6-v2's default thresholds do not apply to its scores: pass a threshold"
    )
    with pytest.raises(ValueError) as e:  # one tower: as before
        refuse_default_for_lexical(SimpleNamespace(lexical=words))
    assert str(e.value).startswith("this model joins a lexical tower (w = 0.5), so ")


def test_a_synset_towers_table_is_float32_int32_and_float64_files_still_load(
    tiny, tmp_path
) -> None:
    """The word table was float64 / int64 (a tower on the Lee background: 12.4 MB of files, in
    the model and every training checkpoint): now float32 shares and int32 positions, the
    embedding within 1e-6 of the exact float64 shares', and a tower saved float64 / int64 (an
    earlier siamkit's) still loads with its digest and embedding."""
    import dataclasses

    from siamkit.applications.text import load_text_model
    from siamkit.export.bundle import save_model

    # 1,000 lemmas of 3 senses each (1/3 shares, inexact in float32), all reached by BACKGROUND
    index = INDEX + INDEX_MORE
    index += "".join(f"{w} n 3 0 3 0 00000030 00000040 00000080\n" for w in _names(1000))
    wn = NounSynsets.read(
        write(tmp_path / "wn-big", DATA + DATA_MORE, "".join(sorted(index.splitlines(True))))
    )
    t = LexicalTower.fit_synsets(BACKGROUND, wn, components=3, weight=0.2)
    table = t.synsets
    assert table is not None and len(table.words) >= 2000
    assert (table.indptr.dtype, table.indices.dtype, table.data.dtype) == (
        np.int32,
        np.int32,
        np.float32,
    )
    # the exact shares in float64, from WordNet's rules (what the table held before)
    column = {int(v[:8]): c for c, v in enumerate(t.vocabulary)}
    exact = np.zeros(len(table.data))
    for r, w in enumerate(table.words):
        share = {column[o]: s for o, s in wn.shares(wn.lemma(w)).items() if o in column}
        lo, hi = table.indptr[r], table.indptr[r + 1]
        assert sorted(table.indices[lo:hi]) == sorted(share)
        exact[lo:hi] = [share[c] for c in table.indices[lo:hi]]
    assert not np.array_equal(table.data, exact)  # float32 rounded some shares ...
    np.testing.assert_allclose(table.data, exact, rtol=1e-7)  # ... by float32's epsilon
    wide = SynsetWords(
        table.words, table.indptr.astype(np.int64), table.indices.astype(np.int64), exact
    )
    old = dataclasses.replace(t, synsets=wide)
    texts = [*TEXTS, *BACKGROUND, " ".join(_names(1000)[::7]), "zqaab and a dog", "zqabc cars"]
    np.testing.assert_allclose(t.transform(texts), old.transform(texts), rtol=0, atol=1e-6)
    # the file: the table at 4 bytes a number (8 before), beside idf and components
    t.save(tmp_path)
    narrow = t.idf.nbytes + t.components.nbytes + 4 * (len(table.indptr) + 2 * len(table.data))
    assert (tmp_path / "lexical.npz").stat().st_size < narrow + 2_000  # the npz's headers
    # an earlier siamkit's bundle (float64 / int64 in its npz) loads, digest checked, as it was
    tiny.lexical = old
    try:
        with torch.inference_mode():
            z = tiny.embed(texts).numpy()
        save_model(tiny, tmp_path / "m")
    finally:
        tiny.lexical = None
    with np.load(tmp_path / "m" / "lexical.npz") as f:
        assert (f["word_data"].dtype, f["word_indices"].dtype) == (np.float64, np.int64)
    back = load_text_model(tmp_path / "m")
    assert back.lexical is not None and back.lexical.digest() == old.digest()
    with torch.inference_mode():
        np.testing.assert_allclose(back.embed(texts).numpy(), z, rtol=0, atol=1e-6)
    # re-saved, it stays float64 (SynsetWords says why): narrowed, its digest would differ, and
    # with it the model's fingerprint, which its galleries and exports are checked against
    assert dataclasses.replace(old, synsets=table).digest() != old.digest()
    fingerprint = json.loads((tmp_path / "m" / "siamkit.json").read_text())["fingerprint"]
    save_model(back, tmp_path / "m")
    with np.load(tmp_path / "m" / "lexical.npz") as f:
        assert f["word_data"].dtype == np.float64
    assert json.loads((tmp_path / "m" / "siamkit.json").read_text())["fingerprint"] == fingerprint
