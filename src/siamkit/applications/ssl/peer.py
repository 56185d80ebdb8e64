"""lightly's self-supervised losses and heads, loaded without torchvision (tests and benchmarks).

``import lightly.loss`` fails here: lightly's package ``__init__`` and ``lightly.models.utils``
import torchvision, which cannot be installed beside the CPU torch build. The loss and head
files themselves need only torch, so :func:`lightly_modules` registers empty stand-ins for the
packages on the way (``lightly``, ``lightly.loss``, ``lightly.models``,
``lightly.models.modules``, ``lightly.utils``, and ``lightly.models.utils``, which the memory
bank and the heads import but the classes used here never call) and loads the files from the
installed lightly. Nothing is copied: the classes are lightly's own code.

Used only by tests and ``benchmarks/bench_ssl.py``; siamkit itself never imports lightly.

>>> mods = lightly_modules()  # doctest: +SKIP
>>> mods["NTXentLoss"](temperature=0.5)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

_STUBS = {
    "lightly": "",
    "lightly.loss": "/loss",
    "lightly.models": "/models",
    "lightly.models.modules": "/models/modules",
    "lightly.utils": "/utils",
}
_CLASSES = {
    "NTXentLoss": "lightly.loss.ntx_ent_loss",
    "NegativeCosineSimilarity": "lightly.loss.negative_cosine_similarity",
    "VICRegLoss": "lightly.loss.vicreg_loss",
    "BarlowTwinsLoss": "lightly.loss.barlow_twins_loss",
    "SimCLRProjectionHead": "lightly.models.modules.heads",
    "SimSiamProjectionHead": "lightly.models.modules.heads",
    "SimSiamPredictionHead": "lightly.models.modules.heads",
    "BYOLProjectionHead": "lightly.models.modules.heads",
    "BYOLPredictionHead": "lightly.models.modules.heads",
    "BarlowTwinsProjectionHead": "lightly.models.modules.heads",
    "NNCLRProjectionHead": "lightly.models.modules.heads",
    "NNCLRPredictionHead": "lightly.models.modules.heads",
    "NNMemoryBankModule": "lightly.models.modules.nn_memory_bank",
}


def lightly_modules() -> dict[str, Any]:
    """``{class name: class}`` of lightly's SimCLR / SimSiam / BYOL / VICReg / Barlow Twins / NNCLR
    losses, heads and NNCLR's memory bank.

    Raises:
        ImportError: lightly is not installed, or its files need more than torch.
    """
    if not getattr(sys.modules.get("lightly"), "__siamkit_stub__", False):
        spec = importlib.util.find_spec("lightly")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("lightly is not installed (pip install --no-deps lightly)")
        root = next(iter(spec.submodule_search_locations))
        for name, sub in _STUBS.items():
            mod = types.ModuleType(name)
            mod.__path__ = [root + sub]
            mod.__siamkit_stub__ = True  # type: ignore[attr-defined]
            sys.modules[name] = mod
        sys.modules["lightly.models.utils"] = types.ModuleType("lightly.models.utils")
    return {
        name: getattr(importlib.import_module(module), name) for name, module in _CLASSES.items()
    }
