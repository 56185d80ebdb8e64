"""Folder inputs and the files they leave out: a file in a class folder whose name has no image
extension (``scan_0042``, ``notes.txt``) was left out of train, evaluate, enroll and embed
without a word (2 photos of 12 per class gone); each command now says so in one line, and still
does not read such a file as an image. A file whose name is not UTF-8 (Latin-1 bytes on Linux)
made embed fail writing its id, and identify --json print a lone surrogate."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli

_NOTE = (
    "warning: left out 2 files that are not images by their extension, e.g. {a}, {b}: give them "
    "an extension (.png, .jpg) to include them if they are images"
)


def _model(tmp_path: Path) -> Path:
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    pre = siamkit.Preprocess(input_shape=(1, 8, 8))
    net = siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=pre)
    return Path(siamkit.save_model(net, tmp_path / "m"))


def _photos(root: Path, labels: tuple[str, ...] = ("bag", "coat"), seed: int = 0) -> Path:
    """root/<label>/{0,1,2}.png, and in the first label's folder two real PNGs named without
    an image extension (``scan_3``, ``scan_4.txt``): the ones left out."""
    rng = np.random.default_rng(seed)
    for label in labels:
        (root / label).mkdir(parents=True)
        for i in range(3):
            pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    for name in ("scan_3", "scan_4.txt"):
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / labels[0] / name, format="PNG")
    return root


def _run(args: list, code: int = 0):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    return res


def test_each_command_names_the_files_it_leaves_out_in_one_line(tmp_path: Path) -> None:
    model = _model(tmp_path)
    photos = _photos(tmp_path / "photos")
    note = _NOTE.format(a=photos / "bag" / "scan_3", b=photos / "bag" / "scan_4.txt")
    res = _run(["embed", model, photos, "--out", tmp_path / "z.npy"])
    assert res.stderr.splitlines() == [note]
    assert np.load(tmp_path / "z.npy").shape == (6, 4)  # the two are not read as images
    res = _run(["enroll", model, "--gallery", tmp_path / "g.db", photos])
    assert res.stderr.splitlines() == [note] and "enrolled 6 images of 2 labels" in res.stdout
    res = _run(["enroll", model, "--gallery", tmp_path / "h.db", "--label", "x", photos])
    assert res.stderr.splitlines() == [note] and "enrolled 6 images of 1 label" in res.stdout
    args = ["--episodes", "2", "--shots", "1", "--queries", "1"]
    res = _run(["evaluate", model, "--data", photos, *args, "--json"])
    assert res.stderr.splitlines() == [note]
    one = _photos(tmp_path / "one", ("bag",))  # refused at once: no training is started
    tiny = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
    sets = ["data.dataset=image-folder", f"data.root={one}", "data.image_size=8",
            "data.grayscale=true", "data.train_classes=null"]  # fmt: skip
    res = _run(["train", tiny, "--out", tmp_path / "run", *[a for s in sets for a in ("--set", s)]],
               code=1)  # fmt: skip
    assert res.stderr.splitlines()[0] == _NOTE.format(
        a=one / "bag" / "scan_3", b=one / "bag" / "scan_4.txt"
    )


def test_a_folder_of_images_only_says_nothing_and_one_file_is_named_singly(tmp_path):
    model = _model(tmp_path)
    photos = _photos(tmp_path / "photos")
    (photos / "bag" / "scan_4.txt").unlink()
    (photos / "bag" / "scan_3").rename(photos / "bag" / "scan_3.png")
    res = _run(["embed", model, photos, "--out", tmp_path / "z.npy"])
    assert res.stderr == ""
    (photos / "coat" / "README").write_text("notes")
    res = _run(["embed", model, photos, "--out", tmp_path / "z.npy", "--force"])
    assert res.stderr.splitlines() == [
        f"warning: left out 1 file that is not an image by its extension, {photos / 'coat' / 'README'}:"
        " give it an extension (.png, .jpg) to include it if it is an image"
    ]


def _latin1_photo(folder: Path) -> str:
    """A PNG whose name is the bytes b'bild \\xe9.png' (Latin-1), as Python names it."""
    name = os.fsdecode(b"bild \xe9.png")
    Image.fromarray(np.full((8, 8), 7, np.uint8)).save(folder / name, format="PNG")
    return str(folder / name)


@pytest.mark.parametrize("out", ["z.npy", "z.parquet"])
def test_embed_writes_a_name_that_is_not_utf8_with_the_gallery_s_escape(tmp_path, out):
    """It failed with "'utf-8' codec can't encode character '\\udce9'" writing z.ids.txt."""
    if out.endswith(".parquet"):
        pytest.importorskip("pyarrow")
    model = _model(tmp_path)
    photos = _photos(tmp_path / "photos")
    (photos / "bag" / "scan_3").unlink()
    (photos / "bag" / "scan_4.txt").unlink()
    latin = _latin1_photo(photos / "bag")
    _run(["embed", model, latin, photos, "--out", tmp_path / out])
    escaped = f"{photos / 'bag'}/bild \\xe9.png"
    if out.endswith(".npy"):
        ids = (tmp_path / "z.ids.txt").read_bytes().decode("utf-8").splitlines()
        assert np.load(tmp_path / out).shape == (7, 4)
    else:
        import pyarrow.parquet as pq

        ids = pq.read_table(tmp_path / out).column("id").to_pylist()
    assert ids[0] == escaped and ids.count(escaped) == 1 and len(ids) == 7


def _strict_json(text: str) -> dict:
    """``text`` as JSON, refusing what strict parsers refuse: a lone surrogate, escaped or not
    (Python's json.loads takes both)."""
    assert "\\udc" not in text
    text.encode("utf-8")  # no raw lone surrogate either
    return json.loads(text)


def test_identify_verify_and_enroll_json_write_a_name_that_is_not_utf8_with_the_escape(tmp_path):
    """identify --json printed a query's name with a lone surrogate ("\\udce9"), which strict
    JSON parsers refuse; so did verify --json and enroll --json's list of skipped files."""
    model = _model(tmp_path)
    photos = _photos(tmp_path / "photos")
    latin = _latin1_photo(photos / "coat")
    escaped = f"{photos / 'coat'}/bild \\xe9.png"
    _run(["enroll", model, "--gallery", tmp_path / "g.db", photos])
    res = _run(["enroll", model, "--gallery", tmp_path / "g.db", photos, "--json"])
    assert escaped in _strict_json(res.stdout)["skipped"]["coat"]
    res = _run(["identify", model, "--gallery", tmp_path / "g.db", latin, "--json"])
    assert _strict_json(res.stdout)["queries"][0]["image"] == escaped
    res = _run(["verify", model, latin, latin, "--json"])
    doc = _strict_json(res.stdout)
    assert doc["image"] == doc["other"] == escaped
