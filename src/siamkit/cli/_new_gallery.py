"""A first enrollment stopped before it stored anything leaves no gallery file behind."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def new_gallery_removed_if_unused(gallery_path: str) -> Iterator[None]:
    """Around an enrollment that may create ``gallery_path``: stopped (Ctrl-C, SIGTERM, an
    error such as an unreadable image) before any item was stored, it removes the gallery file
    it created, with the thumbnail side file and the folders made for them
    (:func:`~siamkit.index.store_files.remove_if_unused`); a 0-byte file that was there
    (``touch staff.db``) is cut back to 0 bytes. Left there, the empty gallery
    recorded the model, so the next enroll with another model was refused, and `siamkit
    gallery PATH ...` read it as a gallery. A gallery that was there before is never removed:
    each label's enrollment is one transaction, so a stopped one keeps the labels already
    stored, whole, and nothing of the rest."""
    from siamkit.atomic import missing_folders, remove_empty_folders
    from siamkit.index.store_files import remove_if_unused
    from siamkit.index.thumbnail_store import thumbnails_path_for

    gallery = Path(gallery_path)
    thumbs = Path(thumbnails_path_for(gallery_path))
    # a 0-byte file (`touch shop.db`) is a new gallery too: SQLite makes one of it, and the
    # stopped enrollment's record of its model is cut away again, the file kept, 0 bytes
    touched = gallery.is_file() and not gallery.is_symlink() and gallery.stat().st_size == 0
    new = gallery_path != ":memory:" and (touched or not os.path.lexists(gallery))
    new_thumbs = not os.path.lexists(thumbs)
    made = missing_folders(gallery.absolute().parent)
    try:
        yield
    except BaseException:
        if new and remove_if_unused(gallery, "items", emptied=touched):
            if new_thumbs:
                remove_if_unused(thumbs, "thumbnails")
            remove_empty_folders(made)  # only while empty: another process may write there
        raise
