"""The losses a run config can name (``loss.kind``), as a :class:`~siamkit.registry.Registry`.

Every label-based loss here is called ``loss(embeddings (B, D), labels (B,), indices=None)``.
Adding one is one file in ``losses/`` plus one line below.

>>> LOSSES.build("triplet", margin=0.3, mining="batch_hard").margin
0.3
"""

from __future__ import annotations

from torch import nn

from siamkit.losses.angular import AngularLoss
from siamkit.losses.circle import CircleLoss
from siamkit.losses.contrastive import ContrastiveLoss
from siamkit.losses.lifted_structure import GeneralizedLiftedStructureLoss
from siamkit.losses.margin import MarginLoss
from siamkit.losses.multi_similarity import MultiSimilarityLoss
from siamkit.losses.n_pairs import NPairsLoss
from siamkit.losses.pair_head import PairHeadLoss
from siamkit.losses.proxies import NormalizedSoftmaxLoss, ProxyAnchorLoss, ProxyNCALoss
from siamkit.losses.soft_triple import SoftTripleLoss
from siamkit.losses.sub_center_arcface import SubCenterArcFaceLoss
from siamkit.losses.supcon import SupConLoss
from siamkit.losses.triplet import SoftMarginTripletLoss, TripletMarginLoss
from siamkit.losses.tuplet_margin import TupletMarginLoss
from siamkit.registry import Registry

LOSSES: Registry[nn.Module] = Registry("loss")
LOSSES.register("triplet", TripletMarginLoss)
LOSSES.register("soft_margin_triplet", SoftMarginTripletLoss)
LOSSES.register("contrastive", ContrastiveLoss)
LOSSES.register("multi_similarity", MultiSimilarityLoss)
LOSSES.register("supcon", SupConLoss)
LOSSES.register("pair_head", PairHeadLoss)
LOSSES.register("bce", PairHeadLoss)  # the run config's name for the pair head's loss
LOSSES.register("circle", CircleLoss)
LOSSES.register("margin", MarginLoss)  # Wu et al. 2017, a learned beta
LOSSES.register("lifted_structure", GeneralizedLiftedStructureLoss)  # the generalized form
LOSSES.register("n_pairs", NPairsLoss)  # Sohn 2016, one positive pair per class
LOSSES.register("angular", AngularLoss)  # Wang et al. 2017, N-pair form
LOSSES.register("tuplet_margin", TupletMarginLoss)  # Yu & Tao 2019
LOSSES.register("proxy_anchor", ProxyAnchorLoss)  # proxy losses: one learned vector per class
LOSSES.register("proxy_nca", ProxyNCALoss)
LOSSES.register("soft_triple", SoftTripleLoss)  # K learned centres per class
LOSSES.register("sub_center_arcface", SubCenterArcFaceLoss)  # ArcFace, K sub-centres per class
# with margin > 0: ArcFace (margin_type "arc") or CosFace ("cos")
LOSSES.register("normalized_softmax", NormalizedSoftmaxLoss)
