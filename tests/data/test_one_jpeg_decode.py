"""One big phone JPEG, stored sideways with an EXIF orientation, comes out as the same tensor
whichever way siamkit reads it to a model's input: the command line's reader (``siamkit embed``,
``enroll``, ``identify``), :func:`~siamkit.data.image_io.load_images` (training, ``evaluate
--data``) and the service's uploads, all shrinking it as it decodes with
:func:`~siamkit.image_decode.draft_jpeg`. A photo enrolled with the command line and identified
through the service is then compared on the same pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from siamkit.cli._image_files import read_image_files, read_sized
from siamkit.cli._image_pairs import ImagePairs, read_pair_images
from siamkit.data.image_io import load_images
from siamkit.service.errors import RequestError
from siamkit.service.limits import ServiceLimits
from siamkit.service.uploads import Upload, decode_images


@pytest.fixture(scope="module")
def turned_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1200x1600 photo stored sideways (1600x1200) with EXIF orientation 6, as a phone held
    upright saves it: big enough that every reader shrinks it as it decodes."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:1600, 0:1200]
    upright = np.stack([(xx // 7) % 256, (yy // 5) % 256, (xx + yy) // 11 % 256], -1)
    upright = np.clip(upright + rng.integers(-20, 21, upright.shape), 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path_factory.mktemp("photos") / "IMG_0001.jpg"
    Image.fromarray(np.rot90(upright, k=1).copy()).save(path, quality=90, exif=exif)
    return path


@pytest.mark.parametrize("shape", [(3, 32, 160), (1, 32, 160)], ids=["rgb", "grey"])
def test_the_cli_training_and_the_service_read_the_same_pixels(
    turned_jpeg: Path, shape: tuple[int, int, int]
) -> None:
    """A wide input of an upright photo stored sideways: the service drafted it for the stored
    sides (to 1/4 scale, too small once turned); every reader now keeps the larger side's margin
    (1/2 scale), and the command line no longer decodes it at full size."""
    upload = Upload("'IMG_0001.jpg'", turned_jpeg.read_bytes(), "IMG_0001.jpg")
    cli = read_sized(turned_jpeg, shape)
    cli_list = read_image_files([turned_jpeg], shape)[0]
    training = load_images([turned_jpeg], shape)[0]
    service = decode_images([upload], shape, ServiceLimits())[0]
    assert cli.shape == shape
    assert torch.equal(cli, training)
    assert torch.equal(cli_list, training)
    assert torch.equal(service, training)


@pytest.mark.parametrize("shape", [(3, 32, 160), (1, 32, 160)], ids=["rgb", "grey"])
def test_evaluate_pairs_reads_the_pixels_identify_reads(
    turned_jpeg: Path, shape: tuple[int, int, int]
) -> None:
    """``siamkit evaluate``/``calibrate --pairs`` decoded a big JPEG at full size before resizing
    it, so the distances it calibrated were not those of the images ``identify`` compares; it
    now reads each file as the command line's reader does."""
    one = np.array([0])
    pairs = ImagePairs(turned_jpeg.parent / "pairs.csv", [turned_jpeg], one, one, np.array([1]), {})
    assert torch.equal(read_pair_images(pairs, shape)[0], read_sized(turned_jpeg, shape))


def test_the_service_checks_an_uploads_size_before_decoding_it(
    turned_jpeg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service's limits are read from the header first: an upload over them is refused
    (413) before it is drafted or any of its pixels decoded."""
    import siamkit.service.uploads as uploads

    touched: list[str] = []
    real_load, real_draft = ImageFile.ImageFile.load, uploads.draft_jpeg

    def load(self: ImageFile.ImageFile) -> object:
        touched.append("load")
        return real_load(self)

    def draft(img: Image.Image, size: tuple[int, int]) -> bool:
        touched.append("draft")
        return real_draft(img, size)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    monkeypatch.setattr(uploads, "draft_jpeg", draft)
    upload = Upload("'IMG_0001.jpg'", turned_jpeg.read_bytes(), "IMG_0001.jpg")
    with pytest.raises(RequestError) as err:
        decode_images([upload], (3, 64, 64), ServiceLimits(max_pixels=1000 * 1000))
    assert err.value.status_code == 413 and "too many pixels" in err.value.detail
    assert touched == []
    decode_images([upload], (3, 64, 64), ServiceLimits())  # within them: drafted, then loaded
    assert touched[:2] == ["draft", "load"]
