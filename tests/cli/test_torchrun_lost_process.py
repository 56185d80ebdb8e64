"""A process of a torchrun launch that dies: the survivor says one sentence, not gloo's
traceback."""

from __future__ import annotations

import multiprocessing
import os
import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rank(rank: int, port: int, out: str) -> None:
    """Process ``rank`` of two joined by gloo: process 1 dies at once (as a crash or a kill does);
    process 0 runs ``siamkit train``, whose first collective then fails, and writes its exit code
    and everything it said to OUT/said."""
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), OMP_NUM_THREADS="1")
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    if rank == 1:
        os._exit(1)
    from click.testing import CliRunner

    import siamkit.experiment
    from siamkit.cli.main import cli

    def run_experiment(*args: object, **kwargs: object) -> None:
        dist.all_reduce(torch.ones(3))  # the training's first gradient all-reduce

    siamkit.experiment.run_experiment = run_experiment  # type: ignore[assignment]
    args = ["train", str(ROOT / "configs" / "digits-tiny.yaml"), "--out", str(Path(out) / "run")]
    res = CliRunner().invoke(cli, args)
    (Path(out) / "said").write_text(f"{res.exit_code}\n{res.output}")
    os._exit(0)  # not destroy_process_group: its peer is gone


def test_the_process_left_when_the_other_dies_says_so_in_one_sentence(tmp_path: Path) -> None:
    """When one process of a two-process launch died, the other printed a page of gloo traceback
    ("[rank0]: RuntimeError: ... Connection closed by peer ... GLHF!") under the dead one's own
    error. It now ends with status 1 and one sentence naming the process that stopped."""
    spawn = multiprocessing.get_context("spawn")
    port = _free_port()
    ranks = [spawn.Process(target=_rank, args=(r, port, str(tmp_path))) for r in (0, 1)]
    for p in ranks:
        p.start()
    for p in ranks:
        p.join(timeout=120)
        assert p.exitcode is not None, "a process hung"
    code, said = (tmp_path / "said").read_text().split("\n", 1)
    assert (code, said) == (
        "1",
        "Error: process 1 of this 2-process torchrun launch stopped, so process 0 stopped too: "
        "process 1's own error, above, says why (none above: it was killed, for example for "
        "want of memory, and torchrun's summary gives its exit code)\n",
    )
    assert not (tmp_path / "run").exists()


def test_a_runtime_error_of_its_own_keeps_its_traceback(monkeypatch) -> None:
    """Only a lost process is said in one sentence: a process's own RuntimeError (a bug) still
    reaches the traceback under torchrun, and in one process too."""
    from siamkit.training.ddp import lost_process_sentence

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert lost_process_sentence(RuntimeError("mat1 and mat2 shapes cannot be multiplied")) is None
    assert lost_process_sentence(ValueError("Connection reset by peer")) is None
    assert lost_process_sentence(RuntimeError("Read error: Connection reset by peer")) == (
        "another process of this 4-process torchrun launch stopped, so process 1 stopped too: "
        "its own error, above, says why (none above: it was killed, for example for want of "
        "memory, and torchrun's summary gives its exit code)"
    )
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert lost_process_sentence(RuntimeError("Connection closed by peer")) is None


def test_an_error_only_a_later_process_met_names_that_process(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """An error met by process 1 alone (its data, its disk) was said as rank 0 would say a
    shared one, "Error: ...", so nothing told which process of the launch stopped, or why the
    others' sentences said that process 1 had."""
    import sys

    import pytest

    import siamkit.cli.main as main
    import siamkit.experiment

    def fails(*args: object, **kwargs: object) -> None:
        raise ValueError("the folder /data/x holds no images")

    monkeypatch.setattr(siamkit.experiment, "run_experiment", fails)
    monkeypatch.setattr(main, "OTHER_RANK_ERROR_DELAY_S", 0.0)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    config = str(ROOT / "configs" / "digits-tiny.yaml")
    monkeypatch.setattr(sys, "argv", ["siamkit", "train", config, "--out", str(tmp_path / "run")])
    with pytest.raises(SystemExit) as stop:
        main.main()
    assert stop.value.code == 1
    assert capsys.readouterr().err == (
        "Error: process 1 of 2 stopped: the folder /data/x holds no images\n"
    )


def test_a_later_process_that_lost_the_first_says_so_at_once(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """When process 0 of two was killed, process 1 held its sentence back as if process 0 would
    say it, and torchrun stopped it first: the launch ended with no word but torchrun's."""
    import sys
    import time

    import pytest

    import siamkit.cli.main as main
    import siamkit.experiment

    def lost(*args: object, **kwargs: object) -> None:
        raise RuntimeError("[pair.cc:537] Read error [127.0.0.1]:5510: Connection reset by peer")

    held: list[float] = []
    monkeypatch.setattr(siamkit.experiment, "run_experiment", lost)
    monkeypatch.setattr(time, "sleep", held.append)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    config = str(ROOT / "configs" / "digits-tiny.yaml")
    monkeypatch.setattr(sys, "argv", ["siamkit", "train", config, "--out", str(tmp_path / "run")])
    with pytest.raises(SystemExit) as stop:
        main.main()
    assert stop.value.code == 1 and held == []
    assert capsys.readouterr().err == (
        "Error: process 0 of this 2-process torchrun launch stopped, so process 1 stopped too: "
        "process 0's own error, above, says why (none above: it was killed, for example for "
        "want of memory, and torchrun's summary gives its exit code)\n"
    )
    monkeypatch.setenv("WORLD_SIZE", "3")  # another of three may be the one lost: held back
    with pytest.raises(SystemExit):
        main.main()
    assert held == [main.OTHER_RANK_ERROR_DELAY_S]
