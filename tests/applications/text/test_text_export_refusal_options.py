"""A text model's ONNX export given as ``--model`` to a command without ``--runtime`` (text
similarity, lexical, export) was told "the text commands with --runtime onnx or onnx-int8 run
this export", and ``text similarity --runtime onnx-int8`` is "No such option" (s58_r7 finding
1). The refusal now names the commands that run an export; every option it names is one the
command it answers takes, or is said of the commands it names."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli

RUNS_EXPORTS = ("dedup", "plagiarism", "enroll", "identify", "verify")


def _options(command: click.Command) -> set[str]:
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts)}


@pytest.mark.parametrize("inside", [True, False], ids=["MODEL/onnx", "edge"])
@pytest.mark.parametrize("name", ["similarity", "lexical", "export"])
def test_the_refusal_sends_no_command_to_an_option_it_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, inside: bool
) -> None:
    monkeypatch.chdir(tmp_path)
    model = Path("run") / "model"
    export = model / "onnx" if inside else Path("edge")
    export.mkdir(parents=True)
    (export / "text_onnx.json").write_text("{}")
    if inside:
        (model / "siamkit.json").write_text("{}")
    Path("c.jsonl").write_text('{"text": "a cat sat"}\n{"text": "a dog sat"}\n')
    args = {
        "similarity": ["a cat sat", "a dog sat"],
        "lexical": ["--corpus", "c.jsonl", "--out", "o"],
        "export": ["--out", "o"],
    }[name]
    res = CliRunner().invoke(cli, ["text", name, "--model", str(export), *args])
    assert res.exit_code == 1 and not Path("o").exists(), res.output
    said = res.output.splitlines()[-1]
    assert said.startswith(f"Error: {export} is "), said
    # the options named (--runtime, --onnx-dir) are said of the commands named, which take them
    group = cli.commands["text"]
    assert isinstance(group, click.Group)
    named = set(re.findall(r"--[a-z][a-z0-9-]*", said))
    assert named, said
    assert all(named <= _options(group.commands[c]) for c in RUNS_EXPORTS), said
    assert f"text {', '.join(RUNS_EXPORTS[:-1])} and {RUNS_EXPORTS[-1]} run this export" in said
