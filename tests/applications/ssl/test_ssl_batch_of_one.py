"""A batch of one image is refused with the reason of the run's own method: the refusal said
"NT-Xent has no negatives with 1" of VICReg, Barlow Twins, SimSiam and BYOL, which have none."""

from __future__ import annotations

import pytest

from siamkit.applications.ssl.config import ssl_config_from_dict
from siamkit.applications.ssl.methods import METHODS
from siamkit.training.config_sections import ConfigError

#: what each method's refusal names: its own batch-wide part
REASON = {
    "simclr": "NT-Xent has no negatives with 1",
    "nnclr": "NNCLR's NT-Xent has no negatives with 1",
    "simsiam": "SimSiam's projection and prediction heads batch-normalise",
    "byol": "BYOL's projection and prediction heads batch-normalise",
    "vicreg": "VICReg's variance and covariance terms are taken over the images of a batch",
    "barlow_twins": "Barlow Twins' cross-correlation normalises each dimension over the images",
}


def test_every_method_has_a_reason() -> None:
    assert set(REASON) == set(METHODS)


@pytest.mark.parametrize("method", METHODS)
def test_a_batch_of_one_is_refused_with_the_methods_reason(method: str) -> None:
    with pytest.raises(ConfigError) as err:
        ssl_config_from_dict({"method": method, "train": {"batch_size": 1}})
    said = str(err.value)
    assert said.startswith("train.batch_size must be a whole number >= 2 ("), said
    assert said.endswith("), got 1."), said
    assert REASON[method] in said
    if method not in ("simclr", "nnclr"):
        assert "NT-Xent" not in said and "negatives" not in said
