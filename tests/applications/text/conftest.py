"""Shared text fixtures: one pretrained text model per test session (loading all-MiniLM-L6-v2
takes seconds), a tiny random BERT with MiniLM's tokenizer (and a half-twin of it), and a dozen
graded ticket pairs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from _tiny_bert import save_tiny_bert

pytest.importorskip("transformers", reason="the text extra is not installed")


@pytest.fixture(scope="session")
def text_model():  # type: ignore[no-untyped-def]
    from siamkit.applications.text import load_text_model

    return load_text_model()


GRADED_PAIRS = [
    ("the printer is out of toner", "printer needs new toner", 4.5),
    ("the printer is out of toner", "vpn login fails at home", 0.0),
    ("vpn login fails at home", "cannot connect to the vpn", 4.8),
    ("vpn login fails at home", "battery drains quickly", 0.5),
    ("battery drains quickly", "the battery runs out fast", 4.6),
    ("battery drains quickly", "please reset my password", 0.2),
    ("please reset my password", "i forgot my password", 4.1),
    ("please reset my password", "the sink is leaking", 0.0),
    ("the sink is leaking", "water leaks from the sink", 4.9),
    ("the sink is leaking", "the coffee machine is broken", 1.0),
    ("the coffee machine is broken", "coffee maker does not work", 4.4),
    ("the coffee machine is broken", "the printer is out of toner", 1.5),
]


@pytest.fixture(scope="session")
def graded_pairs() -> list[tuple[str, str, float]]:
    """Twelve (a, b, score 0-5) support-ticket pairs: six alike, six not."""
    return list(GRADED_PAIRS)


@pytest.fixture(scope="session")
def tiny_hf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT with random weights (seed 0) and MiniLM's tokenizer, saved as a local folder."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), layers=2)


@pytest.fixture
def pairs_csv(tmp_path: Path, graded_pairs: list[tuple[str, str, float]]) -> Path:
    """The graded pairs as a CSV file (columns a, b, label)."""
    path = tmp_path / "pairs.csv"
    path.write_text("a,b,label\n" + "".join(f"{a},{b},{s}\n" for a, b, s in graded_pairs))
    return path


@pytest.fixture(scope="session")
def half_twin_net(tiny_hf: Path) -> Callable[[float], Any]:
    """Makes a tiny half-twin (a ``TextSiameseNetwork`` of the tiny BERT, towers not shared) whose
    document tower is moved by ``noise`` × N(0, 1) noise (seed 1) from its query tower, so that
    one tower used for both sides of a pair gives other cosines; a new network each call."""

    def make(noise: float) -> Any:
        import torch

        from siamkit.applications.text.model import TextSiameseNetwork

        net = TextSiameseNetwork.pretrained(tiny_hf, share_weights=False, max_length=32, overlap=8)
        assert net.doc_encoder is not None
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for p in net.doc_encoder.parameters():
                p.add_(noise * torch.randn(p.shape, generator=g))
        return net

    return make


@pytest.fixture
def half_twin(half_twin_net: Callable[[float], Any], tmp_path: Path) -> Path:
    """A saved half-twin text model of the tiny BERT whose document tower differs from its query
    tower (:func:`half_twin_net`, noise 0.05)."""
    from siamkit.export.bundle import save_model

    return save_model(half_twin_net(0.05), tmp_path / "model")


@pytest.fixture
def text_cli(tiny_hf: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """`siamkit text ARGS...` run in a CliRunner (its Result back), with every model the command
    loads being the tiny BERT (``_text_common._model`` patched): for what a command says."""
    from click.testing import CliRunner

    from siamkit.applications.text import load_text_model
    from siamkit.cli import _text_common
    from siamkit.cli.main import cli

    model = load_text_model(tiny_hf)
    monkeypatch.setattr(_text_common, "_model", lambda path, device=None: model)
    return lambda *args: CliRunner().invoke(cli, ["text", *args])
