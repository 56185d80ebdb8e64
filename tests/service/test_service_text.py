"""The service with a text model (all-MiniLM-L6-v2): JSON with text in, the same paths out.

Every distance is checked against the model's own embeddings (1 - cosine) computed here, token
counts against the ``tokenizers`` library reading the tokenizer file, and image services are
checked to keep their upload endpoints and page.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _service_helpers import API_KEY, free_port, make_model, record_served_apps

pytest.importorskip("transformers", reason="the text extra is not installed")
pytest.importorskip("fastapi")

PRINTER = ["The printer on floor two is out of toner.", "Printer toner is empty again."]
VPN = ["I cannot connect to the VPN from home."]
LONG = " ".join(f"Sentence number {i} talks about the quarterly budget review." for i in range(60))


@pytest.fixture(scope="module")
def text_model() -> Any:
    from siamkit.applications.text import load_text_model

    return load_text_model()


@pytest.fixture
def make_client(tmp_path: Path, text_model: Any) -> Iterator[Callable[..., Any]]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.service import ServiceLimits, create_app

    clients: list[Any] = []

    def make(
        gallery: Any = "g.db", model: Any = None, model_name: str | None = None, **limits: int
    ) -> Any:
        path = None if gallery is None else tmp_path / gallery
        app = create_app(
            model or text_model, path, api_key=API_KEY, limits=ServiceLimits(**limits),
            model_name=model_name,
        )  # fmt: skip
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        client.headers["X-API-Key"] = API_KEY
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def _distances(model: Any, query: str, texts: list[str]) -> np.ndarray:
    z = model.embed([query, *texts]).numpy()
    return 1.0 - z[1:] @ z[0]


def test_enroll_then_identify_ranks_by_cosine_and_shows_the_texts(make_client, text_model):
    from siamkit.applications.text.model import PASSAGE_THRESHOLD

    c = make_client()
    r = c.post("/enroll", json={"label": "printer", "texts": PRINTER})
    assert r.status_code == 201 and r.json()["count"] == 2
    assert c.post("/enroll", json={"label": "vpn", "texts": VPN}).json()["item_ids"] == [3]
    query = "The printer needs a new toner cartridge."
    body = c.post("/identify", json={"text": query, "k": 2}).json()
    want = _distances(text_model, query, PRINTER + VPN)
    top, second = body["matches"]
    assert top["label"] == "printer" and second["label"] == "vpn"
    assert top["distance"] == pytest.approx(want[:2].min(), abs=1e-5)
    assert second["distance"] == pytest.approx(want[2], abs=1e-5)
    assert top["text"] == PRINTER[int(np.argmin(want[:2]))] and second["text"] == VPN[0]
    assert body["threshold"] == PASSAGE_THRESHOLD  # the model has no calibrated threshold
    for m in body["matches"]:
        assert m["accepted"] is (m["distance"] <= PASSAGE_THRESHOLD)
        assert m["margin"] == pytest.approx(PASSAGE_THRESHOLD - m["distance"])
    assert body["label"] == ("printer" if top["accepted"] else None)


def test_identify_without_a_threshold_names_no_label(make_client, text_model):
    """Without a threshold /identify named the nearest label in `label`, every match's accepted
    null: a client reading `label` as the identity took the nearest for a match. `label` is
    null then, as on the image service, and `hint` says why (not an unknown text)."""
    from siamkit.service.engine import no_threshold_hint

    c = make_client()
    c.post("/enroll", json={"label": "printer", "texts": PRINTER})
    c.app.state.engine.gallery.threshold = None  # as a lexical join without one serves
    body = c.post("/identify", json={"text": PRINTER[0], "k": 2}).json()
    assert body["threshold"] is None and body["matches"][0]["accepted"] is None, body
    assert body["matches"][0]["label"] == "printer" and body["label"] is None, body
    assert body["hint"] == no_threshold_hint()


def test_enrolling_a_text_again_skips_it_and_says_how_many(make_client, text_model):
    """A re-enrollment that stored nothing answered 201 Created: now 200, as for images."""
    c = make_client()

    def enroll(label: str, texts: list[str], status: int = 201) -> dict[str, Any]:
        r = c.post("/enroll", json={"label": label, "texts": texts})
        assert r.status_code == status, r.text
        return dict(r.json())

    assert enroll("printer", PRINTER)["skipped"] == 0
    assert enroll("printer", PRINTER[:1], status=200) == {
        "label": "printer", "item_ids": [], "count": 2, "skipped": 1, "already_enrolled": True
    }  # fmt: skip
    # texts' own rule, the same text: the model is uncased, so the lowercased text has the same
    # embedding, yet it is another text and is kept
    lower = PRINTER[0].lower()
    z = text_model.embed([PRINTER[0], lower]).numpy()
    assert np.allclose(z[0], z[1], atol=1e-6)
    more = enroll("printer", [lower, VPN[0], VPN[0]])
    assert len(more["item_ids"]) == 2 and more["skipped"] == 1 and more["count"] == 4
    assert more["already_enrolled"] is False  # two new texts: created
    assert enroll("vpn", VPN)["skipped"] == 0  # a repeat is per label
    assert c.get("/gallery").json()["num_items"] == 5
    items = c.get("/gallery/images", params={"label": "printer"}).json()["items"]
    assert [i["text"] for i in items] == [*PRINTER, lower, VPN[0]]


def test_verify_two_texts_and_a_text_against_a_label(make_client, text_model):
    c = make_client()
    a, b = "A man is playing guitar.", "Someone plays a guitar."
    r = c.post("/verify", json={"text_a": a, "text_b": b}).json()
    want = float(_distances(text_model, a, [b])[0])
    assert r["distance"] == pytest.approx(want, abs=1e-5)
    assert r["same"] is (want <= r["threshold"]) and r["label"] is None and r["chunked"] == 0
    c.post("/enroll", json={"label": "printer", "texts": PRINTER})
    query = "Toner for the printer has run out."
    r = c.post("/verify", json={"text": query, "label": "printer"}).json()
    assert r["label"] == "printer"
    assert r["distance"] == pytest.approx(_distances(text_model, query, PRINTER).min(), abs=1e-5)
    unknown = c.post("/verify", json={"text": query, "label": "nobody"})
    assert unknown.status_code == 404 and "nobody" in unknown.json()["detail"]


def test_an_empty_gallery_says_to_enroll_first(make_client):
    """identify's null label on an empty gallery read as "unknown", and verify's 404 did not
    say how to fill it: the hint names POST /enroll while it is empty, the 404 always does."""
    c = make_client()
    r = c.post("/identify", json={"text": "toner", "k": 1})
    assert r.status_code == 200 and r.json() == {
        "threshold": r.json()["threshold"],
        "label": None,
        "matches": [],
        "chunked": 0,
        "hint": "The gallery is empty, so nothing can match: POST /enroll labelled texts first.",
    }
    r = c.post("/verify", json={"text": "toner", "label": "printer"})
    assert r.status_code == 404
    assert r.json()["detail"].endswith(", which is empty: POST /enroll texts under it first.")
    c.post("/enroll", json={"label": "vpn", "texts": VPN})
    assert "hint" not in c.post("/identify", json={"text": "toner", "k": 1}).json()
    r = c.post("/verify", json={"text": "toner", "label": "printer"})
    assert r.status_code == 404  # how to add it, no longer "first"
    assert r.json()["detail"].endswith("; POST /enroll texts under it to add it.")


def test_a_text_verified_against_itself_is_never_below_distance_zero(make_client):
    # float32 rounds these texts' cosine with themselves to 1 + 1e-7: /verify said -1e-7
    c = make_client()
    c.post("/enroll", json={"label": "printer", "texts": PRINTER})
    pairs = [{"text_a": t, "text_b": t} for t in [*PRINTER, *VPN]]
    claims = [{"text": t, "label": "printer"} for t in PRINTER]
    for body in pairs + claims:
        r = c.post("/verify", json=body).json()
        assert 0.0 <= r["distance"] < 1e-6 and r["same"] is True, (body, r)
        assert r["margin"] == r["threshold"] - r["distance"]


def test_verify_gives_the_score_of_the_models_score_map(make_client, text_model, monkeypatch):
    from siamkit.applications.text.score_map import ScoreMap

    a, b = "A man is playing guitar.", "Someone plays a guitar."
    query = "Toner for the printer has run out."
    c = make_client()
    assert c.post("/verify", json={"text_a": a, "text_b": b}).json()["score"] is None  # no map
    score_map = ScoreMap((0.1, 0.5, 0.95), (0.0, 1.5, 5.0))  # cosine -> a 0-5 label scale
    monkeypatch.setattr(text_model, "score_map", score_map)
    pair = c.post("/verify", json={"text_a": a, "text_b": b}).json()
    cosine = 1.0 - float(_distances(text_model, a, [b])[0])
    assert pair["score"] == pytest.approx(float(score_map(cosine)), abs=1e-4)
    assert 0.0 < pair["score"] < 5.0  # between the knots: the map's slope, not a clipped end
    c.post("/enroll", json={"label": "printer", "texts": PRINTER})
    claim = c.post("/verify", json={"text": query, "label": "printer"}).json()
    cosine = 1.0 - float(_distances(text_model, query, PRINTER).min())
    assert claim["score"] == pytest.approx(float(score_map(cosine)), abs=1e-4)
    schema = c.get("/openapi.json").json()["components"]["schemas"]["TextVerifyResponse"]
    assert "score" in schema["properties"]


def test_a_schema_name_means_one_schema_in_the_image_and_the_text_service(make_client):
    """The image service's /enroll and /verify answers (with `notes`) were subclasses that kept
    the shared answers' names, so the image service's /openapi.json had an EnrollResponse with
    `notes` and the text service's another without. Each name is now one schema, and the
    answers of both services still validate against the ones their routes name."""
    import io

    from PIL import Image

    image, text = make_client(gallery="i.db", model=make_model()), make_client()
    specs = [c.get("/openapi.json").json() for c in (image, text)]
    schemas = [spec["components"]["schemas"] for spec in specs]
    for name in schemas[0].keys() & schemas[1].keys():
        assert schemas[0][name] == schemas[1][name], name
    assert "notes" in schemas[0]["EnrollResponse"]["properties"]
    assert "notes" in schemas[0]["VerifyResponse"]["properties"]
    png = io.BytesIO()
    Image.new("L", (28, 28), 128).save(png, format="PNG")
    one = [("files", ("a.png", png.getvalue(), "image/png"))]
    pair = {"file_a": ("a.png", png.getvalue()), "file_b": ("b.png", png.getvalue())}
    answers = [
        (image, 0, "/enroll", image.post("/enroll", data={"label": "a"}, files=one)),
        (image, 0, "/enroll", image.post("/enroll", data={"label": "a"}, files=one)),  # 200
        (image, 0, "/verify", image.post("/verify", files=pair)),
        (text, 1, "/enroll", text.post("/enroll", json={"label": "a", "texts": ["x y"]})),
        (text, 1, "/enroll", text.post("/enroll", json={"label": "a", "texts": ["x y"]})),
        (text, 1, "/verify", text.post("/verify", json={"text_a": "x", "text_b": "y"})),
    ]
    for _, i, path, r in answers:
        assert r.status_code in (200, 201), r.text
        ref = specs[i]["paths"][path]["post"]["responses"][str(r.status_code)]
        name = ref["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        schema = schemas[i][name]
        assert set(schema["required"]) <= r.json().keys() <= schema["properties"].keys(), name


def test_embed_returns_the_models_vectors_and_token_counts(make_client, text_model):
    from tokenizers import Tokenizer

    c = make_client(gallery=None)
    texts = ["hello world", LONG]
    r = c.post("/embed", json={"texts": texts}).json()
    np.testing.assert_allclose(
        np.array(r["embeddings"]), text_model.embed(texts).numpy(), atol=1e-5
    )
    tok_file = Path(text_model.tokenizer.name_or_path) / "tokenizer.json"
    reference = Tokenizer.from_file(str(tok_file))
    reference.no_padding()
    reference.no_truncation()
    want = [len(reference.encode(t, add_special_tokens=False).ids) for t in texts]
    assert r["tokens"] == want and want[1] > 256  # the long text is over the window
    assert r["chunked"] == 1 and r["dim"] == 384 and r["distance"] == "cosine"
    long_pair = c.post("/verify", json={"text_a": LONG, "text_b": "budget review"}).json()
    assert long_pair["chunked"] == 1


def test_gallery_lists_texts_and_removal_forgets_them(make_client, tmp_path):
    c = make_client()
    c.post("/enroll", json={"label": "printer", "texts": PRINTER})
    c.post("/enroll", json={"label": "vpn", "texts": VPN})
    g = c.get("/gallery").json()
    assert (g["num_labels"], g["num_items"]) == (2, 3)
    assert {x["label"]: x["text"] for x in g["labels"]} == {"printer": PRINTER[0], "vpn": VPN[0]}
    items = c.get("/gallery/images", params={"label": "printer"}).json()
    assert [i["text"] for i in items["items"]] == PRINTER and items["count"] == 2
    assert c.delete("/gallery/printer").json()["removed"] == 2
    assert c.get("/gallery/images", params={"label": "printer"}).status_code == 404
    again = make_client(gallery="g.db")  # a restarted service keeps the rest
    r = again.post("/identify", json={"text": "VPN will not connect", "k": 5}).json()
    assert [m["label"] for m in r["matches"]] == ["vpn"] and r["matches"][0]["text"] == VPN[0]


def test_a_long_text_is_previewed_not_stored_whole(make_client):
    from siamkit.service.text_routes import TEXT_PREVIEW_CHARS

    c = make_client()
    c.post("/enroll", json={"label": "long", "texts": [LONG]})
    shown = c.get("/gallery").json()["labels"][0]["text"]
    assert len(LONG) > TEXT_PREVIEW_CHARS and len(shown) == TEXT_PREVIEW_CHARS
    assert shown[:-1] == LONG[: TEXT_PREVIEW_CHARS - 1] and shown.endswith("\u2026")


def test_bad_text_requests_get_one_sentence(make_client):
    c = make_client(max_text_chars=200, max_files=2)
    cases = [
        (
            c.post("/enroll", json={"label": "x", "texts": ["ok", "  "]}),
            422,
            "second text is empty",
        ),
        (c.post("/enroll", json={"label": "x"}), 422, "Give the texts (texts)"),
        (c.post("/enroll", json={"label": "x", "texts": []}), 422, "at least one text"),
        (c.post("/enroll", json={"label": "x", "texts": ["a"] * 3}), 413, "at most 2"),
        (c.post("/embed", json={"texts": ["a" * 201]}), 413, "201 characters; at most 200"),
        (c.post("/identify", json={"text": "a", "k": 0}), 422, "between 1 and"),
        (c.post("/identify", json={"text": "a", "k": "many"}), 422, "whole number"),
        (c.post("/verify", json={"text_a": "a"}), 422, "text_a and text_b"),
        (c.post("/verify", json={"text_a": "a", "text_b": "b", "label": "x"}), 422, "text_a"),
        (c.post("/enroll", json={"label": " ", "texts": ["a"]}), 422, "label is empty"),
        (c.post("/enroll", json={"label": "..", "texts": ["a"]}), 422, "'..' cannot be used"),
        (
            c.post(
                "/enroll", data={"label": "x"}, files=[("files", ("a.png", b"png", "image/png"))]
            ),
            415,
            "text model",
        ),
    ]
    for r, status, words in cases:
        assert r.status_code == status, r.json()
        assert words in r.json()["detail"]
    assert c.get("/gallery").json()["num_items"] == 0  # nothing half-written


def test_an_empty_label_is_refused_with_a_text_labels_example(make_client):
    """The text service refused an empty label with the image service's "give a name such as
    'alice'", odd for texts: its example is the text page's, a ticket id (also on the routes it
    shares with the image service: removing a label, /recommend)."""
    c = make_client()
    said = "The label is empty; give a label such as 'T-1042' (a ticket id)."
    for r in (
        c.post("/enroll", json={"label": " ", "texts": ["a"]}),
        c.post("/verify", json={"text": "a", "label": " "}),
        c.get("/gallery/images", params={"label": " "}),
        c.delete("/gallery/%20"),
        c.post("/recommend", json={"like": [" "]}),
    ):
        assert r.status_code == 422 and r.json()["detail"] == said, r.text


def test_a_misspelt_key_is_refused_by_name(make_client):
    """An unknown JSON key was dropped: {"text_a", "textb"} read as text_a alone and the answer
    asked for text_b, which had been sent. It is refused by name, as /recommend's are."""
    r = make_client(gallery=None).post("/verify", json={"text_a": "a", "textb": "b"})
    assert r.status_code == 422, r.json()
    assert r.json()["detail"] == (
        "The field 'textb' is not one this endpoint takes; check its name (the API docs at /docs "
        "list the fields)."
    )
    assert r.json()["errors"][0]["field"] == "textb"


