"""Cohort score normalisation: a distance judged against how each side compares with a cohort.

Verification systems (speaker and face verification) do not trust a raw distance alone: some items
sit in dense regions and are close to everything, others far from everything, so one global
threshold is wrong for both. Adaptive S-norm compares the distance of a pair with the distances of
each side to its ``k`` nearest items of a *cohort* (embeddings of other inputs, none of them the
pair). With ``m_x`` and ``s_x`` the mean and standard deviation of ``x``'s ``k`` smallest cohort
distances:

- ``"snorm"`` (adaptive S-norm, Matějka et al., Interspeech 2017):
  ``d'(x, y) = ½ [(d(x, y) − m_x) / s_x + (d(x, y) − m_y) / s_y]``
- ``"csls"`` (cross-domain similarity local scaling, Conneau et al., ICLR 2018, the mean-only
  form used against hubness): ``d'(x, y) = 2 d(x, y) − m_x − m_y``

Smaller still means more similar, so ``CohortNormalized`` is a :class:`~siamkit.distances.Distance`
that evaluation, verification and thresholds accept unchanged. It is symmetric but not a metric
(values can be negative), and it is for scoring trained embeddings, not for training losses.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from siamkit.distances.base import Distance, get_distance
from siamkit.distances.functional import Widened, float64_product_on, widened_once

SCORE_NORMS = ("snorm", "csls")
_CHUNK_ELEMENTS = 1 << 22  # rows x cohort distances held at once while taking the k nearest
# Held only while a cohort's float64 copy is made, so that threads scoring with one model at once
# make it once (a lock of its own would stop a model being deep-copied or pickled).
_WIDENING = threading.Lock()


class CohortNormalized(nn.Module):
    """A distance normalised by each side's distances to its ``k`` nearest cohort embeddings.

    Args:
        base: the raw distance (a name such as ``"euclidean"`` or a ``Distance`` object).
        cohort: ``(C, D)`` embeddings of inputs unlike those to be compared (for example of the
            training images); kept as a buffer, so it is saved with a model's weights. Its
            float64 copy, which exact Euclidean distances to it are taken from, is kept too once
            first used (twice the cohort's memory), not saved.
        k: nearest cohort items per side (``1 <= k <= C``; ``"snorm"`` needs ``k >= 2``).
        method: ``"snorm"`` or ``"csls"`` (see the module docstring).

    >>> cohort = torch.eye(3)
    >>> d = CohortNormalized("euclidean", cohort, k=2, method="csls")
    >>> round(float(d.pairwise(torch.eye(3)[:1], torch.eye(3)[1:2])), 4)  # 2·√2 − √2/2 − √2/2 = √2
    1.4142
    """

    cohort: Tensor  # a registered buffer

    def __init__(
        self, base: str | Distance, cohort: Tensor, k: int = 300, method: str = "snorm"
    ) -> None:
        super().__init__()
        if method not in SCORE_NORMS:
            raise ValueError(
                f"unknown score normalisation {method!r}; choose one of {', '.join(SCORE_NORMS)}"
            )
        if not isinstance(cohort, Tensor) or cohort.dim() != 2 or cohort.shape[0] == 0:
            shape = tuple(cohort.shape) if isinstance(cohort, Tensor) else type(cohort).__name__
            raise ValueError(
                f"the cohort must be a non-empty (C, D) tensor of embeddings, got {shape}"
            )
        if not torch.isfinite(cohort).all():
            raise ValueError("the cohort embeddings contain NaN or infinite values")
        low = 2 if method == "snorm" else 1
        if not isinstance(k, int) or not low <= k <= cohort.shape[0]:
            raise ValueError(
                f"k must be an integer from {low} to the cohort size {cohort.shape[0]} for "
                f"{method}, got {k!r}"
            )
        # Held outside the module tree: a learned base distance is already the model's submodule,
        # and registering it twice would save its weights twice.
        self._base: tuple[Distance] = (get_distance(base),)
        self.method, self.k = method, k
        self.register_buffer("cohort", cohort.detach().float().clone())
        self._memo: tuple[dict[bytes, int], Tensor, Tensor] | None = None
        self._memo_of: tuple[Any, ...] | None = None
        # the cohort on a device, its float64 copy and squared norms, and what they were made of
        self._wide: tuple[tuple[Any, ...], Tensor, Tensor, Tensor] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_wide"] = None  # a copy's cohort is another tensor: made again on first use
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("_wide", None)  # pickled before it was kept
        super().__setstate__(state)

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """``to``, ``cuda``, ``cpu``, ``half``...: the cohort's kept copies are dropped with the
        cohort they were made of. Kept until the next score, they held the old cohort and its
        float64 copy alive, on the GPU after ``model.cpu()`` (three times the cohort's memory)."""
        self._wide = None
        return super()._apply(fn, *args, **kwargs)

    @property
    def base(self) -> Distance:
        """The raw distance being normalised."""
        return self._base[0]

    @property
    def name(self) -> str:
        """The base distance's name and the method, e.g. ``"cosine+snorm"``."""
        return f"{self.base.name}+{self.method}"

    def cohort_stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and standard deviation of each row's ``k`` smallest cohort distances, ``(N,)`` each."""
        if x.dim() != 2 or x.shape[1] != self.cohort.shape[1]:
            raise ValueError(
                f"embeddings of shape {tuple(x.shape)} do not match the cohort's dimension "
                f"{self.cohort.shape[1]}"
            )
        if self._memo is None or x.dtype != self._memo[1].dtype:
            return self._stats(x)
        index, means, stds = self._memo
        rows = torch.tensor([index.get(key, -1) for key in _row_keys(x)], dtype=torch.long)
        mean, std = means[rows.clamp_min(0)].to(x.device), stds[rows.clamp_min(0)].to(x.device)
        miss = (rows < 0).to(x.device)
        if miss.any():  # e.g. few-shot prototypes that are means of several embeddings
            mean[miss], std[miss] = self._stats(x[miss])
        return mean, std

    def _widened(self, x: Tensor) -> tuple[Tensor, Widened]:
        """The cohort on ``x``'s device and dtype, and the :func:`widened_once` context of it.

        The cohort's float64 copy and squared norms are kept across calls: evaluation asks for
        the statistics of each few-shot episode's prototypes (means, so not memoised), 1,001 calls
        per evaluation, and widening the whole cohort for each cost S-norm evaluation a quarter of
        its time. They are made again when the cohort is replaced, changed in place (its version:
        ``load_state_dict`` copies into it) or moved, so scores are those of widening per call.
        """
        source = self.cohort
        if (
            x.dtype != torch.float32
            or source.is_inference()  # keeps no version: widened per call, as without this
            or not float64_product_on(x.device)
        ):
            cohort = source.to(device=x.device, dtype=x.dtype)
            return cohort, widened_once(cohort)
        key = (source.data_ptr(), source._version, source.shape, source.stride(), x.device)
        kept = self._wide
        if kept is None or kept[0][0] is not source or kept[0][1:] != key:
            with _WIDENING:
                kept = self._wide
                if kept is None or kept[0][0] is not source or kept[0][1:] != key:
                    # normal tensors even under inference mode (the index scores there), so
                    # that a copy moved to another device keeps a version to be checked by
                    with torch.no_grad(), torch.inference_mode(False):
                        cohort = source.to(device=x.device, dtype=x.dtype)
                        y64 = cohort.double()  # as Widened.rows makes them: the same values
                        n64 = y64.pow(2).sum(1)
                    kept = ((source, *key), cohort, y64, n64)
                    self._wide = kept
        _, cohort, y64, n64 = kept
        wide = widened_once(cohort)
        wide.y64, wide.n64 = y64, n64
        return cohort, wide

    def _stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        cohort, wide = self._widened(x)
        step = max(1, _CHUNK_ELEMENTS // cohort.shape[0])
        means, stds = [], []
        with wide:  # the cohort's float64 copy once per cohort, not per call or block
            for s in range(0, x.shape[0], step):
                near = self.base.matrix(x[s : s + step], cohort)
                near = near.topk(self.k, dim=1, largest=False).values
                means.append(near.mean(1))
                stds.append(near.std(1) if self.k > 1 else torch.zeros_like(near[:, 0]))
        if not means:
            empty = x.new_zeros(0)
            return empty, empty
        # A tiny spread (an item far from a cohort that is tightly packed) must not blow up a score.
        return torch.cat(means), torch.cat(stds).clamp_min(1e-6)

    @contextmanager
    def memoized(self, z: Tensor) -> Iterator[CohortNormalized]:
        """Within the block, any row equal to a row of ``z`` reuses that row's cohort statistics,
        computed once here. Evaluation compares the rows of one set many times (all pairs, every
        few-shot episode); this makes that as fast as with the raw distance, with the same values.

        >>> with dist.memoized(z):                       # doctest: +SKIP
        ...     report = evaluate_embeddings(z, labels, dist)
        """
        if self._memo is not None and self._memo_of == _identity(z):  # nested: already memoised
            yield self
            return
        outer = self._memo, self._memo_of
        with torch.no_grad():
            means, stds = self._stats(z.detach())
        self._memo = ({key: i for i, key in enumerate(_row_keys(z))}, means, stds)
        self._memo_of = _identity(z)
        try:
            yield self
        finally:
            self._memo, self._memo_of = outer

    def normalise(self, d: Tensor, mx: Tensor, sx: Tensor, my: Tensor, sy: Tensor) -> Tensor:
        """Raw distances ``d`` to normalised ones, given both sides' :meth:`cohort_stats`
        (broadcast against ``d``). For callers that keep the statistics of stored items."""
        if self.method == "csls":
            return 2.0 * d - mx - my
        return 0.5 * ((d - mx) / sx + (d - my) / sy)

    def pairwise(self, x: Tensor, y: Tensor) -> Tensor:
        """``(N, D), (N, D) -> (N,)``."""
        d = self.base.pairwise(x, y)
        (mx, sx), (my, sy) = self.cohort_stats(x), self.cohort_stats(y)
        return self.normalise(d, mx, sx, my, sy)

    def matrix(self, x: Tensor, y: Tensor) -> Tensor:
        """``(N, D), (M, D) -> (N, M)``."""
        d = self.base.matrix(x, y)
        (mx, sx), (my, sy) = self.cohort_stats(x), self.cohort_stats(y)
        return self.normalise(d, mx[:, None], sx[:, None], my[None, :], sy[None, :])

    def config(self) -> dict[str, Any]:
        """The settings saved with a model: method, k and the cohort's shape (its embeddings are
        saved with the weights, the base distance by the model)."""
        return {
            "method": self.method,
            "k": self.k,
            "cohort_size": int(self.cohort.shape[0]),
            "dim": int(self.cohort.shape[1]),
        }

    @classmethod
    def from_config(cls, cfg: dict[str, Any], base: str | Distance) -> CohortNormalized:
        """An instance of the saved shape whose cohort the saved weights then fill in."""
        return cls(
            base, torch.zeros(cfg["cohort_size"], cfg["dim"]), k=cfg["k"], method=cfg["method"]
        )

    def extra_repr(self) -> str:
        return f"base={self.base.name!r}, method={self.method!r}, k={self.k}, cohort={tuple(self.cohort.shape)}"


def _row_keys(x: Tensor) -> list[bytes]:
    rows = x.detach().cpu().contiguous().numpy()
    return [row.tobytes() for row in rows]


def _identity(z: Tensor) -> tuple[Any, ...]:
    """The same data: views made by ``detach`` share storage, shape, strides and version."""
    return (z.data_ptr(), tuple(z.shape), z.stride(), z.dtype, z.device, z._version)
