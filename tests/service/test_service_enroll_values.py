"""The service's model making NaN or infinite embeddings, through the model's real embed path,
is one answer on every route and for every kind of model: a 500 whose body carries the
refusal's sentence, logged as an error, with nothing stored.

The service takes no embeddings from clients, so the fault is always its model's. s54_c2 made
it a 422 telling the client to "send other inputs" (logged as a refusal at WARNING) for text and
face models, while an image model's stayed the 500 "Internal error", a text model's /verify of
two texts was a 400 and its /embed a 200 of JSON nulls (s54_R2 finding 3); the test then swapped
the gallery's embedding function for the rows, so it never met the model's own path."""

from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
import pytest
from _service_helpers import make_model, pattern, png_bytes

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from siamkit.service import create_app


def _answers(client: Any, calls: dict[str, Any]) -> dict[str, Any]:
    return {name: call() for name, call in calls.items()}


#: what /verify of a pair cannot do with a NaN: it runs no search (siamkit verify's sentence)
NO_VERDICT = "which no verdict can be given on"


def _check(
    answers: dict[str, Any],
    rows: dict[str, str],
    siamkit_log: Any,
    verdicts: tuple[str, ...] = ("verify pair",),
) -> None:
    """Every answer a 500 naming the model, carrying the refusal of the rows ``rows[name]``
    names, and its request's id, which an error line of the log names too; a verify of a pair
    (those ``verdicts`` names) says that no verdict can be given on them, the others that no
    search can rank them."""
    errors = [r.getMessage() for r in siamkit_log.errors()]
    for name, answer in answers.items():
        assert answer.status_code == 500, (name, answer.status_code, answer.text)
        body = answer.json()
        detail = body["detail"]
        # the prefix says whose fault it is; only the refusal's sentence says what the embeddings
        # hold and what cannot be done, so /verify does not say both "no search can rank" and
        # "no verdict", nor "hold NaN or infinite values" twice (s57_FA Q3)
        prefix = "The service's model failed, not the request: "
        assert detail.startswith(prefix), detail
        assert detail.count("which no ") == 1, detail
        assert detail.count("NaN or infinite") == 1, detail
        assert rows[name] in detail, (name, detail)
        which = NO_VERDICT if name in verdicts else "which no search can rank"
        assert which in detail and "send other inputs" not in detail
        assert f"id {body['request_id']})" in detail
        assert any(f"(id={body['request_id']})" in e and rows[name] in e for e in errors), name
    assert not [r for r in siamkit_log.records if r.levelname == "WARNING"]


