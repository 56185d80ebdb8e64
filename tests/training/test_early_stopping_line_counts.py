"""The early-stopping line counts its epochs as every message counts (siamkit.clauses.counted)."""

from __future__ import annotations

from siamkit.training.callbacks import Validation


def _line(bad: int) -> str:
    lines: list[str] = []
    v = Validation(None, patience=bad, log=lines.append, metric_name="eer")
    v.best.update(metric=0.2, epoch=2, bad=bad)
    v.stopped, v.last_epoch = True, 2 + bad
    v.on_fit_end(None)  # type: ignore[arg-type]  # restore_best off: the trainer is not read
    (line,) = lines
    return line


def test_one_epoch_and_over_a_thousand_are_counted() -> None:
    assert _line(1) == (
        "stopped early after epoch 3: val eer has not beaten epoch 2's 0.2000 for 1 epoch "
        "(train.early_stopping = 1)"
    )
    assert "for 1,500 epochs (train.early_stopping = 1500)" in _line(1500)
