"""The int8 check's half-twin figures in plain loops: the reference its tests compare with."""

from __future__ import annotations

from typing import Any

import numpy as np

from siamkit.evaluation.few_shot import sample_episodes
from siamkit.evaluation.roc import eer


def paired_figures(
    zf: np.ndarray, zg: np.ndarray, labels: np.ndarray, settings: list[dict[str, Any]],
    episodes: int,
) -> dict[str, float]:  # fmt: skip
    """EER over every ordered pair i != j as f's embedding ``zf[i]`` against g's ``zg[j]``, and
    each setting's nearest-prototype accuracy over ``episodes`` episodes (seed 0, the check's
    own) with support through g and queries through f; euclidean, the nets' distance."""
    genuine, impostor = [], []
    for i in range(len(labels)):
        for j in range(len(labels)):
            if i != j:
                d = float(np.linalg.norm(zf[i] - zg[j]))
                (genuine if labels[i] == labels[j] else impostor).append(d)
    out = {"eer": eer(genuine, impostor).value}
    for s in settings:
        ep = sample_episodes(labels, s["n_way"], s["k_shot"], s["n_query"], episodes, seed=0)
        right = total = 0
        for sup, qry in zip(ep.support.tolist(), ep.query.tolist()):
            protos = [zg[way].mean(axis=0) for way in sup]
            for truth, way in enumerate(qry):
                for q in way:
                    near = min(range(len(protos)), key=lambda n: np.linalg.norm(zf[q] - protos[n]))
                    right, total = right + (near == truth), total + 1
        out[f"{s['n_way']}way{s['k_shot']}shot"] = right / total
    return out
