"""Enrolling skips what a label already holds (``skip_repeats=True``), and only then."""

from __future__ import annotations

import numpy as np
import torch

from siamkit.index import EnrolledIds, Gallery
from siamkit.index.repeats import SAME_EMBEDDING_TOLERANCE, repeated


def test_a_repeat_is_an_equal_embedding_not_a_near_one() -> None:
    rng = np.random.default_rng(0)
    known = rng.standard_normal((50, 16)).astype(np.float32)
    nudge = rng.standard_normal(16).astype(np.float32)
    nudge /= np.linalg.norm(nudge)
    base = known[7]
    rows = np.stack(
        [
            base + 1e-6 * np.linalg.norm(base) * nudge,  # rounding: a repeat of known[7]
            base + 1e-2 * np.linalg.norm(base) * nudge,  # a different picture, however near
            rng.standard_normal(16),  # new
            rng.standard_normal(16),  # new; the next row repeats it
        ]
    ).astype(np.float32)
    rows = np.concatenate([rows, rows[3:] * (1 + 1e-7)])
    assert repeated(rows, known).tolist() == [True, False, False, False, True]
    assert repeated(rows, known[:0]).tolist() == [False, False, False, False, True]


def test_without_skip_repeats_every_row_is_stored_as_before(tmp_path) -> None:
    z = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    with Gallery.open(tmp_path / "g.db", embedding_dim=4) as g:
        first = g.enroll_embeddings("a", z)
        again = g.enroll_embeddings("a", np.concatenate([z, z[:1]]))
        assert first == [1, 2] and again == [3, 4, 5] and again.skipped == []
        assert len(g) == 5


def test_skip_repeats_stores_only_what_the_label_does_not_hold(tmp_path) -> None:
    rng = np.random.default_rng(2)
    a, b, c = rng.standard_normal((3, 8)).astype(np.float32)
    with Gallery.open(tmp_path / "g.db", embedding_dim=8, threshold=1.0) as g:
        ids = g.enroll_embeddings("alice", np.stack([a, b, a]), {"desk": 4}, skip_repeats=True)
        assert isinstance(ids, EnrolledIds) and ids == [1, 2] and ids.skipped == [2]
        assert g.identify_embeddings(c[None])[0].matches  # the search index is built now
        ids = g.enroll_embeddings("alice", np.stack([b * (1 + 1e-7), c]), skip_repeats=True)
        assert ids == [3] and ids.skipped == [0]
        assert g.identify_embeddings(c[None])[0].matches[0].item_id == 3  # searchable at once
        ids = g.enroll_embeddings("alice", np.stack([c, a]), skip_repeats=True)
        assert ids == [] and ids.skipped == [0, 1]  # nothing new: nothing written, no error
        ids = g.enroll_embeddings("bob", np.stack([a]), skip_repeats=True)  # per label
        assert ids == [4] and ids.skipped == []
        assert [(i.label, i.count) for i in g.labels()] == [("alice", 3), ("bob", 1)]


def test_skip_repeats_reads_the_store_not_this_process_cache(tmp_path) -> None:
    """Another connection's commit counts: the check runs in the enrollment's transaction."""
    z = np.random.default_rng(3).standard_normal((1, 4)).astype(np.float32)
    path = tmp_path / "g.db"
    with Gallery.open(path, embedding_dim=4) as one, Gallery.open(path, embedding_dim=4) as other:
        assert len(other.identify_embeddings(z)) == 1  # other's index is loaded, empty
        one.enroll_embeddings("a", z)
        assert other.enroll_embeddings("a", z, skip_repeats=True).skipped == [0]
        assert len(other) == 1


def test_enroll_of_images_skips_an_image_enrolled_before(tmp_path, fmnist, model) -> None:
    x, _ = fmnist
    with Gallery.open(tmp_path / "g.db", model) as g:
        assert g.enroll("shirt", x[:2], skip_repeats=True) == [1, 2]
        ids = g.enroll("shirt", x[1:4], skip_repeats=True)  # x[1] again, in another batch
        assert ids == [3, 4] and ids.skipped == [0]
        assert g.enroll("shirt", x[3:4]).skipped == []  # the default stores it again
        assert len(g) == 5


def _naive_repeated(rows: np.ndarray, known: np.ndarray) -> list[bool]:
    """The rule as a loop: a row repeats a stored item or an earlier row that was kept."""
    kept, out = list(known), []
    for x in rows:
        rep = any(
            np.linalg.norm(x - y) <= SAME_EMBEDDING_TOLERANCE * np.linalg.norm(x) for y in kept
        )
        out.append(rep)
        if not rep:
            kept.append(x)
    return out


def test_a_row_is_not_dropped_for_resembling_a_dropped_one() -> None:
    """b repeats the stored a, and c repeats b but not a: b was not stored, so c must be."""
    t = SAME_EMBEDDING_TOLERANCE
    a = np.array([1.0, 0.0, 0.0, 0.0])
    b, c = a + np.array([0, 0.9 * t, 0, 0]), a + np.array([0, 1.8 * t, 0, 0])
    assert repeated(np.stack([b, c]), a[None]).tolist() == [True, False]
    assert repeated(np.stack([a, b, c]), np.empty((0, 4))).tolist() == [False, True, False]
    rng = np.random.default_rng(0)
    for _ in range(10):
        base = rng.standard_normal((20, 8))
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        nudge = rng.choice([0.0, 0.6 * t, 1.5 * t], (40, 1)) * rng.standard_normal((40, 8)) / 3
        rows = base[rng.integers(0, 20, 40)] + nudge
        assert repeated(rows, base[:4]).tolist() == _naive_repeated(rows, base[:4])


def _tf32(t: torch.Tensor) -> torch.Tensor:
    """``t`` rounded as TF32 tensor cores read float32 (10 of 23 mantissa bits kept)."""
    if t.dtype != torch.float32:
        return t
    bits = t.contiguous().view(torch.int32)
    return ((bits + 0x1000) & ~0x1FFF).view(torch.float32)


def test_an_image_embedded_with_tf32_kernels_repeats_its_float32_embedding(
    fmnist, model, monkeypatch
) -> None:
    # A GPU with TF32 convolutions (PyTorch's default on CUDA) embeds the same image a few 1e-4
    # of its length away from a CPU: still a repeat. Emulated here by rounding the inputs and
    # weights of every convolution and linear layer; sums stay float32, as on the tensor cores.
    import torch.nn.functional as F

    x = fmnist[0][:100]
    with torch.inference_mode():
        exact = model.embed(x).numpy()
        conv, linear = F.conv2d, F.linear
        monkeypatch.setattr(
            F, "conv2d", lambda i, w, b=None, *a, **k: conv(_tf32(i), _tf32(w), b, *a, **k)
        )
        monkeypatch.setattr(F, "linear", lambda i, w, b=None: linear(_tf32(i), _tf32(w), b))
        tf32 = model.embed(x).numpy()
    gap = np.linalg.norm(exact - tf32, axis=1) / np.linalg.norm(exact, axis=1)
    assert np.median(gap) > 1e-5, "the emulation did not reach the layers"
    assert repeated(tf32, exact).all()
    # and different pictures stay apart: their smallest gap is far above the tolerance
    d = (
        np.linalg.norm(exact[:, None] - exact[None], axis=2)
        / np.linalg.norm(exact, axis=1)[:, None]
    )
    np.fill_diagonal(d, np.inf)
    assert d.min() > 5 * SAME_EMBEDDING_TOLERANCE
    assert not repeated(exact[1:], exact[:1]).any()
