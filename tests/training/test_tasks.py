"""`siamkit train` dispatches on a config's `task:` key to a registered runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.training import tasks
from siamkit.training.tasks import TaskOptions, TaskSummary, get_task, list_tasks, register_task

CALLS: list[tuple[dict[str, Any], Path, TaskOptions]] = []


def fake_runner(config: dict[str, Any], out_dir: Path, options: TaskOptions) -> TaskSummary:
    CALLS.append((config, out_dir, options))
    return TaskSummary(model_dir=out_dir / "model", metrics={"score": 0.5})


def test_train_dispatches_on_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tasks._TASKS, "fake", f"{__name__}:fake_runner")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("task: fake\nmodel: {width: 3}\n")
    CALLS.clear()
    res = CliRunner().invoke(
        cli, ["train", str(cfg), "--out", str(tmp_path / "o"), "--set", "a.b=1", "--resume"]
    )
    assert res.exit_code == 0, res.output
    config, out_dir, options = CALLS[0]
    assert config == {"model": {"width": 3}}  # the task key is the dispatcher's
    assert out_dir == tmp_path / "o" and isinstance(out_dir, Path)
    assert options.resume and options.overrides == ("a.b=1",)
    assert "0.5000" in res.output and "model" in res.output


def test_unknown_task_names_the_known_ones(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("task: nope\n")
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "o")])
    assert res.exit_code != 0
    assert "unknown task 'nope'" in res.output and "embedding" in res.output
    assert not (tmp_path / "o").exists()


def test_get_task_of_the_default_task_names_its_runner() -> None:
    # it said "unknown task 'embedding' ...; choose one of embedding, ..."
    with pytest.raises(ValueError, match=r"run_experiment\(siamkit.training.config_from_dict"):
        get_task("embedding")


def test_registry_refuses_duplicates_and_the_default() -> None:
    with pytest.raises(ValueError, match="other than"):
        register_task("embedding", fake_runner)
    register_task("dup-test", fake_runner)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_task("dup-test", fake_runner)
        assert "dup-test" in list_tasks() and get_task("dup-test").__wrapped__ is fake_runner  # type: ignore[attr-defined]
    finally:
        tasks._TASKS.pop("dup-test")


def test_get_task_takes_a_str_folder_and_gives_the_runner_a_path(tmp_path: Path) -> None:
    # get_task was typed as the registered Runner (out_dir: Path), so a strict user's
    # get_task("ssl")(doc, "runs/ssl", ...) failed mypy, and a user's own runner typed with Path
    # got the str as it was; the runner get_task gives takes either and hands on a Path
    register_task("path-test", fake_runner)
    try:
        CALLS.clear()
        summary = get_task("path-test")({"a": 1}, str(tmp_path / "run"), TaskOptions())
        config, out_dir, _ = CALLS[0]
        assert type(out_dir) is type(tmp_path) and out_dir == tmp_path / "run"
        assert summary.model_dir == tmp_path / "run" / "model" and config == {"a": 1}
        get_task("path-test")({}, tmp_path / "p", TaskOptions())
        assert CALLS[1][1] == tmp_path / "p"
        # the same runner each time, and registering it again does not wrap it twice
        assert get_task("path-test") is get_task("path-test")
        register_task("path-again", get_task("path-test"))
        try:
            assert get_task("path-again") is get_task("path-test")
        finally:
            tasks._TASKS.pop("path-again")
        with pytest.raises(TypeError, match=r"out_dir as a folder path .* got int"):
            get_task("path-test")({}, 3, TaskOptions())  # type: ignore[arg-type]
        assert len(CALLS) == 2
    finally:
        tasks._TASKS.pop("path-test")


def test_help_of_task_options_describes_every_field() -> None:
    # a notebook user calling get_task(...)(doc, out, TaskOptions(...)) read only the generated
    # signature: what log=None does (the ssl run prints, others stay silent) was nowhere
    import dataclasses

    from siamkit.training.tasks import TaskOptions

    doc = TaskOptions.__doc__ or ""
    for field in dataclasses.fields(TaskOptions):
        assert f"        {field.name}: " in doc, field.name
    assert "``lambda line: None`` is silence for every task" in doc
