"""The synthetic signature generator: seeded, shaped as promised, genuine closer than forgeries."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siamkit.data.signature_set import synthetic_signature_set
from siamkit.data.signatures import scan_signatures
from siamkit.data.synthetic_signatures import generate_signatures, write_signature_folders


def test_same_seed_same_images_other_seed_other_images() -> None:
    a = generate_signatures(2, n_genuine=2, n_forged=1, seed=5, size=(50, 70))
    b = generate_signatures(2, n_genuine=2, n_forged=1, seed=5, size=(50, 70))
    c = generate_signatures(2, n_genuine=2, n_forged=1, seed=6, size=(50, 70))
    assert np.array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    assert a.images.shape == (6, 50, 70) and a.images.dtype == np.uint8
    assert a.writer.tolist() == [0, 0, 0, 1, 1, 1]
    assert a.forged.tolist() == [False, False, True] * 2


def test_every_image_has_dark_ink_on_light_paper() -> None:
    d = generate_signatures(3, n_genuine=2, n_forged=2, seed=0)
    for img in d.images:
        assert np.median(img) > 200  # mostly paper
        assert img.min() < 120  # some ink
        ink = (img < 150).mean()
        assert 0.005 < ink < 0.3


def _mean_distances(seed: int) -> tuple[float, float, float]:
    s = synthetic_signature_set(6, n_genuine=6, n_forged=6, seed=seed, size=(78, 110))
    d = torch.cdist(s.images.flatten(1), s.images.flatten(1))  # (N, N) pixel distances
    w, f = s.writer, s.forged
    same = w[:, None] == w[None, :]
    gen_row = ~f[:, None]
    off_diag = ~torch.eye(len(w), dtype=torch.bool)
    gg = d[same & gen_row & ~f[None, :] & off_diag].mean()
    gf = d[same & gen_row & f[None, :]].mean()
    go = d[~same & gen_row & ~f[None, :]].mean()
    return float(gg), float(gf), float(go)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_writers_genuines_are_closer_to_each_other_than_to_forgeries_or_other_writers(
    seed: int,
) -> None:
    gg, gf, go = _mean_distances(seed)
    assert gg < 0.85 * gf and gg < 0.85 * go


def test_write_signature_folders_layout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = write_signature_folders(tmp_path / "sigs", 3, n_genuine=2, n_forged=1, seed=0)
    writers = scan_signatures(root)
    assert [w.writer for w in writers] == ["w0000", "w0001", "w0002"]
    assert all(len(w.genuine) == 2 and len(w.forged) == 1 for w in writers)
    assert not list(root.rglob(".*"))  # no temporary files left


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="n_writers"):
        generate_signatures(0)
    with pytest.raises(ValueError, match="size"):
        generate_signatures(1, size=(8, 8))
