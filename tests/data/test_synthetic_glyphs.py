"""The synthetic glyph generator: seeded, classes distinct but not trivially, the folder layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from siamkit.data import synthetic_glyphs as sg
from siamkit.data.folders import ImageFolderDataset
from siamkit.data.sources import DATA_SOURCES
from siamkit.data.synthetic_glyphs import generate_glyphs, glyph_class_name, write_glyph_folder


def test_same_seed_same_images_other_seed_other_images() -> None:
    a = generate_glyphs(3, per_class=4, seed=7)
    b = generate_glyphs(3, per_class=4, seed=7)
    c = generate_glyphs(3, per_class=4, seed=8)
    assert np.array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    assert a.images.shape == (12, 28, 28) and a.images.dtype == np.uint8
    assert a.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4


def test_a_class_does_not_depend_on_how_many_are_drawn() -> None:
    many = generate_glyphs(6, per_class=3, seed=1)
    one = generate_glyphs(1, per_class=3, seed=1, first_class=4)
    assert np.array_equal(many.images[12:15], one.images)
    assert one.labels.tolist() == [4, 4, 4]


def test_every_image_has_some_ink_on_a_dark_ground_and_drawings_differ() -> None:
    g = generate_glyphs(10, per_class=5, seed=0, size=32)
    assert g.images.shape == (50, 32, 32)
    ink = (g.images > 128).mean(axis=(1, 2))
    assert (ink > 0.02).all() and (ink < 0.6).all()
    assert (g.images[:, 0, :].astype(float).mean() < 40) and g.images.max() == 255
    # no two drawings of a class are the same image
    for c in range(10):
        imgs = g.images[c * 5 : (c + 1) * 5].reshape(5, -1)
        assert len({im.tobytes() for im in imgs}) == 5


def _nearest_class_mean_accuracy(images: np.ndarray, labels: np.ndarray, n_support: int) -> float:
    """Naive reference: class means of the first ``n_support`` images, the rest classified by
    the nearest mean in pixel space (a loop, no library)."""
    x = images.reshape(len(images), -1).astype(np.float64) / 255.0
    classes = sorted(set(labels.tolist()))
    means = {c: x[labels == c][:n_support].mean(axis=0) for c in classes}
    hits = total = 0
    for c in classes:
        for q in x[labels == c][n_support:]:
            best = min(classes, key=lambda k: float(((q - means[k]) ** 2).sum()))
            hits += best == c
            total += 1
    return hits / total


def test_classes_are_distinct_but_not_trivially_so() -> None:
    g = generate_glyphs(30, per_class=10, seed=0)
    acc = _nearest_class_mean_accuracy(g.images, g.labels, n_support=5)
    assert acc > 10 / 30  # chance is 1/30
    assert acc < 0.99  # the drawings vary: pixels alone do not solve it


@pytest.mark.parametrize("bad", [{"n_classes": 0}, {"per_class": 0}, {"size": 4}])
def test_bad_counts_are_refused_by_name(bad: dict[str, int]) -> None:
    args = {"n_classes": 2, "per_class": 2, **bad}
    with pytest.raises(ValueError, match=next(iter(bad))):
        generate_glyphs(**args)


def test_folder_layout_reads_back_as_an_image_folder(tmp_path: Path) -> None:
    root = write_glyph_folder(tmp_path / "glyphs", n_classes=3, per_class=4, seed=2)
    folders = sorted(p.name for p in root.iterdir())
    assert (
        folders
        == [glyph_class_name(c) for c in range(3)]
        == ["glyph0000", "glyph0001", "glyph0002"]
    )
    for f in folders:
        assert sorted(p.name for p in (root / f).iterdir()) == ["0.png", "1.png", "2.png", "3.png"]
    ds = ImageFolderDataset(root, (1, 28, 28))
    x, y = ds.load_all()
    ref = generate_glyphs(3, per_class=4, seed=2)
    order = np.lexsort((np.arange(12) % 4, ref.labels))  # files sort by class, then name
    assert torch.equal(y, torch.from_numpy(ref.labels[order]))
    got = x.float() if x.dtype == torch.uint8 else x * 255.0
    assert torch.allclose(got[:, 0], torch.from_numpy(ref.images[order]).float(), atol=1.0)
    assert not list(tmp_path.glob(".*partial"))


def test_folder_refuses_a_folder_with_files(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=str(tmp_path)):
        write_glyph_folder(tmp_path, n_classes=2, per_class=2)
    assert (tmp_path / "x.txt").read_text() == "keep me"


def test_registered_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sg, "GLYPH_CLASSES", 4)
    src = DATA_SOURCES.build("synthetic-glyphs")
    assert src.x.shape == (80, 1, 28, 28) and src.x.dtype == torch.uint8
    assert src.y.tolist() == np.repeat(np.arange(4), 20).tolist()
    assert src.class_names == ("glyph0000", "glyph0001", "glyph0002", "glyph0003")
    assert src.test_x is None
    assert torch.equal(src.x[:20, 0], torch.from_numpy(generate_glyphs(1, 20, seed=0).images))
