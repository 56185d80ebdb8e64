"""``siamkit enroll`` keeps each item's source file, and identify/recommend show it: with one
folder per product type, "brick-tile item 3" could not be traced back to its photo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli
from siamkit.index import Gallery


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> dict[str, Path]:
    """A model and a folder of product photos, one sub-folder per product type."""
    root = tmp_path_factory.mktemp("sources")
    torch.manual_seed(0)
    encoder = siamkit.encoders.create_encoder("convnet", in_channels=1)
    pre = siamkit.models.Preprocess(mean=(0.5,), std=(0.25,), input_shape=(1, 28, 28))
    net = siamkit.SiameseNetwork(encoder, embedding_dim=8, preprocess=pre)
    siamkit.save_model(net, root / "model")
    rng = np.random.default_rng(0)
    for kind in ("brick-tile", "oak-floor"):
        (root / "photos" / kind).mkdir(parents=True)
        for j in range(2):
            pixels = rng.integers(0, 256, size=(28, 28), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "photos" / kind / f"{j}.png")
    return {"model": root / "model", "photos": root / "photos", "root": root}


def _run(args: list[object]) -> str:
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.stdout


def test_identify_and_recommend_name_the_file_each_item_came_from(shop, tmp_path):
    db = tmp_path / "shop.db"
    _run(["enroll", shop["model"], "--gallery", db, shop["photos"]])
    query = shop["photos"] / "oak-floor" / "1.png"
    doc = json.loads(_run(["identify", shop["model"], "--gallery", db, query, "--json"]))
    best = doc["queries"][0]["matches"][0]
    assert best["label"] == "oak-floor" and best["source"] == str(query)
    text = _run(["identify", shop["model"], "--gallery", db, query])
    assert f"(from {query})" in text
    with Gallery.open(db, None) as g:
        items = g.items()
        sources = g.sources(items.ids.tolist())
    assert sorted(sources.values()) == sorted(str(p) for p in shop["photos"].rglob("*.png"))
    mine = {sources[int(i)]: int(i) for i in items.ids}
    like = ["--like", f"#{mine[str(query)]}", "--k", "3"]
    doc = json.loads(_run(["recommend", shop["model"], "--gallery", db, *like, "--json"]))
    assert all(
        it["source"] == next(s for s, i in mine.items() if i == it["item_id"])
        for it in doc["items"]
    )
    text = _run(["recommend", shop["model"], "--gallery", db, *like])
    assert all(
        f"item {it['item_id']}" in text and f"(from {it['source']})" in text for it in doc["items"]
    )


def test_a_gallery_enrolled_without_sources_reads_as_before(shop, tmp_path):
    """An item enrolled from Python (or by a siamkit before sources were kept) has none:
    'source' is null and the table shows no '(from ...)'."""
    db = tmp_path / "old.db"
    net = siamkit.load_model(shop["model"])
    z = np.random.default_rng(1).normal(size=(3, 8)).astype(np.float32)
    with Gallery.open(db, net) as g:
        for i in range(3):
            g.enroll_embeddings(f"item-{i}", z[i : i + 1])
    doc = json.loads(
        _run(["recommend", shop["model"], "--gallery", db, "--like", "item-0", "--json"])
    )
    assert [it["source"] for it in doc["items"]] == [None, None]
    text = _run(["recommend", shop["model"], "--gallery", db, "--like", "item-0"])
    assert "(from" not in text
    # enrolling files into it later adds the column; the old items still have no source
    _run(["enroll", shop["model"], "--gallery", db, shop["photos"]])
    with Gallery.open(db, None) as g:
        sources = g.sources(g.items().ids.tolist())
    assert len(sources) == 4 and min(sources) > 3
