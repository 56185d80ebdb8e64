"""``WORLD_SIZE`` is read by one torch-free rule (:mod:`siamkit.launch_env`) wherever siamkit asks
whether it runs in a torchrun launch: a value ``int()`` reads as 2 (``" 2"``, ``"02"``) is 2 for
every site. ``siamkit.cli.main._main_other_rank`` compared it to ``"2"`` as a string: a later
process that lost the other one of a ``WORLD_SIZE=02`` launch held its sentence back 10 s for a
rank 0 that was gone, and an error of its own named "process 1 of  2" (s59_c4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

import siamkit.cli.main as cli_main
from siamkit.cli._launch import _started_by_launcher
from siamkit.distributed import is_main_process
from siamkit.launch_env import (
    env_local_rank,
    env_local_world,
    env_rank,
    env_world,
    launched,
    other_rank,
)

SRC = Path(__file__).resolve().parents[1] / "src"

TWO = ["2", " 2", "02", "2\n"]


@pytest.fixture
def no_launch(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("WORLD_SIZE", "RANK", "TORCHELASTIC_RUN_ID", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("world", TWO)
def test_every_site_reads_a_world_size_of_two_alike(no_launch: pytest.MonkeyPatch, world: str):
    no_launch.setenv("WORLD_SIZE", world)
    no_launch.setenv("RANK", "1")
    assert (env_world(), env_rank(), launched(), other_rank()) == (2, 1, True, True)
    assert is_main_process() is False
    # quoted: the launcher's refusal names the raw value and stays one line ("2\n" split it)
    assert _started_by_launcher() == f"WORLD_SIZE={world!r} is set"


@pytest.mark.parametrize("world", TWO)
@pytest.mark.parametrize("lost", [True, False])
def test_a_later_process_of_a_two_process_launch_reads_it_as_two(
    no_launch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], world: str, lost: bool
) -> None:
    no_launch.setenv("WORLD_SIZE", world)
    no_launch.setenv("RANK", "1")
    naps: list[float] = []
    no_launch.setattr(cli_main.time, "sleep", naps.append)
    err = cli_main.LostProcess("process 0 stopped") if lost else click.ClickException("bad")

    def failing_cli(**_: object) -> None:
        raise err

    no_launch.setattr(cli_main, "cli", failing_cli)
    with pytest.raises(SystemExit) as stop:
        cli_main._main_other_rank()
    assert stop.value.code == 1
    # the lost process of a two-process launch is rank 0, which says nothing: not held back
    assert naps == ([] if lost else [cli_main.OTHER_RANK_ERROR_DELAY_S])
    said = capsys.readouterr().err
    assert said == (
        "Error: process 0 stopped\n" if lost else "Error: process 1 of 2 stopped: bad\n"
    )


@pytest.mark.parametrize("world", ["abc", "1.0", "", "-1", "1", "01"])
def test_a_world_size_of_one_or_none_is_no_launch(no_launch: pytest.MonkeyPatch, world: str):
    no_launch.setenv("WORLD_SIZE", world)
    no_launch.setenv("RANK", "1")
    assert (env_world() <= 1, launched(), other_rank()) == (True, False, False)
    assert is_main_process() is True
    assert _started_by_launcher() is None


@pytest.mark.parametrize(
    ("world", "local_world", "local_rank", "read"),
    [
        (None, "4", "3", (1, 0)),  # bare: no launch's, one process on this machine (s60_r5)
        (None, "abc", "abc", (1, 0)),
        ("2", "2", "1", (2, 1)),
        ("2", " 2", "01", (2, 1)),
        ("2", "abc", "abc", (1, 0)),  # no integer: read as no more than this process
        ("2", "0", "-1", (1, 0)),
    ],
)
def test_the_local_variables_count_only_in_a_launch(
    no_launch: pytest.MonkeyPatch,
    world: str | None,
    local_world: str,
    local_rank: str,
    read: tuple[int, int],
) -> None:
    if world is not None:
        no_launch.setenv("WORLD_SIZE", world)
    no_launch.setenv("LOCAL_WORLD_SIZE", local_world)
    no_launch.setenv("LOCAL_RANK", local_rank)
    assert (env_local_world(), env_local_rank()) == read


def test_the_rule_is_read_without_torch() -> None:
    script = "import sys, siamkit.launch_env; print('torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "False"
