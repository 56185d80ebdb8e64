"""A loss or miner given a setting outside its valid range, of the wrong type, NaN or infinite
is refused when built, in one sentence naming the setting, what it must be and the value.

Before these checks each case below was taken (and trained to NaN, to a loss that could not
move, or to a string read as true) or died later in a TypeError that named no setting.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pytest

from siamkit.losses import (
    AngularLoss,
    CircleLoss,
    ContrastiveLoss,
    GeneralizedLiftedStructureLoss,
    MarginLoss,
    MultiSimilarityLoss,
    NormalizedSoftmaxLoss,
    NPairsLoss,
    NTXentLoss,
    PairBCELoss,
    PairHeadLoss,
    ProxyAnchorLoss,
    ProxyNCALoss,
    SoftTripleLoss,
    SubCenterArcFaceLoss,
    SupConLoss,
    TripletMarginLoss,
    TupletMarginLoss,
)
from siamkit.miners.distance_weighted import distance_weighted_triplets
from siamkit.miners.multi_similarity import MultiSimilarityMiner
from siamkit.miners.triplet_miners import DistanceWeightedMiner, RandomTripletMiner

NAN, INF = float("nan"), float("inf")


def _proxy(cls: type) -> Callable[..., Any]:
    def build(**kw: Any) -> Any:
        return cls(**{"classes": [0, 1], "embedding_dim": 4, **kw})

    build.__name__ = cls.__name__
    return build


def _pair_head(**kw: Any) -> PairHeadLoss:
    from siamkit.distances import MLPMetric

    return PairHeadLoss(MLPMetric(4), **kw)


def _sampled(**kw: Any) -> object:  # the function form checks the same settings
    import torch

    return distance_weighted_triplets(torch.eye(4), torch.tensor([0, 0, 1, 1]), **kw)


POSITIVE, NONNEG = "a finite number > 0", "a finite number >= 0"

# (build, setting, value, what the setting must be)
CASES = [
    # margin loss (Wu et al. 2017)
    (MarginLoss, "beta", -1.2, f"{POSITIVE} (a distance; the paper's 1.2)"),
    (MarginLoss, "beta", 0.0, f"{POSITIVE} (a distance; the paper's 1.2)"),
    (MarginLoss, "beta", NAN, f"{POSITIVE} (a distance; the paper's 1.2)"),
    (MarginLoss, "nu", INF, f"{NONNEG} (the paper's 0 or 0.1)"),
    (MarginLoss, "margin", INF, f"{NONNEG} (the paper's 0.2)"),
    (MarginLoss, "learn_beta", "false", "true or false"),
    (MarginLoss, "per_class_beta", "no", "true or false"),
    # generalized lifted structure
    (GeneralizedLiftedStructureLoss, "neg_margin", NAN, f"{NONNEG} (a distance; PML's 1)"),
    (GeneralizedLiftedStructureLoss, "neg_margin", -1.0, f"{NONNEG} (a distance; PML's 1)"),
    (GeneralizedLiftedStructureLoss, "neg_margin", 0.0, "greater than pos_margin (0.0)"),
    (GeneralizedLiftedStructureLoss, "pos_margin", -0.5, f"{NONNEG} (a distance; PML's 0)"),
    (GeneralizedLiftedStructureLoss, "pos_margin", "0", f"{NONNEG} (a distance; PML's 0)"),
    # SoftTriple
    (_proxy(SoftTripleLoss), "margin", -0.01, f"{NONNEG} (a cosine; the paper's 0.01)"),
    (_proxy(SoftTripleLoss), "la", INF, f"{POSITIVE} (the paper's 20)"),
    (_proxy(SoftTripleLoss), "gamma", NAN, f"{POSITIVE} (the paper's 0.1)"),
    (_proxy(SoftTripleLoss), "tau", INF, f"{NONNEG} (the paper's 0.2)"),
    (_proxy(SoftTripleLoss), "centers_per_class", 2.5, "a whole number >= 1 (the paper's 10)"),
    # angular: degrees strictly between 0 and 90
    (AngularLoss, "alpha", "40", "a number in (0, 90) (degrees; PML's 40)"),
    (AngularLoss, "alpha", True, "a number in (0, 90) (degrees; PML's 40)"),
    # tuplet margin
    (TupletMarginLoss, "scale", INF, f"{POSITIVE} (the paper's 64)"),
    (TupletMarginLoss, "margin", "0.1", "a number in [0, pi/2) (radians)"),
    # sub-center ArcFace
    (_proxy(SubCenterArcFaceLoss), "sub_centers", 2.5, "a whole number >= 1 (the paper's 3)"),
    (_proxy(SubCenterArcFaceLoss), "scale", INF, f"{POSITIVE} (the paper's 64)"),
    # N-pair
    (NPairsLoss, "l2_reg", INF, NONNEG),
    (NPairsLoss, "l2_reg", "0", NONNEG),
    # the proxy losses
    (_proxy(ProxyNCALoss), "scale", INF, f"{POSITIVE} (PML's 1, ProxyNCA++'s 9)"),
    (_proxy(ProxyNCALoss), "exclude_positive", "false", "true or false"),
    (_proxy(ProxyNCALoss), "embedding_dim", 2.5, "a whole number >= 1"),
    (_proxy(ProxyAnchorLoss), "margin", -0.1, "a number in [0, 1) (a cosine; the paper's 0.1)"),
    (_proxy(ProxyAnchorLoss), "alpha", INF, f"{POSITIVE} (the paper's 32)"),
    (_proxy(NormalizedSoftmaxLoss), "scale", INF, f"{POSITIVE} (Zhai & Wu's 16, ArcFace's 64)"),
    # the losses checked before, now also for infinite values, NaN and the wrong type
    (CircleLoss, "gamma", INF, f"{POSITIVE} (the paper's 256, 128 or 80)"),
    (SupConLoss, "temperature", NAN, f"{POSITIVE} (the paper's 0.1)"),
    (MultiSimilarityLoss, "alpha", 0.0, f"{POSITIVE} (the paper's 2)"),
    (MultiSimilarityLoss, "beta", -50.0, f"{POSITIVE} (the paper's 50)"),
    (MultiSimilarityLoss, "base", NAN, "a finite number (a similarity; the paper's 0.5)"),
    (ContrastiveLoss, "margin", -1.0, f"{NONNEG} (a distance)"),
    (TripletMarginLoss, "margin", -0.2, f"{NONNEG} (a distance; FaceNet's 0.2)"),
    (_pair_head, "pos_weight", 0.0, f"{POSITIVE} (or None / null to balance by counts)"),
    # before these, a NaN temperature trained to NaN and a negative pos_weight gave a loss < 0
    (NTXentLoss, "temperature", NAN, f"{POSITIVE} (SimCLR's 0.5)"),
    (NTXentLoss, "temperature", "0.5", f"{POSITIVE} (SimCLR's 0.5)"),
    (PairBCELoss, "pos_weight", -2.0, f"{POSITIVE} (or None)"),
    (PairBCELoss, "pos_weight", INF, f"{POSITIVE} (or None)"),
    # miners: refused when built, not at the first batch
    (RandomTripletMiner, "per_anchor", 0, "a whole number >= 1"),
    (DistanceWeightedMiner, "per_positive", 1.5, "a whole number >= 1"),
    (DistanceWeightedMiner, "cutoff", -0.5, f"{NONNEG} (a distance; the paper's 0.5)"),
    (DistanceWeightedMiner, "nonzero_loss_cutoff", 0.5, "greater than cutoff (0.5)"),
    (_sampled, "nonzero_loss_cutoff", INF, f"{NONNEG} (the paper's 1.4)"),
    (MultiSimilarityMiner, "epsilon", INF, f"{NONNEG} (a similarity; the paper's 0.1)"),
]


@pytest.mark.parametrize(
    ("build", "setting", "value", "valid"),
    CASES,
    ids=[f"{b.__name__}-{s}-{v!r}" for b, s, v, _ in CASES],
)
def test_a_bad_setting_is_refused_in_one_sentence_naming_it(
    build: Callable[..., Any], setting: str, value: object, valid: str
) -> None:
    with pytest.raises(ValueError) as refused:
        build(**{setting: value})
    assert str(refused.value) == f"{setting} must be {valid}, got {value!r}."


def test_the_defaults_and_the_papers_settings_are_taken() -> None:
    MarginLoss(beta=1.2, nu=0.1, learn_beta=False)
    GeneralizedLiftedStructureLoss(neg_margin=1, pos_margin=0)  # ints, as YAML gives them
    SoftTripleLoss([0, 1], 4, centers_per_class=10, la=20, gamma=0.1, margin=0.01, tau=0.2)
    AngularLoss(alpha=36)
    TupletMarginLoss(margin=0.0, scale=64)
    SubCenterArcFaceLoss([0, 1], 4, sub_centers=1, margin=math.pi / 2 - 1e-6)
    NPairsLoss(l2_reg=0)
    DistanceWeightedMiner(cutoff=0.0)
    with pytest.raises(ValueError, match=re.escape("alpha must be a number in (0, 90)")):
        AngularLoss(alpha=0)


def test_the_checks_live_in_siamkit_params_and_the_old_path_still_imports() -> None:
    """Losses, miners and the run config share the checks, so they are not a miners module;
    ``siamkit.miners.params`` re-exports them for plug-ins written against it."""
    import pickle

    import siamkit.miners.params as old
    import siamkit.params as new
    from siamkit.losses import circle

    assert [getattr(old, n) for n in old.__all__] == [getattr(new, n) for n in new.__all__]
    assert circle.number is new.number
    err = pickle.loads(pickle.dumps(new.ParamError("beta", -1.0, "a finite number > 0")))
    assert type(err).__module__ == "siamkit.params" and err.named("loss.beta").startswith("loss.")


def test_param_error_is_documented_as_the_run_configs_error_too() -> None:
    """ParamError's docstring said it names "a loss's or miner's parameter"; the run config's own
    keys (optim.loss_lr_factor, train.ema_decay) are checked through number() and raise it too,
    under the key."""
    from siamkit.params import ParamError
    from siamkit.training import RunConfig
    from siamkit.training.config import TrainConfig
    from siamkit.training.config_checks import check_config

    with pytest.raises(ParamError) as err:
        check_config(RunConfig(train=TrainConfig(ema_decay=1.0)))
    assert err.value.param == "train.ema_decay"
    doc = " ".join((ParamError.__doc__ or "").split())
    assert "a run config's own key" in doc and "optim.loss_lr_factor" in doc
