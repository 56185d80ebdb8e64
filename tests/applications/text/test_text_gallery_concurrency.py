"""Two text enrollments of the same text into one gallery at once: under one label it is stored
once (each read the label's previews before either wrote, and both stored it: two rows of one
text), under two labels each holds it once with its preview, and neither enrollment fails. Two
processes are two ``Gallery`` objects on one file (two SQLite connections); the library shares
one object between threads."""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from siamkit.applications.text.documents import Document
from siamkit.applications.text.gallery import enroll_documents, text_preview
from siamkit.index import Gallery
from siamkit.index.thumbnail_store import ThumbnailStore, thumbnails_path_for

DIM = 8


def _vector(seed: int) -> np.ndarray:
    z = np.random.default_rng(seed).normal(size=(1, DIM)).astype(np.float32)
    return z / np.linalg.norm(z)


def _at_once(jobs: Sequence[Callable[[], object]]) -> None:
    """Run ``jobs`` in threads started together; re-raise the first error."""
    start, errors = threading.Barrier(len(jobs)), []

    def run(job: Callable[[], object]) -> None:
        start.wait()
        try:
            job()
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]


def _previews(path: Path, ids: Sequence[int]) -> dict[int, bytes]:
    store = ThumbnailStore(thumbnails_path_for(path))
    try:
        return store.get(ids)
    finally:
        store.close()


@pytest.mark.parametrize("processes", [True, False], ids=["two-processes", "one-service"])
def test_the_same_text_under_one_label_at_once_is_stored_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: bool
) -> None:
    """Two processes: a Gallery and a preview file each; the service: one Gallery and one open
    preview store shared by its threads."""
    path = tmp_path / "tickets.db"
    first = Gallery.open(path, embedding_dim=DIM, distance="cosine")
    enroll_documents(first, path, [Document("T-1", "an earlier text")], _vector(0))
    # each enrollment waits (at most a second) after reading the label's previews until the
    # other has read them too: what two enrollments racing do, every time
    both_read = threading.Barrier(2, timeout=1.0)
    real_get = ThumbnailStore.get

    def get_then_wait(self: ThumbnailStore, item_ids: Sequence[int]) -> dict[int, bytes]:
        found = real_get(self, item_ids)
        with contextlib.suppress(threading.BrokenBarrierError):  # the other waits for the write
            both_read.wait()
        return found

    monkeypatch.setattr(ThumbnailStore, "get", get_then_wait)
    shared = ThumbnailStore(thumbnails_path_for(path))
    if processes:
        second = Gallery.open(path, embedding_dim=DIM, distance="cosine")
        sides: list[tuple[Gallery, Path | ThumbnailStore]] = [(first, path), (second, path)]
    else:
        sides = [(first, shared), (first, shared)]
    same = [Document("T-1", "the printer is out of toner")]
    _at_once([lambda g=g, p=p: enroll_documents(g, p, same, _vector(1)) for g, p in sides])
    monkeypatch.undo()
    shared.close()
    items = Gallery.open(path).items("T-1")
    assert len(items.ids) == 2, "the text was stored twice"
    shown = _previews(path, items.ids.tolist())
    assert sorted(shown.values()) == [text_preview("an earlier text"), text_preview(same[0].text)]
    for g in {id(g): g for g, _ in sides}.values():
        g.close()


def test_the_same_text_under_two_labels_at_once_is_stored_under_each(tmp_path: Path) -> None:
    """The rule is per label: each holds the text once, with its preview; no lost write."""
    path = tmp_path / "tickets.db"
    galleries = [Gallery.open(path, embedding_dim=DIM, distance="cosine") for _ in range(2)]
    text = "the printer is out of toner"
    _at_once(
        [
            lambda g=g, label=label: enroll_documents(g, path, [Document(label, text)], _vector(1))
            for g, label in zip(galleries, ("T-1", "T-2"))
        ]
    )
    items = Gallery.open(path).items()
    assert sorted(items.labels) == ["T-1", "T-2"]
    assert _previews(path, items.ids.tolist()) == dict.fromkeys(
        items.ids.tolist(), text_preview(text)
    )
    for g in galleries:
        g.close()


def _commit_raises(real: Any, error: BaseException) -> Any:
    """The store's connection ``real``, whose ``COMMIT`` raises ``error`` (a full disk, a kill)."""

    class CommitRaises:
        def execute(self, sql: str, *args: object) -> object:
            if sql == "COMMIT":
                raise error
            return real.execute(sql, *args)

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

    return CommitRaises()


