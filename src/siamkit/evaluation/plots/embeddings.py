"""Embedding-space figures: a 2-D map coloured by class and nearest-neighbour image grids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import Tensor

from siamkit.evaluation._common import (
    ArrayLike,
    DistanceLike,
    as_embeddings,
    encode_labels,
    resolve_distance,
    score_kind,
    value_tag,
)
from siamkit.evaluation.plots._figure import LITERAL, class_colors, literal_legend, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: t-SNE is quadratic-ish; larger sets are subsampled first.
TSNE_MAX_POINTS = 5000


#: Below this many items or dimensions the PCA takes LAPACK's full SVD; above, ARPACK's two
#: leading singular vectors (the same axes to ~1e-12, without the rest of the decomposition: the
#: full SVD of 4,000 embeddings of 4,544 dimensions took 34 CPU-s, the two vectors 0.5 s).
FULL_SVD_MAX = 64


def project_2d(z: Tensor, method: Literal["pca", "tsne"] = "pca", seed: int = 0) -> np.ndarray:
    """``(N, D) -> (N, 2)`` by PCA (the two leading singular vectors of the centred data, exact
    to rounding) or t-SNE (scikit-learn).

    A PCA axis is defined up to its sign; each is turned so that the point farthest along it
    lies on its positive side, whichever solver found it.
    """
    x = z.double().cpu()
    if x.shape[1] == 1:
        return torch.cat([x, torch.zeros_like(x)], dim=1).numpy()
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30, max(2, (x.shape[0] - 1) // 3)))
        tsne = TSNE(n_components=2, init="pca", random_state=seed, perplexity=perplexity)
        return tsne.fit_transform(x.numpy())
    if method != "pca":
        raise ValueError(f"unknown projection {method!r}; use 'pca' or 'tsne'")
    centred = x - x.mean(dim=0)
    xy = (centred @ _leading_axes(centred, seed).T).numpy()
    far = np.abs(xy).argmax(axis=0)
    return xy * np.where(xy[far, np.arange(xy.shape[1])] < 0, -1.0, 1.0)


def _leading_axes(centred: Tensor, seed: int) -> Tensor:
    """The two leading right singular vectors of ``centred`` (``(N, D)``, float64), ``(2, D)``."""
    if min(centred.shape) > FULL_SVD_MAX:
        from scipy.sparse.linalg import ArpackError, svds

        v0 = np.random.default_rng(seed).standard_normal(min(centred.shape))
        try:
            _, s, vt = svds(centred.numpy(), k=2, tol=0, v0=v0)
            return torch.from_numpy(vt[np.argsort(-s)].copy())
        except ArpackError:  # did not converge (no clear second axis): the full SVD decides
            pass
    return torch.linalg.svd(centred, full_matrices=False)[2][:2]


def _names(classes: np.ndarray, class_names: Sequence[str] | None) -> list[str]:
    if class_names is None:
        return [str(c) for c in classes]
    out = []
    for c in classes:
        idx = int(c) if isinstance(c, (int, np.integer)) else None
        out.append(
            str(class_names[idx]) if idx is not None and 0 <= idx < len(class_names) else str(c)
        )
    return out


def plot_embedding_map(
    z: ArrayLike,
    labels: ArrayLike,
    class_names: Sequence[str] | None = None,
    method: Literal["pca", "tsne"] = "pca",
    max_points: int = TSNE_MAX_POINTS,
    seed: int = 0,
) -> Figure:
    """2-D map of embeddings coloured by class, with a legend.

    Args:
        z: ``(N, D)`` embeddings; labels: ``(N,)`` classes.
        class_names: names indexed by integer label (e.g. Fashion-MNIST class names); names
            and labels are drawn as written, never as mathtext (``$5-$10``, ``_background``).
        method: ``"pca"`` (fast, linear) or ``"tsne"`` (slower, shows clusters better).
        max_points: a seeded random subset of at most this many points is drawn.
    """
    zt = as_embeddings(z)
    codes, classes = encode_labels(labels, zt.shape[0])
    if zt.shape[0] > max_points:
        keep = torch.randperm(zt.shape[0], generator=torch.Generator().manual_seed(seed))[
            :max_points
        ]
        zt, codes = zt[keep], codes[keep]
    xy = project_2d(zt, method, seed)
    names = _names(classes, class_names)
    colors = class_colors(len(names))
    fig = new_figure(7.2, 5.6)
    ax = fig.add_subplot()
    handles, shown = [], []
    for c, (name, color) in enumerate(zip(names, colors)):
        sel = (codes == c).numpy()
        if sel.any():
            handles.append(
                ax.scatter(xy[sel, 0], xy[sel, 1], s=6, alpha=0.6, color=color, label=name, lw=0)
            )
            shown.append(name)
    what = "t-SNE" if method == "tsne" else "PCA"
    ax.set_title(f"Embeddings ({what}, {xy.shape[0]:,} points)")
    ax.set_xlabel(f"{what} 1")
    ax.set_ylabel(f"{what} 2")
    literal_legend(
        ax,
        handles,
        shown,
        markerscale=3,
        fontsize=8,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        frameon=False,
    )
    ax.grid(alpha=0.2)
    return fig


def as_display_images(images: ArrayLike) -> np.ndarray:
    """Images as ``(N, H, W)`` or ``(N, H, W, 3)`` floats in ``[0, 1]`` for ``imshow``.

    Accepts ``(N, H, W)``, ``(N, C, H, W)`` (C = 1 or 3) or ``(N, H, W, C)``; floats in
    ``[0, 1]`` or integers in ``[0, 255]``.
    """
    arr = images.detach().cpu().numpy() if isinstance(images, Tensor) else np.asarray(images)
    if arr.ndim == 4 and arr.shape[1] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = arr.transpose(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] != 3):
        raise ValueError(
            f"images must be (N, H, W), (N, C, H, W) or (N, H, W, C) with 1 or 3 channels, "
            f"got shape {arr.shape}"
        )
    arr = arr.astype(np.float64)
    if arr.size and arr.max() > 1.0:
        arr = arr / 255.0
    return np.clip(arr, 0.0, 1.0)


def pick_queries(codes: Tensor, n_queries: int, seed: int = 0) -> list[int]:
    """Seeded queries, one per class in turn (classes with a second item only), up to ``n_queries``."""
    gen = torch.Generator().manual_seed(seed)
    counts = torch.bincount(codes)
    pools = [torch.nonzero(codes == c).flatten() for c in range(counts.numel()) if counts[c] > 1]
    pools = [p[torch.randperm(p.numel(), generator=gen)] for p in pools]
    out: list[int] = []
    depth = 0
    while len(out) < n_queries and any(depth < p.numel() for p in pools):
        out += [int(p[depth]) for p in pools if depth < p.numel()][: n_queries - len(out)]
        depth += 1
    return out


def _frame(ax: Any, color: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor(color)
        spine.set_linewidth(4)


@torch.no_grad()
def plot_neighbor_grid(
    z: ArrayLike,
    labels: ArrayLike,
    images: ArrayLike,
    distance: DistanceLike = "euclidean",
    queries: Sequence[int] | None = None,
    n_queries: int = 6,
    k: int = 5,
    class_names: Sequence[str] | None = None,
    seed: int = 0,
) -> Figure:
    """For each query image: the query, then its ``k`` nearest other items with distances
    (``d=``; ``score=`` for a cohort-normalised distance, whose values are scores).

    Neighbours of the query's class get a green border, others red; the query is blue.

    Args:
        z: ``(N, D)`` embeddings; labels: ``(N,)``; images: the ``N`` matching images.
        distance: distance used for the search.
        queries: item indices to show; default a seeded pick, one per class in turn.
    """
    zt = as_embeddings(z)
    codes, classes = encode_labels(labels, zt.shape[0])
    pics = as_display_images(images)
    if pics.shape[0] != zt.shape[0]:
        raise ValueError(
            f"got {pics.shape[0]} images for {zt.shape[0]} embeddings; pass one per embedding"
        )
    k = int(min(k, zt.shape[0] - 1))
    if k < 1:
        raise ValueError("a neighbour grid needs at least two items")
    q = list(queries) if queries is not None else pick_queries(codes, n_queries, seed)
    names = _names(classes, class_names)
    q_idx = torch.as_tensor(q, dtype=torch.long)
    d = resolve_distance(distance).matrix(zt[q_idx], zt).cpu().double()  # (Q, N)
    d[torch.arange(len(q)), q_idx] = torch.inf  # never return the query itself
    nd, nn = d.topk(k, dim=1, largest=False)
    tag = value_tag(score_kind(distance))  # "score" under snorm: no distance
    gray = pics.ndim == 3
    fig = new_figure(1.45 * (k + 1), 1.65 * len(q) + 0.4)
    axes = np.asarray(fig.subplots(len(q), k + 1, squeeze=False))
    for r, qi in enumerate(q):
        cells = [(qi, f"query: {names[codes[qi]]}", "#1f77b4")]
        for j in range(k):
            ni = int(nn[r, j])
            ok = bool(codes[ni] == codes[qi])
            cells.append(
                (
                    ni,
                    f"{names[codes[ni]]}\n{tag}={float(nd[r, j]):.3f}",
                    "#2ca02c" if ok else "#d62728",
                )
            )
        for c, (item, caption, color) in enumerate(cells):
            ax = axes[r, c]
            ax.imshow(pics[item], cmap="gray" if gray else None, vmin=0.0, vmax=1.0)
            ax.set_xlabel(caption, fontsize=7, **LITERAL)
            _frame(ax, color)
    fig.suptitle(f"Nearest neighbours (green = same class, red = different; k = {k})", fontsize=10)
    return fig
