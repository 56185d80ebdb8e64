"""What a self-supervised run watches each epoch: collapse and a kNN accuracy.

The collapse check is the SimSiam paper's: the standard deviation of each dimension of the
L2-normalised embedding over many images. Spread over the sphere it is about ``1/sqrt(D)`` per
dimension; collapsed to one point it is 0. :func:`collapse_std` reports the mean per-dimension
std times ``sqrt(D)``, so 1 is healthy whatever ``D``, and 0 is collapse.

>>> round(collapse_std(torch.eye(4).repeat(50, 1)), 2)
0.87
>>> collapse_std(torch.ones(10, 4))
0.0
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def collapse_std(z: Tensor) -> float:
    """Mean per-dimension std of the L2-normalised ``(N, D)`` embeddings, times ``sqrt(D)``."""
    if z.shape[0] < 2:
        raise ValueError("collapse_std needs at least 2 embeddings")
    zn = F.normalize(z.double(), dim=1)
    return float(zn.std(dim=0).mean()) * math.sqrt(z.shape[1])


def monitor_k(k: int, y: Tensor) -> int:
    """The kNN monitor's neighbours: ``k``, at most the other images of the smallest class of
    the labels ``y`` (and at least 1).

    A leave-one-out vote among more neighbours than an image's own class has other images is
    won by the other classes (each has one image more in the pool), so the accuracy falls below
    chance whatever the embedding: 8 labelled photos a class with ``k = 20`` read 0.03 where one
    nearest neighbour was right 97 times in 100.

    >>> monitor_k(20, torch.tensor([0] * 8 + [1] * 9))
    7
    >>> monitor_k(20, torch.tensor([0] * 600 + [1] * 600))
    20
    """
    return max(1, min(k, smallest_class(y) - 1))


def smallest_class(y: Tensor) -> int:
    """The number of items of the smallest class of the labels ``y``."""
    return int(torch.unique(y, return_counts=True)[1].min())


@torch.no_grad()
def leave_one_out_knn(z: Tensor, y: Tensor, k: int = 20, chunk: int = 1024) -> float:
    """Accuracy of a cosine ``k``-nearest-neighbour vote for each item among all the others.

    Ties between classes go to the smallest label.

    >>> z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> leave_one_out_knn(z, torch.tensor([0, 0, 1, 1]), k=1)
    1.0
    """
    n = z.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"the kNN monitor needs 1 <= k < {n} (the validation images), got {k}")
    zn = F.normalize(z.float(), dim=1)
    classes, codes = torch.unique(y, return_inverse=True)
    correct = 0
    for s in range(0, n, chunk):
        sim = zn[s : s + chunk] @ zn.T  # (rows, N)
        rows = torch.arange(sim.shape[0])
        sim[rows, rows + s] = -math.inf  # not one's own neighbour
        nn_idx = sim.topk(k, dim=1).indices  # (rows, k)
        votes = torch.zeros(sim.shape[0], classes.numel())
        votes.scatter_add_(1, codes[nn_idx], torch.ones(nn_idx.shape))
        correct += int((votes.argmax(dim=1) == codes[s : s + chunk]).sum())
    return correct / n