def test_an_image_models_nan_is_the_same_500_on_every_route(siamkit_log, tmp_path):
    model = make_model()
    app = create_app(model, tmp_path / "shop.db", api_key=None)
    png = [png_bytes(pattern("noise", seed=s)) for s in range(3)]

    def file(i: int, field: str = "file") -> tuple[str, tuple[str, bytes, str]]:
        return (field, (f"{i}.png", png[i], "image/png"))

    with TestClient(app, raise_server_exceptions=False) as client:
        sound = client.post("/enroll", data={"label": "a"}, files=[file(0, "files")])
        assert sound.status_code == 201, sound.text
        hook = model.encoder.register_forward_hook(lambda m, i, o: o * float("nan"))
        try:
            answers = _answers(
                client,
                {
                    "enroll": lambda: client.post(
                        "/enroll", data={"label": "b"}, files=[file(1, "files"), file(2, "files")]
                    ),
                    "identify": lambda: client.post("/identify", files=[file(1)]),
                    "verify label": lambda: client.post(
                        "/verify", data={"label": "a"}, files=[file(1)]
                    ),
                    "verify pair": lambda: client.post(
                        "/verify", files=[file(1, "file_a"), file(2, "file_b")]
                    ),
                    "embed": lambda: client.post("/embed", files=[file(1, "files")]),
                },
            )
        finally:
            hook.remove()
        listed = client.get("/gallery").json()
    # each image named by its upload, where each route said "the inputs (rows 0, 1)" (s58_r3
    # finding 2): the engine embeds them, as the gallery did, with the tower of their role
    made = "embeddings the model made of the"
    enroll = (
        f"2 of the 2 {made} images hold NaN or infinite values ('1.png' (image 1), "
        "'2.png' (image 2)), which no search can rank"
    )
    identify = (
        f"1 of the 1 {made} image hold NaN or infinite values ('1.png' (the image)), "
        "which no search can rank"
    )
    embed = (
        f"1 of the 1 {made} images hold NaN or infinite values ('1.png' (image 1)), "
        "which no search can rank"
    )
    # the pair named by its fields, where each input was "(rows 0)" of its own
    pair = (
        "2 of the 2 embeddings the model made of the two inputs hold NaN or infinite values "
        "('file_a', 'file_b'), which no verdict can be given on"
    )
    # the label's image named by its field, where it was "the inputs (rows 0), which no search
    # can rank" (s57_FA Q1): verify runs no search
    label = (
        "1 of the 1 embeddings the model made of the image hold NaN or infinite values ('file'), "
        "which no verdict can be given on"
    )
    rows = {
        "enroll": enroll,
        "identify": identify,
        "verify label": label,
        "verify pair": pair,
        "embed": embed,
    }
    _check(answers, rows, siamkit_log, ("verify pair", "verify label"))
    assert listed["num_items"] == 1, listed


def test_a_face_models_nan_names_the_faces_of_the_photo_not_inputs_sent(siamkit_log, tmp_path):
    """/identify with a face model searches every face of the one photo sent: the refusal's
    rows are those faces, which s54_c2's 422 called "the inputs in the order sent". The model's
    descriptor of the last face is made NaN; its other routes use each photo's largest face."""
    skimage_data = pytest.importorskip("skimage.data")
    from PIL import Image

    from siamkit.applications.faces import DlibFaceEncoder

    face = skimage_data.astronaut()
    photos = []
    for img in (face, np.concatenate([face, face], axis=1)):  # one face, then two
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "PNG")
        photos.append(buf.getvalue())
    model = DlibFaceEncoder()
    app = create_app(model, tmp_path / "faces.db", api_key=None)
    real = model.embed_chips

    def broken(chips: np.ndarray) -> np.ndarray:
        z = np.array(real(chips), dtype=np.float32)
        z[-1, 0] = np.nan
        return z

    with TestClient(app, raise_server_exceptions=False) as client:
        sound = client.post(
            "/enroll", data={"label": "eileen"}, files=[("files", ("a.png", photos[0]))]
        )
        assert sound.status_code == 201, sound.text
        boxes = model.faces_in(np.asarray(Image.open(io.BytesIO(photos[1])))[..., :3])[0]
        faces = len(boxes)
        model.embed_chips = broken
        answers = _answers(
            client,
            {
                "identify": lambda: client.post(
                    "/identify", files=[("file", ("q.png", photos[1]))]
                ),
                "enroll": lambda: client.post(
                    "/enroll", data={"label": "b"}, files=[("files", ("b.png", photos[0]))]
                ),
                "verify label": lambda: client.post(
                    "/verify", data={"label": "eileen"}, files=[("file", ("q.png", photos[0]))]
                ),
                "verify pair": lambda: client.post(
                    "/verify",
                    files=[("file_a", ("a.png", photos[0])), ("file_b", ("b.png", photos[0]))],
                ),
                # two photos' largest faces in one call: the last, b.png's, is made NaN
                "embed": lambda: client.post(
                    "/embed",
                    files=[("files", ("a.png", photos[0])), ("files", ("b.png", photos[0]))],
                ),
            },
        )
        model.embed_chips = real
        listed = client.get("/gallery").json()
    assert faces >= 2
    # the photo named by its upload and the face by its box, as siamkit face identify names
    # them, where it was "the faces found in the photo (largest first) ... (rows 1)"
    last = boxes[-1]
    box = f"box ({last.left}, {last.top})-({last.right}, {last.bottom})"
    found = "embeddings the model made of the faces found in 'q.png' (the image) hold"
    # the photo named by its upload, where it was "(rows 0)"
    largest = (
        "1 of the 1 embeddings the model made of the photos' largest faces hold NaN or "
        "infinite values ('b.png' (image 1)), which no search can rank"
    )
    rows = {
        "identify": f"1 of the {faces} {found} NaN or infinite values ({box})",
        "enroll": largest,
        # named by its field, where it was "(rows 0), which no search can rank"
        "verify label": "1 of the 1 embeddings the model made of the photo's largest face hold "
        "NaN or infinite values ('file'), which no verdict can be given on",
        # the two photos' largest faces in one call: the last, file_b's, is made NaN
        "verify pair": "1 of the 2 embeddings the model made of the photos' largest faces hold "
        "NaN or infinite values ('file_b'), which no verdict can be given on",
        # the photo named by its upload, as /enroll names it, where /embed said "(rows 1)"
        "embed": "1 of the 2 embeddings the model made of the photos' largest faces hold NaN or "
        "infinite values ('b.png' (image 2)), which no search can rank",
    }
    _check(answers, rows, siamkit_log, ("verify pair", "verify label"))
    assert "in the order sent" not in answers["identify"].json()["detail"]
    assert listed["num_items"] == 1, listed


