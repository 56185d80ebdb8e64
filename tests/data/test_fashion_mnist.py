"""Fashion-MNIST loading: the real Debian files, search order, checksums and download."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

import siamkit.data.fashion_mnist as fm
from siamkit.data.download import ChecksumError, DownloadError, download_file
from siamkit.data.idx import write_idx

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
needs_debian = pytest.mark.skipif(
    not (DEBIAN / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist is not installed",
)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.setattr(fm, "_CACHE", {})
    monkeypatch.delenv("SIAMKIT_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@needs_debian
def test_real_counts_and_dtypes():
    x, y = fm.load_fashion_mnist("train")
    xt, yt = fm.load_fashion_mnist("test")
    assert x.shape == (60000, 28, 28) and x.dtype == torch.uint8
    assert xt.shape == (10000, 28, 28) and yt.dtype == torch.int64
    assert torch.bincount(y).tolist() == [6000] * 10
    assert torch.bincount(yt).tolist() == [1000] * 10
    assert fm.FASHION_MNIST_CLASSES[int(y[0])] == "Ankle boot"  # the well-known first image
    assert int(x.max()) == 255 and int(x.min()) == 0


@needs_debian
@pytest.mark.parametrize("name", [i.name for p in fm.FASHION_MNIST_FILES.values() for i in p])
def test_debian_files_match_official_content_md5(name):
    info = fm._file_info(Path(name))
    raw = gzip.decompress((DEBIAN / f"{name}.gz").read_bytes())
    assert hashlib.md5(raw).hexdigest() == info.md5
    fm.verify_fashion_mnist_file(DEBIAN / f"{name}.gz")


@needs_debian
def test_cache_returns_independent_copies():
    x1, _ = fm.load_fashion_mnist("test")
    x1.zero_()
    x2, _ = fm.load_fashion_mnist("test")
    assert int(x2.max()) == 255


def _fake_test_split(folder: Path, value: int = 7) -> tuple[bytes, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    images = np.full((10000, 28, 28), value, dtype=np.uint8)
    labels = (np.arange(10000) % 10).astype(np.uint8)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images)
    write_idx(folder / "t10k-labels-idx1-ubyte", labels)  # an uncompressed file is fine too
    return images.tobytes(), labels.tobytes()


def test_root_is_searched_first_and_checksum_enforced(tmp_path):
    _fake_test_split(tmp_path / "mine" / "fashion-mnist")
    x, y = fm.load_fashion_mnist("test", root=tmp_path / "mine", verify=False)
    assert int(x[0, 0, 0]) == 7 and y[:3].tolist() == [0, 1, 2]
    with pytest.raises(ChecksumError, match="not hold the official Fashion-MNIST"):
        fm.load_fashion_mnist("test", root=tmp_path / "mine")


def test_env_var_before_cache_dir(tmp_path, monkeypatch):
    _fake_test_split(tmp_path / "home" / ".cache" / "siamkit" / "fashion-mnist", value=1)
    _fake_test_split(tmp_path / "env", value=2)
    assert int(fm.load_fashion_mnist("test", verify=False)[0][0, 0, 0]) == 1
    monkeypatch.setattr(fm, "_CACHE", {})
    monkeypatch.setenv("SIAMKIT_DATA", str(tmp_path / "env"))
    assert int(fm.load_fashion_mnist("test", verify=False)[0][0, 0, 0]) == 2


def test_not_found_message(tmp_path, monkeypatch):
    monkeypatch.setattr(fm, "_DEBIAN_DIR", tmp_path / "no-debian")
    with pytest.raises(FileNotFoundError) as info:
        fm.load_fashion_mnist("train", root=tmp_path / "empty")
    message = str(info.value)
    for hint in ("apt-get install dataset-fashion-mnist", "--data-dir", "download=True", "empty"):
        assert hint in message


def test_a_folder_of_images_as_root_is_refused(tmp_path, monkeypatch):
    """data.root set to a folder of photos with data.dataset still fashion-mnist (simclr.yaml's
    default) trained on the system's Fashion-MNIST without a word: the root held none of its
    files, so the next place searched was read and the photos never were."""
    from PIL import Image

    from siamkit.data.sources import DATA_SOURCES

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (8, 8)).save(photos / "a.png")
    with pytest.raises(ValueError) as info:
        DATA_SOURCES.build("fashion-mnist", root=str(photos))
    assert str(info.value) == (
        f"data.root {str(photos)!r} is a folder of images, not of the Fashion-MNIST files that "
        "data.dataset = fashion-mnist reads: to train on these images set data.dataset: "
        "image-folder (--set data.dataset=image-folder)"
    )
    # a root that holds the files (beside images) or holds no images is searched as before
    _fake_test_split(photos / "fashion-mnist")
    assert fm.holds_fashion_mnist_files(photos)
    assert not fm.holds_fashion_mnist_files(tmp_path / "empty")
    monkeypatch.setattr(fm, "_DEBIAN_DIR", tmp_path / "no-debian")
    with pytest.raises(FileNotFoundError, match="was not found"):
        DATA_SOURCES.build("fashion-mnist", root=str(tmp_path / "empty"))


def test_bad_split():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        fm.load_fashion_mnist("validation")


def test_wrong_shape_is_reported(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((10, 28, 28), dtype=np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.zeros(10, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"Fashion-MNIST test has uint8 \(10000, 28, 28\)"):
        fm.load_fashion_mnist("test", root=folder, verify=False)


def test_download_from_mirror_with_checksums(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    raw_images, raw_labels = _fake_test_split(mirror)
    (mirror / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress((mirror / "t10k-labels-idx1-ubyte").read_bytes())
    )
    files = dict(fm.FASHION_MNIST_FILES)
    files["test"] = tuple(
        fm.FashionMnistFile(
            name,
            hashlib.md5((mirror / f"{name}.gz").read_bytes()).hexdigest(),
            hashlib.md5(gzip.decompress((mirror / f"{name}.gz").read_bytes())).hexdigest(),
            10000,
        )
        for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    )
    monkeypatch.setattr(fm, "FASHION_MNIST_FILES", files)
    monkeypatch.setattr(fm, "_DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(fm, "FASHION_MNIST_URLS", ("file:///nonexistent/", mirror.as_uri() + "/"))
    x, y = fm.load_fashion_mnist("test", root=tmp_path / "dl", download=True)
    assert x.numpy().tobytes() == raw_images
    assert y.numpy().astype(np.uint8).tobytes() == raw_labels
    assert (tmp_path / "dl" / "t10k-images-idx3-ubyte.gz").is_file()


def test_download_file_rejects_bad_checksum_atomically(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"payload")
    dest = tmp_path / "out" / "file.bin"
    with pytest.raises(DownloadError, match="does not match"):
        download_file([src.as_uri()], dest, md5="0" * 32)
    assert not dest.exists() and list(dest.parent.iterdir()) == []
    good = hashlib.md5(b"payload").hexdigest()
    assert download_file(["file:///missing.bin", src.as_uri()], dest, md5=good) == dest
    assert dest.read_bytes() == b"payload"


def test_download_keeps_a_decompressed_file_already_in_root(tmp_path, monkeypatch):
    # root held the images decompressed and not the labels: download=True fetched the labels,
    # then looked for the images as t10k-images-idx3-ubyte.gz and said that file "does not exist"
    mirror, root = tmp_path / "mirror", tmp_path / "dl"
    raw_images, raw_labels = _fake_test_split(mirror)
    root.mkdir()
    (root / "t10k-images-idx3-ubyte").write_bytes(
        gzip.decompress((mirror / "t10k-images-idx3-ubyte.gz").read_bytes())
    )
    labels_gz = gzip.compress((mirror / "t10k-labels-idx1-ubyte").read_bytes())
    (mirror / "t10k-labels-idx1-ubyte.gz").write_bytes(labels_gz)
    images_info, labels_info = fm.FASHION_MNIST_FILES["test"]
    labels_info = fm.FashionMnistFile(
        labels_info.name, hashlib.md5(labels_gz).hexdigest(), labels_info.md5, 10000
    )
    monkeypatch.setattr(fm, "FASHION_MNIST_FILES", {"test": (images_info, labels_info)})
    monkeypatch.setattr(fm, "_DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(fm, "FASHION_MNIST_URLS", (mirror.as_uri() + "/",))
    x, y = fm.load_fashion_mnist("test", root=root, download=True, verify=False)
    assert x.numpy().tobytes() == raw_images
    assert y.numpy().astype(np.uint8).tobytes() == raw_labels
    assert not (root / "t10k-images-idx3-ubyte.gz").exists()  # not fetched again
