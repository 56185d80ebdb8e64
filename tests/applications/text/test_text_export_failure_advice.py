"""A text export failing inside torch.onnx.export ended "run it with PyTorch instead (--runtime
torch)", though it is reached only from ``siamkit export`` and ``siamkit text export``, neither
of which has --runtime (s58_r7 finding 2). The advice now says the model still runs with
PyTorch, the default of the commands that do take --runtime."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

pytest.importorskip("transformers", reason="the text extra is not installed")

import siamkit
from siamkit.cli.main import cli


@pytest.fixture(scope="module")
def bundle(tiny_hf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from siamkit.applications.text import load_text_model

    model: Any = load_text_model(tiny_hf)
    return Path(siamkit.save_model(model, tmp_path_factory.mktemp("run") / "model"))


@pytest.mark.parametrize("how", ["export", "text export"])
def test_a_failed_export_sends_no_one_to_an_option_the_command_lacks(
    bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    import torch

    def fails(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("unsupported operator aten::foo")

    monkeypatch.setattr(torch.onnx, "export", fails)
    out = tmp_path / "o"
    args = (
        ["export", str(bundle), "--format", "onnx", "--out", str(out)]
        if how == "export"
        else ["text", "export", "--model", str(bundle), "--out", str(out)]
    )
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1 and not out.exists(), res.output
    said = res.output.strip().splitlines()[-1]
    assert said.startswith("Error: torch.onnx.export could not export"), said
    command: Any = cli
    for name in how.split():
        command = command.commands[name]
    assert isinstance(command, click.Command)
    assert "--runtime" not in {o for p in command.params for o in p.opts}  # neither takes it
    assert "instead (--runtime torch)" not in said, said
    assert said.endswith(
        "; the model still runs with PyTorch (the text commands' and `siamkit serve`'s default, "
        "--runtime torch)"
    ), said
    assert set(re.findall(r"--[a-z][a-z0-9-]*", said)) == {"--runtime"}, said
