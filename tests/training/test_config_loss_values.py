"""A run config with a loss or miner setting out of its range is refused by its key when the
config is read, before any data loads, in the sentence the loss or miner itself gives."""

from __future__ import annotations

import re

import pytest
import torch

from siamkit.training import ConfigError, config_from_dict


@pytest.mark.parametrize(
    ("section", "refusal"),
    [
        (
            {"kind": "margin", "params": {"beta": -1.2}},
            "loss.params.beta must be a finite number > 0 (a distance; the paper's 1.2), got -1.2.",
        ),
        (
            {
                "kind": "lifted_structure",
                "mining": None,
                "params": {"neg_margin": 0.1, "pos_margin": 0.5},
            },
            "loss.params.neg_margin must be greater than pos_margin (0.5), got 0.1.",
        ),
        (
            {"kind": "soft_triple", "mining": None, "params": {"centers_per_class": 2.5}},
            "loss.params.centers_per_class must be a whole number >= 1 (the paper's 10), got 2.5.",
        ),
        (
            {"kind": "angular", "mining": None, "params": {"alpha": 90}},
            "loss.params.alpha must be a number in (0, 90) (degrees; PML's 40), got 90.",
        ),
        (
            {"kind": "proxy_nca", "mining": None, "params": {"exclude_positive": "false"}},
            "loss.params.exclude_positive must be true or false, got 'false'.",
        ),
        # a setting from the section's own key is named by that key
        (
            {"kind": "contrastive", "margin": -1.0},
            "loss.margin must be a finite number >= 0 (a distance), got -1.0.",
        ),
        (
            {"kind": "multi_similarity", "ms_beta": 0.0},
            "loss.ms_beta must be a finite number > 0 (the paper's 50), got 0.0.",
        ),
        # a miner's, by loss.miner_params (the miner: {kind, params} form is read into them)
        (
            {
                "kind": "contrastive",
                "miner": {"kind": "uniform_histogram", "params": {"num_bins": 0}},
            },
            "loss.miner_params.num_bins must be a whole number >= 1, got 0.",
        ),
        (
            {"kind": "margin", "miner_params": {"cutoff": 1.5}},
            "loss.miner_params.nonzero_loss_cutoff must be greater than cutoff (1.5), got 1.4.",
        ),
        (
            {"kind": "triplet", "mining": "random", "miner_params": {"per_anchor": 0}},
            "loss.miner_params.per_anchor must be a whole number >= 1, got 0.",
        ),
    ],
)
def test_a_loss_or_miner_setting_out_of_range_is_refused_by_its_key(
    section: dict, refusal: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(refusal)}$"):
        config_from_dict({"loss": section})


def test_reading_a_config_leaves_torchs_random_state_alone() -> None:
    """The check builds the loss, whose class proxies draw random numbers; a seeded script
    that reads its config before building its model must get the same model as before."""
    torch.manual_seed(0)
    want = torch.rand(3)
    torch.manual_seed(0)
    config_from_dict({"loss": {"kind": "soft_triple", "mining": None}})
    assert torch.equal(torch.rand(3), want)
