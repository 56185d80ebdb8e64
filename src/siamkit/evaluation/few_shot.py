"""N-way K-shot evaluation with class prototypes, vectorised across episodes.

Per episode: draw ``n_way`` distinct classes; from each, ``k_shot`` support and ``n_query``
query items (disjoint); classify every query by the nearest prototype (the mean of its class's
support embeddings) under the given distance. Report the mean episode accuracy and the 95%
confidence interval ``1.96 * std / sqrt(episodes)`` (population std over episodes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor

from siamkit.clauses import counted, in_number
from siamkit.distances import CohortNormalized, Distance, FixedDistance
from siamkit.evaluation._common import (
    BLOCK_ELEMENTS,
    ArrayLike,
    DistanceLike,
    as_embeddings,
    as_labels,
    resolve_distance,
)
from siamkit.evaluation.pairs import _ONE_ROW_SERIAL_BELOW, one_thread
from siamkit.progress import track


class Episodes(NamedTuple):
    """Item indices of sampled episodes: ``support (E, N, K)``, ``query (E, N, Q)``, ``classes (E, N)``.

    ``classes`` are indices into the sorted unique labels; way ``n`` of episode ``e`` is class
    ``classes[e, n]``, and its queries' true answer is ``n``.
    """

    support: Tensor
    query: Tensor
    classes: Tensor


@dataclass(frozen=True)
class FewShotReport:
    """Mean accuracy over episodes and its 95% confidence interval (half-width).

    ``classes_drawn`` is how many classes have the ``k_shot + n_query`` items an episode takes
    from each: episodes draw from these alone, so a class with fewer never counts (``None``
    where not known, a report built by hand).
    """

    accuracy: float
    ci95: float
    n_way: int
    k_shot: int
    n_query: int
    episodes: int
    episode_accuracies: np.ndarray = field(repr=False, compare=False)
    classes_drawn: int | None = None

    @property
    def key(self) -> str:
        """The metrics key, e.g. ``"4way1shot"``."""
        return few_shot_key(self.n_way, self.k_shot)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``accuracy``, ``ci95``, ``n_way``, ``k_shot``, ``n_query``, ``episodes``
        and ``classes_drawn`` when known (not the per-episode accuracies)."""
        out: dict[str, Any] = {
            "accuracy": self.accuracy,
            "ci95": self.ci95,
            "n_way": self.n_way,
            "k_shot": self.k_shot,
            "n_query": self.n_query,
            "episodes": self.episodes,
        }
        if self.classes_drawn is not None:
            out["classes_drawn"] = self.classes_drawn
        return out


def few_shot_key(n_way: int, k_shot: int) -> str:
    """``few_shot_key(4, 1) == "4way1shot"``."""
    return f"{n_way}way{k_shot}shot"


def _check_sizes(n_way: int, k_shot: int, n_query: int, episodes: int) -> None:
    for name, v, low in (("n_way", n_way, 2), ("k_shot", k_shot, 1), ("n_query", n_query, 1)):
        if not isinstance(v, int) or v < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    if not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")


