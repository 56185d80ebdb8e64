"""The self-supervised methods as one module around a :class:`SiameseNetwork`.

Both views go through the same network (shared weights); the projection and prediction heads
sit on top of its L2-normalised embedding and exist only for training: the saved model is the
network alone. ``loss(v1, v2)`` is the method's objective on a batch of view pairs and
``after_step()`` moves BYOL's momentum target (a :class:`~siamkit.training.ema.WeightAverage`
of the online network and projector).

* ``simclr``: projector, NT-Xent with ``temperature``;
* ``simsiam``: projector + predictor, negative cosine against the stop-gradient projection;
* ``byol``: like SimSiam, but the targets come from the momentum network; the momentum goes from
  ``momentum`` to 1 along a cosine over the run (the BYOL paper's schedule);
* ``vicreg``: an expander, variance-invariance-covariance;
* ``barlow_twins``: a three-layer projector (lightly's ``BarlowTwinsProjectionHead``), the
  cross-correlation of the views pushed to the identity with ``barlow_lambda``;
* ``nnclr``: projector + predictor (lightly's NNCLR heads) and NT-Xent with ``temperature``
  between each view's prediction and the nearest neighbour of the *other* view's projection in
  a :class:`NearestNeighbourQueue` of the last ``queue_size`` projections (part of the module's
  state, so a checkpoint holds it).

>>> from siamkit.encoders import create_encoder
>>> net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[8, 16]), 16)
>>> m = SelfSupervised(net, "simsiam", SSLHeadConfig(proj_dim=16, proj_hidden=32, pred_hidden=8))
>>> m.loss(torch.rand(4, 1, 28, 28), torch.rand(4, 1, 28, 28)).dim()
0
"""

from __future__ import annotations

import copy
import itertools
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from siamkit.losses.functional import nt_xent_loss
from siamkit.losses.self_supervised import (
    barlow_twins_loss,
    byol_loss,
    simsiam_loss,
    vicreg_loss,
)
from siamkit.models import SiameseNetwork
from siamkit.training.ema import WeightAverage

METHODS = ("simclr", "simsiam", "byol", "vicreg", "barlow_twins", "nnclr")


@dataclass(frozen=True)
class SSLHeadConfig:
    """Training-only heads and the method's constants (config section ``ssl``).

    Attributes:
        proj_dim, proj_hidden: the projector's output and hidden sizes.
        pred_hidden: the predictor's hidden size (SimSiam, BYOL: a bottleneck; NNCLR).
        temperature: NT-Xent's (SimCLR, NNCLR).
        momentum: BYOL's starting target momentum (goes to 1 along a cosine).
        barlow_lambda: Barlow Twins' weight of the off-diagonal (redundancy reduction) term
            against the diagonal (invariance) one; the paper's and lightly's 5e-3.
        queue_size: NNCLR's support set, the projections of the last ``queue_size`` images
            the nearest neighbours are drawn from (lightly's examples' 4096; the paper's 98,304
            on ImageNet). It starts as random unit vectors (as lightly's and solo-learn's).
        collapse_std: stop when the embedding's per-dimension std times sqrt(D) falls below this
            (1 for a uniform spread on the sphere, 0 when every image embeds to one point).
        embed: what the saved model embeds with (and the kNN monitor measures; the collapse
            check stays on the trained head's output, the loss's side):
            ``"backbone"``, the encoder's pooled features L2-normalised (the network's trained
            embedding head then acts as the projector's first layer and is saved as the
            identity), or ``"head"``, the network's own embedding head as trained. SSL papers
            evaluate the backbone: the last layers before the loss specialise to the views.
    """

    proj_dim: int = 128
    proj_hidden: int = 512
    pred_hidden: int = 128
    temperature: float = 0.2
    momentum: float = 0.99
    barlow_lambda: float = 5e-3
    queue_size: int = 4096
    collapse_std: float = 0.02
    embed: str = "head"


def mlp(
    sizes: list[int], last_bn: bool = False, bias_before_bn: bool = True, last_affine: bool = False
) -> nn.Sequential:
    """Linear layers of ``sizes`` with BatchNorm + ReLU between them (and BN after the last,
    without (``last_affine``: with) its own scale and shift).

    ``bias_before_bn=False``: a linear layer followed by a BatchNorm has no bias (the BN's mean
    removes it), as in lightly's heads.

    >>> mlp([4, 8, 2])(torch.randn(3, 4)).shape
    torch.Size([3, 2])
    """
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        last = i == len(sizes) - 2
        bias = not (last and last_bn) and (last or bias_before_bn)
        layers.append(nn.Linear(a, b, bias=bias))
        if not last:
            layers += [nn.BatchNorm1d(b), nn.ReLU(inplace=True)]
        elif last_bn:
            layers.append(nn.BatchNorm1d(b, affine=last_affine))
    return nn.Sequential(*layers)


