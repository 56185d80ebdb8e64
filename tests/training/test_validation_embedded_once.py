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
    tmp_path: Path,
    name: str,
    monkeypatch: pytest.MonkeyPatch,
    epochs: int,
    device: str = "cpu",
    extra: tuple[str, ...] = (),
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
        "--device", device, *extra,
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


def test_a_joined_embeddings_description_is_keyed() -> None:
    """Two joined embeddings of one network that differ only in ``weight`` (not in their state)
    shared one key, so the second got the first's embedding back (s60_FA finding 1)."""
    from siamkit.encoders import create_encoder
    from siamkit.heads.appearance import AppearanceFeatures
    from siamkit.models import JoinedEmbedding, SiameseNetwork

    torch.manual_seed(0)
    net = SiameseNetwork(create_encoder("convnet", in_channels=1), embedding_dim=8).eval()
    x = torch.rand(10, 1, 16, 16)
    with torch.no_grad():
        net.embed(x)  # the network learns its input shape, which the features need
    a = JoinedEmbedding(net, AppearanceFeatures(pool=4), weight=1.0)
    b = JoinedEmbedding(net, AppearanceFeatures(pool=4), weight=3.0)
    assert from_config.weights_key(a, "cpu") != from_config.weights_key(b, "cpu")
    embeddings = ValidationEmbeddings(x, batch_size=5)
    za = embeddings(a, "cpu")
    zb = ValidationEmbeddings(x, batch_size=5)(b, "cpu")  # b embedded by a fresh cache
    assert not torch.equal(zb, za)
    assert torch.equal(embeddings(b, "cpu"), zb)


def test_the_score_norm_cohort_is_not_keyed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """evaluate_run attaches the cohort before the threshold's fit; the cohort was in the key,
    so a score-normalised run embedded its validation images a third time (s60_FA finding 4)."""
    from siamkit.encoders import create_encoder
    from siamkit.models import SiameseNetwork

    net = SiameseNetwork(create_encoder("convnet", in_channels=1), embedding_dim=8)
    key = from_config.weights_key(net, "cpu")
    net.set_score_norm(torch.randn(20, net.embedding_dim), k=5)
    assert from_config.weights_key(net, "cpu") == key
    norm = ("--set", "eval.score_norm=snorm", "--set", "eval.score_norm_k=20")
    extra = (*norm, "--set", "eval.cohort_size=100")
    metrics, passes = _run(tmp_path, "snorm", monkeypatch, epochs=2, extra=extra)
    assert passes == 2
    assert metrics["calibration"]["threshold"] is not None
