"""``siamkit embed MODEL photos/**`` (zsh, or bash with globstar) names the folder, its
sub-folders and every file in them: each image was embedded once for each, three rows with one
id, so 20,000 photos gave 60,000 rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli


def test_a_file_named_again_through_its_folder_is_embedded_once(tmp_path: Path) -> None:
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    pre = siamkit.Preprocess(input_shape=(1, 8, 8))
    model = siamkit.save_model(
        siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=pre), tmp_path / "m"
    )
    photos = tmp_path / "photos"
    rng = np.random.default_rng(0)
    files = []
    for label in ("bag", "coat"):
        (photos / label).mkdir(parents=True)
        for i in range(2):
            files.append(photos / label / f"{i}.png")
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(files[-1])
    globstar = [photos, photos / "bag", *files[:2], photos / "coat", *files[2:]]
    out = tmp_path / "z.npy"
    res = CliRunner().invoke(cli, ["embed", str(model), *map(str, globstar), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert np.load(out).shape == (4, 4)
    assert (tmp_path / "z.ids.txt").read_text().splitlines() == [str(p) for p in files]


def test_a_symlinked_file_in_another_label_folder_is_a_row_of_its_own(tmp_path: Path) -> None:
    # ds/b/1.png -> ../a/1.png: the same pixels under two labels, as a data set may lay them
    # out; repeats were found by where links lead (Path.resolve), so embed wrote one row of two
    from siamkit.cli._image_files import collect_images

    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4])
    pre = siamkit.Preprocess(input_shape=(1, 8, 8))
    model = siamkit.save_model(
        siamkit.SiameseNetwork(enc, embedding_dim=4, preprocess=pre), tmp_path / "m"
    )
    ds = tmp_path / "ds"
    (ds / "a").mkdir(parents=True)
    (ds / "b").mkdir()
    pixels = np.random.default_rng(0).integers(0, 256, (8, 8), dtype=np.uint8)
    Image.fromarray(pixels).save(ds / "a" / "1.png")
    (ds / "b" / "1.png").symlink_to(Path("..") / "a" / "1.png")
    files = [ds / "a" / "1.png", ds / "b" / "1.png"]
    assert collect_images([str(ds)], once=True) == (files, ["a", "b"])
    # a path named again, through a folder and by itself (./ and ../ included), is still one row
    again = [str(ds), str(ds / "b" / "1.png"), str(ds / "a" / "." / ".." / "a" / "1.png")]
    assert collect_images(again, once=True) == (files, ["a", "b"])
    out = tmp_path / "z.parquet"
    res = CliRunner().invoke(cli, ["embed", str(model), str(ds), "--out", str(out)])
    assert res.exit_code == 0, res.output
    import pyarrow.parquet as pq

    table = pq.read_table(out).to_pydict()
    assert table["id"] == [str(p) for p in files]
    assert table["label"] == ["a", "b"]
    assert table["embedding"][0] == table["embedding"][1]  # the same pixels