def test_a_failed_commit_leaves_no_preview_behind(tmp_path: Path) -> None:
    """The previews are written just before the gallery commits; when the commit fails nothing
    is enrolled, and the previews written for it are removed (their ids go to the next items
    enrolled, which would otherwise show another text's preview until overwritten)."""
    import sqlite3

    path = tmp_path / "tickets.db"
    gallery = Gallery.open(path, embedding_dim=DIM, distance="cosine")
    enroll_documents(gallery, path, [Document("T-1", "an earlier text")], _vector(0))
    store = gallery._store
    real = store._conn

    store._conn = _commit_raises(real, sqlite3.OperationalError("database or disk is full"))
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        enroll_documents(gallery, path, [Document("T-2", "a new ticket text")], _vector(1))
    store._conn = real
    assert [x.label for x in gallery.labels()] == ["T-1"]
    every = ThumbnailStore(thumbnails_path_for(path))
    try:
        kept = every.first_per_label()
    finally:
        every.close()
    assert list(kept) == ["T-1"], "a preview of a never-enrolled text stayed behind"
    gallery.close()


def test_a_kill_between_the_previews_and_the_commit_shows_no_other_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The previews are committed to ``tickets.db.thumbs`` just before the gallery commits; a
    process killed between the two (kill -9: no handler removes the previews) leaves previews
    of ids the gallery never stored, and hands those ids to the next items enrolled. Those
    items must not show the dead enrollment's text, nor have a text skipped for it."""
    path = tmp_path / "tickets.db"
    gallery = Gallery.open(path, embedding_dim=DIM, distance="cosine")
    enroll_documents(gallery, path, [Document("T-1", "an earlier text")], _vector(0))
    store = gallery._store
    real = store._conn

    store._conn = _commit_raises(real, KeyboardInterrupt())  # where the process dies
    # a dead process runs no clean-up: the previews it committed stay
    monkeypatch.setattr(ThumbnailStore, "remove_items", lambda self, ids: None)
    dead = [Document("T-2", "the dead enrollment's text"), Document("T-2", "and its second")]
    with pytest.raises(KeyboardInterrupt):
        enroll_documents(gallery, path, dead, np.concatenate([_vector(1), _vector(2)]))
    store._conn = real
    gallery.close()
    monkeypatch.undo()

    again = Gallery.open(path)  # the next process
    assert [x.label for x in again.labels()] == ["T-1"]
    # through the library, without previews: the two ids the dead enrollment had
    new = again.enroll_embeddings("T-3", np.concatenate([_vector(3), _vector(4)]))
    assert _previews(path, list(new)) == {}, "new items show the killed enrollment's texts"
    done = enroll_documents(again, path, [Document("T-3", dead[1].text)], _vector(5))
    assert not done.skipped, "a text T-3 never held was skipped as already enrolled"
    items = again.items()
    assert _previews(path, items.ids.tolist()) == {
        int(items.ids[0]): text_preview("an earlier text"),
        int(items.ids[-1]): text_preview(dead[1].text),
    }
    again.close()


def test_a_kill_between_the_previews_and_the_commit_shows_no_text_in_the_service(
    tiny_hf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until the next enrollment deletes them, the previews of an enrollment killed before its
    commit sit under ids the gallery never stored: ``/gallery`` showed the dead text as the first
    text of its label when that label held items without previews of their own."""
    pytest.importorskip("fastapi")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.applications.text import load_text_model
    from siamkit.service import create_app

    model = load_text_model(str(tiny_hf))
    dim = model.embedding_dim
    path = tmp_path / "tickets.db"
    gallery = Gallery.open(path, model)
    z = np.random.default_rng(0).normal(size=(2, dim)).astype(np.float32)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    gallery.enroll_embeddings("T-1", z[:1])  # through the library: no preview
    store, real = gallery._store, gallery._store._conn
    store._conn = _commit_raises(real, KeyboardInterrupt())  # where the process dies
    monkeypatch.setattr(ThumbnailStore, "remove_items", lambda self, ids: None)  # no clean-up
    with pytest.raises(KeyboardInterrupt):
        enroll_documents(gallery, path, [Document("T-1", "the dead enrollment's text")], z[1:])
    store._conn = real
    gallery.close()
    monkeypatch.undo()
    assert list(_previews(path, [2]).values()) == [text_preview("the dead enrollment's text")]

    with TestClient(create_app(model, path)) as client:
        listed = client.get("/gallery").json()["labels"]
        assert listed == [{"label": "T-1", "count": 1, "text": None}]
        items = client.get("/gallery/images", params={"label": "T-1"}).json()
        assert (items["count"], items["items"]) == (1, [])
