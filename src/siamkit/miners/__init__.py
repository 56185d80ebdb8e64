"""Triplet and pair mining: online inside a batch, offline over a training set.

>>> from siamkit.miners import mine_triplets, SemiHardMiner
>>> a, p, n = mine_triplets(z, labels, "semihard", margin=0.2)      # doctest: +SKIP
>>> triplets = SemiHardMiner(margin=0.2)(z, labels)                  # doctest: +SKIP
"""

from siamkit.miners._common import TRIPLET_STRATEGIES, WINDOW_STRATEGIES
from siamkit.miners.batch_easy_hard import (
    EASY_HARD_STRATEGIES,
    BatchEasyHardMiner,
    batch_easy_hard_triplets,
)
from siamkit.miners.distance_weighted import distance_weighted_triplets
from siamkit.miners.functional import (
    all_triplet_count,
    batch_hard_triplets,
    mine_triplets,
    mine_triplets_from_matrix,
    random_triplets,
)
from siamkit.miners.multi_similarity import MultiSimilarityMiner
from siamkit.miners.offline import (
    embed_dataset,
    mine_epoch,
    offline_mine_pairs,
    offline_mine_triplets,
)
from siamkit.miners.pair_margin import PairMarginMiner
from siamkit.miners.pair_miners import PAIR_STRATEGIES, PairMiner, mine_pairs, pair_selection
from siamkit.miners.triplet_margin import TRIPLET_MARGIN_TYPES, TripletMarginMiner
from siamkit.miners.triplet_miners import (
    AllTripletsMiner,
    BatchHardMiner,
    DistanceWeightedMiner,
    EasyMiner,
    HardMiner,
    RandomTripletMiner,
    SemiHardMiner,
    TripletMiner,
    make_miner,
)
from siamkit.miners.uniform_histogram import UniformHistogramMiner

__all__ = [
    "EASY_HARD_STRATEGIES",
    "PAIR_STRATEGIES",
    "TRIPLET_MARGIN_TYPES",
    "TRIPLET_STRATEGIES",
    "WINDOW_STRATEGIES",
    "AllTripletsMiner",
    "BatchEasyHardMiner",
    "BatchHardMiner",
    "DistanceWeightedMiner",
    "EasyMiner",
    "HardMiner",
    "MultiSimilarityMiner",
    "PairMarginMiner",
    "PairMiner",
    "RandomTripletMiner",
    "SemiHardMiner",
    "TripletMarginMiner",
    "TripletMiner",
    "UniformHistogramMiner",
    "all_triplet_count",
    "batch_easy_hard_triplets",
    "batch_hard_triplets",
    "distance_weighted_triplets",
    "embed_dataset",
    "make_miner",
    "mine_epoch",
    "mine_pairs",
    "mine_triplets",
    "mine_triplets_from_matrix",
    "offline_mine_pairs",
    "offline_mine_triplets",
    "pair_selection",
    "random_triplets",
]
