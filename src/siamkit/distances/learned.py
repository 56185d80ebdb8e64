"""Learned distances (seed 003): a Mahalanobis metric and an MLP head that joins two embeddings.

Both are ``nn.Module`` s that follow the :class:`~siamkit.distances.Distance` protocol, so a
``SiameseNetwork`` trains them with its encoder and losses use them like any other distance.
They compute where their parameters are, in their dtype, and answer on the device and in the
dtype of the embeddings they were given: evaluation scores CPU embeddings with the head of a
network training on a GPU, and float64 embeddings (NumPy's) with a float32 head.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from siamkit.distances.functional import _check_pair, safe_sqrt, sqeuclidean_matrix

#: Feature values of one block of pairs in :meth:`MLPMetric.matrix` without gradients: 2 MiB of
#: float32 on the CPU (the block stays in cache), 256 MiB on a GPU.
_BLOCK_FEATURES = 1 << 19
_BLOCK_FEATURES_CUDA = 1 << 26

_M = TypeVar("_M", bound=Callable[..., Tensor])


def _on_own_device(method: _M) -> _M:
    """Run ``method(self, x, y, ...)`` on the device and in the float dtype of ``self``'s
    parameters, and give its result on ``x``'s device and in its dtype (no copy when they
    already agree, as in training). ``y is x`` stays so (a matrix of a batch with itself)."""

    @functools.wraps(method)
    def wrapper(self: nn.Module, x: Tensor, y: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        own = next(self.parameters())
        if not (isinstance(x, Tensor) and isinstance(y, Tensor)):  # the method says what is wrong
            return method(self, x, y, *args, **kwargs)

        def to_own(t: Tensor) -> Tensor:
            return t.to(own.device, own.dtype) if t.is_floating_point() else t.to(own.device)

        if all(t.device == own.device and t.dtype == own.dtype for t in (x, y)):
            return method(self, x, y, *args, **kwargs)
        ox = to_own(x)
        out = method(self, ox, ox if y is x else to_own(y), *args, **kwargs)
        return out.to(x.device, x.dtype) if x.is_floating_point() else out.to(x.device)

    return cast(_M, wrapper)


def _check_width(what: str, dim: int, x: Tensor) -> None:
    """Refuse embeddings of another size than the ``dim`` a learned distance was built for."""
    if x.shape[1] != dim:
        raise ValueError(
            f"{what} takes embeddings of size {dim}, got size {x.shape[1]}; "
            "give embeddings from the encoder it was built for"
        )


class MahalanobisDistance(nn.Module):
    """``d(x, y) = sqrt((x - y)^T M (x - y))`` with ``M = L^T L`` (positive semi-definite).

    Writing ``M`` through ``L`` keeps it a pseudo-metric whatever the optimiser does. ``rank``
    below ``dim`` gives a low-rank metric (``L`` is ``(rank, dim)``). ``squared=True`` returns the
    quadratic form itself, as in seed 003's matrix form. ``L`` starts as the identity (its first
    ``rank`` rows), so an untrained full-rank metric is the Euclidean distance (squared with
    ``squared=True``); an untrained low-rank one sees only the first ``rank`` coordinates.

    >>> m = MahalanobisDistance(4)
    >>> m.pairwise(torch.zeros(1, 4), torch.ones(1, 4)).item()
    2.0
    """

    def __init__(self, dim: int, rank: int | None = None, squared: bool = False) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        rank = dim if rank is None else rank
        if not 1 <= rank <= dim:
            raise ValueError(f"rank must be between 1 and dim={dim}, got {rank}")
        self.dim, self.rank, self.squared = dim, rank, squared
        self.name = "mahalanobis"
        self.L = nn.Parameter(torch.eye(rank, dim))

    @property
    def M(self) -> Tensor:
        """The metric matrix ``L^T L``, ``(dim, dim)``."""
        return self.L.T @ self.L

    def _finish(self, sq: Tensor) -> Tensor:
        return sq.clamp_min(0) if self.squared else safe_sqrt(sq)

    @_on_own_device
    def pairwise(self, x: Tensor, y: Tensor) -> Tensor:
        """``(N, D), (N, D) -> (N,)``."""
        _check_pair(x, y, same_rows=True)
        _check_width("the Mahalanobis distance", self.dim, x)
        return self._finish(((x - y) @ self.L.T).pow(2).sum(1))

    @_on_own_device
    def matrix(self, x: Tensor, y: Tensor, *, exact: bool = True) -> Tensor:
        """``(N, D), (M, D) -> (N, M)``: the Euclidean matrix of the projections ``L x``, ``L y``
        (:func:`~siamkit.distances.sqeuclidean_matrix`, ``exact`` as there), so a batch compared
        with itself (``y is x``) has exactly 0 on the diagonal, as :meth:`pairwise` gives, not
        the rounding of ``|Lx|^2 + |Lx|^2 - 2 Lx.Lx``."""
        _check_pair(x, y, same_rows=False)
        _check_width("the Mahalanobis distance", self.dim, x)
        px = x @ self.L.T
        return self._finish(sqeuclidean_matrix(px, px if y is x else y @ self.L.T, exact=exact))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.pairwise(x, y)

    def config(self) -> dict[str, Any]:
        """The settings that rebuild this metric (its weights are saved with the model's)."""
        return {"type": "mahalanobis", "dim": self.dim, "rank": self.rank, "squared": self.squared}


class MLPMetric(nn.Module):
    """A small network that joins two embeddings into a similarity logit (Koch et al., 2015).

    Features are ``|x - y|`` and ``x * y`` (both symmetric in x and y), so the score is symmetric.
    ``logits(x, y)`` gives the "same" logit for training with binary cross-entropy
    (:func:`siamkit.losses.pair_bce_loss`); as a distance, ``pairwise`` returns
    ``1 - sigmoid(logit)`` in ``(0, 1)``: the probability that the pair is *not* the same.

    >>> head = MLPMetric(8)
    >>> head.pairwise(torch.randn(3, 8), torch.randn(3, 8)).shape
    torch.Size([3])
    """

    def __init__(self, dim: int, hidden: int = 64, product_features: bool = True) -> None:
        super().__init__()
        if dim < 1 or hidden < 1:
            raise ValueError(f"dim and hidden must be positive, got dim={dim}, hidden={hidden}")
        self.dim, self.hidden, self.product_features = dim, hidden, product_features
        self.name = "mlp"
        in_features = 2 * dim if product_features else dim
        self.net = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def _features(self, x: Tensor, y: Tensor) -> Tensor:
        feats = (x - y).abs()
        if self.product_features:
            feats = torch.cat([feats, x * y], dim=-1)
        return feats

    def _check_width(self, x: Tensor) -> None:
        _check_width("the MLP head", self.dim, x)

    @_on_own_device
    def logits(self, x: Tensor, y: Tensor) -> Tensor:
        """Similarity logits, larger = more alike. ``(N, D), (N, D) -> (N,)``."""
        _check_pair(x, y, same_rows=True)
        self._check_width(x)
        return self.net(self._features(x, y)).squeeze(-1)

    def pairwise(self, x: Tensor, y: Tensor) -> Tensor:
        """``(N, D), (N, D) -> (N,)`` in ``(0, 1)``."""
        return torch.sigmoid(-self.logits(x, y))

    @_on_own_device
    def matrix(self, x: Tensor, y: Tensor, chunk: int = 1024) -> Tensor:
        """``(N, D), (M, D) -> (N, M)``.

        Without gradients (``torch.no_grad``, ``torch.inference_mode``, or nothing that requires
        one) the pairs go through the head in fixed-size blocks that reuse two buffers, so any
        ``N x M`` needs the memory of one block. With gradients, ``chunk`` rows of ``x`` at a
        time make one autograd graph each. Either way a value equals the pair scored alone
        (:meth:`pairwise`) up to float rounding, about 1e-7.
        """
        _check_pair(x, y, same_rows=False)
        self._check_width(x)
        n, m = x.shape[0], y.shape[0]
        if chunk < 1:
            raise ValueError(f"chunk must be a positive number of rows, got {chunk}")
        if n == 0 or m == 0:
            return x.new_zeros(n, m)
        if not self._needs_grad(x, y):
            return self._matrix_no_grad(x, y)
        rows = []
        for start in range(0, n, chunk):
            xs = x[start : start + chunk]  # (c, D)
            c = xs.shape[0]
            xe = xs.unsqueeze(1).expand(c, m, -1).reshape(c * m, -1)
            ye = y.unsqueeze(0).expand(c, m, -1).reshape(c * m, -1)
            rows.append(torch.sigmoid(-self.net(self._features(xe, ye))).view(c, m))
        return torch.cat(rows)

    def _needs_grad(self, x: Tensor, y: Tensor) -> bool:
        if not torch.is_grad_enabled():
            return False
        return x.requires_grad or y.requires_grad or any(p.requires_grad for p in self.parameters())

    def _matrix_no_grad(self, x: Tensor, y: Tensor) -> Tensor:
        """:meth:`matrix` without autograd: blocks of about ``_BLOCK_FEATURES`` feature values.

        Each block writes its features into one reused buffer and its hidden layer into another
        (``addmm`` and ``relu_`` in place), as ``self.net`` computes them, and its logits into
        the output; nothing of size ``N x M x D`` is ever built.
        """
        n, m = x.shape[0], y.shape[0]
        width = 2 * self.dim if self.product_features else self.dim
        budget = _BLOCK_FEATURES_CUDA if x.device.type == "cuda" else _BLOCK_FEATURES
        pairs = max(1, budget // width)
        cols = min(m, pairs)
        rows = max(1, pairs // cols)
        lin1, lin2 = cast(nn.Linear, self.net[0]), cast(nn.Linear, self.net[2])
        feats = x.new_empty(rows * cols, width)
        hidden = x.new_empty(rows * cols, self.hidden)
        out = x.new_empty(n, m)
        for r0 in range(0, n, rows):
            xs = x[r0 : r0 + rows, None]  # (r, 1, D)
            for c0 in range(0, m, cols):
                ys = y[None, c0 : c0 + cols]  # (1, c, D)
                r, c = xs.shape[0], ys.shape[1]
                f = feats[: r * c].view(r, c, width)
                torch.sub(xs, ys, out=f[..., : self.dim]).abs_()
                if self.product_features:
                    torch.mul(xs, ys, out=f[..., self.dim :])
                h = hidden[: r * c]
                torch.addmm(lin1.bias, f.view(r * c, width), lin1.weight.T, out=h)
                out[r0 : r0 + r, c0 : c0 + c] = F.linear(h.relu_(), lin2.weight, lin2.bias).view(
                    r, c
                )
        return out.neg_().sigmoid_()

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.pairwise(x, y)

    def config(self) -> dict[str, Any]:
        """The settings that rebuild this metric (its weights are saved with the model's)."""
        return {
            "type": "mlp",
            "dim": self.dim,
            "hidden": self.hidden,
            "product_features": self.product_features,
        }


def learned_distance_from_config(cfg: dict[str, Any]) -> nn.Module:
    """Rebuild a learned distance from its ``config()``."""
    kind = cfg.get("type")
    kwargs = {k: v for k, v in cfg.items() if k != "type"}
    if kind == "mahalanobis":
        return MahalanobisDistance(**kwargs)
    if kind == "mlp":
        return MLPMetric(**kwargs)
    raise ValueError(f"unknown learned distance type {kind!r}; expected 'mahalanobis' or 'mlp'")
