"""data.cache: an image folder's decoded images kept, so that a --resume does not read 50,000
photos again; used only while every file is the one it was made from, and never when torn."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from siamkit.data import folder_cache, image_io
from siamkit.data.folder_cache import cache_folder, image_cache
from siamkit.data.folders import find_images
from siamkit.data.image_io import load_images

SHAPE = (3, 16, 16)
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _photo(path: Path, seed: int, size: tuple[int, int] = (40, 30)) -> None:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=90)


def _folder(root: Path, n: int = 6) -> list[Path]:
    for c in ("a", "b"):
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n // 2):
            _photo(root / c / f"{i}.jpg" if i % 2 else root / c / f"{i}.png", 10 * ord(c) + i)
    return find_images(root)


def _read(paths: list[Path]) -> torch.Tensor:
    return load_images(paths, SHAPE, folder="data.root", dtype=torch.uint8)


def _cached(paths: list[Path], cache: Path, lines: list[str]) -> torch.Tensor:
    with image_cache(cache, lines.append):
        return _read(paths)


class Reads:
    """Counts the files decoded (``read_image_resized`` calls)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.n, real = 0, image_io.read_image_resized

        def counted(*args: object, **kwargs: object) -> torch.Tensor:
            self.n += 1
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(image_io, "read_image_resized", counted)


def test_the_second_read_comes_from_the_cache_and_equals_a_fresh_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every --resume decoded the whole folder again (40 min for 50,000 photos)."""
    paths = _folder(tmp_path / "photos")
    fresh = _read(paths)  # no cache: what the files give
    reads, lines = Reads(monkeypatch), []
    first = _cached(paths, tmp_path / "cache", lines)
    assert reads.n == len(paths) and torch.equal(first, fresh)
    assert "wrote 6 images of data.root to the cache" in lines[-1]
    second = _cached(paths, tmp_path / "cache", lines)
    assert reads.n == len(paths)  # not one file decoded again
    assert second.dtype == torch.uint8 and torch.equal(second, fresh)
    assert lines[-1].startswith("read 6 images of data.root from the cache ")
    assert " in " in lines[-1] and lines[-1].endswith(" s")


def _changed(root: Path, how: str) -> str:
    if how == "changed":  # same name, other pixels, another size or time
        _photo(root / "a" / "1.jpg", 999, (41, 30))
    elif how == "touched":  # same bytes, a newer modification time (an edit that was undone)
        st = (root / "b" / "0.png").stat()
        os.utime(root / "b" / "0.png", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        return "1 file given another modification time since the cache was made"
    elif how == "added":
        _photo(root / "b" / "new.png", 7)
    else:
        (root / "a" / "2.png").unlink()
    return f"1 file {how} since the cache was made"


@pytest.mark.parametrize("how", ["changed", "touched", "added", "removed"])
def test_a_changed_added_or_removed_file_is_read_again_and_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """A cache is only the folder it was made from: a photo replaced, added or deleted since
    must not train as the old pixels, nor be dropped without a word."""
    root, cache = tmp_path / "photos", tmp_path / "cache"
    lines: list[str] = []
    _cached(_folder(root), cache, lines)
    said = _changed(root, how)
    paths = find_images(root)
    reads = Reads(monkeypatch)
    again = _cached(paths, cache, lines)
    assert reads.n == len(paths)  # every file read again
    assert lines[-2] == (f"not using the image cache of data.root: {said}; reading the files again")
    assert torch.equal(again, _read(paths))
    reads.n = 0
    assert torch.equal(_cached(paths, cache, lines), again) and reads.n == 0  # then kept


def test_another_shape_has_its_own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths, cache = _folder(tmp_path / "photos"), tmp_path / "cache"
    _cached(paths, cache, [])
    reads = Reads(monkeypatch)
    with image_cache(cache):
        grey = load_images(paths, (1, 8, 8), folder="data.root", dtype=torch.uint8)
    assert reads.n == len(paths)
    assert torch.equal(grey, load_images(paths, (1, 8, 8), dtype=torch.uint8))


def _npy(cache: Path) -> Path:
    (npy,) = cache.glob("*.npy")
    return npy


@pytest.mark.parametrize("tear", ["truncated", "other array", "bad fingerprint", "odd fingerprint"])
def test_a_torn_cache_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tear: str
) -> None:
    """A cache cut short (a full disk, a copy that stopped), or an array newer than its
    fingerprint (a run killed between the two writes), would train on wrong pixels."""
    paths, cache = _folder(tmp_path / "photos"), tmp_path / "cache"
    fresh = _cached(paths, cache, [])
    npy = _npy(cache)
    if tear == "truncated":
        npy.write_bytes(npy.read_bytes()[:-100])
    elif tear == "other array":  # same shape, other pixels: a later write's array, old fingerprint
        np.save(npy, 255 - fresh.numpy())
    elif tear == "bad fingerprint":
        npy.with_suffix(".json").write_text('{"fingerprint": {"shape": [3, 16', encoding="utf-8")
    else:  # JSON, but not laid out as a fingerprint (edited by hand, another version's)
        meta = npy.with_suffix(".json")
        record = json.loads(meta.read_text(encoding="utf-8"))
        meta.write_text(
            json.dumps({**record, "fingerprint": {**record["fingerprint"], "files": 3}})
        )
    reads, lines = Reads(monkeypatch), []
    again = _cached(paths, cache, lines)
    assert reads.n == len(paths) and torch.equal(again, fresh)
    assert lines[0].startswith("not using the image cache of data.root: its ")


def test_a_write_killed_midway_leaves_nothing_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed (Ctrl-C) while writing a changed folder's cache: the next read must not take
    the old fingerprint for the half-written array, nor a half-written array for a cache."""
    root, cache = tmp_path / "photos", tmp_path / "cache"
    _cached(_folder(root), cache, [])
    _changed(root, "added")
    paths = find_images(root)

    def killed(file: object, array: np.ndarray, **kwargs: object) -> None:
        file.write(b"\x93NUMPY partial")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(folder_cache.np, "save", killed)
        with pytest.raises(KeyboardInterrupt):
            _cached(paths, cache, [])
    assert not list(cache.glob("*.json"))  # no fingerprint to trust
    assert not list(cache.glob(".*tmp*"))  # nor the half-written array
    fresh = _read(paths)
    reads, lines = Reads(monkeypatch), []
    assert torch.equal(_cached(paths, cache, lines), fresh)
    assert reads.n == len(paths) and lines[0].startswith("wrote 7 images")