EMBEDS = ("backbone", "head")


def embedding_network(net: SiameseNetwork, embed: str) -> SiameseNetwork:
    """The network an SSL run saves and monitors (see :attr:`SSLHeadConfig.embed`).

    ``"head"``: ``net`` itself. ``"backbone"``: a network sharing ``net``'s encoder and
    preprocessing whose head is the identity (a linear layer with identity weights and zero bias,
    so the bundle format and ONNX export are those of every siamkit model, and fine-tuning from
    it starts at exactly the SSL embedding): it embeds ``normalize(encoder(x))``, with an
    encoder's passed-through taps joined as usual.

    >>> from siamkit.encoders import create_encoder
    >>> net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[8, 16]), 4)
    >>> x = torch.rand(3, 1, 28, 28)
    >>> bb = embedding_network(net.eval(), "backbone")
    >>> pooled = torch.nn.functional.normalize(net.encoder(net.preprocess(x)), dim=1)
    >>> bb.embedding_dim, torch.allclose(bb.embed(x), pooled, atol=1e-6)
    (16, True)
    """
    if embed not in EMBEDS:
        raise ValueError(f"ssl.embed = {embed!r} is not valid; choose one of {', '.join(EMBEDS)}")
    if embed == "head":
        return net
    dim = net.head.in_features - net.head.passthrough
    out = SiameseNetwork(
        net.encoder, dim, distance=net.distance, normalize=True, preprocess=net.preprocess
    )
    linear = out.head.proj[-1]
    assert isinstance(linear, nn.Linear)
    with torch.no_grad():
        linear.weight.copy_(torch.eye(dim))
        linear.bias.zero_()
    like = next(net.head.parameters())  # the new head where the trained one is (CUDA, dtype)
    out.head.to(device=like.device, dtype=like.dtype)
    return out.train(net.training)


def trained_dim(net: SiameseNetwork) -> int:
    """How many leading dimensions of ``net``'s embedding the SSL loss sees: all of them, unless
    the encoder's taps are kept out of training (ConvNet ``tap_train=False``: zeros in training,
    joined only when embedding); then only the head's projection.

    >>> from siamkit.encoders import create_encoder
    >>> enc = create_encoder("convnet", in_channels=1, widths=[8, 16], taps=[0], tap_grids=[2])
    >>> net = SiameseNetwork(enc, 4)
    >>> net.embedding_dim, trained_dim(net)
    (36, 36)
    >>> enc.tap_train = False
    >>> trained_dim(net)
    4
    """
    enc = net.encoder
    if getattr(enc, "taps", ()) and not getattr(enc, "tap_train", True):
        return int(net.head.embedding_dim)
    return int(net.embedding_dim)


