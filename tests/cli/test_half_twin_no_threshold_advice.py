"""An image half-twin built and saved in Python has no threshold until one is fit, and
`siamkit calibrate` refuses a half-twin ("fit its threshold in Python ..."). `identify`, `verify`,
`serve`'s first line and the service's /identify hint said to fit one with `siamkit calibrate
MODEL --data FOLDER` all the same: advice the very next command refused. They now say how a
half-twin's threshold is fit (in Python, as calibrate's refusal says); a one-tower model keeps
the calibrate advice."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import siamkit
from _tiny_half_twin import tiny_half_twin, write_grey_png
from siamkit.cli.main import cli
from siamkit.models import Preprocess

CALIBRATE = "siamkit calibrate"
PYTHON_FIT = "ThresholdCalibrator"


@pytest.fixture
def half_twin(tmp_path: Path) -> str:
    """A tiny image half-twin, f over 12x12 grey images and g over 8x8, saved without a threshold."""
    return str(siamkit.save_model(tiny_half_twin(), tmp_path / "ht"))


def _run(*args: str) -> str:
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code == 0, res.output
    return res.output


def test_identify_and_verify_say_how_a_half_twins_threshold_is_fit(
    half_twin: str, tmp_path: Path
) -> None:
    doc, query = write_grey_png(tmp_path / "d.png", 8, 0), write_grey_png(tmp_path / "q.png", 12, 1)
    gallery = str(tmp_path / "g.db")
    _run("enroll", half_twin, "--gallery", gallery, "--label", "a", doc)
    for out in (
        _run("identify", half_twin, "--gallery", gallery, query),
        _run("verify", half_twin, query, doc),
        _run("verify", half_twin, query, "--gallery", gallery, "--label", "a"),
    ):
        assert "no threshold to" in out, out
        assert PYTHON_FIT in out and "net.threshold" in out, out
        assert f"`{CALIBRATE} MODEL" not in out, out
    # and calibrate refuses it, as the advice now says
    res = CliRunner().invoke(cli, ["calibrate", half_twin, "--data", str(tmp_path)])
    assert res.exit_code != 0 and PYTHON_FIT in res.output, res.output


def test_serve_says_how_a_half_twins_threshold_is_fit(half_twin: str, tmp_path: Path) -> None:
    from siamkit.cli.serve_cmd import no_threshold_line

    line = no_threshold_line(siamkit.load_model(half_twin), half_twin)
    assert line is not None and PYTHON_FIT in line and f"{CALIBRATE} {half_twin}" not in line
    one_tower = siamkit.SiameseNetwork(
        siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8)),
        embedding_dim=4,
        preprocess=Preprocess(input_shape=(1, 12, 12)),
    )
    folder = str(siamkit.save_model(one_tower, tmp_path / "one"))
    line = no_threshold_line(siamkit.load_model(folder), folder)
    assert line is not None and f"{CALIBRATE} {folder} --data FOLDER" in line, line


def test_the_services_identify_hint_says_how_a_half_twins_threshold_is_fit(
    half_twin: str, tmp_path: Path
) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("multipart")
    from siamkit.service import create_app

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    doc = Path(write_grey_png(tmp_path / "d.png", 8, 0)).read_bytes()
    query = Path(write_grey_png(tmp_path / "q.png", 12, 1)).read_bytes()
    with (
        warnings.catch_warnings(),
        TestClient(create_app(siamkit.load_model(half_twin), tmp_path / "s.db")) as client,
    ):
        warnings.simplefilter("ignore", UserWarning)  # the gallery's no-threshold warning
        r = client.post("/enroll", data={"label": "a"}, files=[("files", ("d.png", doc))])
        assert r.status_code == 201, r.text
        r = client.post("/identify", files={"file": ("q.png", query)})
        assert r.status_code == 200, r.text
        hint = r.json()["hint"]
    assert PYTHON_FIT in hint and f"`{CALIBRATE} MODEL" not in hint, hint


def test_the_gallerys_warning_says_how_a_half_twins_threshold_is_fit(
    half_twin: str, tmp_path: Path
) -> None:
    """Gallery.open's warning (a Python user's) told a half-twin's user to run `siamkit calibrate
    MODEL --data DATA`, which refuses a half-twin (reviewer s57_r7 finding 3); a one-tower model
    keeps that advice, and identify still says it once in its own line, not also as a warning."""
    from siamkit.index import Gallery

    torch.manual_seed(0)

    def warned(model: object, doc: torch.Tensor, query: torch.Tensor, name: str) -> str:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with Gallery.open(tmp_path / name, model=model) as gallery:
                gallery.enroll("a", doc)
                assert gallery.identify(query).matches[0].accepted is None
        said = [str(w.message) for w in seen if "no calibrated threshold" in str(w.message)]
        assert len(said) == 1, [str(w.message) for w in seen]
        return said[0]

    text = warned(
        siamkit.load_model(half_twin), torch.rand(2, 1, 8, 8), torch.rand(1, 1, 12, 12), "h.db"
    )
    assert f"`{CALIBRATE} MODEL" not in text and PYTHON_FIT in text and "threshold=" in text, text
    one_tower = siamkit.SiameseNetwork(
        siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8)),
        embedding_dim=4,
        preprocess=Preprocess(input_shape=(1, 12, 12)),
    ).eval()
    text = warned(one_tower, torch.rand(2, 1, 12, 12), torch.rand(1, 1, 12, 12), "o.db")
    assert f"`{CALIBRATE} MODEL --data DATA`" in text, text

    doc, query = write_grey_png(tmp_path / "d.png", 8, 0), write_grey_png(tmp_path / "q.png", 12, 1)
    gallery = str(tmp_path / "g.db")
    _run("enroll", half_twin, "--gallery", gallery, "--label", "a", doc)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        out = _run("identify", half_twin, "--gallery", gallery, query)
    assert "no threshold to" in out, out
    assert not [w for w in seen if "no calibrated threshold" in str(w.message)], seen
