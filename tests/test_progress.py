"""siamkit.progress: a few plain lines in a log, tqdm on a terminal, silence when off."""

from __future__ import annotations

import io
from functools import partial

import pytest
import torch

from siamkit import progress as prog
from siamkit.evaluation import evaluate_embeddings


class Clock:
    """A fake monotonic clock that advances ``step`` seconds per call."""

    def __init__(self, step: float) -> None:
        self.t, self.step = 0.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def enabled():
    prog.set_enabled(True)
    yield
    prog.set_enabled(False)


def test_a_long_step_writes_a_handful_of_lines_to_a_log(enabled):
    log = io.StringIO()
    items = list(prog.track(range(5000), "pairs", unit="blocks", stream=log, clock=Clock(0.01)))
    assert items == list(range(5000))  # 50 s of fake time over 5,000 updates
    lines = log.getvalue().splitlines()
    assert 5 <= len(lines) <= 12, lines
    assert "\r" not in log.getvalue()
    assert lines[-1].startswith("pairs: 100% (5,000/5,000 blocks)")
    percents = [int(line.split(": ")[1].split("%")[0]) for line in lines]
    assert percents == sorted(percents)


def test_a_quick_step_writes_nothing(enabled):
    log = io.StringIO()
    list(prog.track(range(100), "quick", stream=log, clock=Clock(0.001)))
    assert log.getvalue() == ""


def test_unknown_totals_write_a_line_per_interval(enabled):
    log = io.StringIO()
    with prog.progress(None, "reading", "files", stream=log, clock=Clock(1.0)) as bar:
        for _ in range(100):
            bar.update(1)
    lines = log.getvalue().splitlines()
    assert 3 <= len(lines) <= 5 and lines[0].startswith("reading: ")


def test_a_terminal_gets_a_tqdm_bar(enabled):
    term = Terminal()
    list(prog.track(range(50), "episodes", stream=term, delay=0))
    assert "\r" in term.getvalue() and "episodes" in term.getvalue()


def test_off_by_default_in_the_library(capsys):
    assert not prog.is_enabled()
    z = torch.cat([torch.randn(30, 4) + 3 * c for c in range(4)])
    evaluate_embeddings(z, [c for c in range(4) for _ in range(30)], episodes=20)
    assert capsys.readouterr().err == ""


def test_evaluation_reports_pairs_episodes_and_retrieval(enabled, monkeypatch, capsys):
    monkeypatch.setattr("siamkit.evaluation._common.BLOCK_ELEMENTS", 400)  # many small blocks
    monkeypatch.setattr(
        prog, "Progress", partial(prog.Progress, tty=False, delay=0.0, clock=Clock(1))
    )
    z = torch.cat([torch.randn(30, 4) + 3 * c for c in range(4)])
    evaluate_embeddings(z, [c for c in range(4) for _ in range(30)], episodes=20)
    err = capsys.readouterr().err
    for what in ("verification pairs: 100%", "4-way episodes: 100%", "retrieval: 100%"):
        assert what in err, err
    assert len(err.splitlines()) <= 40


def test_the_cli_logs_a_few_lines_for_a_long_evaluation(tmp_path, monkeypatch):
    """`siamkit evaluate` and `siamkit embed` with stderr not a terminal: plain lines, not bars."""
    from click.testing import CliRunner

    import siamkit
    from siamkit.cli.main import cli

    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4, 8])
    pre = siamkit.Preprocess(input_shape=(1, 8, 8))
    siamkit.save_model(siamkit.SiameseNetwork(enc, embedding_dim=8, preprocess=pre), tmp_path / "m")
    monkeypatch.setattr("siamkit.evaluation._common.BLOCK_ELEMENTS", 2000)  # many blocks
    quick = partial(prog.Progress, delay=0.0, clock=Clock(1))  # no delay, a second per update
    monkeypatch.setattr(prog, "Progress", quick)
    runs = {
        "verification pairs: 100%": ["evaluate", "--data", "digits", "--episodes", "50", "--json"],
        "embedding: 100%": ["embed", "--data", "digits", "--out", tmp_path / "z.npy"],
    }
    try:
        for want, (command, *args) in runs.items():
            res = CliRunner().invoke(cli, [str(a) for a in [command, tmp_path / "m", *args]])
            assert res.exit_code == 0, res.output
            lines = res.stderr.splitlines()
            assert want in res.stderr and "\r" not in res.stderr
            assert 3 <= len(lines) <= 60, lines
    finally:
        prog.set_enabled(False)  # the command turned it on for this process


def test_training_bars_write_a_line_per_quarter_to_a_log(monkeypatch):
    monkeypatch.setattr(
        prog.Progress.__init__, "__defaults__", ("it", None, None, 2.0, 30.0, Clock(0.5), 10)
    )
    log = io.StringIO()
    bar = prog.progress_bar(range(100), "epoch 1/3", unit="steps", stream=log)
    for step in bar:
        bar.set_postfix(loss=f"{1 / (step + 1):.4f}")
    lines = log.getvalue().splitlines()
    assert 3 <= len(lines) <= 5 and "\r" not in log.getvalue(), lines
    assert lines[-1] == "epoch 1/3: 100% (100/100 steps), 50 s, loss 0.0100"
    quiet = io.StringIO()
    assert list(prog.progress_bar(range(5), "x", stream=quiet, enabled=False)) == list(range(5))
    assert quiet.getvalue() == ""
    term = Terminal()
    list(prog.progress_bar(range(5), "epoch", stream=term))
    assert "\r" in term.getvalue()


