"""siamkit evaluate / calibrate on a class folder holding files that cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli


@pytest.mark.parametrize("command", ["evaluate", "calibrate"])
def test_every_unreadable_image_of_the_folder_is_named_as_a_file_of_it(
    tmp_path: Path, command: str
) -> None:
    """A labelled folder with a truncated JPEG and a file only named .jpg was refused with 'Item
    41 of 62: ...', an index into a list the user never gave (and into a chunk of 256 of it for
    a larger folder), naming the first bad file alone: a user removed it and ran again to meet
    the next."""
    enc = siamkit.encoders.create_encoder("convnet", in_channels=3, widths=[4])
    pre = siamkit.Preprocess(input_shape=(3, 8, 8))
    model = siamkit.save_model(
        siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=pre), tmp_path / "m"
    )
    data = tmp_path / "labeled"
    for c, colour in (("boot", (200, 30, 30)), ("hat", (30, 30, 200))):
        (data / c).mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (8, 8), tuple(v + 4 * i for v in colour)).save(data / c / f"{i}.png")
    Image.new("RGB", (40, 40), (9, 9, 9)).save(tmp_path / "whole.jpg")
    cut, fake = data / "boot" / "cut.jpg", data / "hat" / "fake.jpg"
    cut.write_bytes((tmp_path / "whole.jpg").read_bytes()[:200])
    fake.write_bytes(b"not a jpeg")
    args = [command, str(model), "--data", str(data)]
    res = CliRunner().invoke(cli, [*args, *(["--no-progress"] if command == "evaluate" else [])])
    assert res.exit_code == 1, res.output
    last = res.output.strip().splitlines()[-1]
    assert last == (
        f"Error: --data {data} holds 2 unreadable images, {cut} (corrupt or truncated) and "
        f"{fake} (not an image): remove or fix them"
    ), last
    assert "Item " not in res.output
