"""The open-set refusal counts the identities with the thousands separator every message
writes ("a fraction 0.9 of 1000 identities": s60 final note, Counts). Its labels are built
directly: no 1,000 folders of faces."""

from __future__ import annotations

import numpy as np
import pytest

from siamkit.applications.faces.evaluate import _refuse_no_known_probe


def test_a_thousand_identities_are_written_with_the_separator() -> None:
    labels = [f"person {i}" for i in range(1000)]
    none = np.array([], dtype=np.int64)
    with pytest.raises(ValueError) as err:
        _refuse_no_known_probe("faces", labels, none, np.arange(1000), 0.9, 1)
    assert "(a fraction 0.9 of 1,000 identities), so no probe is of " in str(err.value)