def test_an_unknown_query_parameter_is_refused_by_name(make_client):
    """`/gallery/images?lable=printer` was "label is required" for a label that was sent, and
    an unknown parameter beside the label was dropped silently: the image service's check."""
    c = make_client()
    c.post("/enroll", json={"label": "printer", "texts": PRINTER})
    r = c.get("/gallery/images", params={"lable": "printer"})
    assert r.status_code == 422, r.json()
    assert r.json()["detail"] == (
        "The query parameter 'lable' is not one /gallery/images takes (did you mean 'label'?); "
        "its query parameters are label."
    )
    assert r.json()["errors"][0]["field"] == "lable"
    assert c.get("/gallery/images", params={"label": "printer", "k": "1"}).status_code == 422


def test_a_query_parameter_an_endpoint_does_not_take_is_refused(make_client):
    """Only /gallery/images read its query string: /identify?k=1 answered with the body's k (or
    the default) and /gallery?label=printer listed every label, silently; a label sent twice
    to /gallery/images used the last one. The image service's checks."""
    c = make_client()
    c.post("/enroll", json={"label": "printer", "texts": PRINTER})
    r = c.post("/identify?k=1", json={"text": "toner"})
    assert r.status_code == 422, r.json()
    assert r.json()["detail"] == (
        "The query parameter 'k' was sent, but /identify takes none: send it in the request "
        "body instead."
    )
    r = c.get("/gallery?label=printer")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "label", r.json()
    r = c.get("/gallery/images?label=vpn&label=printer")
    assert r.status_code == 422, r.json()
    assert r.json()["detail"] == "The query parameter label was sent 2 times; send it once."