def test_only_a_folder_s_uint8_files_are_cached(tmp_path: Path) -> None:
    """A list the user gave (no folder setting) or float images are not a folder held for
    training: nothing is written for them."""
    paths, cache = _folder(tmp_path / "photos"), tmp_path / "cache"
    with image_cache(cache):
        load_images(paths, SHAPE, dtype=torch.uint8)
        load_images(paths, SHAPE, folder="data.root")
    assert not cache.exists()


def test_the_option_s_folder() -> None:
    assert cache_folder(True, "runs/a") == Path("runs/a/image-cache")
    assert cache_folder("shared/c", "runs/a") == Path("shared/c")
    assert cache_folder(False, "runs/a") is None
    with pytest.raises(ValueError, match=r"^data.cache is an empty path: give true"):
        cache_folder(" ", "runs/a")


@pytest.mark.parametrize(
    ("quoted", "word"),
    [("false", "false"), ("True", "true"), ("no", "false"), ("Off", "false"), ("yes", "true"),
     ("on", "true")],
)  # fmt: skip
def test_a_quoted_true_or_false_is_refused_not_made_a_folder(quoted: str, word: str) -> None:
    """``data.cache: "false"`` (quoted in YAML, or --set data.cache='"false"') cached the
    images in a folder named false, and "no", "off", "yes", "on" (YAML 1.1's booleans
    unquoted) each in a folder of that name."""
    with pytest.raises(ValueError) as refused:
        cache_folder(quoted, "runs/a")
    assert str(refused.value) == (
        f'data.cache is the quoted text "{quoted}", which would name a folder {quoted}: write '
        f"{word} without quotes (data.cache: {word}), or give a folder path"
    )


