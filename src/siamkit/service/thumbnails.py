"""Small PNG thumbnails of enrolled images, so the web page can show what a match looks like.

The gallery stores embeddings, not images. At enrollment the service also keeps a 64-pixel PNG of
each image in a side file next to the gallery (``staff.db`` -> ``staff.db.thumbs``), keyed by the
gallery's item id (ids are never reused, so a stale thumbnail can never show the wrong item).
A missing thumbnail (an item enrolled from the command line) is simply not shown.
"""

from __future__ import annotations

import base64
import io
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

THUMBNAIL_SIZE = 64
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS thumbnails ("
    " item_id INTEGER PRIMARY KEY, label TEXT NOT NULL, png BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS thumbnails_label ON thumbnails(label)",
)


def make_thumbnail(data: bytes, size: int = THUMBNAIL_SIZE) -> bytes:
    """PNG bytes of an encoded image shrunk to fit ``size × size`` (never enlarged).

    Example:
        >>> buf = io.BytesIO(); Image.new("L", (200, 100)).save(buf, "PNG")
        >>> Image.open(io.BytesIO(make_thumbnail(buf.getvalue()))).size
        (64, 32)
    """
    with Image.open(io.BytesIO(data)) as img:
        img.draft(img.mode, (size, size))  # JPEG: decode at reduced scale
        mode = "L" if img.mode in ("1", "L", "I", "I;16", "F", "LA") else "RGB"
        small = img.convert(mode)
    small.thumbnail((size, size))
    out = io.BytesIO()
    small.save(out, "PNG", optimize=True)
    return out.getvalue()


def data_url(png: bytes) -> str:
    """``data:image/png;base64,...`` for an ``<img src>``."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def thumbnails_path_for(gallery_path: str | Path) -> str:
    """Where the thumbnails of a gallery live: beside it, or in memory for ``":memory:"``."""
    text = str(gallery_path)
    return ":memory:" if text == ":memory:" else text + ".thumbs"


class ThumbnailStore:
    """``item_id -> PNG`` in one SQLite file; every statement parameterised, one lock.

    Example:
        >>> store = ThumbnailStore(":memory:")
        >>> store.put("alice", [7], [b"png"])
        >>> store.get([7, 8])
        {7: b'png'}
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA:
                self._conn.execute(statement)
        except sqlite3.DatabaseError as err:
            self._conn.close()
            raise ValueError(f"{self.path} is not a siamkit thumbnail file ({err})") from None

    def put(self, label: str, item_ids: Sequence[int], pngs: Sequence[bytes]) -> None:
        """Store one thumbnail per item id, in one transaction."""
        if len(item_ids) != len(pngs):
            raise ValueError(f"got {len(item_ids)} item ids but {len(pngs)} thumbnails")
        rows = [(int(i), label, sqlite3.Binary(p)) for i, p in zip(item_ids, pngs)]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT OR REPLACE INTO thumbnails(item_id, label, png) VALUES (?, ?, ?)", rows
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def get(self, item_ids: Sequence[int]) -> dict[int, bytes]:
        """``{item_id: png}`` for those ids that have a thumbnail."""
        ids = [int(i) for i in item_ids][:1000]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))  # only '?' placeholders go into the SQL text
        with self._lock:
            rows = self._conn.execute(
                f"SELECT item_id, png FROM thumbnails WHERE item_id IN ({marks})", ids
            ).fetchall()
        return {int(r[0]): bytes(r[1]) for r in rows}

    def first_per_label(self) -> dict[str, bytes]:
        """``{label: png}`` of the earliest thumbnail of every label."""
        sql = (
            "SELECT label, png FROM thumbnails WHERE item_id IN"
            " (SELECT MIN(item_id) FROM thumbnails GROUP BY label)"
        )
        with self._lock:
            rows = self._conn.execute(sql).fetchall()
        return {str(r[0]): bytes(r[1]) for r in rows}

    def remove_label(self, label: str) -> None:
        """Forget the thumbnails of ``label``."""
        with self._lock:
            self._conn.execute("DELETE FROM thumbnails WHERE label = ?", (label,))

    def close(self) -> None:
        with self._lock:
            self._conn.close()
