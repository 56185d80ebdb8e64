"""``siamkit serve MODEL --gallery G`` of a model without a calibrated threshold: one line at
start in identify's and verify's sentence (6ca655e), whose advice fits how the model learned,
and not the gallery's UserWarning in the server log (a source file and a line of siamkit's code)
at the first /identify, which still answers without a threshold."""

from __future__ import annotations

import socket
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from _service_helpers import make_model, pattern, png_bytes
from click.testing import CliRunner
from PIL import Image

import siamkit
from _tiny_ssl import save_photos, train_tiny_ssl
from siamkit.cli import serve_cmd
from siamkit.cli.main import cli
from siamkit.service.engine import no_threshold_hint

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

SUPERVISED = (
    "no threshold to decide: the model has none. Fit one on held-out images of its training "
    "classes with `siamkit calibrate {model} --data FOLDER`, then serve it again: until then "
    "/verify and /identify neither accept nor refuse (same and accepted are null)"
)
UNLABELED = (
    "no threshold to decide: the model learned without labels, so it has none. Fit one on a "
    "folder of labelled images (one sub-folder per class) with `siamkit calibrate {model} --data "
    "FOLDER`, then serve it again: until then /verify and /identify neither accept nor refuse "
    "(same and accepted are null)"
)


def _serve_and_identify(
    monkeypatch: pytest.MonkeyPatch, model: str, db: Path, query: bytes
) -> tuple[str, dict[str, Any], list[str]]:
    """``siamkit serve model --gallery db`` with uvicorn replaced by one /identify of ``query``
    while it serves: what serve printed, the answer, and every warning let out meanwhile (the
    server log would show each with a source file and line)."""
    seen: dict[str, Any] = {}

    def run(app: Any, sock: socket.socket, log_level: str) -> None:
        sock.close()
        with warnings.catch_warnings(record=True) as caught, TestClient(app) as client:
            res = client.post("/identify", files=[("file", ("q.png", query, "image/png"))])
        assert res.status_code == 200, res.text
        seen.update(answer=res.json(), warned=[str(w.message) for w in caught])
        app.state.engine.close()

    monkeypatch.setattr(serve_cmd, "run_server", run)
    monkeypatch.delenv("SIAMKIT_API_KEY", raising=False)
    res = CliRunner().invoke(cli, ["serve", model, "--gallery", str(db)])
    assert res.exit_code == 0, res.output
    return res.output, seen["answer"], seen["warned"]


def _enroll(model: Any, db: Path, images: list[bytes]) -> None:
    from siamkit.service import create_app

    files = [("files", (f"{i}.png", b, "image/png")) for i, b in enumerate(images)]
    with TestClient(create_app(model, db)) as client:
        assert client.post("/enroll", data={"label": "a"}, files=files).status_code == 201
        client.app.state.engine.close()  # type: ignore[attr-defined]


def test_a_model_without_a_threshold_is_said_once_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = str(siamkit.save_model(make_model(threshold=None), tmp_path / "m"))
    db = tmp_path / "g.db"
    _enroll(siamkit.load_model(model), db, [png_bytes(pattern("stripes"))])
    out, answer, warned = _serve_and_identify(monkeypatch, model, db, png_bytes(pattern("disc")))
    assert not [w for w in warned if "threshold" in w], warned
    assert out.count("threshold") == 1, out
    assert SUPERVISED.format(model=model) in out.splitlines(), out
    assert answer["threshold"] is None and answer["matches"][0]["accepted"] is None, answer
    # the nearest label is matches[0]; `label`, read as an identity, names none that was accepted
    assert answer["label"] is None and answer["matches"][0]["label"] == "a", answer
    assert answer["hint"] == no_threshold_hint(), answer


def test_a_self_supervised_model_is_told_to_calibrate_on_labelled_images(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = str(train_tiny_ssl(tmp_path, save_photos(tmp_path / "photos", 20)))
    db = tmp_path / "g.db"

    def photo(seed: int) -> bytes:
        arr = torch.rand(12, 12, 3, generator=torch.Generator().manual_seed(seed)) * 255
        path = tmp_path / f"{seed}.png"
        Image.fromarray(arr.to(torch.uint8).numpy()).save(path)
        return path.read_bytes()

    _enroll(siamkit.load_model(model), db, [photo(1)])
    out, answer, warned = _serve_and_identify(monkeypatch, model, db, photo(2))
    assert not [w for w in warned if "threshold" in w], warned
    assert UNLABELED.format(model=model) in out.splitlines(), out
    assert "training classes" not in out, out
    assert answer["threshold"] is None and answer["matches"][0]["accepted"] is None, answer


def test_a_model_with_a_threshold_says_nothing_of_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = str(siamkit.save_model(make_model(threshold=0.25), tmp_path / "m"))
    db = tmp_path / "g.db"
    _enroll(siamkit.load_model(model), db, [png_bytes(pattern("stripes"))])
    out, answer, warned = _serve_and_identify(monkeypatch, model, db, png_bytes(pattern("disc")))
    assert "no threshold" not in out and not warned, (out, warned)
    assert answer["threshold"] == 0.25 and "hint" not in answer, answer