def test_a_cache_of_another_folder_is_named_and_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache folder named by data.cache is shared by runs: one on another folder of photos
    must not take its images, and is told whose they are."""
    cache, lines = tmp_path / "cache", []
    _cached(_folder(tmp_path / "old"), cache, lines)
    new = tmp_path / "new"
    new.mkdir()
    for i in range(3):
        _photo(new / f"x{i}.png", 500 + i)
    paths = find_images(new)
    reads = Reads(monkeypatch)
    _cached(paths, cache, lines)
    assert reads.n == 3
    assert lines[-2] == (
        f"not using the image cache of data.root: it holds the 6 images of {tmp_path / 'old'}; "
        "reading the files again"
    )


ARCHIVED = 1_600_000_000 * 10**9  # one timestamp for every file (tar and zip keep whole seconds)


def _flat(path: Path, value: int) -> None:
    """A BMP of one grey ``value``: every such file has the same size, whatever its pixels."""
    Image.fromarray(np.full((20, 20), value, np.uint8)).save(path)
    os.utime(path, ns=(ARCHIVED, ARCHIVED))


def _flat_folder(root: Path, values: dict[str, int]) -> list[Path]:
    for c, value in values.items():
        (root / c).mkdir(parents=True)
        for i in range(3):
            _flat(root / c / f"{i}.bmp", value)
    return find_images(root)


def test_class_folders_swapped_by_renaming_are_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Swapping two class folders' names keeps every path, size and time the fingerprint held:
    the cache gave each class the other's pixels."""
    root, cache = tmp_path / "faces", tmp_path / "cache"
    paths = _flat_folder(root, {"s1": 0, "s2": 255})
    _cached(paths, cache, [])
    os.rename(root / "s1", root / "tmp")
    os.rename(root / "s2", root / "s1")
    os.rename(root / "tmp", root / "s2")
    assert find_images(root) == paths  # the same names, sizes and times
    reads, lines = Reads(monkeypatch), []
    again = _cached(paths, cache, lines)
    assert reads.n == len(paths) and again[:3].eq(255).all() and again[3:].eq(0).all()
    assert lines[0] == (
        "not using the image cache of data.root: 6 files changed since the cache was made; "
        "reading the files again"
    )


def test_a_file_edited_with_its_time_set_back_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``touch -r``, ``cp -p``, ``rsync -a`` or an archive set an edited file's modification
    time back; of the same size, it was taken for the file the cache was made from."""
    root, cache = tmp_path / "photos", tmp_path / "cache"
    paths = _flat_folder(root, {"a": 10, "b": 20})
    _cached(paths, cache, [])
    before = paths[0].stat()
    Image.fromarray(np.full((20, 20), 77, np.uint8)).save(paths[0])
    os.utime(paths[0], ns=(before.st_atime_ns, before.st_mtime_ns))
    after = paths[0].stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    reads, lines = Reads(monkeypatch), []
    again = _cached(paths, cache, lines)
    assert reads.n == len(paths) and torch.equal(again, _read(paths))
    assert again[0].eq(77).all()
    assert lines[0].startswith("not using the image cache of data.root: 1 file changed since ")


def test_two_folders_of_the_same_names_sizes_and_times_do_not_share_a_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two releases of a data set unzipped side by side, one data.cache folder: the second run
    trained on the first folder's pixels."""
    cache = tmp_path / "cache"
    v1 = _flat_folder(tmp_path / "v1", {"a": 10, "b": 20})
    v2 = _flat_folder(tmp_path / "v2", {"a": 200, "b": 210})
    _cached(v1, cache, [])
    reads, lines = Reads(monkeypatch), []
    second = _cached(v2, cache, lines)
    assert reads.n == len(v2) and torch.equal(second, _read(v2))
    assert second[:3].eq(200).all() and second[3:].eq(210).all()
    assert lines[0] == (
        f"not using the image cache of data.root: it holds the 6 images of {tmp_path / 'v1'}; "
        "reading the files again"
    )


