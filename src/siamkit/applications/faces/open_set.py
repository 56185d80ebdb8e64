"""Closed- and open-set 1:N identification: rank-1 and DIR@FAR (detection and identification
rate at a false alarm rate), and the identities-folder protocol that feeds them.

Probes whose identity is enrolled are "known"; the others are "unknown" and must be rejected.
At a FAR, the threshold lets that fraction of unknown probes' best distances through; DIR is the
fraction of known probes identified correctly at rank 1 within that threshold. Both as a gallery
at that threshold decides (:func:`siamkit.decision.accepts`, within float32 rounding); the
threshold keeps a calibrated far fit's room (:func:`~siamkit.decision.room`) under the first
unknown it must reject, for the readers that measure it otherwise: a gallery's cosine moves with
its batch, and the ONNX runtime computes a Euclidean distance in float64.

Example:
    >>> r = open_set_identification(gal_z, gal_y, probe_z, probe_y, fars=(0.01, 0.1))  # doctest: +SKIP
    >>> r.rank1, r.dir_at_far[0.01]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from siamkit.decision import accepts
from siamkit.distances import CohortNormalized, Distance, get_distance, widened_once
from siamkit.evaluation.roc import false_accepts_allowed, rejecting_with_room


@dataclass(frozen=True)
class OpenSetResult:
    """``rank1`` over known probes; ``dir_at_far`` and the ``thresholds`` used, per FAR."""

    rank1: float
    dir_at_far: dict[float, float] = field(default_factory=dict)
    thresholds: dict[float, float] = field(default_factory=dict)
    num_known: int = 0
    num_unknown: int = 0


# distances held at once: probes are compared with the gallery a block of rows at a time, so
# 20,000 probes x 20,000 gallery faces take 64 MB a block, not the 1.6 GB matrix (and the
# distance's temporaries of that size: 4.6 GB in all)
_BLOCK_DISTANCES = 1 << 24
_EPS32 = float(np.finfo(np.float32).eps)


def _best_per_identity(
    gallery: np.ndarray, gallery_labels: Sequence[str], probes: np.ndarray, distance: Distance
) -> tuple[np.ndarray, np.ndarray]:
    """Closest gallery identity of each probe and its distance (min over that identity's items),
    the distance as a gallery measures it.

    Of gallery items at one distance from a probe, the first in gallery order is its match (what
    ``argmin`` keeps), so a tie between two identities always goes the same way for one order.
    A gallery (:class:`siamkit.index.ExactIndex`) takes a Euclidean distance as ``|q - g|`` in
    float32, which the matrix (from a float64 product) often misses by a float32 step: a
    threshold just under an unknown probe's matrix distance let a gallery, measuring it a step
    lower, accept it. So those are re-measured here as the gallery does.
    """
    rows = max(1, _BLOCK_DISTANCES // max(1, len(gallery)))
    best: list[np.ndarray] = []
    dist: list[np.ndarray] = []
    g = torch.from_numpy(gallery)
    name = getattr(distance, "name", None)
    remeasure = _remeasured(distance)
    g_sq: torch.Tensor | None = None  # the gallery's squared norms, where re-measured
    with torch.inference_mode(), widened_once(g) as wide:  # g's float64 copy once, not per block
        for s in range(0, len(probes), rows):
            q = torch.from_numpy(probes[s : s + rows])
            d = distance.matrix(q, g)  # (rows, G)
            pos = d.argmin(dim=1)
            near = d[torch.arange(len(d)), pos]
            if remeasure:
                if g_sq is None:  # the norms the matrix widened g for, not a second copy
                    kept = wide.rows(g)
                    g_sq = kept[1] if kept is not None else g.double().pow(2).sum(1)
                _remeasure_nearest(q, g, g_sq, d, distance, name == "euclidean", pos, near)
            best.append(pos.numpy())
            dist.append(near.numpy())
    return np.asarray(gallery_labels)[np.concatenate(best)], np.concatenate(dist)


def _remeasured(distance: Distance) -> bool:
    """Whether a gallery measures ``distance`` pair by pair, from the difference, so that the
    probes' nearest are re-measured here as it does (Euclidean). Others it takes from a block
    product as the matrix does (cosine from the product of unit vectors), whose float32 rounding
    moves with how many probes are searched at once: one probe alone and in a batch of 200
    come out a float32 step or two apart in a quarter to half of the probes."""
    name = getattr(distance, "name", None)
    return name in ("euclidean", "sqeuclidean") and distance is get_distance(str(name))


def _remeasure_nearest(
    q: torch.Tensor,
    g: torch.Tensor,
    g_sq: torch.Tensor,
    d: torch.Tensor,
    distance: Distance,
    root: bool,
    pos: torch.Tensor,
    near: torch.Tensor,
) -> None:
    """Set ``pos``/``near`` in place to each probe's nearest item and distance as ``|q - g|``
    (``distance.pairwise``, the float32 difference a gallery's search takes), over every item
    the matrix ``d`` puts within float32 rounding of the probe's smallest (ties: first item)."""
    q_sq = q.double().pow(2).sum(1)
    # the float32 error of a squared distance of D terms, as ExactIndex bounds its search keys'
    tol = (2 * q.shape[1] + 16) * _EPS32 * (q_sq + g_sq.max())
    low = d.amin(dim=1).double()
    bound = (low.pow(2) + tol).sqrt() if root else low + tol  # per probe, in d's units
    bound = torch.nextafter(bound.float(), torch.tensor(float("inf")))  # rounded up to float32
    r, c = (d <= bound[:, None]).nonzero(as_tuple=True)  # row-major
    step = max(1, _BLOCK_DISTANCES // max(1, q.shape[1]))
    exact = torch.cat(
        [distance.pairwise(q[r[p : p + step]], g[c[p : p + step]]) for p in range(0, len(r), step)]
    ).numpy()
    r_np, c_np = r.numpy(), c.numpy()
    order = np.lexsort((c_np, exact, r_np))  # by probe, then distance, then gallery order
    first = np.ones(len(order), dtype=bool)
    first[1:] = r_np[order][1:] != r_np[order][:-1]
    keep = order[first]
    pos[r[keep]] = c[keep]
    near[r[keep]] = torch.from_numpy(exact[keep])


def open_set_identification(
    gallery: np.ndarray,
    gallery_labels: Sequence[str],
    probes: np.ndarray,
    probe_labels: Sequence[str],
    fars: Sequence[float] = (0.01, 0.1),
    distance: str | Distance = "euclidean",
) -> OpenSetResult:
    """Rank-1 of the known probes and DIR at each FAR (FAR needs unknown probes).

    Args:
        gallery: ``(G, D)`` enrolled embeddings; ``gallery_labels`` their identities.
        probes: ``(Q, D)`` query embeddings; ``probe_labels`` their true identities.
        fars: false alarm rates at which to report DIR.

    A probe equally near items of two identities is matched to the one first in gallery order,
    so one gallery order always gives one result.
    """
    gallery, probes = np.asarray(gallery, np.float32), np.asarray(probes, np.float32)
    if gallery.ndim != 2 or probes.ndim != 2 or gallery.shape[1] != probes.shape[1]:
        raise ValueError(
            f"gallery (G, D) and probes (Q, D) differ: {gallery.shape}, {probes.shape}"
        )
    if len(gallery_labels) != len(gallery) or len(probe_labels) != len(probes):
        raise ValueError("one label per gallery row and per probe row is needed")
    enrolled = set(gallery_labels)
    known = np.asarray([y in enrolled for y in probe_labels])
    if not known.any():
        raise ValueError("no probe belongs to an enrolled identity")
    measure = get_distance(distance)
    pred, dist = _best_per_identity(gallery, gallery_labels, probes, measure)
    signed = isinstance(measure, CohortNormalized)
    correct = known & (pred == np.asarray(probe_labels))
    out = OpenSetResult(
        float(correct[known].mean()), num_known=int(known.sum()), num_unknown=int((~known).sum())
    )
    impostor = np.sort(dist[~known])
    for far in fars:
        if not 0 < far < 1:
            raise ValueError(f"a FAR is between 0 and 1, got {far}")
        if impostor.size == 0:
            continue
        # the largest threshold letting at most k unknown probes through, k the most with
        # k / n <= far (not floor(far * n): 0.29 * 100 is just below 29), as a gallery decides
        # with it: a gallery accepts a distance within float32 rounding above its threshold
        # (siamkit.decision.accepts), so the threshold lies that far under the first unknown
        # distance that would exceed the count, and DIR counts the known probes it accepts.
        # A reader measuring that unknown otherwise passed a threshold just under it, one
        # false alarm more than the FAR allows: a gallery's cosine moves by a float32 step with
        # the batch, and the ONNX runtime's float64 Euclidean lies up to half a float32 step
        # under the gallery's float32 one (so the Euclidean threshold just under the gallery's
        # measure let it through too). The threshold keeps the room a far fit keeps under the
        # impostor it rejects (roc.rejecting_with_room, decision.room)
        k = false_accepts_allowed(far, impostor.size)  # < n, as far < 1
        t = float(rejecting_with_room([float(impostor[k])], signed)[0])
        out.thresholds[far] = t
        out.dir_at_far[far] = float((correct & accepts(dist, t))[known].mean())
    return out


def split_identities(
    labels: Sequence[str], unknown_fraction: float = 0.5, per_identity: int = 1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Gallery and probe row indices for the identities-folder protocol.

    A seeded ``unknown_fraction`` of the identities is left out of the gallery (all their images
    are unknown probes); each other identity enrolls its first ``per_identity`` images (in the
    given order) and probes with the rest.
    """
    if not 0 <= unknown_fraction < 1:
        raise ValueError(f"unknown_fraction is in [0, 1), got {unknown_fraction}")
    ids = sorted(set(labels))
    rng = np.random.default_rng(seed)
    unknown = set(rng.permutation(ids)[: round(unknown_fraction * len(ids))].tolist())
    seen: dict[str, int] = {}
    gallery, probes = [], []
    for i, y in enumerate(labels):
        if y not in unknown and seen.get(y, 0) < per_identity:
            gallery.append(i)
            seen[y] = seen.get(y, 0) + 1
        else:
            probes.append(i)
    return np.asarray(gallery, dtype=np.int64), np.asarray(probes, dtype=np.int64)
