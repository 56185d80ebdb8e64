"""Helpers for the gallery and search tests, in a module of their own.

They are not in ``conftest.py`` because ``from conftest import ...`` gets whichever
``conftest`` pytest imported first when several test folders run together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

import siamkit


def make_model(seed: int = 0, dim: int = 32, distance: str = "euclidean") -> siamkit.SiameseNetwork:
    """An untrained, seeded convnet Siamese model on 28x28 grey images (behaviour, not accuracy)."""
    torch.manual_seed(seed)
    encoder = siamkit.encoders.create_encoder("convnet", in_channels=1)
    pre = siamkit.models.Preprocess(mean=(0.286,), std=(0.353,), input_shape=(1, 28, 28))
    return siamkit.SiameseNetwork(
        encoder, embedding_dim=dim, distance=distance, preprocess=pre
    ).eval()


def clustered(n: int, dim: int, centers: int = 20, noise: float = 0.1, seed: int = 0) -> np.ndarray:
    """``(n, dim)`` float32 points around random centres, like embeddings of ``centers`` classes."""
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, dim))
    x = c[rng.integers(0, centers, n)] + noise * rng.standard_normal((n, dim))
    return x.astype(np.float32)


def emptied(path: Path, dim: int) -> None:
    """A gallery of raw ``dim``-d embeddings at ``path`` that holds no item (every label removed)."""
    from siamkit.index import Gallery

    with Gallery.open(path, embedding_dim=dim) as g:
        g.enroll_embeddings("gone", np.ones((1, dim), np.float32))
        g.remove("gone")


def taken_over_while_opened(
    monkeypatch: Any, path: Path, *, emptied_again: bool, right_after_meta: bool = False
) -> None:
    """Have the next ``Gallery.open`` of ``path`` meet another process's takeover after it read
    the meta: a 4-d model enrolls 'b' there, and removes it again with ``emptied_again``.

    The takeover lands while the open builds its index, or with ``right_after_meta`` right
    after the open's own ``meta()`` read, before anything else the open reads: the first
    ``GalleryStore.meta`` call once the open's store is built (the store's own schema check
    reads it too, inside ``__init__``), so a test sees which reads came before it."""
    from siamkit.index import Gallery, gallery_file
    from siamkit.index.store import GalleryStore

    def take_over() -> None:
        with Gallery.open(path, embedding_dim=4) as other:
            other.enroll_embeddings("b", np.ones((1, 4), np.float32))
            if emptied_again:
                other.remove("b")

    if right_after_meta:
        real_init, real_meta = GalleryStore.__init__, GalleryStore.meta
        built: list[GalleryStore] = []  # the open's store, once its __init__ returned

        def init(self: GalleryStore, *args: Any, **kwargs: Any) -> None:
            real_init(self, *args, **kwargs)
            built.append(self)

        def meta(self: GalleryStore) -> dict[str, str]:
            found = real_meta(self)
            if built and built[0] is self:  # its first meta() read since it was built
                monkeypatch.setattr(GalleryStore, "__init__", real_init)
                monkeypatch.setattr(GalleryStore, "meta", real_meta)
                take_over()
            return found

        monkeypatch.setattr(GalleryStore, "__init__", init)
        monkeypatch.setattr(GalleryStore, "meta", meta)
        return

    real = gallery_file.create_index

    def meanwhile(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(gallery_file, "create_index", real)
        take_over()
        return real(*args, **kwargs)

    monkeypatch.setattr(gallery_file, "create_index", meanwhile)
