"""The lexical tower joined to the text twin: against scikit-learn, the join, the bundle, the
ONNX runtime, the thresholds and ``siamkit text lexical`` (a tiny random BERT: fast)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from siamkit.applications.text.lexical import LexicalTower
from siamkit.cli.main import cli

WORDS = [
    "printer",
    "toner",
    "paper",
    "vpn",
    "login",
    "password",
    "battery",
    "charger",
    "sink",
    "leak",
    "water",
    "coffee",
    "machine",
    "budget",
    "report",
    "senator",
    "election",
    "bushfire",
    "forest",
    "market",
    "bank",
    "rates",
    "guitar",
    "music",
]


def corpus(n: int = 40, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(4, 12))
        # repeated words (sublinear tf), stop words (dropped), upper case (lowered)
        out.append(" ".join(rng.choice(WORDS, k)) + " The printer and THE Budget, again budget.")
    return out


QUERIES = [
    "the printer is out of toner toner toner",
    "VPN login fails; password reset?",
    "zzz qqq unknownword",  # no word of the vocabulary: a zero lexical row
    "Bushfire near the forest; the senator's election",
]


def test_tfidf_and_lsi_match_scikit_learn() -> None:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = corpus()
    tower = LexicalTower.fit(docs, components=6, weight=0.3)
    vec = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit(docs)
    assert list(tower.vocabulary) == list(vec.get_feature_names_out())
    np.testing.assert_allclose(tower.tfidf(QUERIES), vec.transform(QUERIES).toarray(), atol=1e-12)
    svd = TruncatedSVD(6, random_state=0).fit(vec.transform(docs))
    want = svd.transform(vec.transform(QUERIES))
    n = np.linalg.norm(want, axis=1, keepdims=True)
    want = np.divide(want, n, out=np.zeros_like(want), where=n > 0)
    got = tower.transform(QUERIES)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert not got[2].any() and got[0].any()  # unknown words only: zero row


def test_bad_fits_are_one_sentence() -> None:
    with pytest.raises(ValueError, match="at most"):
        LexicalTower.fit(corpus(5), components=10)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        LexicalTower.fit(corpus(), components=3, weight=1.0)
    with pytest.raises(ValueError, match="no usable words"):
        LexicalTower.fit(["the and of", "a the is"], components=1)
    with pytest.raises(ValueError, match="at least 2 non-empty"):
        LexicalTower.fit(["printer", "  "], components=1)
    with pytest.raises(
        ValueError, match=r"^the lexical corpus has only 1 distinct term \(printer,"
    ):
        LexicalTower.fit(["The printer.", "printer", "PRINTER!"], components=1)


@pytest.fixture(scope="module")
def tiny(tiny_hf):  # type: ignore[no-untyped-def]
    from siamkit.applications.text import load_text_model

    return load_text_model(tiny_hf)


def joined(tiny, tower):  # type: ignore[no-untyped-def]
    tiny.lexical = tower
    try:
        return tiny.embed(QUERIES).numpy()
    finally:
        tiny.lexical = None


def test_the_join_scores_the_weighted_sum_of_the_two_cosines(tiny) -> None:
    tower = LexicalTower.fit(corpus(), components=6, weight=0.3)
    z = tiny.embed(QUERIES).numpy()
    lex = tower.transform(QUERIES)
    j = joined(tiny, tower)
    assert j.shape == (len(QUERIES), z.shape[1] + 6)
    np.testing.assert_allclose(np.linalg.norm(j, axis=1), 1.0, atol=1e-6)
    for a, b in [(0, 1), (0, 3), (1, 3)]:  # texts with vocabulary words: exact weighted sum
        want = 0.7 * float(z[a] @ z[b]) + 0.3 * float(lex[a] @ lex[b])
        assert float(j[a] @ j[b]) == pytest.approx(want, abs=1e-5)
    other = LexicalTower.fit(corpus(), components=6, weight=0.6)
    j6 = joined(tiny, other)
    assert float(j6[0] @ j6[1]) != pytest.approx(float(j[0] @ j[1]), abs=1e-3)


def test_bundle_keeps_the_tower_and_refuses_changed_files(tiny, tmp_path) -> None:
    from siamkit.applications.text import load_text_model
    from siamkit.export.bundle import save_model
    from siamkit.models import model_fingerprint

    plain = model_fingerprint(tiny)
    tiny.lexical = LexicalTower.fit(corpus(), components=6, weight=0.3)
    try:
        want = tiny.embed(QUERIES).numpy()
        fp = model_fingerprint(tiny)
        save_model(tiny, tmp_path / "m")
    finally:
        tiny.lexical = None
    assert fp != plain  # the tower is part of the model's identity
    back = load_text_model(tmp_path / "m")
    assert back.lexical is not None and back.embedding_dim == want.shape[1]
    np.testing.assert_allclose(back.embed(QUERIES).numpy(), want, atol=1e-6)
    assert model_fingerprint(back) == fp
    doc = json.loads((tmp_path / "m" / "lexical.json").read_text())
    doc["weight"] = 0.5  # not what the config was saved with
    (tmp_path / "m" / "lexical.json").write_text(json.dumps(doc))
    np.savez(
        tmp_path / "m" / "lexical.npz", idf=back.lexical.idf * 2, components=back.lexical.components
    )
    with pytest.raises(ValueError, match="SHA-256 differs"):
        load_text_model(tmp_path / "m")


def test_onnx_runtime_joins_the_same_tower(tiny, tmp_path) -> None:
    from siamkit.applications.text.onnx import TextOnnxEmbedder
    from siamkit.applications.text.onnx_export import export_text_bundle

    tiny.lexical = LexicalTower.fit(corpus(), components=6, weight=0.3)
    try:
        with torch.inference_mode():
            want = tiny.embed(QUERIES).numpy()
        export_text_bundle(tiny, tmp_path / "onnx")
    finally:
        tiny.lexical = None
    got = TextOnnxEmbedder(tmp_path / "onnx").embed(QUERIES)
    assert got.shape == want.shape
    assert float((got * want).sum(1).min()) > 0.99999


def test_default_thresholds_are_refused_for_a_joined_model(tiny) -> None:
    from siamkit.applications.text.similarity import compare_texts, resolve_threshold

    tiny.lexical = LexicalTower.fit(corpus(), components=6, weight=0.3)
    try:
        with pytest.raises(ValueError, match="joins a lexical tower"):
            resolve_threshold(tiny, None, level="document")
        r = compare_texts(tiny, QUERIES[0], QUERIES[1], min_similarity=0.5)
        tiny.threshold = 0.4  # a calibrated one is used
        assert resolve_threshold(tiny, None)[0] == 0.4
    finally:
        tiny.lexical, tiny.threshold = None, None
    assert r.threshold == pytest.approx(0.5)


def test_cli_writes_a_joined_model_and_refuses_bad_input(tiny_hf, tmp_path) -> None:
    src = tmp_path / "background.txt"
    src.write_text("\n".join(corpus()) + "\n")
    run = CliRunner().invoke
    out = tmp_path / "joined"
    args = ["text", "lexical", "--corpus", str(src), "--model", str(tiny_hf), "--out", str(out)]
    res = run(cli, [*args, "--components", "6", "--weight", "0.25"])
    assert res.exit_code == 0, res.output
    assert "6-d LSI" in res.output and "w = 0.25" in res.output
    from siamkit.applications.text import load_text_model

    m = load_text_model(out)
    assert m.lexical is not None and m.lexical.weight == 0.25 and m.threshold is None
    res = run(cli, ["text", "similarity", "printer toner", "toner printer", "--model", str(out)])
    assert res.exit_code != 0 and "joins a lexical tower" in res.output
    res = run(
        cli, ["text", "similarity", "printer toner", "toner printer", "--model", str(out),
              "--threshold", "0.5", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["same"] is True
    # bad input: one sentence, nothing written
    bad = tmp_path / "bad"
    args = ["text", "lexical", "--corpus", str(src), "--model", str(tiny_hf), "--out", str(bad)]
    res = run(cli, [*args, "--components", "500"])
    assert res.exit_code != 0 and "at most" in res.output and not bad.exists()
    res = run(cli, [*args, "--weight", "1"])
    assert res.exit_code != 0 and not bad.exists()
    res = run(cli, [*args[:-2], "--out", str(out), "--components", "6"])
    assert res.exit_code != 0 and "--force" in res.output
    res = run(
        cli, ["text", "lexical", "--corpus", str(src), "--model", str(out), "--out", str(bad)]
    )
    assert res.exit_code != 0 and "already joins" in res.output and not bad.exists()


@pytest.mark.parametrize("share_weights", [True, False])
def test_fine_tuning_a_joined_model_keeps_its_tower(
    tiny, tmp_path, graded_pairs, share_weights
) -> None:
    import siamkit
    from siamkit.export.bundle import save_model
    from siamkit.training.tasks import TaskOptions, get_task

    tower = LexicalTower.fit(corpus(), components=6, weight=0.3)
    tiny.lexical = tower
    try:
        save_model(tiny, tmp_path / "joined")
    finally:
        tiny.lexical = None
    data = tmp_path / "pairs.csv"
    data.write_text("a,b,label\n" + "".join(f"{a},{b},{s}\n" for a, b, s in graded_pairs * 2))
    cfg = {
        "model": {"path": str(tmp_path / "joined"), "max_length": 32, "overlap": 8,
                  "share_weights": share_weights},
        "data": {"train": str(data), "score_range": [0, 5], "val_fraction": 0.25},
        "loss": {"name": "cosent"},
        "train": {"epochs": 1, "batch_size": 6, "lr": 1e-3, "warmup": 0.0},
    }  # fmt: skip
    summary = get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    after = siamkit.load_model(summary.model_dir)
    assert after.lexical is not None and after.lexical.digest() == tower.digest()
    assert after.share_weights is share_weights
    assert after.embed(["printer toner"]).shape[1] == tiny.embedding_dim + 6


def test_cli_calibrates_the_joined_model_on_labelled_pairs(tiny_hf, tmp_path, graded_pairs) -> None:
    from siamkit.applications.text import load_text_model
    from siamkit.applications.text.lexical import LexicalTower as Tower
    from siamkit.evaluation.roc import eer

    src = tmp_path / "background.txt"
    src.write_text("\n".join(corpus()) + "\n")
    pairs = [(a, b, int(s > 2.5)) for a, b, s in graded_pairs]
    csv = tmp_path / "val.csv"
    csv.write_text("a,b,label\n" + "".join(f"{a},{b},{y}\n" for a, b, y in pairs))
    out = tmp_path / "joined"
    res = CliRunner().invoke(
        cli, ["text", "lexical", "--corpus", str(src), "--model", str(tiny_hf), "--out", str(out),
              "--components", "6", "--calibrate", str(csv)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "equal-error point on 12 pairs" in res.output
    m = load_text_model(out)
    # the same EER threshold computed here from the saved model's own embeddings
    za = m.embed([a for a, _, _ in pairs]).numpy()
    zb = m.embed([b for _, b, _ in pairs]).numpy()
    d = 1 - (za * zb).sum(1)
    y = np.array([p[2] for p in pairs])
    assert m.threshold == pytest.approx(float(eer(d[y == 1], d[y == 0]).threshold), abs=1e-6)
    assert isinstance(m.lexical, Tower)
    res = CliRunner().invoke(
        cli, ["text", "similarity", pairs[0][0], pairs[0][1], "--model", str(out)]
    )
    assert res.exit_code == 0 and "calibrated threshold" in res.output, res.output
    graded = tmp_path / "graded.csv"
    graded.write_text("a,b,label\nx y,y z,1\nx y,q r,0.5\n")
    bad = tmp_path / "bad"
    res = CliRunner().invoke(
        cli, ["text", "lexical", "--corpus", str(src), "--model", str(tiny_hf), "--out", str(bad),
              "--components", "6", "--calibrate", str(graded)],
    )  # fmt: skip
    assert res.exit_code != 0 and not bad.exists(), res.output
