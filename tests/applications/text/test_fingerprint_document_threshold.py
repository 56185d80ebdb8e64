"""`siamkit calibrate` on a half-twin text model rewrites its threshold for two documents inside
the model's description; that description was hashed into the model's fingerprint while
``siamkit.json`` kept the one recorded when the model was saved, so after calibrating, every
gallery enrolled with the model was refused as "enrolled with an earlier model" and every fresh
ONNX export of it as "exported from another model". The threshold is a calibration, not the
model: it is no longer hashed."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.models.fingerprint import model_fingerprint


def _ok(*args: str) -> str:
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code == 0, res.output
    return res.output


def test_a_half_twins_fingerprint_ignores_its_document_threshold(half_twin: Path) -> None:
    import siamkit

    net = siamkit.load_model(half_twin)
    before = model_fingerprint(net)
    net.document_threshold = 0.123
    assert model_fingerprint(net) == before
    with __import__("torch").no_grad():  # the weights still count
        next(net.doc_encoder.parameters()).add_(1.0)
    assert model_fingerprint(net) != before


def test_a_gallery_still_opens_after_calibrating_its_half_twin(
    half_twin: Path, tmp_path: Path
) -> None:
    corpus = tmp_path / "c.jsonl"
    texts = ["The printer is out of toner.", "My VPN keeps failing.", "The laptop will not boot."]
    corpus.write_text(
        "".join(json.dumps({"id": f"t{i}", "text": t}) + "\n" for i, t in enumerate(texts))
    )
    gallery = tmp_path / "g.db"
    _ok("text", "enroll", str(corpus), "--model", str(half_twin), "--gallery", str(gallery))
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(
        "a,b,label\n"
        "printer out of toner,The printer is out of toner.,1\n"
        "vpn failing,My VPN keeps failing.,1\n"
        "laptop does not boot,The laptop will not boot.,1\n"
        "printer out of toner,My VPN keeps failing.,0\n"
        "vpn failing,The laptop will not boot.,0\n"
        "laptop does not boot,The printer is out of toner.,0\n"
    )
    _ok("calibrate", str(half_twin), "--data", str(pairs))
    saved = json.loads((half_twin / "siamkit.json").read_text())
    assert saved["model"].get("document_threshold") is not None  # calibrate wrote it
    import siamkit

    assert model_fingerprint(siamkit.load_model(half_twin)) == saved["fingerprint"]
    out = _ok("text", "identify", "toner", "--model", str(half_twin), "--gallery", str(gallery))
    assert "t0" in out or "printer" in out
