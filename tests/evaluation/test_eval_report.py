"""write_report: one self-contained HTML file, written atomically."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import siamkit.evaluation.plots as plots
from siamkit.evaluation import evaluate_embeddings, write_report
from siamkit.evaluation.report import atomic_write_text, config_text


@pytest.fixture(scope="module")
def inputs(digits):
    z, y = digits
    z, y = z[:240], y[:240]
    images = z.reshape(-1, 1, 8, 8)  # the digits themselves, in [0, 1]
    rep = evaluate_embeddings(z, y, few_shot=((4, 1),), episodes=50)
    return rep, z, y, images


@pytest.fixture(scope="module")
def page(inputs, tmp_path_factory):
    rep, z, y, images = inputs
    path = tmp_path_factory.mktemp("report") / "report.html"
    history = [{"epoch": e, "loss": 1.0 / e, "val_map_at_r": 0.2 * e} for e in (1, 2, 3)]
    config = {"model": {"encoder": "mlp", "embedding_dim": 64}, "note": "<b>not bold</b>"}
    out = write_report(
        path, rep, z, y, images=images, class_names=[str(i) for i in range(10)],
        history=history, config=config, title="Digits & friends", k=3, n_queries=3,
    )  # fmt: skip
    assert out == path
    return path.read_text(encoding="utf-8")


def test_sections_and_embedded_images(page):
    for sec in ("metrics", "verification", "per-class", "failures", "embedding-map", "neighbours",
                "training", "config"):  # fmt: skip
        assert f"<section id='{sec}'>" in page
    pngs = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    # ROC + DET, histograms, confusion matrices, impostor and genuine pairs, map, neighbours, training
    assert len(pngs) == 8
    for data in pngs:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"


def test_self_contained_and_escaped(page):
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)
    assert "<script" not in page and "<link" not in page
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page and "<b>not bold" not in page
    assert "<title>Digits &amp; friends</title>" in page
    assert page.rstrip().endswith("</html>")


def test_metrics_table_shows_the_report_values(inputs, page):
    rep = inputs[0]
    assert f"{rep.verification.roc_auc:.4f}" in page
    assert (
        f"{rep.few_shot['4way1shot'].accuracy:.4f} ± {rep.few_shot['4way1shot'].ci95:.4f}" in page
    )
    assert f"{rep.retrieval.map_at_r:.4f}" in page
    assert "encoder: mlp" in page  # the config as YAML


def test_optional_sections_are_left_out(inputs, tmp_path):
    rep, z, y, _ = inputs
    path = write_report(tmp_path, rep, z, y)  # a folder: report.html inside
    text = Path(path).read_text()
    assert path.name == "report.html"
    assert "id='neighbours'" not in text and "id='training'" not in text
    assert "id='embedding-map'" in text


def test_an_error_leaves_no_half_written_file(inputs, tmp_path, monkeypatch):
    rep, z, y, images = inputs
    target = tmp_path / "report.html"
    target.write_text("old report")

    def boom(*args, **kwargs):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(plots, "plot_neighbor_grid", boom)
    with pytest.raises(RuntimeError, match="plotting failed"):
        write_report(target, rep, z, y, images=images, analysis=False)
    assert target.read_text() == "old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_the_report_gets_the_usual_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "r.html", "x")
        (tmp_path / "sibling.txt").write_text("y")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == (tmp_path / "sibling.txt").stat().st_mode & 0o777 == 0o644


def test_atomic_write_cleans_up_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "sub" / "r.html"

    def bad_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", bad_fsync)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "x" * 10_000)
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_config_text_handles_dataclasses_and_odd_values():
    from dataclasses import dataclass

    @dataclass
    class Cfg:
        lr: float = 1e-3
        name: str = "run"

    assert "lr: 0.001" in config_text(Cfg())
    assert config_text("already: text") == "already: text"
    assert "tensor" in config_text({"t": torch.zeros(1)})  # not YAML-safe: JSON with str()
    assert np.isfinite(float(config_text({"x": 1.5}).split(":")[1]))


def test_learned_distance_needs_the_object_for_the_neighbour_grid(make_clusters, tmp_path):
    from siamkit.distances import MahalanobisDistance

    z, y = make_clusters(n_classes=4, per_class=10, dim=4)
    z = z.float()
    metric = MahalanobisDistance(4)
    rep = evaluate_embeddings(z, y, metric, few_shot=(), verification=False)
    images = torch.rand(len(y), 1, 6, 6)
    with pytest.raises(ValueError, match="distance="):
        write_report(tmp_path / "r.html", rep, z, y, images=images)
    assert not (tmp_path / "r.html").exists()
    path = write_report(tmp_path / "r.html", rep, z, y, images=images, distance=metric, k=2)
    assert "id='neighbours'" in path.read_text()


def test_check_report_path_before_the_evaluation(tmp_path: Path) -> None:
    """Where a report goes is checked before any work: a folder means folder/report.html, an
    existing .html is replaced, a path below a file or over a file that is not a page is not."""
    from siamkit.evaluation.report import check_report_path

    assert check_report_path(tmp_path) == tmp_path / "report.html"
    (tmp_path / "old.HTML").write_text("<html></html>")
    assert check_report_path(tmp_path / "old.HTML") == tmp_path / "old.HTML"
    assert check_report_path(tmp_path / "new" / "r.html") == tmp_path / "new" / "r.html"
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match=r"notes.txt is a file, not a folder; give a path"):
        check_report_path(tmp_path / "notes.txt" / "sub" / "r.html")
    with pytest.raises(ValueError, match=r"^--out .*notes.txt is an existing file that is not"):
        check_report_path(tmp_path / "notes.txt", "--out")
    (tmp_path / "report.html").mkdir()
    with pytest.raises(ValueError, match=r"report.html is a folder; give a .html file name"):
        check_report_path(tmp_path)


def test_check_report_path_refuses_a_name_that_is_not_html(tmp_path: Path) -> None:
    """``--report r.pdf`` wrote the HTML page to r.pdf and the next run refused to replace it
    as "not an HTML page": a name without .html/.htm is refused up front, and nothing is made."""
    from siamkit.evaluation.report import check_report_path

    assert check_report_path(tmp_path / "r.htm") == tmp_path / "r.htm"
    for name in ("r.pdf", "report", "new/r.PDF"):
        with pytest.raises(ValueError, match=r"does not end in .html.* give a .html file name"):
            check_report_path(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_a_few_shot_row_of_one_query_and_one_episode_is_singular(inputs):
    """A class of 2 images gives 1-shot episodes 1 query a class: the table said '1 queries/class'."""
    import dataclasses

    from siamkit.evaluation.report import metrics_tables

    rep = inputs[0]
    one = dataclasses.replace(rep.few_shot["4way1shot"], n_query=1, episodes=1)
    html = metrics_tables(dataclasses.replace(rep, few_shot={"4way1shot": one}))
    assert "4-way 1-shot (1 episode, 1 query/class)" in html
    n = rep.few_shot["4way1shot"].n_query
    assert f"4-way 1-shot (50 episodes, {n} queries/class)" in metrics_tables(rep)
