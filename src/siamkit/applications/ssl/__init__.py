"""Self-supervised Siamese learning: similarity from unlabeled images (``task: ssl``).

SimCLR, SimSiam, BYOL, VICReg, Barlow Twins and NNCLR train a
:class:`~siamkit.models.SiameseNetwork` on two augmented views of each image
(:mod:`~siamkit.applications.ssl.methods`, :mod:`~siamkit.applications.ssl.views`), watch for
collapse (:mod:`~siamkit.applications.ssl.monitor`) and save a normal siamkit bundle;
``siamkit train configs/simclr.yaml`` runs it (:mod:`~siamkit.applications.ssl.task`), and
``siamkit train configs/finetune.yaml --init-from RUN/model`` fine-tunes it on a few labels. The
names below are imported on first use (PEP 562), so importing this package loads nothing.

Example:
    >>> from siamkit.applications.ssl import METHODS
    >>> METHODS
    ('simclr', 'simsiam', 'byol', 'vicreg', 'barlow_twins', 'nnclr')
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "SSLConfig": "config",
    "ssl_config_from_dict": "config",
    "SSLData": "data",
    "load_ssl_data": "data",
    "EMBEDS": "methods",
    "METHODS": "methods",
    "SSLHeadConfig": "methods",
    "SelfSupervised": "methods",
    "embedding_network": "methods",
    "collapse_std": "monitor",
    "leave_one_out_knn": "monitor",
    "build_ssl_model": "task",
    "run": "task",
    "CollapseError": "trainer",
    "build_ssl_trainer": "trainer",
    "ViewConfig": "views",
    "ViewMaker": "views",
}

if TYPE_CHECKING:
    from siamkit.applications.ssl.config import SSLConfig, ssl_config_from_dict
    from siamkit.applications.ssl.data import SSLData, load_ssl_data
    from siamkit.applications.ssl.methods import (
        EMBEDS,
        METHODS,
        SelfSupervised,
        SSLHeadConfig,
        embedding_network,
    )
    from siamkit.applications.ssl.monitor import collapse_std, leave_one_out_knn
    from siamkit.applications.ssl.task import build_ssl_model, run
    from siamkit.applications.ssl.trainer import CollapseError, build_ssl_trainer
    from siamkit.applications.ssl.views import ViewConfig, ViewMaker


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(_WHERE)


__all__ = [
    "EMBEDS",
    "METHODS",
    "CollapseError",
    "SSLConfig",
    "SSLData",
    "SSLHeadConfig",
    "SelfSupervised",
    "ViewConfig",
    "ViewMaker",
    "build_ssl_model",
    "build_ssl_trainer",
    "collapse_std",
    "embedding_network",
    "leave_one_out_knn",
    "load_ssl_data",
    "run",
    "ssl_config_from_dict",
]
