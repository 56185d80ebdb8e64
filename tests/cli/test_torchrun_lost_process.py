"""A process of a torchrun launch that dies: the survivor says one sentence, not gloo's
traceback."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: A process's own error that says what gloo says (a data reader's, a plugin's): not a lost peer.
OWN = "reading shard 17 from the feature store failed: Connection reset by peer"

#: The sentence of process 0 when process 1 of two stopped.
LOST_1 = (
    "Error: process 1 of this 2-process torchrun launch stopped, so process 0 stopped too: "
    "process 1's own error, above, says why (none above: it was killed, for example for "
    "want of memory, and the launch's last lines give its exit code)\n"
)


def _rank(rank: int, port: int, out: str) -> None:
    """Process ``rank`` of two joined by gloo: process 1 dies at once (as a crash or a kill does);
    process 0 runs ``siamkit train`` three times and writes what each said to OUT/said: a
    RuntimeError of its own that says "reset by peer"; the training's first collective, which
    then fails; that failure again after leaving the group, as a process other than rank 0
    does on its way out of an error (experiment/run.py)."""
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
    from siamkit.training.ddp import teardown_distributed

    met: list[BaseException] = []

    def own(*args: object, **kwargs: object) -> None:
        raise RuntimeError(OWN)

    def all_reduce(*args: object, **kwargs: object) -> None:
        try:
            dist.all_reduce(torch.ones(3))  # the training's first gradient all-reduce
        except RuntimeError as err:
            met.append(err)
            raise

    def left(*args: object, **kwargs: object) -> None:
        teardown_distributed()
        raise met[0]

    said = []
    args = ["train", str(ROOT / "configs" / "digits-tiny.yaml"), "--out", str(Path(out) / "run")]
    for run in (own, all_reduce, left):
        siamkit.experiment.run_experiment = run  # type: ignore[assignment]
        res = CliRunner().invoke(cli, args)
        said.append([res.exit_code, res.output, repr(res.exception)])
    said.append(str(met[0]) if met else "")
    (Path(out) / "said").write_text(json.dumps(said))
    os._exit(0)  # not destroy_process_group: its peer is gone


def test_the_process_left_when_the_other_dies_says_so_in_one_sentence(tmp_path: Path) -> None:
    """When one process of a two-process launch died, the other printed a page of gloo traceback
    ("[rank0]: RuntimeError: ... Connection closed by peer ... GLHF!") under the dead one's own
    error. It now ends with status 1 and one sentence naming the process that stopped, and its
    own RuntimeError that says "reset by peer" keeps its traceback (it was said as that sentence,
    naming a process that had not stopped)."""
    spawn = multiprocessing.get_context("spawn")
    port = _free_port()
    ranks = [spawn.Process(target=_rank, args=(r, port, str(tmp_path))) for r in (0, 1)]
    for p in ranks:
        p.start()
    for p in ranks:
        p.join(timeout=120)
        assert p.exitcode is not None, "a process hung"
    own, lost, left, gloo = json.loads((tmp_path / "said").read_text())
    assert "gloo/transport/" in gloo and "closed by peer" in gloo  # gloo's own error, matched
    assert lost[:2] == [1, LOST_1]
    assert left[:2] == [1, LOST_1]  # having left the group on its way out
    # its own error, in a joined group, is no lost process: its traceback is kept
    assert own == [1, "", repr(RuntimeError(OWN))]
    assert not (tmp_path / "run").exists()


def _rank_of_three(rank: int, port: int, out: str) -> None:
    """Process ``rank`` of three joined by gloo: process 2 dies at once; processes 0 and 1 run
    ``siamkit train``, whose first collective then fails, and write what they said to
    OUT/said-RANK."""
    os.environ.update(RANK=str(rank), WORLD_SIZE="3", LOCAL_RANK=str(rank), OMP_NUM_THREADS="1")
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=3)
    if rank == 2:
        os._exit(1)
    from click.testing import CliRunner

    import siamkit.experiment
    from siamkit.cli.main import cli

    def all_reduce(*args: object, **kwargs: object) -> None:
        dist.all_reduce(torch.ones(3))  # the training's first gradient all-reduce

    siamkit.experiment.run_experiment = all_reduce  # type: ignore[assignment]
    args = ["train", str(ROOT / "configs" / "digits-tiny.yaml"), "--out", str(Path(out) / "run")]
    res = CliRunner().invoke(cli, args)
    (Path(out) / f"said-{rank}").write_text(json.dumps([res.exit_code, res.output]))
    os._exit(0)  # not destroy_process_group: its peer is gone


@pytest.mark.slow  # three processes that import torch: about 20 s on two loaded cores
def test_a_survivor_of_three_says_one_of_the_other_two_stopped(tmp_path: Path) -> None:
    """With more than two processes a survivor said that "another process" of the launch had
    stopped. Neither gloo nor NCCL names the rank at the other end (gloo names a connection's
    port), so it now says which set it was among: one of the other two."""
    spawn = multiprocessing.get_context("spawn")
    port = _free_port()
    ranks = [spawn.Process(target=_rank_of_three, args=(r, port, str(tmp_path))) for r in range(3)]
    for p in ranks:
        p.start()
    for p in ranks:
        p.join(timeout=120)
        assert p.exitcode is not None, "a process hung"
    for rank in (0, 1):
        said = json.loads((tmp_path / f"said-{rank}").read_text())
        assert said == [
            1,
            "Error: one of the other 2 processes of this 3-process torchrun launch stopped, so "
            f"process {rank} stopped too: its own error, above, says why (none above: it was "
            "killed, for example for want of memory, and the launch's last lines give the "
            "exit codes)\n",
        ]


def test_a_runtime_error_of_its_own_keeps_its_traceback(monkeypatch) -> None:
    """Only a lost process is said in one sentence: a process's own RuntimeError (a bug) still
    reaches the traceback under torchrun, and in one process too. Words alone were taken for a
    lost peer ("reset by peer", "remote worker"), and any DistNetworkError (a rendezvous port
    taken); now only the backend's own error, once a process group was joined."""
    import torch.distributed as dist

    from siamkit.training import ddp

    gloo = (
        "[/__w/pytorch/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:553] Connection "
        "closed by peer [127.0.0.1]:19173. This is typically caused by a remote worker crashing."
    )
    nccl = (
        "NCCL error in: ProcessGroupNCCL.cpp:1970, remote process exited or there was a network "
        "error, NCCL version 2.21.5\nncclRemoteError: A call failed possibly due to a network "
        "error or a remote process exiting prematurely."
    )
    with socket.socket() as busy:  # a rendezvous whose port another program holds
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        try:
            dist.TCPStore("127.0.0.1", busy.getsockname()[1], 2, True, wait_for_workers=False)
        except dist.DistNetworkError as err:
            taken = err
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert ddp.lost_process_sentence(taken) is None  # no group joined
    assert ddp.lost_process_sentence(RuntimeError(gloo)) is None  # no group joined
    monkeypatch.setattr(ddp, "_left_group", True)
    assert ddp.lost_process_sentence(taken) is None  # joined, but its own store's error
    for own in (
        "mat1 and mat2 shapes cannot be multiplied",
        "Read error: Connection reset by peer",
        "Caught RuntimeError in DataLoader worker process 0: Connection closed by peer",
        "the remote worker said no",
        "remote process exited with status 3",
    ):
        assert ddp.lost_process_sentence(RuntimeError(own)) is None, own
        assert ddp.lost_process_sentence(dist.DistNetworkError(own)) is None, own
    assert ddp.lost_process_sentence(ValueError(gloo)) is None
    assert ddp.lost_process_sentence(RuntimeError(gloo)) == (
        "one of the other 3 processes of this 4-process torchrun launch stopped, so process 1 "
        "stopped too: its own error, above, says why (none above: it was killed, for example "
        "for want of memory, and the launch's last lines give the exit codes)"
    )
    assert ddp.lost_process_sentence(dist.DistBackendError(nccl)) == (
        "one of the other 3 processes of this 4-process torchrun launch stopped or the network "
        "between the processes failed (NCCL cannot tell which), so process 1 stopped too: if "
        "one stopped, its own error, above, says why (none above: it was killed, for example "
        "for want of memory, or the network failed; the launch's last lines give the exit codes)"
    )
    assert ddp.lost_process_sentence(dist.DistNetworkError(gloo.replace("/", "\\"))) is not None
    # NCCL's error may be the network's: the sentence does not say a process died
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert ddp.lost_process_sentence(dist.DistBackendError(nccl)) == (
        "process 0 of this 2-process torchrun launch stopped or the network between the "
        "processes failed (NCCL cannot tell which), so process 1 stopped too: if process 0 "
        "stopped, process 0's own error, above, says why (none above: it was killed, for "
        "example for want of memory, or the network failed; the launch's last lines give the "
        "exit codes)"
    )
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert ddp.lost_process_sentence(RuntimeError(gloo)) is None