def test_identify_refuses_a_non_finite_distance(make_client, monkeypatch):
    # the same check as the image endpoint's (route_answers._match_out serves both)
    from siamkit.index import IdentifyResult, Match
    from siamkit.service import text_routes

    inf = IdentifyResult(matches=[Match("T-1", float("inf"), 1, False)], label=None)
    monkeypatch.setattr(
        text_routes, "identify_text", lambda engine, text, k: (inf, {1: "x"}, 0, {})
    )
    r = make_client().post("/identify", json={"text": "toner", "k": 1})
    assert r.status_code == 400
    assert r.json()["detail"] == "The distance is not a finite number for these texts."


def test_without_a_gallery_only_verify_and_embed_work(make_client):
    c = make_client(gallery=None)
    assert c.post("/verify", json={"text_a": "a cat", "text_b": "a dog"}).status_code == 200
    for path, body in (("/enroll", {"label": "x", "texts": ["t"]}), ("/identify", {"text": "t"})):
        r = c.post(path, json=body)
        assert r.status_code == 409 and "--gallery" in r.json()["detail"]
        assert "compare two texts" in r.json()["detail"]  # not "two images"
    assert c.get("/info").json()["gallery"] is None


def test_info_page_and_openapi_say_text(make_client, text_model):
    c = make_client()
    info = c.get("/info").json()
    assert info["model"]["input_kind"] == "text" and info["model"]["window_tokens"] == 256
    assert info["model"]["embedding_dim"] == text_model.embedding_dim
    assert "default" in info["model"]["threshold_source"]
    assert info["limits"]["max_text_chars"] == 50_000
    assert info["model"]["name"] is None  # unnamed; siamkit serve names it (the page shows it)
    named = make_client(model_name="runs/tickets/model").get("/info").json()["model"]
    assert named["name"] == "runs/tickets/model"
    page = c.get("/")
    assert page.status_code == 200 and "<textarea" in page.text and "text.js" in page.text
    assert c.get("/static/text.js").status_code == 200
    assert page.text.index("/static/common.js") < page.text.index("/static/text.js")
    assert c.get("/static/common.js").status_code == 200
    assert c.get("/static/text.css").status_code == 200
    schema = c.get("/openapi.json").json()
    assert "texts" in schema["info"]["description"]
    body = schema["paths"]["/identify"]["post"]["requestBody"]["content"]
    assert list(body) == ["application/json"]  # the text endpoint, not the upload form
    assert "415" in schema["paths"]["/enroll"]["post"]["responses"]
    assert "/gallery/{label}" in schema["paths"] and "/recommend" in schema["paths"]


