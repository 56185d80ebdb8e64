"""Two ``siamkit tune`` runs on one --out at once: the second's study opened marked the first's
running trial failed (interrupted), and both wrote the one best.yaml and trials.csv. The first
now holds an OS lock on ``OUT/tune.lock`` for its life (released when it ends, however it ends,
a kill too), and a second is refused in one sentence, before its data load when the folder is
there (reviewer s53_c7 finding 3)."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from _tiny_study import tiny_base
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.data import sources
from siamkit.tuning import run_study
from siamkit.tuning.study import STUDY_LOCK, StudyInUse, StudyLock

SPACE = {"optim.lr": {"float": [1e-3, 1e-2]}}
CONFIG = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """Each read of the digits data, which still load."""
    seen: list[str] = []
    digits = sources.DATA_SOURCES.get("digits")

    @functools.wraps(digits)  # its signature: the loader reads which arguments it takes
    def counted(*args: object, **kwargs: object) -> sources.Source:
        seen.append("digits")
        return digits(*args, **kwargs)

    monkeypatch.setitem(sources.DATA_SOURCES._factories, "digits", counted)
    return seen


def test_a_second_study_in_a_folder_in_use_is_refused_before_its_data(
    tmp_path: Path, reads: list[str]
) -> None:
    out = tmp_path / "tune"
    run_study(tiny_base(), SPACE, out, n_trials=1, progress=False)
    assert not (out / STUDY_LOCK).exists()  # released and removed at the end
    before = (out / "trials.csv").read_bytes(), len(reads)
    with StudyLock(out) as first:  # another study running in it
        first.take()
        with pytest.raises(StudyInUse) as err:
            run_study(tiny_base(), SPACE, out, n_trials=2, progress=False)
        assert str(err.value) == (
            f"--out {out} is in use: another siamkit tune is running a study in it (it holds "
            f"{out / STUDY_LOCK}); wait for it to end, or give another --out"
        )
        assert ((out / "trials.csv").read_bytes(), len(reads)) == before  # nothing read, written
    with StudyLock(out) as lock:  # released
        lock.take()


def test_the_lock_is_released_when_the_study_is_refused(tmp_path: Path) -> None:
    """A refusal after the lock was taken (a config without validation classes) leaves the
    folder free, and no lock file in it."""
    out = tmp_path / "tune"
    out.mkdir()
    with pytest.raises(ValueError, match=r"data\.val_classes"):
        run_study(tiny_base("data.val_classes=null"), SPACE, out, n_trials=1, progress=False)
    assert list(out.iterdir()) == []
    with StudyLock(out) as lock:
        lock.take()


STUDY = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from _tiny_study import tiny_base
from siamkit.tuning import run_study, search

class Stuck:
    \"\"\"A trial's training that says it started, then waits (to be killed).\"\"\"

    @classmethod
    def from_config(cls, *args, **kwargs):
        return cls()

    def fit(self):
        print("training", flush=True)
        time.sleep(60)

search.Trainer = Stuck
run_study(tiny_base(), {"optim.lr": {"float": [1e-3, 1e-2]}}, Path(sys.argv[1]), n_trials=1,
          progress=False)
"""


@pytest.mark.slow  # two processes, each loading torch and the data
def test_a_second_command_is_refused_while_a_study_trains_and_goes_on_once_it_is_killed(
    tmp_path: Path,
) -> None:
    """Before the lock, the second command's study marked the first's running trial failed
    and ran its own trial beside it; now it is refused, and once the first is killed (no
    release of its own: the OS drops its lock) the same command continues the study."""
    out = tmp_path / "tune"
    here = str(Path(__file__).parent)
    first = subprocess.Popen(
        [sys.executable, "-c", STUDY, str(out), here], stdout=subprocess.PIPE, text=True
    )
    args = ["tune", str(CONFIG), "--out", str(out), "--trials", "1", "--no-progress"]
    args += ["--set", "data.val_classes=[4, 5]", "--set", "train.epochs=1"]
    args += ["--set", "train.steps_per_epoch=1", "--set", "train.classes_per_batch=4"]
    args += ["--space", str(tmp_path / "space.yaml")]
    (tmp_path / "space.yaml").write_text("optim.lr: {float: [1.0e-3, 1.0e-2]}\n")
    try:
        assert first.stdout is not None and first.stdout.readline() == "training\n"
        second = CliRunner().invoke(cli, args)
        assert second.exit_code == 1, second.output
        assert f"--out {out} is in use: another siamkit tune is running a study in it" in (
            second.output
        )
    finally:
        os.kill(first.pid, signal.SIGKILL)  # a crash: no release of its own
        first.wait()
    assert (out / STUDY_LOCK).exists()  # the killed study's file, no longer locked
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert "1 trial finished (1 complete, 0 pruned), 0 failed, 1 interrupted in " in again.output
    assert not (out / STUDY_LOCK).exists()
