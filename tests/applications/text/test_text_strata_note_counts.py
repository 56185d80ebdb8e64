"""The validation split's proportions note groups thousands in its "(k of n)" counts."""

from __future__ import annotations

from siamkit.applications.text.train_strata import proportions_note


def test_label_shares_over_a_thousand_carry_the_separator() -> None:
    of = [0] * 3000 + [1] * 1000  # stratum = label: 4,000 pairs, 1,000 labelled 1
    targets = [float(s) for s in of]
    val = list(range(0, 4000, 4))  # every 4th: 750 zeros and 250 ones
    train = [i for i in range(4000) if i % 4]
    assert proportions_note(of, train, val, targets, None) == (
        "validation is stratified by label: pairs labelled 1 are 25% (250 of 1,000) of "
        "validation, 25% (750 of 3,000) of training and 25% (1,000 of 4,000) of the file"
    )


def test_score_bins_over_a_thousand_carry_the_separator() -> None:
    of = [0] * 1200 + [1] * 800
    targets = [0.25] * 1200 + [0.75] * 800
    val, train = list(range(0, 2000, 2)), list(range(1, 2000, 2))
    note = proportions_note(of, train, val, targets, (0.0, 4.0))
    assert note == (
        "validation is stratified by score in 2 bins: scores 1 are 60% (600 of 1,000) of "
        "validation, 60% (600 of 1,000) of training and 60% (1,200 of 2,000) of the file; "
        "scores 3 are 40% (400 of 1,000) of validation, 40% (400 of 1,000) of training and "
        "40% (800 of 2,000) of the file"
    )