def test_a_calibrated_threshold_is_used(make_client, text_model, monkeypatch):
    monkeypatch.setattr(text_model, "threshold", 0.05)
    c = make_client()
    r = c.post("/verify", json={"text_a": "A man plays guitar.", "text_b": "A man plays a guitar."})
    assert r.json()["threshold"] == 0.05
    assert c.get("/info").json()["model"]["threshold_source"] == "the model's calibrated threshold"


def test_an_image_service_keeps_its_upload_endpoints_and_page(make_client):
    c = make_client(model=make_model())
    assert "<textarea" not in c.get("/").text and "app.js" in c.get("/").text
    schema = c.get("/openapi.json").json()
    body = schema["paths"]["/identify"]["post"]["requestBody"]["content"]
    assert list(body) == ["multipart/form-data"]
    r = c.post("/enroll", json={"label": "x", "texts": ["a"]})
    assert r.status_code == 415 and "image model" in r.json()["detail"]


def test_siamkit_serve_starts_a_text_bundle_with_its_gallery(text_model, tmp_path, monkeypatch):
    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    import siamkit
    from siamkit.cli import serve_cmd

    monkeypatch.setattr(text_model, "threshold", None)  # restored: save_model sets it
    bundle = siamkit.save_model(text_model, tmp_path / "model", threshold=0.3)
    seen = record_served_apps(monkeypatch)
    port = str(free_port())
    gallery = str(tmp_path / "tickets.db")
    result = CliRunner().invoke(
        serve_cmd.serve, [str(bundle), "--gallery", gallery, "--port", port]
    )
    assert result.exit_code == 0, result.output
    with TestClient(seen[0]) as c:
        c.post("/enroll", json={"label": "vpn", "texts": VPN})
        r = c.post("/identify", json={"text": "The VPN does not connect.", "k": 1}).json()
    assert r["threshold"] == 0.3 and r["matches"][0]["label"] == "vpn"
    onnx = CliRunner().invoke(serve_cmd.serve, [str(bundle), "--runtime", "onnx"])
    assert onnx.exit_code == 1 and "holds no exported text.onnx" in onnx.output  # not exported
    assert r["matches"][0]["distance"] == pytest.approx(
        float(_distances(text_model, "The VPN does not connect.", VPN)[0]), abs=1e-5
    )


