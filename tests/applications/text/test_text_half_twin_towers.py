"""A text half-twin (``share_weights: false``, issue 16) embeds what is searched with its query
tower and what is enrolled or searched for with its document tower, everywhere a user reaches it:
the gallery, verify_pair (as ``siamkit text similarity``), ``siamkit text enroll``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

QUESTIONS = ["how do I list the files of a folder?", "which tool prints disk usage?"]
ANSWERS = [
    "ls: list information about the files of the current directory by default.",
    "du: summarize the disk usage of each file, recursively for directories.",
]


@pytest.fixture
def half_twin(half_twin_net):  # type: ignore[no-untyped-def]
    """A tiny half-twin whose document tower differs from its query tower (noise 0.2)."""
    return half_twin_net(0.2)


def _towers(net, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    with torch.inference_mode():
        q = net.embed(texts).numpy()
        d = net.embed(texts, role="document").numpy()
    assert not np.allclose(q, d, atol=1e-3)  # the towers differ, so the test can tell them apart
    return q, d


def test_a_gallery_enrolls_with_the_document_tower_and_searches_with_the_query_tower(
    half_twin, tmp_path: Path
) -> None:
    from siamkit.index import Gallery

    _, docs = _towers(half_twin, ANSWERS)
    queries, _ = _towers(half_twin, QUESTIONS)
    with Gallery.open(tmp_path / "faq.db", half_twin, create=True) as g:
        for i, answer in enumerate(ANSWERS):
            g.enroll(f"FAQ-{i}", [answer])
        for i in range(len(ANSWERS)):
            stored = g.items(f"FAQ-{i}").embeddings
            np.testing.assert_allclose(stored, docs[i : i + 1], atol=1e-5)
        res = g.identify(QUESTIONS[0], k=2)
        want = 1.0 - docs @ queries[0]
        got = {m.label: m.distance for m in res.matches}
        np.testing.assert_allclose([got["FAQ-0"], got["FAQ-1"]], want, atol=1e-4)
        v = g.verify(QUESTIONS[1], "FAQ-1")
        assert v.distance == pytest.approx(float(1.0 - docs[1] @ queries[1]), abs=1e-4)


def test_verify_pair_scores_b_with_the_document_tower_as_text_similarity(half_twin) -> None:
    from siamkit.applications.text.similarity import compare_texts
    from siamkit.index import verify_pair

    v = verify_pair(half_twin, QUESTIONS[0], ANSWERS[0])
    s = compare_texts(half_twin, QUESTIONS[0], ANSWERS[0])
    assert v.distance == pytest.approx(s.distance, abs=1e-5)


def test_text_enroll_embeds_the_passages_with_the_document_tower(half_twin, tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from siamkit.cli.main import cli
    from siamkit.export.bundle import save_model
    from siamkit.index import Gallery

    model = save_model(half_twin, tmp_path / "model")
    corpus = tmp_path / "answers.jsonl"
    corpus.write_text(
        "".join(json.dumps({"id": f"FAQ-{i}", "text": a}) + "\n" for i, a in enumerate(ANSWERS))
    )
    res = CliRunner().invoke(
        cli, ["text", "enroll", str(corpus), "--gallery", str(tmp_path / "faq.db"),
              "--model", str(model), "--device", "cpu"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    _, docs = _towers(half_twin, ANSWERS)
    with Gallery.open(tmp_path / "faq.db") as g:
        for i in range(len(ANSWERS)):
            np.testing.assert_allclose(g.items(f"FAQ-{i}").embeddings, docs[i : i + 1], atol=1e-5)


def test_the_service_enrolls_with_the_document_tower_and_queries_with_the_query_tower(
    half_twin, tmp_path: Path
) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from siamkit.service import create_app

    queries, _ = _towers(half_twin, QUESTIONS)
    _, docs = _towers(half_twin, ANSWERS)
    with TestClient(create_app(half_twin, tmp_path / "faq.db")) as c:
        for i, answer in enumerate(ANSWERS):
            assert (
                c.post("/enroll", json={"label": f"FAQ-{i}", "texts": [answer]}).status_code == 201
            )
        body = c.post("/identify", json={"text": QUESTIONS[0], "k": 2}).json()
        got = {m["label"]: m["distance"] for m in body["matches"]}
        np.testing.assert_allclose([got["FAQ-0"], got["FAQ-1"]], 1.0 - docs @ queries[0], atol=1e-4)
        pair = c.post("/verify", json={"text_a": QUESTIONS[1], "text_b": ANSWERS[1]}).json()
        label = c.post("/verify", json={"text": QUESTIONS[1], "label": "FAQ-1"}).json()
    assert pair["distance"] == pytest.approx(float(1.0 - docs[1] @ queries[1]), abs=1e-4)
    assert label["distance"] == pytest.approx(pair["distance"], abs=1e-4)


def test_the_onnx_export_writes_both_towers_and_embeds_each_role_as_torch(
    half_twin, tmp_path: Path
) -> None:
    """The export refused a half-twin ('covers shared-weight text models'); it now writes the
    document tower beside the query tower, checks each against its PyTorch tower, and the
    runtime, the model served by it and text enroll --runtime onnx embed each role with its own."""
    pytest.importorskip("onnxruntime")
    from siamkit.applications.text.embedding import embed_texts
    from siamkit.applications.text.onnx import TextOnnxEmbedder
    from siamkit.applications.text.onnx_model import load_text_onnx_model
    from siamkit.export.bundle import save_model
    from siamkit.index import Gallery

    model = save_model(half_twin, tmp_path / "model")
    rows = half_twin.export_onnx_folder(model / "onnx", int8=True)
    names = sorted(r.path.name for r in rows)
    assert names == [
        "text.document.int8.onnx", "text.document.onnx", "text.int8.onnx", "text.onnx",
    ]  # fmt: skip
    assert all(r.min_cosine > 0.9999 for r in rows if r.precision == "fp32")
    queries, docs = _towers(half_twin, ANSWERS)
    runtime = TextOnnxEmbedder(model / "onnx")
    np.testing.assert_allclose(runtime.embed(ANSWERS), queries, atol=1e-4)
    np.testing.assert_allclose(runtime.embed(ANSWERS, role="document"), docs, atol=1e-4)
    got = embed_texts(runtime, ANSWERS, role="document", progress=False).vectors
    np.testing.assert_allclose(got, docs, atol=1e-4)
    served = load_text_onnx_model(model)
    np.testing.assert_allclose(served.embed(ANSWERS, role="document").numpy(), docs, atol=1e-4)
    with Gallery.open(tmp_path / "faq.db", served, create=True) as g:
        g.enroll("FAQ-0", [ANSWERS[0]])
        np.testing.assert_allclose(g.items("FAQ-0").embeddings, docs[:1], atol=1e-4)
        res = g.identify(ANSWERS[0], k=1)
    assert res.matches[0].distance == pytest.approx(float(1.0 - docs[0] @ queries[0]), abs=1e-4)
    # the served export records its document tower as the PyTorch model does, so the gallery
    # it enrolled opens with either (a half-twin gallery without the record is refused)
    with Gallery.open(tmp_path / "faq.db", half_twin, create=False) as g:
        assert len(g) == 1
    # siamkit serve --runtime onnx*'s startup line named only the query tower's graph
    from siamkit.cli.serve_cmd import runs_on

    onnx = model / "onnx"
    for runtime, int8 in (("onnx", False), ("onnx-int8", True)):
        q, d = (
            ("text.int8.onnx", "text.document.int8.onnx")
            if int8
            else ("text.onnx", "text.document.onnx")
        )
        ran = runs_on(load_text_onnx_model(model, int8=int8), str(model), runtime)
        assert ran == f"{runtime}: {onnx / q} (query tower) and {onnx / d} (document tower)"


def test_export_help_names_the_document_towers_graph() -> None:
    from click.testing import CliRunner

    from siamkit.cli.main import cli

    res = CliRunner().invoke(cli, ["export", "--help"], terminal_width=200)
    assert res.exit_code == 0
    text = " ".join(res.output.split())
    assert "a half-twin (model.share_weights: false) also writes its document tower," in text
    assert "text.document.onnx (and text.document.int8.onnx)" in text


def test_the_services_embed_takes_a_role_and_info_says_two_towers(half_twin, tmp_path) -> None:
    """/embed gave only query-tower vectors, so a client could not embed passages as /enroll
    does; /info did not say the model has two towers."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from siamkit.service import create_app

    queries, docs = _towers(half_twin, ANSWERS)
    with TestClient(create_app(half_twin, None)) as c:
        plain = c.post("/embed", json={"texts": ANSWERS}).json()
        query = c.post("/embed", json={"texts": ANSWERS, "role": "query"}).json()
        doc = c.post("/embed", json={"texts": ANSWERS, "role": "document"}).json()
        bad = c.post("/embed", json={"texts": ANSWERS, "role": "passage"})
        info = c.get("/info").json()
        schema = c.get("/openapi.json").json()["components"]["schemas"]["TextEmbedRequest"]
    np.testing.assert_allclose(plain["embeddings"], queries, atol=1e-5)
    np.testing.assert_allclose(query["embeddings"], queries, atol=1e-5)
    np.testing.assert_allclose(doc["embeddings"], docs, atol=1e-5)
    assert bad.status_code == 422 and "role" in bad.text, bad.text
    assert info["model"]["towers"] == 2
    assert "document" in schema["properties"]["role"]["description"]


def test_a_shared_weight_models_info_says_one_tower(tiny_hf: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from siamkit.applications.text.model import TextSiameseNetwork
    from siamkit.service import create_app

    net = TextSiameseNetwork.pretrained(tiny_hf, max_length=32, overlap=8)
    with TestClient(create_app(net, None)) as c:
        assert c.get("/info").json()["model"]["towers"] == 1
        z = c.post("/embed", json={"texts": ANSWERS, "role": "document"}).json()["embeddings"]
    with torch.inference_mode():
        np.testing.assert_allclose(z, net.embed(ANSWERS).numpy(), atol=1e-5)
