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


def test_a_class_folder_whose_name_is_not_utf8_gets_a_printable_class_name(
    tmp_path: Path,
) -> None:
    """A Latin-1 class folder (bytes b'kl\\xe4sse' on Linux) gave a class name with a surrogate,
    on which evaluate --report's plots died with a matplotlib traceback; the name now keeps its
    byte as a \\xe4 escape, and a UTF-8 name stays as it is."""
    import json
    import os

    from PIL import Image

    from siamkit.data.folders import ImageFolderDataset

    for name in (b"kl\xe4sse", "Café ü".encode()):
        folder = tmp_path / os.fsdecode(name)
        folder.mkdir()
        Image.new("L", (8, 8), 128).save(folder / "a.PNG")
    data = ImageFolderDataset(tmp_path, (1, 8, 8))
    assert data.classes == ["Café ü", "kl\\xe4sse"]
    json.dumps(data.classes).encode("utf-8")
    "".join(data.classes).encode("utf-8")  # what a plot's text and a report need


def test_a_linked_folder_below_a_class_folder_is_read_and_a_link_loop_ends(
    tmp_path: Path,
) -> None:
    """Path.rglob stepped over folders that are symbolic links: the photos of
    photos/cat/2019 -> archive/cat-2019 were left out of the class without a word, while a class
    folder that is a link was read. They are now walked (as torchvision's ImageFolder walks them,
    os.walk(followlinks=True)); a link back up the tree is walked once, not until the path is too
    long."""
    import os

    from PIL import Image

    from siamkit.data.folders import ImageFolderDataset

    archive, root = tmp_path / "archive", tmp_path / "photos"
    for rel in ["cat-2019/1.png", "cat-2019/2.png", "dog/1.png", "dog/2.png"]:
        (archive / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (8, 8), 100).save(archive / rel)
    (root / "cat").mkdir(parents=True)
    Image.new("L", (8, 8), 200).save(root / "cat" / "0.png")
    os.symlink(archive / "cat-2019", root / "cat" / "2019")
    os.symlink(archive / "dog", root / "dog")  # a class folder that is a link, read before too
    os.symlink(root / "cat", root / "cat" / "up")  # a loop: cat/up/up/... is cat again
    data = ImageFolderDataset(root, (1, 8, 8))
    got = {(data.classes[label], path.relative_to(root).as_posix()) for path, label in data.samples}
    assert got == {
        ("cat", "cat/0.png"),
        ("cat", "cat/2019/1.png"),
        ("cat", "cat/2019/2.png"),
        ("dog", "dog/1.png"),
        ("dog", "dog/2.png"),
    }
    assert [p.relative_to(root).as_posix() for p in find_images(root / "cat")] == [
        "cat/0.png",
        "cat/2019/1.png",
        "cat/2019/2.png",
    ]
