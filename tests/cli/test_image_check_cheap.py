"""The readability check that ``siamkit embed`` and ``siamkit enroll`` run over every file
before any work decodes a big JPEG at libjpeg's smallest scale, not at full size (issue 17: hours
for 50,000 12-MP photos), and still refuses a truncated one by name before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit
import siamkit.image_decode as image_decode
from siamkit.cli._image_files import open_image_files
from siamkit.cli.main import cli

BIG = (1600, 1200)  # (width, height): far larger than the model's 8x8 input


def _photo(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(BIG[1] // 16, BIG[0] // 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).resize(BIG, Image.BILINEAR).save(path, quality=90)
    return path


@pytest.fixture
def photos(tmp_path: Path) -> dict[str, Any]:
    enc = siamkit.encoders.create_encoder("convnet", in_channels=3, widths=[4])
    pre = siamkit.Preprocess(input_shape=(3, 8, 8))
    model = siamkit.save_model(
        siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=pre), tmp_path / "m"
    )
    folder = tmp_path / "photos"
    folder.mkdir()
    files = [_photo(folder / f"IMG_{i}.jpg", i) for i in range(3)]
    return {"model": model, "folder": folder, "files": files, "root": tmp_path}


def test_check_decodes_no_big_jpeg_at_full_size(
    photos: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every decoded image passes through convert_image: record the sizes it sees."""
    seen: list[tuple[int, int]] = []
    real = image_decode.convert_image

    def spy(img: Image.Image, mode: str) -> Image.Image:
        seen.append(img.size)
        return real(img, mode)

    monkeypatch.setattr(image_decode, "convert_image", spy)
    files = open_image_files(photos["files"], (3, 8, 8))
    assert len(seen) == 3, seen  # each file was read once
    assert BIG not in seen, seen
    # libjpeg's smallest scale, 1/8 of each side, as Pillow's own draft gives it
    with Image.open(photos["files"][0]) as img:
        img.draft("RGB", (1, 1))
        smallest = img.size
    assert smallest == (BIG[0] // 8, BIG[1] // 8)
    assert seen == [smallest] * 3
    # the work's read is unchanged: the model's input, from the whole file
    assert tuple(files[0:2].shape) == (2, 3, 8, 8)


@pytest.mark.parametrize("cut", [2, 5000])  # only the end marker gone; a real cut
def test_truncated_big_jpeg_is_refused_before_anything_is_written(
    photos: dict[str, Any], cut: int
) -> None:
    bad = photos["files"][1]
    data = bad.read_bytes()
    bad.write_bytes(data[:-cut])
    out = photos["root"] / "z.npy"
    db = photos["root"] / "g.db"
    for args, made in (
        (["embed", photos["model"], photos["folder"], "--out", out], "z*"),
        (["enroll", photos["model"], "--gallery", db, "--label", "me", photos["folder"]], "g.db*"),
    ):
        res = CliRunner().invoke(cli, [str(a) for a in [*args, "--no-progress"]])
        assert res.exit_code == 1, res.output
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in res.output, res.output
        assert lines[0].startswith(f"Error: Image '{bad}' is corrupt or truncated: "), lines
        assert lines[0].endswith("; save it again or leave it out."), lines
        assert not list(photos["root"].glob(made)), args
