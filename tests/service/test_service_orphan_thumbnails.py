"""A thumbnail left behind by a removed item (its label removed between the enrollment's commit
and the thumbnail's write) is never shown again: not as the label's first thumbnail in
``/gallery`` nor among its ``/gallery/images`` once the label is enrolled again."""

from __future__ import annotations

import base64
import contextlib
import sqlite3
from typing import Any

import pytest
from _service_helpers import pattern, png_bytes

import siamkit
from siamkit.index.thumbnail_store import ThumbnailStore
from siamkit.service.thumbnails import make_thumbnail


def _files(*kinds: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (f"{k}.png", png_bytes(pattern(k)), "image/png")) for k in kinds]


def _removed_before_its_thumbnails(monkeypatch: Any, remove: Any) -> None:
    """The first ``put_enrolled`` (just after the enrollment's commit) runs ``remove`` first,
    as a removal landing between the commit and the thumbnails' write."""
    real = ThumbnailStore.put_enrolled
    calls = []

    def put_enrolled(self: ThumbnailStore, *args: Any) -> None:
        if not calls:
            calls.append(1)
            remove()
        real(self, *args)

    monkeypatch.setattr(ThumbnailStore, "put_enrolled", put_enrolled)


def _shown(client: Any) -> tuple[list[int], bytes | None]:
    """A's image ids on /gallery/images and its first thumbnail on /gallery (PNG bytes)."""
    r = client.get("/gallery/images", params={"label": "A"})
    assert r.status_code == 200, r.text
    ids = [i["item_id"] for i in r.json()["images"]]
    r = client.get("/gallery")
    assert r.status_code == 200, r.text
    first = next(x["thumbnail"] for x in r.json()["labels"] if x["label"] == "A")
    return ids, None if first is None else base64.b64decode(first.split(",", 1)[1])


def test_a_thumbnail_of_a_label_removed_by_another_process_is_not_shown(
    client_factory: Any, model: Any, monkeypatch: Any
) -> None:
    """The removal by another Gallery on the file (``siamkit gallery remove``, a script)."""
    client = client_factory()
    path = client.app.state.engine.gallery._store.path

    def remove() -> None:
        with siamkit.index.Gallery.open(path, model) as other:
            assert other.remove("A") == 1

    _removed_before_its_thumbnails(monkeypatch, remove)
    assert client.post("/enroll", data={"label": "A"}, files=_files("stripes")).status_code == 201
    r = client.post("/enroll", data={"label": "A"}, files=_files("checker"))
    assert r.status_code == 201, r.text
    assert r.json()["item_ids"] == [2]
    ids, first = _shown(client)
    assert ids == [2]  # not the removed item 1's stripes
    assert first == make_thumbnail(png_bytes(pattern("checker")))


def test_a_thumbnail_of_items_deleted_by_hand_is_not_shown(client_factory: Any) -> None:
    """Items deleted by hand (or by an older siamkit's removal, which left their thumbnails):
    no enrollment deletes their thumbnails, as their ids are never handed out again; the label
    enrolled again showed the deleted stripes first."""
    client = client_factory()
    path = client.app.state.engine.gallery._store.path
    assert client.post("/enroll", data={"label": "A"}, files=_files("stripes")).status_code == 201
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("DELETE FROM items WHERE label = 'A'")
    r = client.post("/enroll", data={"label": "A"}, files=_files("checker"))
    assert r.status_code == 201, r.text
    ids, first = _shown(client)
    assert ids == [2]
    assert first == make_thumbnail(png_bytes(pattern("checker")))


@pytest.mark.parametrize("gallery", ["file", ":memory:"])
def test_a_thumbnail_of_a_label_removed_through_the_service_is_not_shown(
    client_factory: Any, model: Any, monkeypatch: Any, gallery: str
) -> None:
    """The removal by the service itself (DELETE /gallery, another request), also in a
    gallery in memory, where nothing but the service can remove an item."""
    if gallery == "file":
        client = client_factory()
    else:
        from fastapi.testclient import TestClient

        from siamkit.service import create_app

        client = TestClient(create_app(model, ":memory:", api_key=None))
        client.__enter__()
    engine = client.app.state.engine
    _removed_before_its_thumbnails(monkeypatch, lambda: engine.remove("A"))
    try:
        r = client.post("/enroll", data={"label": "A"}, files=_files("stripes"))
        assert r.status_code == 201, r.text
        r = client.post("/enroll", data={"label": "A"}, files=_files("checker"))
        assert r.status_code == 201, r.text
        ids, first = _shown(client)
        assert ids == [2]
        assert first == make_thumbnail(png_bytes(pattern("checker")))
        assert engine.thumbnails.get([1]) == {}  # the writer did not keep it either
    finally:
        if gallery != "file":
            client.__exit__(None, None, None)


def test_a_removed_item_of_a_gallery_in_memory_is_not_shown(model: Any) -> None:
    """DELETE /gallery/items/{id} on a gallery in memory: the gallery deletes an item's
    thumbnail beside its file only, so the service's own store kept it, shown on /gallery/images
    and as the label's first thumbnail while the label had other items."""
    from fastapi.testclient import TestClient

    from siamkit.service import create_app

    with TestClient(create_app(model, ":memory:", api_key=None)) as client:
        r = client.post("/enroll", data={"label": "A"}, files=_files("stripes", "checker"))
        assert r.status_code == 201, r.text
        assert r.json()["item_ids"] == [1, 2]
        assert client.delete("/gallery/items/1").status_code == 200
        ids, first = _shown(client)
        assert ids == [2]
        assert first == make_thumbnail(png_bytes(pattern("checker")))