def test_a_cache_of_another_folder_with_some_of_the_same_names_says_whose_it_is(
    tmp_path: Path,
) -> None:
    """Two cameras' folders both hold IMG_0000.png ...: the cache of one was said as "N files
    changed" for the other, which looks like an edit of the folder, not another folder."""
    cache, lines = tmp_path / "cache", []
    _cached(_folder(tmp_path / "cam1"), cache, lines)
    _cached(_folder(tmp_path / "cam2"), cache, lines)
    assert lines[1] == (
        f"not using the image cache of data.root: it holds the 6 images of {tmp_path / 'cam1'}; "
        "reading the files again"
    )


def test_paths_in_a_numpy_array_are_cached(tmp_path: Path) -> None:
    """``if items`` of a NumPy array of paths raised "the truth value of an array ... is
    ambiguous" once a cache was active."""
    paths = _folder(tmp_path / "photos")
    names = np.array([str(p) for p in paths])
    with image_cache(tmp_path / "cache"):
        images = load_images(names, SHAPE, folder="data.root", dtype=torch.uint8)
    assert torch.equal(images, _read(paths)) and len(list((tmp_path / "cache").glob("*.npy"))) == 1


def test_a_file_gone_since_the_folder_was_listed_is_named_as_unreadable(tmp_path: Path) -> None:
    """The fingerprint's stat of a file deleted after the listing was a bare FileNotFoundError
    traceback, not the read's sentence naming the folder's unreadable images."""
    paths = _folder(tmp_path / "photos")
    paths[1].unlink()
    with pytest.raises(image_io.ImageReadError, match=r"^data.root holds an unreadable image "):
        _cached(paths, tmp_path / "cache", [])


def test_a_cache_that_cannot_be_written_is_said_and_the_images_still_read(tmp_path: Path) -> None:
    """A full disk or a cache path below a file must not stop the run that asked for a cache."""
    paths = _folder(tmp_path / "photos")
    (tmp_path / "taken").write_text("a file", encoding="utf-8")
    lines: list[str] = []
    images = _cached(paths, tmp_path / "taken" / "cache", lines)
    assert torch.equal(images, _read(paths))
    assert lines[0].startswith(
        f"could not write the image cache of data.root in {tmp_path / 'taken' / 'cache'} ("
    )


def test_a_hard_link_snapshot_keeps_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``cp -al photos snapshot`` changes every file's status-change time (its link count),
    nothing else: the fingerprint's ctime threw the cache away, saying "6 files changed"."""
    root, cache = tmp_path / "photos", tmp_path / "cache"
    paths = _folder(root)
    _cached(paths, cache, [])
    before = [p.stat().st_ctime_ns for p in paths]
    time.sleep(0.05)  # past the file system's clock tick
    for p in paths:
        (tmp_path / "snapshot" / p.parent.name).mkdir(parents=True, exist_ok=True)
        os.link(p, tmp_path / "snapshot" / p.parent.name / p.name)
    assert [p.stat().st_ctime_ns for p in paths] != before  # what the snapshot changed
    reads, lines = Reads(monkeypatch), []
    again = _cached(paths, cache, lines)
    assert reads.n == 0 and torch.equal(again, _read(paths))
    assert lines[0].startswith("read 6 images of data.root from the cache ")


def test_a_fingerprint_of_another_layout_is_said_so_not_as_changed_files(
    tmp_path: Path,
) -> None:
    """A cache an earlier siamkit made lists each file's inode and ctime: all its files were
    then said to have changed."""
    root, cache = tmp_path / "photos", tmp_path / "cache"
    paths = _folder(root)
    _cached(paths, cache, [])
    (meta,) = cache.glob("*.json")
    record = json.loads(meta.read_text(encoding="utf-8"))
    del record["fingerprint"]["file_fields"]
    record["fingerprint"]["files"] = [
        [f[0], f[1], 1, f[2], 2] for f in record["fingerprint"]["files"]
    ]
    meta.write_text(json.dumps(record), encoding="utf-8")
    lines: list[str] = []
    _cached(paths, cache, lines)
    assert lines[0] == (
        "not using the image cache of data.root: it was made by another siamkit version, whose "
        "fingerprint records other details; reading the files again"
    )