def test_a_text_models_nan_is_the_same_500_on_every_route(siamkit_log, tmp_path):
    """A text model's embeddings were not checked at all: /embed answered NaN as JSON nulls and
    /verify of two texts a 400 "The distance is not a finite number"."""
    pytest.importorskip("transformers", reason="the text extra is not installed")
    from siamkit.applications.text import load_text_model

    model = load_text_model()
    app = create_app(model, tmp_path / "t.db", api_key=None)
    real = model.embed
    with TestClient(app, raise_server_exceptions=False) as client:
        sound = client.post("/enroll", json={"label": "a", "texts": ["hello there"]})
        assert sound.status_code == 201, sound.text
        model.embed = lambda texts, **kw: real(texts, **kw) * float("nan")
        try:
            answers = _answers(
                client,
                {
                    "enroll": lambda: client.post(
                        "/enroll", json={"label": "b", "texts": ["one text", "two text"]}
                    ),
                    "identify": lambda: client.post("/identify", json={"text": "hi"}),
                    "verify label": lambda: client.post(
                        "/verify", json={"text": "hi", "label": "a"}
                    ),
                    "verify pair": lambda: client.post(
                        "/verify", json={"text_a": "hi", "text_b": "ho"}
                    ),
                    "embed": lambda: client.post("/embed", json={"texts": ["hi"]}),
                },
            )
        finally:
            model.embed = real
        listed = client.get("/gallery").json()
    # named by their fields, as /verify names text_a or text_b, where they were "(rows 0, 1)"
    rows = {
        "enroll": "2 of the 2 embeddings the model made of the texts hold NaN or infinite values "
        "('texts[0]', 'texts[1]'), which no search can rank",
        "identify": "1 of the 1 embeddings the model made of the text hold NaN or infinite "
        "values ('text'), which no search can rank",
        "embed": "1 of the 1 embeddings the model made of the texts hold NaN or infinite values "
        "('texts[0]'), which no search can rank",
    }
    rows["verify pair"] = (
        "2 of the 2 embeddings the model made of the two inputs hold NaN or infinite values "
        "('text_a', 'text_b'), which no verdict can be given on"
    )
    rows["verify label"] = (  # named by its field, where it was "(rows 0), which no search ..."
        "1 of the 1 embeddings the model made of the text hold NaN or infinite values ('text'), "
        "which no verdict can be given on"
    )
    _check(answers, rows, siamkit_log, ("verify pair", "verify label"))
    assert listed["num_items"] == 1, listed
