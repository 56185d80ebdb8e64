"""The data sources of data.dataset and the data.root they read, or do not."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.data.sources import DATA_SOURCES

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize(
    ("dataset", "what"),
    [("digits", "scikit-learn's digits, built in"),
     ("synthetic-glyphs", "generated, not read from files")],
)  # fmt: skip
def test_a_root_the_data_set_does_not_read_is_refused(dataset: str, what: str) -> None:
    """data.root with digits or synthetic-glyphs was ignored without a word: the run trained on
    the built-in images, not on the folder meant."""
    with pytest.raises(ValueError) as info:
        DATA_SOURCES.build(dataset, root="photos")
    assert str(info.value) == (
        f"data.root 'photos' is not read by data.dataset = {dataset} ({what}): leave data.root "
        "out, or set data.dataset: image-folder to train on the images in 'photos'"
    )
    assert DATA_SOURCES.build("digits").x.shape[0] == 1797  # no root: read as before


@pytest.mark.parametrize("task", ["supervised", "ssl"])
def test_train_refuses_the_root_before_anything_is_written(tmp_path: Path, task: str) -> None:
    if task == "ssl":
        doc = {"task": "ssl", "method": "simclr", "data": {"dataset": "digits", "root": "photos"}}
        config = tmp_path / "ssl.yaml"
        config.write_text(yaml.safe_dump(doc))
        sets = []
    else:
        config, sets = CONFIGS / "digits-tiny.yaml", ["--set", "data.root=photos"]
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["train", str(config), "--out", str(out), "--no-progress", *sets])
    assert res.exit_code == 1, res.output
    last = res.output.strip().splitlines()[-1]
    assert last.startswith("Error: data.root 'photos' is not read by data.dataset = digits"), last
    assert "Traceback" not in res.output and not out.exists()


def test_an_unreadable_image_in_data_root_is_said_of_the_folder(tmp_path: Path) -> None:
    """It said "Item 6 of 6: '.../x.jpg' is not a readable image": a list the user never gave.
    The folder's file is named as data.root's; a list of the user's own keeps its item wording
    (tests/data/test_image_io.py)."""
    from PIL import Image

    root = tmp_path / "photos"
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (8, 8), (40 * i, 90, 20)).save(root / c / f"{i}.png")
    bad = root / "b" / "x.jpg"
    bad.write_bytes(b"not an image")
    out = tmp_path / "o"
    sets = ["--set", "data.dataset=image-folder", "--set", f"data.root={root}"]
    res = CliRunner().invoke(
        cli,
        ["train", str(CONFIGS / "digits-tiny.yaml"), "--out", str(out), "--no-progress", *sets],
    )
    assert res.exit_code == 1, res.output
    last = res.output.strip().splitlines()[-1]
    assert last == f"Error: data.root holds an unreadable image {bad}: remove or fix it", last
    assert "Traceback" not in res.output and not out.exists()


def test_an_unreadable_image_in_an_ssl_folder_is_said_of_the_folder(tmp_path: Path) -> None:
    """task: ssl reads data.root's loose images itself (applications/ssl/data.folder_images): it
    said "Item 4 of 4: ..." as the supervised folder did before."""
    from PIL import Image

    from siamkit.applications.ssl.data import folder_images
    from siamkit.data.image_io import ImageReadError

    root = tmp_path / "photos"
    root.mkdir()
    for i in range(3):
        Image.new("RGB", (8, 8), (40 * i, 90, 20)).save(root / f"{i}.png")
    bad = root / "x.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageReadError) as err:
        folder_images(str(root), 8, grayscale=True)
    assert str(err.value) == f"data.root holds an unreadable image {bad}: remove or fix it"


@pytest.mark.parametrize(
    ("data", "said"),
    [({"dataset": "digits", "image_size": 64},
      "data.image_size = 64 is not honoured by data.dataset = digits (8×8 images, not resized)"),
     ({"dataset": "digits", "grayscale": False},
      "data.grayscale = false is not honoured by data.dataset = digits (one-channel 8×8"),
     ({"dataset": "synthetic-glyphs", "grayscale": False},
      "data.grayscale = false is not honoured by data.dataset = synthetic-glyphs (drawings in "),
     ({"dataset": "synthetic-glyphs", "image_size": 6},
      "data.image_size = 6 is too small for data.dataset = synthetic-glyphs, drawn at 8 pixels"),
     ({"dataset": "fashion-mnist", "image_size": 64},
      "data.image_size = 64 is not honoured by data.dataset = fashion-mnist (28×28 images, not"),
     ({"dataset": "fashion-mnist", "grayscale": False},
      "data.grayscale = false is not honoured by data.dataset = fashion-mnist (one-channel")],
)  # fmt: skip
def test_a_shape_the_data_set_cannot_give_is_refused(data: dict[str, object], said: str) -> None:
    """data.image_size and data.grayscale were ignored without a word by digits,
    synthetic-glyphs and fashion-mnist: the run trained on their one-channel images at their
    own size, not on what was set."""
    from siamkit.training import config_from_dict, load_run_data

    cfg = config_from_dict({"data": {**data, "train_classes": [0, 1, 2]}})
    with pytest.raises(ValueError) as info:
        load_run_data(cfg.data)
    assert str(info.value).startswith(said), str(info.value)


def test_digits_keep_their_shape_and_glyphs_are_drawn_at_the_size_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from siamkit.data import synthetic_glyphs as sg
    from siamkit.training import config_from_dict, load_run_data

    monkeypatch.setattr(sg, "GLYPH_CLASSES", 4)

    def shape(**data: object) -> tuple[int, ...]:
        cfg = config_from_dict({"data": {**data, "train_classes": [0, 1]}})
        return tuple(load_run_data(cfg.data).input_shape)

    assert shape(dataset="digits") == shape(dataset="digits", image_size=8, grayscale=True)
    assert shape(dataset="digits") == (1, 8, 8)
    assert shape(dataset="synthetic-glyphs") == (1, 28, 28)
    assert shape(dataset="synthetic-glyphs", image_size=16, grayscale=True) == (1, 16, 16)
