"""find_images against a hand-made tree: hidden files and folders below the root are skipped."""

from __future__ import annotations

from pathlib import Path

from siamkit.data.folders import find_images


def test_find_images_skips_hidden_entries_below_the_root_only(tmp_path: Path) -> None:
    root = tmp_path / ".cache" / "photos"  # a hidden folder above the root does not count
    for rel in ["a/1.png", "a/._1.png", ".ipynb_checkpoints/2.png", "b/c/3.JPG", "b/notes.txt"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    got = [p.relative_to(root).as_posix() for p in find_images(root)]
    assert got == ["a/1.png", "b/c/3.JPG"]
