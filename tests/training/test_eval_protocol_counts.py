"""check_protocol's refusal writes its ways, shots and images with the thousands separator every
message writes ("it needs 2 test classes with at least 1001 images each", "at most 1000 at
2-way": s60 final note, Counts). Labels are built directly: no 2,003 images."""

from __future__ import annotations

import pytest
import torch

from siamkit.training.config import EvalConfig
from siamkit.training.eval_protocol import check_protocol


def test_a_thousand_shots_are_written_with_the_separator() -> None:
    y = torch.cat([torch.zeros(1002, dtype=torch.long), torch.ones(1001, dtype=torch.long)])
    with pytest.raises(ValueError) as err:
        check_protocol(EvalConfig(ways=[2], shots=[1001]), y)
    assert str(err.value).startswith(
        "2-way 1,001-shot evaluation cannot be met: it needs 2 test classes with at least 1,002 "
        "images each (1,001 shots + 1 query), but only 1 of the 2 test classes has that many "
    )
    assert str(err.value).endswith(
        "; lower eval.shots (at most 1,000 at 2-way) or give the classes more images"
    )


def test_a_thousand_ways_are_written_with_the_separator() -> None:
    y = torch.cat([torch.arange(1001).repeat(2), torch.tensor([1001, 1002])])  # 1,001 of 2 images
    with pytest.raises(ValueError) as err:
        check_protocol(EvalConfig(ways=[1003], shots=[1]), y)
    assert str(err.value).startswith(
        "1,003-way 1-shot evaluation cannot be met: it needs 1,003 test classes with at least 2 "
        "images each (1 shot + 1 query), but only 1,001 of the 1,003 test classes have that many "
    )
    assert "lower eval.ways (at most 1,001 at 1-shot)" in str(err.value)
