"""Which embeddings a label already holds: the rule by which enrolling skips a repeat.

A gallery keeps embeddings, not the images (or scans, or face crops) they came from, so a repeat
is told by its embedding: the same input through the same model again gives an embedding equal
to the stored one to :data:`SAME_EMBEDDING_TOLERANCE` of its length. That needs no column in the
store, so galleries of any age are read as they are. :meth:`siamkit.index.Gallery.enroll` and
:meth:`~siamkit.index.Gallery.enroll_embeddings` apply it with ``skip_repeats=True``; every
enrolling command and the service's ``/enroll`` do.

Texts keep their own rule (:func:`siamkit.applications.text.gallery.enroll_documents`): a repeat
is the same *text*, told by the preview kept beside the gallery, since a tokenizer can map two
different texts to one embedding (an uncased model: ``"Hello"`` and ``"hello"``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SAME_EMBEDDING_TOLERANCE", "repeated"]

#: An embedding repeats another when they differ by at most this fraction of its length: the same
#: input through the same model again. Batch sizes and kernels move the last bits (about 1e-7 on
#: CPU), and CUDA's TF32 convolutions (PyTorch's default on Ampere and later GPUs) move them by
#: up to about 7e-4 (emulated on CPU: median 2e-4 over 500 Fashion-MNIST test images with the demo
#: model), so a gallery enrolled on a GPU and one enrolled on a CPU still agree; two different
#: pictures differ by percents (1.7% at least among 300 Fashion-MNIST test images).
SAME_EMBEDDING_TOLERANCE = 2e-3


def repeated(rows: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``(N,)`` bools: whether each of ``rows (N, D)`` equals, to :data:`SAME_EMBEDDING_TOLERANCE`
    of its length, a row of ``known (M, D)`` or an earlier row of ``rows`` that is itself kept
    (so an input given twice is kept once, and a row is never dropped for resembling one that
    was dropped).

    Squared gaps by matrix products in float64, so that gaps of 1e-4 survive the cancellation,
    over blocks of ``known`` and of ``rows`` (about 2**22 numbers at a time, 32 MiB): a label
    with many items is compared piece by piece, never copied whole to float64.

    >>> z = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1e-6]])
    >>> repeated(z, np.array([[0.0, 1.0]])).tolist()
    [False, True, True]
    """
    r = np.asarray(rows, dtype=np.float64)
    k = np.asarray(known).reshape(-1, r.shape[1])
    rn = (r * r).sum(1)
    limit = SAME_EMBEDDING_TOLERANCE**2 * np.maximum(rn, 1e-24)
    out = np.zeros(len(r), dtype=bool)
    block = max(1, 2**22 // max(r.shape[1], 1))
    for t in range(0, len(k), block):  # the label's stored items
        kb = k[t : t + block].astype(np.float64)
        kn = (kb * kb).sum(1)
        step = max(1, 2**22 // len(kb))  # (step, len(kb)) gaps at a time
        for s in range(0, len(r), step):
            gaps = rn[s : s + step, None] + kn[None] - 2.0 * (r[s : s + step] @ kb.T)
            out[s : s + step] |= (gaps <= limit[s : s + step, None]).any(1)
    earlier: dict[int, np.ndarray] = {}  # row -> the earlier rows it repeats (rare)
    step = max(1, 2**22 // max(len(r), 1))
    for s in range(0, len(r), step):
        e = min(s + step, len(r))
        gaps = rn[s:e, None] + rn[None, :e] - 2.0 * (r[s:e] @ r[:e].T)
        close = gaps <= limit[s:e, None]
        close &= np.arange(e)[None, :] < np.arange(s, e)[:, None]  # only earlier rows
        for hit in np.flatnonzero(close.any(1)).tolist():
            earlier[s + hit] = np.flatnonzero(close[hit])
    for row in sorted(earlier):  # in order: the earlier rows are decided first
        out[row] |= bool((~out[earlier[row]]).any())
    return out
