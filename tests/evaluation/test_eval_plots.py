"""Figures: they render, show the data they claim to, and never touch pyplot's global state."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import siamkit.evaluation.plots.embeddings as embeddings_module
from siamkit.distances import get_distance
from siamkit.evaluation import verification_from_embeddings
from siamkit.evaluation.plots import (
    as_display_images,
    figure_to_png,
    pick_queries,
    plot_det,
    plot_distance_histograms,
    plot_embedding_map,
    plot_neighbor_grid,
    plot_roc,
    plot_training_curves,
    project_2d,
)


@pytest.fixture(scope="module")
def small(digits):
    z, y = digits
    return z[:300], y[:300]


@pytest.fixture(scope="module")
def ver(small):
    return verification_from_embeddings(*small)


def _png(fig) -> bytes:
    data = figure_to_png(fig, dpi=60)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    return data


def test_roc_draws_the_report_curve(ver):
    fig = plot_roc(ver)
    ax = fig.axes[0]
    line = ax.lines[0]
    np.testing.assert_allclose(line.get_xdata(), ver.curve.far)
    np.testing.assert_allclose(line.get_ydata(), ver.curve.tar)
    assert f"{ver.roc_auc:.4f}" in ax.get_legend().get_texts()[0].get_text()
    _png(fig)
    assert plot_roc(ver, log_far=True).axes[0].get_xscale() == "log"


def test_det_is_monotone_on_normal_deviate_axes(ver):
    fig = plot_det(ver)
    x, y = fig.axes[0].lines[0].get_xdata(), fig.axes[0].lines[0].get_ydata()
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(y))
    assert np.all(np.diff(x) >= 0) and np.all(np.diff(y) <= 0)  # FAR up, FRR down
    _png(fig)


def test_histogram_marks_the_threshold(ver):
    fig = plot_distance_histograms(ver, threshold=0.5, threshold_label="calibrated")
    ax = fig.axes[0]
    assert any(np.allclose(line.get_xdata(), 0.5) for line in ax.lines)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(f"{ver.n_genuine:,}" in t for t in texts) and any("calibrated" in t for t in texts)
    _png(fig)


def test_pca_projection_matches_sklearn(small):
    from sklearn.decomposition import PCA

    z, _ = small
    ours = project_2d(z)
    ref = PCA(2).fit_transform(z.double().numpy())
    for c in range(2):  # components are defined up to sign
        assert abs(np.corrcoef(ours[:, c], ref[:, c])[0, 1]) > 0.999


@pytest.mark.parametrize("shape", [(300, 500), (500, 300), (200, 40)])
def test_pca_of_a_wide_embedding_takes_two_axes_not_the_full_svd(monkeypatch, make_clusters, shape):
    """Above FULL_SVD_MAX items and dimensions the map's PCA takes the two leading axes alone
    (ARPACK), which gave the full SVD's projection up to each axis's sign; the full SVD of a
    4,000 x 4,544 embedding (the SSL taps') took 34 CPU-s. Either way the point farthest along
    an axis lies on its positive side."""
    n, d = shape
    z, _ = make_clusters(n_classes=6, per_class=n // 6, dim=d, spread=3.0)
    c = z.double() - z.double().mean(dim=0)
    full = (c @ torch.linalg.svd(c, full_matrices=False)[2][:2].T).numpy()
    calls = []
    svd = torch.linalg.svd
    monkeypatch.setattr(torch.linalg, "svd", lambda *a, **k: calls.append(1) or svd(*a, **k))
    xy = project_2d(z)
    assert len(calls) == (min(z.shape) <= embeddings_module.FULL_SVD_MAX)
    for k in range(2):
        far = np.abs(xy[:, k]).argmax()
        assert xy[far, k] > 0
        np.testing.assert_allclose(xy[:, k], full[:, k] * np.sign(full[far, k]), atol=1e-9)


def test_embedding_map_legend_uses_class_names(small):
    z, y = small
    names = [f"digit-{i}" for i in range(10)]
    fig = plot_embedding_map(z, y, class_names=names, max_points=200)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == names
    assert sum(len(c.get_offsets()) for c in ax.collections) == 200
    _png(fig)


@pytest.mark.slow
def test_embedding_map_tsne_on_a_few_points(make_clusters):
    z, y = make_clusters(n_classes=3, per_class=20, dim=5)
    fig = plot_embedding_map(z, y, method="tsne")
    assert "t-SNE" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="projection"):
        project_2d(z, method="umap")  # type: ignore[arg-type]


def test_neighbor_grid_borders_follow_a_naive_ranking(small):
    z, y = small
    images = torch.rand(len(y), 1, 8, 8)
    queries = [0, 5, 17]
    fig = plot_neighbor_grid(z, y, images, "cosine", queries=queries, k=4)
    axes = np.array(fig.axes).reshape(3, 5)
    d = get_distance("cosine").matrix(z, z).numpy()
    for r, q in enumerate(queries):
        order = [i for i in np.argsort(d[q], kind="stable") if i != q][:4]
        for c, item in enumerate(order, start=1):
            color = axes[r, c].spines["top"].get_edgecolor()
            expect_green = y[item] == y[q]
            assert (color[1] > color[0]) == expect_green  # green vs red border
            assert f"d={d[q, item]:.3f}" in axes[r, c].get_xlabel()
    _png(fig)


def test_display_images_accept_common_layouts():
    assert as_display_images(np.zeros((2, 1, 5, 6), np.uint8)).shape == (2, 5, 6)
    assert as_display_images(torch.ones(2, 3, 5, 6)).shape == (2, 5, 6, 3)
    rgb = as_display_images(np.full((2, 5, 6, 3), 255, np.uint8))
    assert rgb.shape == (2, 5, 6, 3) and rgb.max() == 1.0
    with pytest.raises(ValueError, match="channels"):
        as_display_images(np.zeros((2, 4, 5, 6)))


def test_queries_cover_classes_first():
    codes = torch.tensor([0, 0, 1, 1, 2, 3, 3])  # class 2 has a single item: skipped
    q = pick_queries(codes, 3, seed=1)
    assert sorted(codes[q].tolist()) == [0, 1, 3]
    assert len(pick_queries(codes, 10)) == 6


def test_training_curves_one_panel_per_quantity():
    hist = [
        {"epoch": e, "loss": 1 / e, "val_loss": 1.2 / e, "val": {"map_at_r": 0.1 * e}, "lr": 0.1}
        for e in (1, 2, 3)
    ]
    panels = [ax for ax in plot_training_curves(hist).axes if ax.lines]
    assert [ax.get_title() for ax in panels] == ["training loss", "validation loss", "val map at r"]
    np.testing.assert_allclose(panels[2].lines[0].get_ydata(), [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="empty"):
        plot_training_curves([])


def test_plotting_keeps_the_global_backend(ver):
    import matplotlib

    before = matplotlib.rcParams["backend"]
    _png(plot_det(ver))
    assert matplotlib.rcParams["backend"] == before


@pytest.mark.slow  # a fresh interpreter importing torch takes seconds on a busy machine
def test_import_and_plotting_leave_pyplot_alone():
    code = (
        "import sys, siamkit, siamkit.evaluation, siamkit.evaluation.plots as p\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported at import time'\n"
        "from siamkit.evaluation import verification_report\n"
        "p.figure_to_png(p.plot_roc(verification_report([0.1, 0.2], [0.3, 0.05])))\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
