"""After training, the threshold's fit reuses the last epoch's validation embedding instead of
embedding the validation images a second time (once for val_metric, once for the threshold), with
the same threshold and metrics bit for bit; weights changed since are embedded again. Training
lays the network out channels-last, whose convolutions differ in the last bits: the validation
pass embeds in the contiguous layout the saved model has (s58_c4's patch reused the channels-last
embedding: 0.103096330927296 against 0.10309633100917051 embedding again)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

import siamkit.encode as encode_mod
import siamkit.experiment.run as run_mod
import siamkit.training.from_config as from_config
from siamkit.cli.main import cli
from siamkit.training.from_config import ValidationEmbeddings

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


def _run(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch, epochs: int, device: str = "cpu"
) -> tuple[dict, int]:
    """A tiny digits run's metrics.json and how many times it embedded the validation images."""
    monkeypatch.setattr(run_mod, "try_write_report", lambda *args, **kwargs: None)
    passes: list[int] = []
    real = encode_mod.track

    def track(items: Any, desc: str, *args: Any, **kwargs: Any) -> Any:
        passes.extend([1] if desc == "embedding validation images" else [])
        return real(items, desc, *args, **kwargs)

    monkeypatch.setattr(encode_mod, "track", track)
    out = tmp_path / name
    res = CliRunner().invoke(cli, [
        "train", str(TINY), "--out", str(out), "--no-progress", "--episodes", "5",
        "--set", f"train.epochs={epochs}", "--set", "data.val_classes=[4, 5]",
        "--device", device,
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    return json.loads((out / "metrics.json").read_text()), len(passes)


def _numbers(doc: Any) -> list[Any]:
    """Every number of metrics.json but the wall times, in order."""
    if isinstance(doc, dict):
        return [n for k, v in doc.items() if "seconds" not in k for n in _numbers(v)]
    if isinstance(doc, list):
        return [n for v in doc for n in _numbers(v)]
    return [doc] if isinstance(doc, (int, float)) and not isinstance(doc, bool) else []


def test_the_threshold_reuses_the_last_validation_embedding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reused, passes = _run(tmp_path, "reused", monkeypatch, epochs=2)
    assert passes == 2  # one per epoch's val_metric; the threshold's fit embedded a third time
    # every call embedding again (as before): the same threshold and metrics, bit for bit
    count = itertools.count()
    monkeypatch.setattr(from_config, "weights_key", lambda *a, **k: str(next(count)))
    again, passes = _run(tmp_path, "again", monkeypatch, epochs=2)
    assert passes == 3
    assert reused["calibration"]["threshold"] == again["calibration"]["threshold"]
    assert _numbers(reused) == _numbers(again) and len(_numbers(reused)) > 20


def test_changed_weights_are_embedded_again() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    x = torch.rand(5, 1, 2, 2)
    embeddings = ValidationEmbeddings(x, batch_size=2)
    first = embeddings(net, "cpu")
    assert torch.equal(embeddings(net, "cpu"), first)
    with torch.no_grad():
        net[1].bias[0] += 1e-7  # one float's last bits
    assert torch.equal(embeddings(net, "cpu"), net(x))
    assert not torch.equal(embeddings(net, "cpu"), first)


def test_the_device_is_keyed_as_the_weights_name_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Training keys its pass on ctx.device ("cpu:0" here, "cuda" on a GPU), the threshold's fit
    on its weights' device ("cpu", "cuda:0"): keyed as given, they never matched (s59_r7
    finding 3: 3 passes with --device cpu:0, and on every GPU run)."""
    net = torch.nn.Linear(2, 2)
    assert from_config.weights_key(net, "cpu:0") == from_config.weights_key(
        net, torch.device("cpu")
    )
    if torch.cuda.is_available():
        assert from_config.weights_key(net, torch.device("cuda")) == from_config.weights_key(
            net, torch.empty(0, device="cuda").device
        )
    _, passes = _run(tmp_path, "cpu0", monkeypatch, epochs=2, device="cpu:0")
    assert passes == 2
