"""The miners a loss can be given by name, as a :class:`~siamkit.registry.Registry`.

A miner is called ``miner(embeddings (B, D), labels (B,))`` and returns
:class:`~siamkit.types.Triplets` or :class:`~siamkit.types.Pairs`, which every label-based loss
accepts as its ``indices``.

>>> MINERS.build("semihard", margin=0.3).margin
0.3
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from siamkit.miners.batch_easy_hard import BatchEasyHardMiner
from siamkit.miners.multi_similarity import MultiSimilarityMiner
from siamkit.miners.pair_margin import PairMarginMiner
from siamkit.miners.pair_miners import PairMiner
from siamkit.miners.triplet_margin import TripletMarginMiner
from siamkit.miners.triplet_miners import _BY_NAME
from siamkit.miners.uniform_histogram import UniformHistogramMiner
from siamkit.registry import Registry

MINERS: Registry[Callable[..., Any]] = Registry("miner")
for _name, _factory in _BY_NAME.items():
    MINERS.register(_name, _factory)
MINERS.register("multi_similarity", MultiSimilarityMiner)
MINERS.register("pairs", PairMiner)
MINERS.register("batch_easy_hard", BatchEasyHardMiner)
MINERS.register("pair_margin", PairMarginMiner)
MINERS.register("triplet_margin", TripletMarginMiner)
MINERS.register("uniform_histogram", UniformHistogramMiner)
