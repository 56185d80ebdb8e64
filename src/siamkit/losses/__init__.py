"""Losses: pure functions in :mod:`siamkit.losses.functional`, thin ``nn.Module`` wrappers here.

Three call contracts, one per kind of input:

- **label-based** (pytorch-metric-learning's): ``loss(embeddings (B, D), labels (B,), indices=None)``
  for :class:`TripletMarginLoss`, :class:`SoftMarginTripletLoss`, :class:`ContrastiveLoss`,
  :class:`MultiSimilarityLoss`, :class:`SupConLoss`, :class:`CircleLoss`, :class:`MarginLoss`
  (with a learned boundary), :class:`GeneralizedLiftedStructureLoss`, :class:`NPairsLoss`,
  :class:`AngularLoss`, :class:`TupletMarginLoss`, :class:`PairHeadLoss`,
  and the proxy losses :class:`ProxyAnchorLoss`, :class:`ProxyNCALoss`, :class:`SoftTripleLoss`
  (several centres per class), :class:`SubCenterArcFaceLoss` (ArcFace with several
  sub-centres per class) and :class:`NormalizedSoftmaxLoss` (ArcFace or
  CosFace with a margin), which learn one vector per training class (give their parameters to
  the optimiser). ``indices`` are a miner's output (:mod:`siamkit.miners`: ``Triplets`` or
  ``Pairs``); each also takes a miner or a strategy name as ``mining=`` where that makes sense.
  These are the ones in :data:`siamkit.losses.registry.LOSSES`, which a run config names as
  ``loss.kind``.
- **pair-input**: ``PairBCELoss(logits (N,), same (N,))`` on pairs you built and scored, and
  ``ContrastiveLoss.from_pairs(z1, z2, same)``.
- **cross-batch memory**: :class:`CrossBatchMemory` wraps a triplet, contrastive,
  multi-similarity, margin, lifted structure, angular or tuplet margin loss so each batch is
  mined against the last ``memory_size`` embeddings too (``loss.xbm_memory_size`` in a run
  config).
- **two views** (self-supervision): ``NTXentLoss(z1 (N, D), z2 (N, D))``, row ``i`` of each a view
  of the same item.

Precision: the label-based losses take half-precision (bfloat16, float16) embeddings to float32
for their matrices (:func:`siamkit.losses.functional.at_least_float32`). Inside
``torch.autocast`` the embeddings are float32 already and autocast still runs the matmuls in half
precision (only the NaN of an ``acos`` or ``sqrt`` of a cosine rounded to 1 is kept away there):
call a loss outside autocast on ``z.float()``, as siamkit's trainers do, for float32 matrices.
"""

from siamkit.losses.angular import AngularLoss, angular_loss
from siamkit.losses.circle import CircleLoss
from siamkit.losses.contrastive import ContrastiveLoss
from siamkit.losses.functional import (
    circle_loss,
    contrastive_loss,
    multi_similarity_loss,
    nt_xent_loss,
    pair_bce_loss,
    soft_margin_triplet_loss,
    supcon_loss,
    triplet_margin_loss,
)
from siamkit.losses.lifted_structure import (
    GeneralizedLiftedStructureLoss,
    generalized_lifted_structure_loss,
)
from siamkit.losses.margin import MarginLoss, margin_loss
from siamkit.losses.multi_similarity import MultiSimilarityLoss
from siamkit.losses.n_pairs import NPairsLoss, n_pairs_loss
from siamkit.losses.ntxent import NTXentLoss
from siamkit.losses.pair_bce import PairBCELoss
from siamkit.losses.pair_head import PairHeadLoss
from siamkit.losses.proxies import (
    NormalizedSoftmaxLoss,
    ProxyAnchorLoss,
    ProxyNCALoss,
    proxy_nca_loss,
)
from siamkit.losses.soft_triple import SoftTripleLoss, soft_triple_loss
from siamkit.losses.sub_center_arcface import SubCenterArcFaceLoss, sub_center_arcface_loss
from siamkit.losses.supcon import SupConLoss
from siamkit.losses.triplet import SoftMarginTripletLoss, TripletMarginLoss
from siamkit.losses.tuplet_margin import TupletMarginLoss, tuplet_margin_loss
from siamkit.losses.xbm import CrossBatchMemory

__all__ = [
    "AngularLoss",
    "CircleLoss",
    "ContrastiveLoss",
    "CrossBatchMemory",
    "GeneralizedLiftedStructureLoss",
    "MarginLoss",
    "MultiSimilarityLoss",
    "NPairsLoss",
    "NTXentLoss",
    "NormalizedSoftmaxLoss",
    "PairBCELoss",
    "PairHeadLoss",
    "ProxyAnchorLoss",
    "ProxyNCALoss",
    "SoftMarginTripletLoss",
    "SoftTripleLoss",
    "SubCenterArcFaceLoss",
    "SupConLoss",
    "TripletMarginLoss",
    "TupletMarginLoss",
    "angular_loss",
    "circle_loss",
    "contrastive_loss",
    "generalized_lifted_structure_loss",
    "margin_loss",
    "multi_similarity_loss",
    "n_pairs_loss",
    "nt_xent_loss",
    "pair_bce_loss",
    "proxy_nca_loss",
    "soft_margin_triplet_loss",
    "soft_triple_loss",
    "sub_center_arcface_loss",
    "supcon_loss",
    "triplet_margin_loss",
    "tuplet_margin_loss",
]