def sample_episodes(
    labels: ArrayLike,
    n_way: int,
    k_shot: int,
    n_query: int = 15,
    episodes: int = 1000,
    seed: int = 0,
) -> Episodes:
    """Draw ``episodes`` seeded N-way K-shot episodes; classes need ``k_shot + n_query`` items.

    Classes with fewer items are never drawn. The same arguments give the same episodes.

    Example:
        >>> ep = sample_episodes([0] * 20 + [1] * 20 + [2] * 20, n_way=2, k_shot=1, n_query=3, episodes=5)
        >>> tuple(ep.support.shape), tuple(ep.query.shape)
        ((5, 2, 1), (5, 2, 3))
    """
    _check_sizes(n_way, k_shot, n_query, episodes)
    y = as_labels(labels, len(labels))
    need = k_shot + n_query
    counts = torch.bincount(y)
    eligible = torch.nonzero(counts >= need).flatten()
    if eligible.numel() < n_way:
        raise ValueError(
            f"{n_way:,}-way {k_shot:,}-shot with {counted(n_query, 'query', 'queries')} needs "
            f"{n_way:,} classes with at least {need:,} items each, but only "
            f"{eligible.numel():,} {in_number(eligible.numel(), 'has', 'have')} that many; lower "
            "n_way, k_shot or n_query"
        )
    sizes = counts[eligible]  # (C,)
    members = torch.zeros(eligible.numel(), int(sizes.max()), dtype=torch.long)  # (C, S)
    order = torch.argsort(y, stable=True)
    starts = torch.cumsum(counts, 0) - counts
    for row, c in enumerate(eligible.tolist()):
        members[row, : counts[c]] = order[starts[c] : starts[c] + counts[c]]
    gen = torch.Generator().manual_seed(seed)
    step = max(1, BLOCK_ELEMENTS // (n_way * members.shape[1]))
    chunks = [
        _sample_chunk(members, sizes, min(step, episodes - s), n_way, need, gen)
        for s in range(0, episodes, step)
    ]
    cls = torch.cat([c for c, _ in chunks])  # (E, N) rows of `members`
    items = torch.cat([i for _, i in chunks])  # (E, N, K + Q)
    return Episodes(items[..., :k_shot], items[..., k_shot:], eligible[cls])


def _sample_chunk(
    members: Tensor, sizes: Tensor, n_ep: int, n_way: int, need: int, gen: torch.Generator
) -> tuple[Tensor, Tensor]:
    cls = torch.rand(n_ep, members.shape[0], generator=gen).argsort(dim=1)[:, :n_way]  # (E, N)
    keys = torch.rand(n_ep, n_way, members.shape[1], generator=gen)  # (E, N, S)
    keys.masked_fill_(torch.arange(members.shape[1]) >= sizes[cls][..., None], 2.0)
    pos = keys.topk(need, dim=2, largest=False).indices  # (E, N, K + Q), a random subset
    return cls, members[cls[..., None], pos]


def max_queries(labels: ArrayLike, n_way: int, k_shot: int) -> int:
    """The most queries per class that still lets ``n_way`` classes give ``k_shot`` support items
    and that many queries each (0 or less: no such episode exists).

    >>> max_queries([0] * 20 + [1] * 18 + [2] * 5, n_way=2, k_shot=5)
    13
    """
    counts = torch.bincount(as_labels(labels, len(labels)))
    if counts.numel() < n_way:
        return 0
    return int(counts.sort(descending=True).values[n_way - 1]) - k_shot


_CDIST_P = {"euclidean": 2.0, "sqeuclidean": 2.0, "manhattan": 1.0}


def prototype_distances(dist: Distance, q: Tensor, protos: Tensor) -> Tensor:
    """Distances of each episode's queries to its prototypes: ``(E, M, D), (E, N, D) -> (E, M, N)``.

    The named distances use one batched ``cdist`` / ``bmm``; any other ``Distance`` (e.g. a
    learned metric) is called through ``pairwise`` on the expanded pairs.
    """
    name = getattr(dist, "name", None) if isinstance(dist, FixedDistance) else None
    if name in _CDIST_P:
        out = torch.cdist(q, protos, p=_CDIST_P[name])
        return out.square() if name == "sqeuclidean" else out
    if name == "cosine":
        qn = q / q.norm(dim=2, keepdim=True).clamp_min(1e-8)
        pn = protos / protos.norm(dim=2, keepdim=True).clamp_min(1e-8)
        return 1.0 - torch.bmm(qn, pn.transpose(1, 2))
    if isinstance(dist, CohortNormalized):  # per-row cohort statistics: once per row, not per pair
        return torch.stack([dist.matrix(qi, pi) for qi, pi in zip(q, protos)])
    e, m, d = q.shape
    n = protos.shape[1]
    qe = q[:, :, None].expand(-1, -1, n, -1).reshape(-1, d)
    pe = protos[:, None].expand(-1, m, -1, -1).reshape(-1, d)
    return dist.pairwise(qe, pe).reshape(e, m, n)


@torch.no_grad()
def episode_accuracies(
    z: ArrayLike, episodes: Episodes, distance: DistanceLike = "euclidean"
) -> np.ndarray:
    """Nearest-prototype accuracy of each episode, ``(E,)``.

    Args:
        z: ``(M, D)`` embeddings that the episode indices point into.
        episodes: from :func:`sample_episodes`.
        distance: distance between a query and a prototype (mean of support embeddings).

    On the CPU with a named distance and embeddings narrower than 32,768, the blocks run on one
    intra-op thread (:func:`siamkit.evaluation.pairs.one_thread`): each block is a handful of
    small ops, and on a loaded machine their multi-threaded parallel regions waited for cores
    (1,000 5-way episodes of 4,544-wide embeddings: BENCHMARKS.md,
    benchmarks/bench_few_shot_episodes.py). Inside the window the blocks compute the one-thread
    values, whatever torch's thread count. Those are bit-identical to the former route's (the
    blocks on torch's threads) at 2 threads on this machine (widths 8 to 16,000, four named
    distances). From 4 threads on, the former route's own values depend on the thread count (MKL
    splits a block of one episode's matrix product by it: 20-way 1-shot 15-query episodes 384
    wide moved by up to 3.3e-7 relative, cosine 1.2e-7; accuracies unchanged; s58_r6 finding 1),
    and the window gives the one-thread values. A learned distance keeps its threads.
    """
    zt = as_embeddings(z)
    dist = resolve_distance(distance)
    serial = (
        zt.device.type == "cpu"
        and isinstance(dist, FixedDistance)
        and zt.shape[1] < _ONE_ROW_SERIAL_BELOW
    )
    n_ep, n_way, n_query = episodes.query.shape
    truth = torch.arange(n_way, device=zt.device).repeat_interleave(n_query)  # (N*Q,)
    step = max(1, BLOCK_ELEMENTS // (n_way * n_way * n_query * zt.shape[1]))
    out = []
    desc = f"{n_way}-way episodes"
    starts = track(range(0, n_ep, step), desc, n_ep, "episodes", lambda s: min(step, n_ep - s))
    with one_thread(serial):
        for s in starts:
            sup = episodes.support[s : s + step].to(zt.device)
            qry = episodes.query[s : s + step].to(zt.device)
            e, d = sup.shape[0], zt.shape[1]
            protos = zt[sup].mean(dim=2)  # (e, N, D)
            q = zt[qry].reshape(e, n_way * n_query, d)  # (e, N*Q, D)
            dists = prototype_distances(dist, q, protos)  # (e, N*Q, N)
            if bool(dists.isnan().any()):  # argmin would take a NaN for the nearest prototype
                raise ValueError(
                    "the distance gave NaN between queries and prototypes of finite embeddings; "
                    "check the distance (a learned metric's weights may have become NaN)"
                )
            out.append((dists.argmin(dim=2) == truth).double().mean(dim=1).cpu())
    return torch.cat(out).numpy()


def few_shot_episodes(
    z: ArrayLike,
    labels: ArrayLike,
    n_way: int,
    k_shot: int,
    n_query: int = 15,
    episodes: int = 1000,
    seed: int = 0,
    distance: DistanceLike = "euclidean",
) -> FewShotReport:
    """N-way K-shot accuracy of nearest-prototype classification over seeded episodes.

    Classes of fewer than ``k_shot + n_query`` items are never drawn; the report's
    ``classes_drawn`` says how many classes were.

    Args:
        z: ``(M, D)`` embeddings of the evaluation items.
        labels: ``(M,)`` their classes.
        n_way: classes per episode; k_shot: support items per class; n_query: queries per class.
        episodes: number of episodes; seed: makes them reproducible.
        distance: a distance name or ``Distance`` object.

    Example:
        >>> z = torch.cat([torch.randn(30, 8) + 5 * c for c in range(3)])
        >>> r = few_shot_episodes(z, [0] * 30 + [1] * 30 + [2] * 30, n_way=3, k_shot=1, episodes=10)
        >>> r.accuracy, r.key
        (1.0, '3way1shot')
    """
    zt = as_embeddings(z)
    if len(labels) != zt.shape[0]:
        raise ValueError(
            f"got {len(labels)} labels for {zt.shape[0]} embeddings; pass one label per embedding"
        )
    ep = sample_episodes(labels, n_way, k_shot, n_query, episodes, seed)
    acc = episode_accuracies(zt, ep, distance)
    counts = torch.bincount(as_labels(labels, zt.shape[0]))
    return FewShotReport(
        accuracy=float(acc.mean()),
        ci95=float(1.96 * acc.std() / np.sqrt(acc.size)),
        n_way=n_way,
        k_shot=k_shot,
        n_query=n_query,
        episodes=episodes,
        episode_accuracies=acc,
        classes_drawn=int((counts >= k_shot + n_query).sum()),
    )