def test_invisible_and_lone_surrogate_texts_are_refused_by_name(make_client):
    c = make_client()
    raw = {"content-type": "application/json"}  # JSON escapes: "\ud800" is a lone surrogate
    cases = [
        (c.post("/embed", json={"texts": ["ok", "\u200b\u200b"]}), "The second text is empty"),
        (c.post("/identify", json={"text": "\x00"}), "The text is empty"),
        (
            c.post("/enroll", content='{"label": "x", "texts": ["a\\ud800b"]}', headers=raw),
            "The text is not valid Unicode (a lone surrogate '\\ud800' at character 1)",
        ),
        (
            c.post("/verify", content='{"text_a": "fine", "text_b": "\\udc80"}', headers=raw),
            "The second text is not valid Unicode",
        ),
    ]
    for r, words in cases:
        assert r.status_code == 422 and words in r.json()["detail"], r.json()
    assert c.get("/gallery").json()["num_items"] == 0


def test_a_refused_text_is_named_in_words_and_its_field_given_apart(make_client):
    """The page's boxes say "Text" and "Second text": the message the page shows names the text
    so, never by the JSON field the page sent (texts[0], text_b); programs get that in errors."""
    c = make_client(max_text_chars=20)
    cases = [  # (answer, sentence, field): the page's enroll sends one text as texts: [text]
        (c.post("/enroll", json={"label": "x", "texts": ["\u200b"]}), "The text is empty", "texts[0]"),
        (c.post("/enroll", json={"label": "x", "texts": ["a", "b" * 21]}), "The second text has 21", "texts[1]"),
        (c.post("/identify", json={"text": "a" * 21}), "The text has 21 characters", "text"),
        (c.post("/verify", json={"text_a": "\u200b", "text_b": "b"}), "The first text is empty", "text_a"),
        (c.post("/verify", json={"text_a": "a", "text_b": "\u200b"}), "The second text is empty", "text_b"),
        (c.post("/verify", json={"text": "\u200b", "label": "x"}), "The text is empty", "text"),
    ]  # fmt: skip
    for r, words, field in cases:
        body = r.json()
        assert body["detail"].startswith(words), body
        assert "texts[" not in body["detail"] and "text_" not in body["detail"], body
        assert body["errors"] == [{"field": field, "message": body["detail"]}], body
    many = c.post("/embed", json={"texts": ["a"] * 11 + ["\u200b"]}).json()
    assert (
        many["detail"].startswith("The 12th text is empty")
        and many["errors"][0]["field"] == "texts[11]"
    )


