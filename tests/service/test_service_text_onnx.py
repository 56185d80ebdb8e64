"""``siamkit serve MODEL --runtime onnx|onnx-int8`` of a text bundle: the exported encoder and its
tokenizer (ONNX Runtime + ``tokenizers``, no torch in the embedding) behind the same endpoints.

Each runtime's answers are checked against the PyTorch runtime's on the same requests: the same
labels in the same order, the same decisions, distances within a measured tolerance, the same
token counts; and a missing or foreign export is refused in one sentence before anything is
written.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _service_helpers import free_port, record_served_apps
from click.testing import CliRunner

pytest.importorskip("transformers", reason="the text extra is not installed")
pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")
pytest.importorskip("fastapi")

import siamkit
from siamkit.applications.text.score_map import ScoreMap
from siamkit.cli import serve_cmd
from siamkit.cli.main import cli
from siamkit.export.serving import load_for_serving

ENROLL = {
    "printer": ["The printer on floor two is out of toner.", "Printer toner is empty again."],
    "vpn": ["I cannot connect to the VPN from home."],
    "payroll": ["My salary slip for November shows the wrong tax code."],
}
QUERIES = [
    "The printer needs a new toner cartridge.",
    "VPN does not connect since this morning.",
    "Why was too much tax taken from my pay?",
    " ".join(f"Line {i}: the printer jams on page {i} of the report." for i in range(60)),
]
PAIRS = [  # far from the threshold 0.3 either way, so int8 cannot flip the decision
    ("A man is playing guitar.", "Someone plays a guitar."),
    ("A man is playing guitar.", "The quarterly budget was approved."),
]
# Largest |distance(runtime) - distance(torch)| over these requests, measured 2026-12-02:
# fp32 1.8e-7, int8 0.034 (dynamic int8: both texts of a pair move, by up to ~1.5% in cosine
# each); labels, their order and every decision must be the same all the same.
TOLERANCE = {"onnx": 1e-5, "onnx-int8": 0.05}
# the bundle's map from cosine to a 0-5 label scale, as `siamkit text train` fits on graded pairs
SCORE_MAP = ScoreMap((0.0, 0.5, 0.95), (0.0, 1.5, 5.0))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """all-MiniLM-L6-v2 saved with threshold 0.3 and :data:`SCORE_MAP`, exported fp32 + int8."""
    from siamkit.applications.text import load_text_model

    model = load_text_model()
    model.score_map = SCORE_MAP
    folder = siamkit.save_model(model, tmp_path_factory.mktemp("run") / "model", 0.3)
    res = CliRunner().invoke(cli, ["export", str(folder), "--format", "onnx", "--int8"])
    assert res.exit_code == 0, res.output
    return Path(folder)


@pytest.fixture
def client_of(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.service import create_app

    clients: list[Any] = []

    def make(model: Any, gallery: str) -> Any:
        client = TestClient(create_app(model, tmp_path / gallery), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def _answers(c: Any) -> dict[str, Any]:
    """Every answer the service gives to the same enrolls, identifies, verifies and embeds."""
    for label, texts in ENROLL.items():
        assert c.post("/enroll", json={"label": label, "texts": texts}).status_code == 201
    out: dict[str, Any] = {"identify": [], "verify": [], "claims": []}
    for q in QUERIES:
        r = c.post("/identify", json={"text": q, "k": 3})
        assert r.status_code == 200, r.text
        out["identify"].append(r.json())
    for a, b in PAIRS:
        out["verify"].append(c.post("/verify", json={"text_a": a, "text_b": b}).json())
    for q, label in zip(QUERIES, ENROLL):
        out["claims"].append(c.post("/verify", json={"text": q, "label": label}).json())
    out["embed"] = c.post("/embed", json={"texts": QUERIES}).json()
    out["info"] = c.get("/info").json()
    return out


@pytest.mark.parametrize("runtime", ["onnx", "onnx-int8"])
def test_onnx_runtimes_answer_as_the_torch_runtime(bundle, client_of, runtime):
    import numpy as np

    from siamkit.applications.text.onnx_model import TextOnnxModel

    want = _answers(client_of(load_for_serving(bundle, "torch"), "torch.db"))
    model = load_for_serving(bundle, runtime, threads=1)
    assert isinstance(model, TextOnnxModel)
    assert model.precision == ("int8" if runtime == "onnx-int8" else "fp32")
    got = _answers(client_of(model, f"{runtime}.db"))
    tol, gaps = TOLERANCE[runtime], []
    for w, g in zip(want["identify"], got["identify"]):
        assert g["label"] == w["label"] and g["chunked"] == w["chunked"]
        assert [m["label"] for m in g["matches"]] == [m["label"] for m in w["matches"]]
        assert [m["text"] for m in g["matches"]] == [m["text"] for m in w["matches"]]
        gaps += [abs(a["distance"] - b["distance"]) for a, b in zip(g["matches"], w["matches"])]
    for w, g in zip(want["verify"] + want["claims"], got["verify"] + got["claims"]):
        assert g["same"] == w["same"] and g["threshold"] == w["threshold"] == 0.3
        gaps.append(abs(g["distance"] - w["distance"]))
        for answer in (w, g):  # each runtime maps its own cosine through the bundle's map
            want_score = float(SCORE_MAP(1.0 - answer["distance"]))
            assert answer["score"] == pytest.approx(want_score, abs=1e-6)
    assert max(gaps) <= tol, max(gaps)
    assert got["embed"]["tokens"] == want["embed"]["tokens"]  # tokenizers == transformers
    assert got["embed"]["chunked"] == want["embed"]["chunked"] == 1  # the long query
    cos = (np.array(got["embed"]["embeddings"]) * np.array(want["embed"]["embeddings"])).sum(1)
    assert cos.min() >= 1 - tol, cos
    for key in ("threshold", "window_tokens", "overlap_tokens", "fingerprint", "embedding_dim"):
        assert got["info"]["model"][key] == want["info"]["model"][key], key
    # /info says which runtime answers (int8's distances differ from torch's by up to tol)
    assert (want["info"]["model"]["runtime"], got["info"]["model"]["runtime"]) == ("torch", runtime)


def test_a_gallery_enrolled_with_torch_is_served_by_the_int8_export(bundle, client_of):
    c = client_of(load_for_serving(bundle, "torch"), "shared.db")
    c.post("/enroll", json={"label": "vpn", "texts": ENROLL["vpn"]})
    c.__exit__(None, None, None)
    c = client_of(load_for_serving(bundle, "onnx-int8"), "shared.db")
    r = c.post("/identify", json={"text": QUERIES[1], "k": 1}).json()
    assert r["matches"][0]["label"] == "vpn" and r["matches"][0]["text"] == ENROLL["vpn"][0]


def test_siamkit_serve_runtime_onnx_int8_starts_a_text_bundle(bundle, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    seen = record_served_apps(monkeypatch)
    gallery = tmp_path / "tickets.db"
    args = [str(bundle), "--gallery", str(gallery), "--runtime", "onnx-int8", "--port"]
    res = CliRunner().invoke(serve_cmd.serve, [*args, str(free_port())])
    assert res.exit_code == 0, res.output
    graph = bundle / "onnx" / "text.int8.onnx"  # the startup line names what runs the model
    assert f"Serving {bundle} (onnx-int8: {graph}) with gallery {gallery} on" in res.output
    with TestClient(seen[0]) as c:
        c.post("/enroll", json={"label": "vpn", "texts": ENROLL["vpn"]})
        r = c.post("/identify", json={"text": QUERIES[1], "k": 1}).json()
        page = c.get("/").text
    assert r["matches"][0]["label"] == "vpn" and r["threshold"] == 0.3
    assert "<textarea" in page  # the text page, as with the torch runtime


def _refused(bundle: Path, tmp_path: Path, runtime: str) -> str:
    gallery = tmp_path / "g.db"
    args = [
        str(bundle),
        "--gallery",
        str(gallery),
        "--runtime",
        runtime,
        "--port",
        str(free_port()),
    ]
    res = CliRunner().invoke(serve_cmd.serve, args)
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert not gallery.exists()
    message = res.output.strip().removeprefix("Error: ")
    assert message.count("\n") == 0  # one sentence on one line
    return message


def test_a_missing_export_is_refused_and_nothing_written(bundle, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(bundle, bare, ignore=shutil.ignore_patterns("onnx"))
    before = sorted(p.name for p in bare.iterdir())
    for runtime, name in (("onnx", "text.onnx"), ("onnx-int8", "text.int8.onnx")):
        msg = _refused(bare, tmp_path, runtime)
        assert f"holds no exported {name}" in msg and f"siamkit export {bare} --format onnx" in msg
    assert sorted(p.name for p in bare.iterdir()) == before


def test_an_export_of_another_model_is_refused_by_its_fingerprint(bundle, tmp_path):
    foreign = tmp_path / "foreign"
    shutil.copytree(bundle, foreign)
    meta_path = foreign / "onnx" / "text_onnx.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "fingerprint": "0" * 64}))
    msg = _refused(foreign, tmp_path, "onnx-int8")
    assert "exported from another model (its fingerprint differs)" in msg
