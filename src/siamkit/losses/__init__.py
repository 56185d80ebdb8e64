"""Losses: pure functions in :mod:`siamkit.losses.functional`, thin ``nn.Module`` wrappers here."""

from siamkit.losses.contrastive import ContrastiveLoss
from siamkit.losses.functional import (
    contrastive_loss,
    multi_similarity_loss,
    nt_xent_loss,
    pair_bce_loss,
    soft_margin_triplet_loss,
    supcon_loss,
    triplet_margin_loss,
)
from siamkit.losses.multi_similarity import MultiSimilarityLoss
from siamkit.losses.ntxent import NTXentLoss
from siamkit.losses.pair_bce import PairBCELoss
from siamkit.losses.supcon import SupConLoss
from siamkit.losses.triplet import SoftMarginTripletLoss, TripletMarginLoss

__all__ = [
    "ContrastiveLoss",
    "MultiSimilarityLoss",
    "NTXentLoss",
    "PairBCELoss",
    "SoftMarginTripletLoss",
    "SupConLoss",
    "TripletMarginLoss",
    "contrastive_loss",
    "multi_similarity_loss",
    "nt_xent_loss",
    "pair_bce_loss",
    "soft_margin_triplet_loss",
    "supcon_loss",
    "triplet_margin_loss",
]