def test_faiss_builds_and_int8_calibration_report_progress(enabled, monkeypatch, capsys):
    import numpy as np

    pytest.importorskip("faiss")
    from siamkit.export.quantize import _Calibration
    from siamkit.index.faiss_index import FaissIndex

    monkeypatch.setattr(prog, "Progress", partial(prog.Progress, delay=0.0, clock=Clock(1)))
    monkeypatch.setattr("siamkit.index.faiss_index.ADD_CHUNK", 10)
    index = FaissIndex(dim=4, kind="hnsw")
    index.add(np.random.default_rng(0).random((100, 4)), np.arange(100))
    assert len(index) == 100
    reader = _Calibration(np.zeros((64, 1, 4, 4), np.float32), "input", batch_size=8)
    while reader.get_next() is not None:
        pass
    err = capsys.readouterr().err
    assert "FAISS hnsw index: 100% (100/100 vectors)" in err
    assert "int8 calibration: 100% (64/64 images)" in err
    assert len(err.splitlines()) <= 25


@pytest.mark.parametrize("command", ["train", "demo"])
@pytest.mark.parametrize("flag", ["--progress", "--no-progress"])
def test_no_progress_silences_every_step(tmp_path, monkeypatch, command, flag):
    """`siamkit train / demo --no-progress` show no progress at all: not the epochs', nor the
    final evaluation's (which went by the process-wide switch the command turns on)."""
    from pathlib import Path

    from click.testing import CliRunner

    from siamkit.cli.main import cli

    tiny = str(Path(__file__).resolve().parents[1] / "configs" / "digits-tiny.yaml")
    monkeypatch.setattr("siamkit.evaluation._common.BLOCK_ELEMENTS", 2000)  # many blocks
    monkeypatch.setattr(prog, "Progress", partial(prog.Progress, delay=0.0, clock=Clock(1)))
    how = {"train": [tiny, "--set", "train.epochs=1"], "demo": ["--config", tiny, "--epochs", "1"]}
    args = [command, *how[command], "--out", str(tmp_path / "run"), flag, "--episodes", "20"]
    try:
        res = CliRunner().invoke(cli, args)
    finally:
        prog.set_enabled(False)  # the command turned it on for this process
    assert res.exit_code == 0, res.output
    assert ("% (" in res.stderr) is (flag == "--progress"), res.stderr


@pytest.mark.parametrize("command", ["embed", "evaluate", "calibrate", "enroll", "identify"])
@pytest.mark.parametrize("flag", ["--progress", "--no-progress"])
def test_image_commands_that_show_progress_take_no_progress(tmp_path, monkeypatch, command, flag):
    """Only train, tune, demo and the text commands took --no-progress; embed, evaluate,
    calibrate, enroll and identify showed their steps with no way to turn them off."""
    from click.testing import CliRunner
    from PIL import Image

    import siamkit
    from siamkit.cli.main import cli

    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4, 8])
    pre = siamkit.Preprocess(input_shape=(1, 8, 8))
    model = tmp_path / "m"
    siamkit.save_model(siamkit.SiameseNetwork(enc, embedding_dim=8, preprocess=pre), model)
    for c in range(3):  # a folder by class for the gallery commands
        (tmp_path / "imgs" / str(c)).mkdir(parents=True)
        for i in range(4):
            Image.new("L", (8, 8), 60 * c + 10 * i).save(tmp_path / "imgs" / str(c) / f"{i}.png")
    monkeypatch.setattr("siamkit.evaluation._common.BLOCK_ELEMENTS", 2000)  # many blocks
    monkeypatch.setattr(prog, "Progress", partial(prog.Progress, delay=0.0, clock=Clock(1)))
    gallery = str(tmp_path / "g.db")
    how = {
        "embed": ["--data", "digits", "--out", str(tmp_path / "z.npy")],
        "evaluate": ["--data", "digits", "--episodes", "20"],
        "calibrate": ["--data", "digits", "--classes", "0,1,2,3"],
        "enroll": ["--gallery", gallery, str(tmp_path / "imgs")],
        "identify": ["--gallery", gallery, str(tmp_path / "imgs" / "0" / "0.png")],
    }
    if command == "identify":
        CliRunner().invoke(cli, ["enroll", str(model), *how["enroll"], "--no-progress"])
    try:
        res = CliRunner().invoke(cli, [command, str(model), *how[command], flag])
    finally:
        prog.set_enabled(False)  # the command turned it on for this process
    assert res.exit_code == 0, res.output
    assert ("% (" in res.stderr) is (flag == "--progress"), res.stderr


def test_progress_off_restores_the_setting_however_the_block_ends() -> None:
    was = prog.is_enabled()
    try:
        prog.set_enabled(True)
        with pytest.raises(KeyboardInterrupt), prog.progress_off():
            assert not prog.is_enabled()
            raise KeyboardInterrupt
        assert prog.is_enabled()
        with prog.progress_off(when=False):  # left as it is inside
            assert prog.is_enabled()
            prog.set_enabled(False)
        assert prog.is_enabled()  # and as it was after
    finally:
        prog.set_enabled(was)