def test_a_later_processs_own_error_saying_reset_by_peer_keeps_its_traceback(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """Process 1's own RuntimeError that said "Connection reset by peer" (a data reader's) was
    said at once as 'process 0 ... stopped', false, and its traceback was lost."""
    import sys
    import time

    import pytest

    import siamkit.cli.main as main
    import siamkit.experiment

    def fails(*args: object, **kwargs: object) -> None:
        raise RuntimeError(OWN)

    held: list[float] = []
    monkeypatch.setattr(siamkit.experiment, "run_experiment", fails)
    monkeypatch.setattr(time, "sleep", held.append)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    config = str(ROOT / "configs" / "digits-tiny.yaml")
    monkeypatch.setattr(sys, "argv", ["siamkit", "train", config, "--out", str(tmp_path / "run")])
    with pytest.raises(RuntimeError) as raised:
        main.main()  # on to Python, which prints its traceback
    assert str(raised.value) == OWN and capsys.readouterr().err == "" and held == []


def test_a_taken_rendezvous_port_is_no_lost_process(tmp_path: Path, monkeypatch) -> None:
    """A DistNetworkError of this process's own rendezvous (its port taken) was said as 'process
    1 of this 2-process torchrun launch stopped', with no process 1 started and nothing above:
    the real cause was gone."""
    import sys

    import pytest
    import torch.distributed as dist

    import siamkit.cli.main as main
    import siamkit.experiment

    def rendezvous(*args: object, **kwargs: object) -> None:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            dist.TCPStore("127.0.0.1", busy.getsockname()[1], 2, True, wait_for_workers=False)

    monkeypatch.setattr(siamkit.experiment, "run_experiment", rendezvous)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    config = str(ROOT / "configs" / "digits-tiny.yaml")
    monkeypatch.setattr(sys, "argv", ["siamkit", "train", config, "--out", str(tmp_path / "run")])
    with pytest.raises(dist.DistNetworkError, match="address already in use"):
        main.main()


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
    from siamkit.training import ddp

    def lost(*args: object, **kwargs: object) -> None:
        raise RuntimeError(
            "[../third_party/gloo/gloo/transport/tcp/pair.cc:537] Read error [127.0.0.1]:5510: "
            "Connection reset by peer"
        )

    held: list[float] = []
    monkeypatch.setattr(ddp, "_left_group", True)  # it left the group on its way out (run.py)
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
        "want of memory, and the launch's last lines give its exit code)\n"
    )
    monkeypatch.setenv("WORLD_SIZE", "3")  # another of three may be the one lost: held back
    with pytest.raises(SystemExit):
        main.main()
    assert held == [main.OTHER_RANK_ERROR_DELAY_S]
