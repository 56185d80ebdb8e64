"""Text training runs for the tests: a small config of a tiny BERT run, and a run killed just
after its first checkpoint (to be resumed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from siamkit.applications.text import train_loop
from siamkit.training.tasks import TaskOptions, get_task


def text_config(data: Path, path: Path | None = None, **train: Any) -> dict[str, Any]:
    """A ``task: text`` config (without ``task``) of graded pairs in ``data``: 2 epochs of 2
    steps on the 12 fixture pairs, fine-tuning ``path`` (None: none named); ``train`` overrides."""
    model: dict[str, Any] = {"max_length": 32, "overlap": 8}
    if path is not None:
        model["path"] = str(path)
    return {
        "model": model,
        "data": {"train": str(data), "score_range": [0, 5], "val_fraction": 0},
        "loss": {"name": "cosent"},
        "train": {"epochs": 2, "batch_size": 6, "lr": 1e-3, "warmup": 0.0, **train},
    }


def kill_after_first_checkpoint(monkeypatch: pytest.MonkeyPatch, at: int = 1) -> list[int]:
    """Make the text loop's checkpoints kill the run (KeyboardInterrupt) just after the ``at``-th
    one is written, and again after ``at`` more once the returned list is cleared; the list
    holds one item per checkpoint written. ``monkeypatch.undo()`` writes them plainly again."""
    real, saves = train_loop._save_checkpoint, []

    def dying_save(path: Path, state: dict[str, Any]) -> None:
        real(path, state)
        saves.append(1)
        if len(saves) == at:
            raise KeyboardInterrupt  # killed just after that checkpoint

    monkeypatch.setattr(train_loop, "_save_checkpoint", dying_save)
    return saves


def cut_run(
    cfg: dict[str, Any],
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    options: TaskOptions | None = None,
    at: int = 1,
) -> None:
    """Run ``cfg`` into ``out`` until it is killed just after its ``at``-th checkpoint; then
    checkpoints are written plainly again (any other patch of the test stays)."""
    real = train_loop._save_checkpoint
    kill_after_first_checkpoint(monkeypatch, at)
    with pytest.raises(KeyboardInterrupt):
        get_task("text")(cfg, out, options or TaskOptions(progress=False))
    monkeypatch.setattr(train_loop, "_save_checkpoint", real)


def finished_text_run(data: Path, path: Path, folder: Path) -> tuple[Path, Path, list[str]]:
    """A one-epoch ``task: text`` run fine-tuning ``path`` on the graded pairs ``data``
    (:func:`text_config`), trained to its end by ``siamkit train`` into ``folder/run``: its
    config (``folder/text.yaml``), that folder, and the command's arguments (without --resume)."""
    import yaml
    from click.testing import CliRunner

    from siamkit.cli.main import cli

    cfg = folder / "text.yaml"
    cfg.write_text(yaml.safe_dump({"task": "text", **text_config(data, path, epochs=1)}))
    out = folder / "run"
    args = ["train", str(cfg), "--out", str(out), "--no-progress"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    return cfg, out, args


def finished_line(out: Path) -> str:
    """What ``--resume`` of :func:`finished_text_run`'s run (in ``out``) says of it."""
    return (
        f"{out / 'checkpoint.pt'} holds a finished run (epochs 1 of 1): the run is already "
        "complete, so nothing was trained and none of its files changed; to train longer, start "
        f"a new run from its model (--init-from {out}/model --set model.path=null --out NEW): a "
        "text run's warm-up and decay span its train.epochs, which a resume cannot change"
    )