def test_a_text_at_the_length_limit_is_embedded_and_its_tokens_counted(make_client, text_model):
    limit = 20_000
    c = make_client(gallery=None, max_text_chars=limit)
    words = "budget review of the northern region's quarterly accounts and staff "
    text = (words * (limit // len(words) + 1))[:limit]
    r = c.post("/embed", json={"texts": [text]})
    assert r.status_code == 200, r.text
    want = len(text_model.tokenizer(text, add_special_tokens=False)["input_ids"])
    assert r.json()["tokens"] == [want] and want > 10 * 256 and r.json()["chunked"] == 1
    over = c.post("/embed", json={"texts": [text + "x"]})
    assert over.status_code == 413 and "20,001 characters; at most 20,000" in over.json()["detail"]


def test_a_joined_model_is_served_at_its_own_threshold_and_refused_without_one(
    make_client, text_model, monkeypatch
):
    from siamkit.applications.text.lexical import LexicalTower

    background = [*PRINTER, *VPN, "The quarterly budget review is late.", "Coffee machine broken."]
    tower = LexicalTower.fit(background * 2, components=3, weight=0.4)
    monkeypatch.setattr(text_model, "lexical", tower)
    with pytest.raises(ValueError, match="joins a lexical tower"):
        make_client()  # no threshold of its own: MiniLM's default does not apply
    monkeypatch.setattr(text_model, "threshold", 0.25)
    c = make_client()
    assert c.get("/info").json()["model"]["embedding_dim"] == 384 + 3
    a, b = PRINTER
    r = c.post("/verify", json={"text_a": a, "text_b": b}).json()
    z = text_model.embed([a, b]).numpy()  # the joined embedding
    assert z.shape[1] == 387
    assert r["distance"] == pytest.approx(1.0 - float(z[0] @ z[1]), abs=1e-5)
    assert r["threshold"] == pytest.approx(0.25) and r["same"] is (r["distance"] <= 0.25)


def test_a_text_or_list_over_the_limits_is_refused_with_what_to_do(make_client):
    """'The text has 50,001 characters; at most 50,000 are allowed.' named the problem only, on
    the page and to an API caller alike: the refusal now says what to do (shorten it; a list's
    text may also be split), and a list over max_files says to send several requests."""
    c = make_client(max_text_chars=200, max_files=2)
    one = c.post("/identify", json={"text": "a" * 201}).json()["detail"]
    assert one == "The text has 201 characters; at most 200 are allowed: shorten it."
    pair = c.post("/verify", json={"text_a": "a", "text_b": "b" * 201}).json()["detail"]
    assert pair == "The second text has 201 characters; at most 200 are allowed: shorten it."
    listed = c.post("/enroll", json={"label": "x", "texts": ["a", "b" * 201]}).json()["detail"]
    assert listed == (
        "The second text has 201 characters; at most 200 are allowed: shorten it, or split it "
        "into several texts of the list."
    )
    many = c.post("/embed", json={"texts": ["a"] * 3}).json()["detail"]
    assert (
        many == "The request holds 3 texts; at most 2 are allowed: send them in several requests."
    )


def test_recommend_items_carry_their_text_as_identify_matches_do(make_client):
    """/identify's matches showed each item's text; /recommend's items gave only label and id."""
    c = make_client()
    c.post("/enroll", json={"label": "printer", "texts": PRINTER})
    c.post("/enroll", json={"label": "vpn", "texts": VPN})
    r = c.post("/recommend", json={"like": ["#1"], "k": 5})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert {it["item_id"]: it["text"] for it in items} == {2: PRINTER[1], 3: VPN[0]}
    assert all(it["source"] is None for it in items)  # texts are enrolled from no file


def test_identify_refuses_a_k_of_true_or_false(make_client):
    """pydantic's lax mode read `"k": true` as k = 1, where /recommend refused it (48ae096)."""
    c = make_client()
    c.post("/enroll", json={"label": "printer", "texts": PRINTER})
    for k in (True, False):
        r = c.post("/identify", json={"text": "toner", "k": k})
        assert r.status_code == 422 and r.json()["detail"] == (
            "The number of matches (k) must be a whole number (integer), such as 5."
        ), r.text
