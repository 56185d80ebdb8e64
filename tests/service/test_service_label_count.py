"""/enroll and ``DELETE /gallery/items/{id}`` answer the label's item count; the engine read it
from ``Gallery.labels()``, which counts every label of the gallery: 2.7 s an enrollment at
200,000 labels (0.2 s for the enrollment itself), on the one compute thread that every request
waits for. It is now read by the label (``Gallery.label_count``); the counts are those of the
gallery's items, read directly."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _service_helpers import pattern, png_bytes

from siamkit.index import Gallery
from siamkit.service.engine import ServiceEngine


def _files(*kinds: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (f"{k}.png", png_bytes(pattern(k)), "image/png")) for k in kinds]


def _counted(tmp_path: Path, model: Any) -> dict[str, int]:
    """The label counts of the service's gallery file, read from its items."""
    with Gallery.open(tmp_path / "gallery0.db", model) as gallery:
        labels = gallery.items().labels
    return {label: labels.count(label) for label in set(labels)}


def test_enroll_and_remove_count_the_label_alone(
    client: Any, tmp_path: Path, model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = client.post("/enroll", data={"label": "bob"}, files=_files("checker"))
    assert r.status_code == 201, r.text

    def every_label(self: Gallery) -> None:
        raise AssertionError("the whole gallery was counted for one label's count")

    monkeypatch.setattr(Gallery, "labels", every_label)
    r = client.post("/enroll", data={"label": "alice"}, files=_files("stripes", "disc"))
    assert r.status_code == 201, r.text
    assert r.json()["count"] == _counted(tmp_path, model)["alice"] == 2
    r = client.post("/enroll", data={"label": "alice"}, files=_files("noise"))
    assert r.json()["count"] == _counted(tmp_path, model)["alice"] == 3
    r = client.delete(f"/gallery/items/{r.json()['item_ids'][0]}")
    assert r.status_code == 200, r.text
    assert r.json()["label_count"] == _counted(tmp_path, model)["alice"] == 2
    assert client.delete("/gallery/items/1").json() == {"item_id": 1, "label": "bob", "label_count": 0}  # fmt: skip
    assert "bob" not in _counted(tmp_path, model)


def test_an_item_of_a_label_an_older_siamkit_enrolled_is_removed_and_counted(
    tmp_path: Path, model: Any
) -> None:
    """A label with a tab (enrolled before labels were checked for it) is still counted: the
    count reads any stored label, as the removal before it took any."""
    path = tmp_path / "old.db"
    with Gallery.open(path, model) as gallery:
        ids = gallery.enroll_embeddings("tmp", np.arange(32, dtype=np.float32).reshape(2, 16))
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE items SET label = 'old\tlabel'")
    conn.close()
    engine = ServiceEngine(model, path)
    try:
        assert engine.call_sync(engine.remove_item, ids[0]) == ("old\tlabel", 1)
    finally:
        engine.close()