class NearestNeighbourQueue(nn.Module):
    """NNCLR's support set: a first-in first-out queue of ``size`` projections of ``dim``.

    :meth:`nearest` gives, for each row, the queued vector of highest cosine similarity (no
    gradient); :meth:`push` enqueues a batch over the oldest rows, as lightly's
    ``NNMemoryBankModule`` does (a batch that reaches the end fills it and the rest is dropped;
    the next one starts again at the top). The queue and its position are buffers: they move
    with the module and are saved in its ``state_dict`` (a checkpoint, so ``--resume`` is exact).
    It starts as random unit vectors (the global generator: seeded with the run).

    >>> q = NearestNeighbourQueue(3, 2)
    >>> q.push(torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]]))
    >>> q.nearest(torch.tensor([[0.1, 5.0], [3.0, 0.2]]))
    tensor([[0., 2.],
            [1., 0.]])
    """

    bank: Tensor
    position: Tensor

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f"the nearest-neighbour queue needs at least 1 row, got {size}")
        self.register_buffer("bank", F.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("position", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def nearest(self, z: Tensor) -> Tensor:
        """``(N, dim)`` -> the ``(N, dim)`` queued vectors most cosine-similar to each row."""
        sim = F.normalize(z.float(), dim=1) @ F.normalize(self.bank, dim=1).T  # (N, size)
        return self.bank[sim.argmax(dim=1)].clone()

    @torch.no_grad()
    def push(self, z: Tensor) -> None:
        """Write ``z`` (``(N, dim)``, detached) over the oldest rows."""
        size, at = self.bank.shape[0], int(self.position)
        if at + z.shape[0] >= size:
            self.bank[at:] = z[: size - at].detach().float()
            self.position.zero_()
        else:
            self.bank[at : at + z.shape[0]] = z.detach().float()
            self.position.fill_(at + z.shape[0])


class _Online(nn.Module):
    """The network and its projector: what BYOL's target averages. The projector sees the first
    :func:`trained_dim` dimensions of the embedding (with untrained taps: exactly the embedding
    of the same network without them)."""

    def __init__(self, net: SiameseNetwork, projector: nn.Module) -> None:
        super().__init__()
        self.net, self.projector = net, projector
        self.dim = trained_dim(net)

    def forward(self, x: Tensor) -> Tensor:
        return self.projector(self.net.embed(x, check=False)[:, : self.dim])  # type: ignore[no-any-return]


class SelfSupervised(nn.Module):
    """``net`` trained by ``method`` (one of :data:`METHODS`) with the heads of ``cfg``."""

    def __init__(self, net: SiameseNetwork, method: str, cfg: SSLHeadConfig) -> None:
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
        self.method, self.cfg = method, cfg
        d, h, p = trained_dim(net), cfg.proj_hidden, cfg.proj_dim
        if method == "barlow_twins":  # lightly's BarlowTwinsProjectionHead: no bias before BN
            projector = mlp([d, h, h, p], bias_before_bn=False)
        elif method == "nnclr":  # lightly's NNCLRProjectionHead: BN after every layer
            projector = mlp([d, h, h, p], last_bn=True, bias_before_bn=False, last_affine=True)
        else:
            sizes = [d, h, h, p] if method == "vicreg" else [d, h, p]
            projector = mlp(sizes, last_bn=method == "simsiam")
        self.online = _Online(net, projector)
        self.predictor: nn.Module | None = None
        if method in ("simsiam", "byol"):
            self.predictor = mlp([p, cfg.pred_hidden, p])
        elif method == "nnclr":  # lightly's NNCLRPredictionHead
            self.predictor = mlp([p, cfg.pred_hidden, p], bias_before_bn=False)
        self.queue = NearestNeighbourQueue(cfg.queue_size, p) if method == "nnclr" else None
        self.target: _Online | None = None
        self.average: WeightAverage | None = None
        if method == "byol":
            self.target = copy.deepcopy(self.online).requires_grad_(False)
            self.average = WeightAverage(self.online, cfg.momentum)

    @property
    def net(self) -> SiameseNetwork:
        """The Siamese network being trained (the online branch's, without projector or predictor)."""
        return self.online.net

    def forward(self, x: Tensor) -> Tensor:
        """Both views stacked, ``(2N, C, H, W)`` (first views, then second views) -> what
        :meth:`objective` needs, row by row: the projection (SimCLR, VICReg, Barlow Twins), the
        projection and the prediction side by side (SimSiam, NNCLR), the prediction and the
        momentum target's projection side by side (BYOL; no gradient reaches the target)."""
        z = self.online(x)  # (2N, P): both views in one pass
        if self.predictor is None:
            return z
        p = self.predictor(z)
        if self.target is None:
            return torch.cat([z, p], dim=1)  # (2N, 2P)
        with torch.no_grad():
            t = self.target(x)
        return torch.cat([p, t], dim=1)  # (2N, 2P)

    def objective(self, out: Tensor, labels: Tensor | None = None, indices: Any = None) -> Tensor:
        """The method's loss on :meth:`forward`'s output (``labels`` are ignored: there are none).

        NNCLR, as lightly's example: ``(NT-Xent(NN(z1), p2) + NT-Xent(NN(z2), p1)) / 2``, the
        neighbours looked up before the second views' projections ``z2`` join the queue."""
        n = out.shape[0] // 2
        a, b = out[:n].float(), out[n:].float()
        if self.method == "simclr":
            return nt_xent_loss(a, b, self.cfg.temperature)
        if self.method == "vicreg":
            return vicreg_loss(a, b)
        if self.method == "barlow_twins":
            return barlow_twins_loss(a, b, self.cfg.barlow_lambda)
        d = a.shape[1] // 2
        if self.queue is not None:  # NNCLR; rows: (projection z, prediction p)
            t = self.cfg.temperature
            nn1, nn2 = self.queue.nearest(a[:, :d]), self.queue.nearest(b[:, :d])
            self.queue.push(b[:, :d])
            return 0.5 * (nt_xent_loss(nn1, b[:, d:], t) + nt_xent_loss(nn2, a[:, d:], t))
        if self.method == "simsiam":  # rows: (projection z, prediction p)
            return simsiam_loss(a[:, d:], b[:, d:], a[:, :d], b[:, :d])
        return byol_loss(a[:, :d], b[:, :d], a[:, d:], b[:, d:])  # rows: (prediction, target)

    def loss(self, v1: Tensor, v2: Tensor) -> Tensor:
        """The method's loss on two ``(N, C, H, W)`` views of the same ``N`` images."""
        return self.objective(self(torch.cat([v1, v2])))

    def after_step(self, step: int, total: int) -> None:
        """BYOL: move the target towards the online network with the scheduled momentum."""
        if self.average is None or self.target is None:
            return
        base = self.cfg.momentum
        self.average.decay = 1 - (1 - base) * (math.cos(math.pi * step / max(1, total)) + 1) / 2
        self.average.decay = min(self.average.decay, 1 - 1e-6)
        self.average.update(self.online)
        self.average.copy_to(self.target)
