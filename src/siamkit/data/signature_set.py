"""Signature images in memory, preprocessed: per-writer pairs and a writer-disjoint split.

A :class:`SignatureSet` holds every signature of a corpus (or of the synthetic generator) after
SigNet preprocessing, with its writer and whether it is a skilled forgery. Training and evaluation
need two more things from it: the pairs of one writer (every genuine-genuine pair against as many
genuine-forgery pairs) and a split of the *writers* into train / validation / test, so that the
writers a model is tested on were never seen in training (writer-independent verification).

Example:
    >>> s = synthetic_signature_set(4, n_genuine=3, n_forged=2, size=(40, 56))
    >>> s.images.shape, s.names[:2]
    (torch.Size([20, 1, 40, 56]), ['w0000', 'w0001'])
    >>> i, j, same = signature_pairs(s.writer, s.forged)
    >>> int(same.sum()) == int((1 - same).sum())
    True
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from siamkit.clauses import counted
from siamkit.data.signature_layouts import scan_signature_layout
from siamkit.data.signature_preprocess import SIGNET_SIZE, BlankSignatureError, preprocess_batch
from siamkit.data.synthetic_signatures import generate_signatures
from siamkit.image_decode import (
    DEFAULT_MAX_PIXELS,
    ImageSource,
    convert_image,
    decode_image,
    read_source_bytes,
)
from siamkit.progress import progress

__all__ = [
    "SignatureSet",
    "load_signature_set",
    "read_signature",
    "signature_pairs",
    "synthetic_signature_set",
    "writer_disjoint_split",
]


class SignatureSet(NamedTuple):
    """Preprocessed signatures: ``images (N, 1, H, W)`` in [0, 1] (ink bright), ``writer (N,)``
    indexes ``names``, ``forged (N,)`` bool (skilled forgery); ``paths``: the file each image
    was read from, in their order (``None`` for generated writers), so that a refusal of one
    can name it."""

    images: torch.Tensor
    writer: torch.Tensor
    forged: torch.Tensor
    names: list[str]
    paths: list[str] | None = None

    def subset(self, writers: Sequence[int]) -> SignatureSet:
        """Only the signatures of these writer indices (renumbered ``0..len(writers)-1``)."""
        order = [int(w) for w in writers]
        remap = torch.full((len(self.names),), -1, dtype=torch.int64)
        remap[order] = torch.arange(len(order))
        keep = remap[self.writer] >= 0
        return SignatureSet(
            self.images[keep],
            remap[self.writer[keep]],
            self.forged[keep],
            [self.names[w] for w in order],
            None if self.paths is None else [p for p, k in zip(self.paths, keep.tolist()) if k],
        )


def synthetic_signature_set(
    n_writers: int,
    n_genuine: int = 24,
    n_forged: int = 24,
    seed: int = 0,
    size: Sequence[int] = SIGNET_SIZE,
    render_size: tuple[int, int] = SIGNET_SIZE,
) -> SignatureSet:
    """Generate synthetic signatures (:func:`generate_signatures`) and preprocess them to ``size``."""
    data = generate_signatures(n_writers, n_genuine, n_forged, seed, render_size)
    return SignatureSet(
        preprocess_batch(data.images, size),
        torch.from_numpy(data.writer).long(),
        torch.from_numpy(data.forged),
        [f"w{w:04d}" for w in range(n_writers)],
    )


def read_signature(
    source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS, channels: int = 1
) -> torch.Tensor:
    """A signature image as a ``(C, H, W)`` float32 tensor in ``[0, 1]``, ink dark on white.

    As ``read_image(source, channels)`` (grey by default), except for transparency: a signature
    pad's or an e-signature's PNG holds the ink in its alpha channel, often over pixels that are
    black everywhere, and dropping the alpha (as images are read elsewhere) left a black page with
    no ink to find. A transparent background is laid on white paper instead. Enrolment,
    verification, the corpora read for training and evaluation (:func:`load_signature_set`) and
    the pair dataset (:class:`~siamkit.data.signatures.SignatureDataset`) all read with it.
    """
    from PIL import Image

    pixels = decode_image(source, channels, max_pixels)  # every check of any image, (H, W, C)
    with Image.open(io.BytesIO(read_source_bytes(source))) as img:
        if img.has_transparency_data:
            alpha = np.asarray(convert_image(img, "RGBA").getchannel("A"), np.float32) / 255.0
            alpha = alpha[:, :, None]  # (H, W, 1), upright as the pixels are
            paper = pixels.astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
            pixels = np.clip(np.rint(paper), 0, 255).astype(np.uint8)
    chw = np.ascontiguousarray(pixels.transpose(2, 0, 1))
    return torch.from_numpy(chw).to(torch.float32).div_(255.0)


def load_signature_set(
    root: str | os.PathLike[str], layout: str = "auto", size: Sequence[int] = SIGNET_SIZE
) -> SignatureSet:
    """Read and preprocess every signature under ``root`` (CEDAR, GPDS, BHSig or folders layout).

    Raises:
        ValueError: no writers, an unreadable image, or a blank scan (naming the file).
    """
    writers = list(scan_signature_layout(root, layout))
    images, writer, forged, names, files = [], [], [], [], []
    total = sum(len(ws.genuine) + len(ws.forged) for ws in writers)
    # ~20 ms a scan: CEDAR's 2,640 take about a minute
    with progress(total, "reading signatures", "images") as bar:
        for w, ws in enumerate(writers):
            names.append(ws.writer)
            for is_forged, paths in ((False, ws.genuine), (True, ws.forged)):
                for path in paths:
                    try:
                        images.append(preprocess_batch([read_signature(path)], size))
                    except BlankSignatureError:
                        raise BlankSignatureError(
                            f"Signature image '{path}' is blank (no ink on the page); check "
                            f"the scan, or leave it out of '{root}'."
                        ) from None
                    writer.append(w)
                    forged.append(is_forged)
                    files.append(str(path))
                    bar.update(1)
    return SignatureSet(
        torch.cat(images),
        torch.tensor(writer),
        torch.tensor(forged, dtype=torch.bool),
        names,
        files,
    )


def signature_pairs(
    writer: torch.Tensor,
    forged: torch.Tensor,
    max_pairs_per_writer: int | None = None,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Balanced per-writer pairs: genuine-genuine (``same=1``) and genuine-skilled-forgery (``0``).

    For each writer, all unordered genuine pairs and all genuine × forgery pairs are formed; the
    larger list is subsampled (seeded) to the size of the smaller, and both to at most
    ``max_pairs_per_writer``. A writer without forgeries contributes nothing.

    Returns:
        ``(i, j, same)``, each ``(P,)`` int64: ``i`` always a genuine reference.
    """
    rng = np.random.default_rng(seed)
    w_np, f_np = writer.numpy(), forged.numpy().astype(bool)
    out: list[tuple[int, int, int]] = []
    for w in np.unique(w_np):
        gen = np.flatnonzero((w_np == w) & ~f_np).tolist()
        forg = np.flatnonzero((w_np == w) & f_np).tolist()
        pos = list(itertools.combinations(gen, 2))
        neg = list(itertools.product(gen, forg))
        n = min(len(pos), len(neg), max_pairs_per_writer or len(pos) + len(neg))
        for pairs, same in ((pos, 1), (neg, 0)):
            pick = sorted(rng.choice(len(pairs), size=n, replace=False).tolist()) if n else []
            out += [(pairs[k][0], pairs[k][1], same) for k in pick]
    t = torch.tensor(out, dtype=torch.int64).reshape(-1, 3)
    return t[:, 0], t[:, 1], t[:, 2]


def writer_disjoint_split(
    n_writers: int, fractions: Sequence[float] = (0.6, 0.2, 0.2), seed: int = 0
) -> tuple[list[int], ...]:
    """Shuffle writer indices ``0..n_writers-1`` (seeded) and cut them into disjoint groups.

    Each group gets ``round(fraction * n_writers)`` writers (the last one the rest); every group
    needs at least one writer.

    Example:
        >>> [len(g) for g in writer_disjoint_split(10, (0.6, 0.2, 0.2))]
        [6, 2, 2]
    """
    if not fractions or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must be positive and sum to 1, got {list(fractions)}.")
    sizes = [round(f * n_writers) for f in fractions[:-1]]
    sizes.append(n_writers - sum(sizes))
    if min(sizes) < 1:
        raise ValueError(
            f"{counted(n_writers, 'writer')} cannot be split {list(fractions)}: a group would be "
            "empty."
        )
    perm = np.random.default_rng(seed).permutation(n_writers).tolist()
    bounds = np.cumsum([0, *sizes])
    return tuple(sorted(perm[a:b]) for a, b in itertools.pairwise(bounds))
