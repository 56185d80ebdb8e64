"""A text gallery in Python decides at the threshold `siamkit text similarity` and the service use
for the same model: its calibrated one, else all-MiniLM-L6-v2's sentence default, and says which;
a model no default applies to is refused with the sentence the command and the service give."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from click.testing import CliRunner

from siamkit.applications.text.lexical import LexicalTower
from siamkit.applications.text.model import PASSAGE_THRESHOLD
from siamkit.cli.main import cli
from siamkit.index import Gallery, verify_pair

A = "The printer on floor two is out of toner."
B = "Printer toner is empty again."
OTHER = "I cannot connect to the VPN from home."


@pytest.fixture(scope="module")
def tiny(tiny_hf):  # type: ignore[no-untyped-def]
    from siamkit.applications.text import load_text_model

    return load_text_model(tiny_hf)


def test_a_text_gallery_decides_where_the_cli_and_the_service_do(
    text_model, tmp_path, monkeypatch
) -> None:
    # the pretrained model has no calibrated threshold (a test that saved it may have set one)
    monkeypatch.setattr(text_model, "threshold", None)
    res = CliRunner().invoke(cli, ["text", "similarity", A, B, "--json"])
    assert res.exit_code == 0, res.output
    said = json.loads(res.stdout)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "cannot decide" warning
        with Gallery.open(tmp_path / "g.db", text_model) as g:
            g.enroll("printer", [A])
            g.enroll("vpn", [OTHER])
            verified = g.verify(B, "printer")
            found = g.identify(B, k=2)
        pair = verify_pair(text_model, A, B)
    assert g.threshold == pytest.approx(said["max_distance"]) and g.threshold == PASSAGE_THRESHOLD
    assert g.threshold_source == said["threshold_source"]
    assert "all-MiniLM-L6-v2's sentence default" in g.threshold_source
    assert verified.threshold == g.threshold and verified.same is said["same"] is True
    assert found.label == "printer" and [m.accepted for m in found.matches] == [True, False]
    assert pair.threshold == g.threshold and pair.same is True
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from siamkit.service import create_app

    with TestClient(create_app(text_model, tmp_path / "g.db")) as client:
        info = client.get("/info").json()["model"]
        served = client.post("/verify", json={"text": B, "label": "printer"}).json()
    assert info["threshold"] == g.threshold and info["threshold_source"] == g.threshold_source
    assert served["threshold"] == g.threshold and served["same"] is True


def test_a_given_or_calibrated_threshold_is_named_as_such(tiny, tmp_path) -> None:
    from siamkit.applications.text.similarity import resolve_threshold

    with Gallery.open(tmp_path / "g.db", tiny) as g:  # not MiniLM: the default says so
        assert (g.threshold, g.threshold_source) == resolve_threshold(tiny, None)
        assert "this model is not all-MiniLM-L6-v2" in str(g.threshold_source)
    with Gallery.open(tmp_path / "g.db", tiny, threshold=0.1) as g:
        assert (g.threshold, g.threshold_source) == (0.1, "given")
    tiny.threshold = 0.4
    try:
        with Gallery.open(tmp_path / "g.db", tiny) as g:
            assert (g.threshold, g.threshold_source) == (0.4, "the model's calibrated threshold")
            assert verify_pair(tiny, A, B).threshold == 0.4
    finally:
        tiny.threshold = None


def _refusal(model: Any) -> str:
    """What `siamkit text similarity` says of ``model`` without --threshold."""
    from siamkit.applications.text.similarity import compare_texts

    with pytest.raises(ValueError) as said:
        compare_texts(model, A, B)
    return str(said.value)


def test_a_joined_model_without_a_threshold_is_refused_a_decision_not_a_gallery(
    tiny, tmp_path
) -> None:
    tiny.lexical = LexicalTower.fit([A, B, OTHER] * 4, components=2, weight=0.3)
    try:
        sentence = _refusal(tiny)
        assert "joins a lexical tower" in sentence
        with Gallery.open(tmp_path / "g.db", tiny) as g:  # enrolling needs no threshold
            ids = g.enroll("printer", [A, B])
            assert g.threshold is None and g.threshold_source is None
            for decide in (lambda: g.verify(B, "printer"), lambda: g.identify(B)):
                with pytest.raises(ValueError) as refused:
                    decide()
                assert str(refused.value) == sentence
            assert [m.item_id for m in g.recommend([ids[0]], k=1)] == [ids[1]]  # a ranking
        with pytest.raises(ValueError) as refused:
            verify_pair(tiny, A, B)
        assert str(refused.value) == sentence
        pytest.importorskip("fastapi")
        from siamkit.service import create_app

        with pytest.raises(ValueError) as refused:
            create_app(tiny, None)
        assert str(refused.value) == sentence
    finally:
        tiny.lexical = None
