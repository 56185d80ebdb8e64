"""siamkit evaluate of a task: ssl model whose folder of photos holds a sub-folder of more photos."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from _tiny_ssl import save_photos, train_tiny_ssl
from siamkit.cli.main import cli


def test_an_ssl_model_of_a_nested_photo_folder_is_not_told_to_evaluate_on_it(
    tmp_path: Path,
) -> None:
    """A folder of unlabeled photos with a nested sub-folder (photos/2019/...) is not a class
    layout, but evaluate took it for one: on the default fashion-mnist it said 'it trained on
    the folder P: use --data P', and --data P then said 'gives one class (2019): name them with
    --classes'. Both now say the model learned without labels and evaluation needs classes."""
    photos = save_photos(tmp_path / "photos", 40, sub="2019")
    model = str(train_tiny_ssl(tmp_path, photos, image_size=16))
    needs = "give a folder with one sub-folder of images per class (--data DIR, e.g. DIR/cat/1.png"

    res = CliRunner().invoke(cli, ["evaluate", model, "--no-progress"])
    said = " ".join(res.output.split())
    assert res.exit_code == 1, said
    assert f"use --data {photos}" not in said, said
    assert f"it learned from the folder {photos} without labels, and evaluation needs " in said
    assert needs in said

    res = CliRunner().invoke(cli, ["evaluate", model, "--data", str(photos), "--no-progress"])
    said = " ".join(res.output.split())
    assert res.exit_code == 1, said
    assert "--classes" not in said, said
    assert (
        f"--data {photos} holds images beside its sub-folders, not one sub-folder per class (the "
        "model learned from them without labels), so it has no classes to measure with: " in said
    ), said
    assert needs in said

    # its sub-folder alone is a folder like any other (one class: refused as before)
    res = CliRunner().invoke(cli, ["evaluate", model, "--data", str(photos / "2019")])
    assert res.exit_code == 1 and "without labels" not in res.output
