"""``--no-progress`` on the text commands that show progress (dedup, plagiarism, enroll), as on
`siamkit train`: no bar on a terminal, no progress line in a log."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.progress import Progress, is_enabled, set_enabled

TEXTS = [
    "The printer is out of toner. Nobody can print the reports today.",
    "The printer has no toner left. Nobody can print the reports today.",
    "The vpn login fails at home. It worked yesterday.",
    "Please reset my password. I forgot it after the holiday.",
]


@pytest.fixture(params=[False, True], ids=["log", "terminal"])
def forced(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every Progress reports from its first unit of work (not after 2 s), as plain lines or,
    forced, as a tqdm bar on the CliRunner's stream; the process's progress switch is put back."""
    real = Progress.__init__

    def eager(self: Progress, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **{**kwargs, "delay": 0, "tty": request.param})

    monkeypatch.setattr(Progress, "__init__", eager)
    was = is_enabled()
    yield
    set_enabled(was)


def _dedup(tmp: Path, model: Path, corpus: Path, *more: str) -> list[str]:
    return ["dedup", str(corpus), "--out", str(tmp / "groups.jsonl"), "--model", str(model),
            "--threshold", "0.9", *more]  # fmt: skip


def _plagiarism(tmp: Path, model: Path, corpus: Path) -> list[str]:
    suspect = tmp / "essay.txt"
    suspect.write_text(TEXTS[1])
    return ["plagiarism", str(suspect), "--corpus", str(corpus), "--model", str(model),
            "--threshold", "0.9"]  # fmt: skip


def _enroll(tmp: Path, model: Path, corpus: Path) -> list[str]:
    return ["enroll", str(corpus), "--gallery", str(tmp / "g.db"), "--model", str(model)]


COMMANDS: dict[str, tuple[Callable[[Path, Path, Path], list[str]], tuple[str, ...]]] = {
    "dedup": (_dedup, ("embedding", "searching")),
    "dedup --by passages": (
        lambda t, m, c: _dedup(t, m, c, "--by", "passages"),
        ("embedding sentences", "searching", "passage coverage"),
    ),
    "plagiarism": (_plagiarism, ("suspect", "sources")),
    "enroll": (_enroll, ("embedding",)),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_no_progress_silences_every_step_of_the_text_commands(
    command: str, forced: None, tiny_hf: Path, tmp_path: Path
) -> None:
    args, steps = COMMANDS[command]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shown = CliRunner().invoke(cli, ["text", *args(tmp_path / "a", tiny_hf, corpus)])
    assert shown.exit_code == 0, shown.output
    for step in steps:  # "embedding: 100% (4/4 texts)" in a log, "embedding: 100%|###" on a tty
        assert re.search(rf"(^|\r){step}: +\d+%", shown.stderr, re.M), (step, shown.stderr)
    quiet_args = [*args(tmp_path / "b", tiny_hf, corpus), "--no-progress"]
    quiet = CliRunner().invoke(cli, ["text", *quiet_args])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stdout == shown.stdout.replace(str(tmp_path / "a"), str(tmp_path / "b"))
    assert not re.search(r"%|\r", quiet.stderr), quiet.stderr  # nor any step's name:
    assert not any(step in quiet.stderr for step in steps), quiet.stderr


@pytest.mark.parametrize("command", ["dedup --by passages", "plagiarism"])
def test_sentences_are_counted_as_sentences(
    command: str, tiny_hf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a log said 'embedding sentences: 40% (1,088/2,687 texts)' of one text's 2,687 sentences
    real = Progress.__init__

    def eager(self: Progress, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **{**kwargs, "delay": 0, "tty": False})

    monkeypatch.setattr(Progress, "__init__", eager)
    was = is_enabled()
    try:
        args, steps = COMMANDS[command]
        corpus = tmp_path / "corpus.jsonl"
        corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS))
        res = CliRunner().invoke(cli, ["text", *args(tmp_path, tiny_hf, corpus)])
    finally:
        set_enabled(was)
    assert res.exit_code == 0, res.output
    sentence_steps = [s for s in steps if s != "searching" and s != "passage coverage"]
    for step in sentence_steps:
        assert re.search(rf"^{step}: 100% \(\d+/\d+ sentences\)", res.stderr, re.M), res.stderr
    assert "texts)" not in "".join(
        line for line in res.stderr.splitlines() if line.startswith(tuple(sentence_steps))
    )
