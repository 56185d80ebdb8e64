"""``--dim``: `siamkit text similarity`, `text dedup` and `text plagiarism` compare the
embeddings' first DIM dimensions, re-normalised (the sizes a model fine-tuned with loss
matryoshka records)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from siamkit.applications.text.embedding import truncate_rows
from siamkit.applications.text.model import TextSiameseNetwork
from siamkit.cli.main import cli


@pytest.fixture(scope="module")
def matryoshka_model(tiny_hf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny BERT saved as a siamkit model that records the sizes 32, 16 and 8."""
    from siamkit.export.bundle import save_model

    model = TextSiameseNetwork.pretrained(tiny_hf, max_length=32, overlap=8)
    model.matryoshka_dims = [32, 16, 8]
    return save_model(model, tmp_path_factory.mktemp("m") / "model")  # type: ignore[arg-type]


def _run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["text", *args])
    return res.exit_code, res.stdout, res.stderr


def test_truncate_rows_cuts_and_renormalises() -> None:
    v = np.array([[3.0, 4.0, 12.0], [1.0, 0.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(truncate_rows(v, 2), [[0.6, 0.8], [1.0, 0.0]], rtol=1e-6)
    assert truncate_rows(v, None) is v and truncate_rows(v, 3) is v


def test_similarity_at_a_smaller_dim_is_the_cosine_of_the_cut_embeddings(
    matryoshka_model: Path,
) -> None:
    a, b = "the printer is out of toner", "printer needs new toner"
    import siamkit

    net = siamkit.load_model(matryoshka_model)
    za, zb = net.embed([a]), net.embed([b])
    want = float(torch.nn.functional.cosine_similarity(za[:, :8], zb[:, :8])[0])
    full = float((za * zb).sum())
    code, out, err = _run(
        "similarity",
        a,
        b,
        "--model",
        str(matryoshka_model),
        "--dim",
        "8",
        "--device",
        "cpu",
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["similarity"] == pytest.approx(want, abs=1e-5)
    assert abs(want - full) > 1e-4  # the cut changes the score: the test tells them apart
    assert "may not suit --dim 8" in doc["threshold_source"]
    assert err == ""  # 8 is one of the model's trained sizes: no note


def test_a_size_the_model_was_not_trained_for_is_noted_and_one_past_it_refused(
    matryoshka_model: Path, tiny_hf: Path
) -> None:
    args = ["similarity", "a cat", "a dog", "--device", "cpu"]
    code, _, err = _run(*args, "--model", str(matryoshka_model), "--dim", "12")
    assert code == 0 and "fine-tuned for the sizes [32, 16, 8]" in err
    code, _, err = _run(*args, "--model", str(tiny_hf), "--dim", "12")
    assert code == 0 and "not fine-tuned with loss matryoshka" in err
    code, out, err = _run(*args, "--model", str(matryoshka_model), "--dim", "64")
    assert code != 0 and "--dim 64 is not a size of this 32-dimensional model" in out + err


def test_dedup_groups_on_the_cut_embeddings(matryoshka_model: Path, tmp_path: Path) -> None:
    import siamkit

    texts = ["the printer is out of toner", "printer needs new toner", "vpn login fails"]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        "".join(json.dumps({"id": str(i), "text": t}) + "\n" for i, t in enumerate(texts))
    )
    z = siamkit.load_model(matryoshka_model).embed(texts).numpy()
    cut = truncate_rows(z, 16)
    s01 = float(cut[0] @ cut[1])
    out = tmp_path / "g.jsonl"
    code, stdout, err = _run(
        "dedup",
        str(corpus),
        "--out",
        str(out),
        "--model",
        str(matryoshka_model),
        "--dim",
        "16",
        "--threshold",
        str(round(min(s01, float(cut[0] @ cut[2])) - 1e-3, 6)),
        "--device",
        "cpu",
        "--json",
        "--no-progress",
    )
    assert code == 0, err
    assert json.loads(stdout)["dim"] == 16
    group = json.loads(out.read_text().splitlines()[0])
    sims = {m["id"]: m["similarity"] for m in group["members"]}
    assert sims["1"] == pytest.approx(s01, abs=1e-5)


def test_plagiarism_matches_on_the_cut_embeddings(matryoshka_model: Path, tmp_path: Path) -> None:
    """Each suspect sentence's span scores its best cosine against the sources' sentences, the
    sentence embeddings cut to --dim and re-normalised by hand."""
    import siamkit

    suspect = ["The printer on floor two is out of toner.", "My vpn login fails every morning."]
    sources = ["Printer needs new toner cartridges soon.", "The vpn client rejects my password."]
    (tmp_path / "essay.txt").write_text(" ".join(suspect))
    src = tmp_path / "src.jsonl"  # one sentence each: every match is a span of its own
    src.write_text(
        "".join(json.dumps({"id": f"s{i}", "text": t}) + "\n" for i, t in enumerate(sources))
    )
    net = siamkit.load_model(matryoshka_model)
    za, zb = net.embed(suspect).numpy(), net.embed(sources, role="document").numpy()
    cut = truncate_rows(za, 8) @ truncate_rows(zb, 8).T
    want = [(f"s{int(j)}", float(cut[i, j])) for i, j in enumerate(cut.argmax(1))]
    base = ("plagiarism", str(tmp_path / "essay.txt"), "--corpus", str(src))
    base += ("--model", str(matryoshka_model), "--device", "cpu", "--no-progress")
    code, out, err = _run(*base, "--dim", "8", "--threshold", "-1", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["dim"] == 8
    got = [(s["source"], s["similarity"]) for s in doc["spans"]]
    assert [g[0] for g in got] == [w[0] for w in want]
    np.testing.assert_allclose([g[1] for g in got], [w[1] for w in want], atol=1e-5)
    full = za @ zb.T  # the cut changes the scores: the test tells them apart
    assert np.abs(full.max(1) - cut.max(1)).max() > 1e-4
    # a size the model was not trained for: noted, as similarity does
    code, _, err = _run(*base, "--dim", "12")
    assert code == 0 and "fine-tuned for the sizes [32, 16, 8]" in err
