"""Class-folder layouts the links-refusal tests share (tests/data and tests/cli): a data set
whose every class sub-folder is a link the class walk leaves out, and the one black image a
class folder is given to hold something."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image


def black_png(path: Path) -> Path:
    """An 8x8 black grey PNG at ``path`` (its folder must exist)."""
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(path)
    return path


def links_only(tmp_path: Path) -> Path:
    """ds/all -> . and ds/up -> ..: sub-folders, both links to the data set's folder or above
    (``up`` reads tmp_path, where elsewhere/cat holds one image)."""
    (tmp_path / "elsewhere" / "cat").mkdir(parents=True)
    black_png(tmp_path / "elsewhere" / "cat" / "0.png")
    ds = tmp_path / "ds"
    ds.mkdir()
    os.symlink(".", ds / "all")
    os.symlink("..", ds / "up")
    return ds
