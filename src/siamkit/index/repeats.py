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
#: CPU); two different pictures differ by percents (1.7% at least among 300 Fashion-MNIST test
#: images).
SAME_EMBEDDING_TOLERANCE = 1e-4


def repeated(rows: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``(N,)`` bools: whether each of ``rows (N, D)`` equals, to :data:`SAME_EMBEDDING_TOLERANCE`
    of its length, a row of ``known (M, D)`` or an earlier row of ``rows`` (so an input given
    twice is kept once).

    Squared gaps by one matrix product a chunk of rows (at most 2**24 gaps, 128 MiB), in float64
    so that gaps of 1e-4 survive the cancellation.

    >>> z = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1e-6]])
    >>> repeated(z, np.array([[0.0, 1.0]])).tolist()
    [False, True, True]
    """
    r = np.asarray(rows, dtype=np.float64)
    k = np.asarray(known, dtype=np.float64).reshape(-1, r.shape[1])
    chunk = max(1, 2**24 // max(len(r), len(k), 1))
    rn, kn = (r * r).sum(1), (k * k).sum(1)
    limit = SAME_EMBEDDING_TOLERANCE**2 * np.maximum(rn, 1e-24)
    out = np.zeros(len(r), dtype=bool)
    for s in range(0, len(r), chunk):
        q, e = r[s : s + chunk], s + min(chunk, len(r) - s)
        lim = limit[s:e, None]
        gaps = rn[s:e, None] + rn[None, :e] - 2.0 * (q @ r[:e].T)
        gaps[np.arange(e)[None, :] >= np.arange(s, e)[:, None]] = np.inf  # only earlier rows
        out[s:e] = (gaps <= lim).any(1)
        if len(k):
            out[s:e] |= (rn[s:e, None] + kn[None] - 2.0 * (q @ k.T) <= lim).any(1)
    return out
