"""The resume line counts the steps and epochs left with the thousands separator every message
writes: a text run checkpointed within an epoch of 2,000 steps said "(1996 steps of it and 1
more epoch left)" (s60 final note, Counts: plurals built with 's' * (n != 1))."""

from __future__ import annotations

from siamkit.training.resume_note import resuming_line


def test_a_thousand_steps_left_are_written_with_the_separator() -> None:
    assert resuming_line("t/checkpoint.pt", 1, 3, step=4, steps=2000) == (
        "resuming at epoch 2 of 3, step 5 of 2,000, from t/checkpoint.pt (1,996 steps of it and "
        "1 more epoch left)"
    )
    assert resuming_line("t/checkpoint.pt", 0, 1001) == (
        "resuming at epoch 1 of 1,001 from t/checkpoint.pt (1,001 epochs left)"
    )
    assert resuming_line("t/checkpoint.pt", 2, 3, step=9, steps=10) == (
        "resuming at epoch 3 of 3, step 10 of 10, from t/checkpoint.pt (1 step left)"
    )
