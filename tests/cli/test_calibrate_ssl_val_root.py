"""``siamkit calibrate MODEL`` required --data even for a model trained self-supervised on a
folder of photos without classes, whose run recorded its labelled validation folder
(``data.val_root``), which ``siamkit evaluate`` reads without --data (b44f94a0): calibrate now
defaults to that folder too, says so, and records it as evaluate reads it back; --data still
wins, and any other model still needs --data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from tests.cli._ssl_val_root_model import ssl_photo_model

from siamkit.cli._eval_data import val_root_note
from siamkit.cli.main import cli


def _calibrate(model: Path, *more: str) -> Any:
    return CliRunner().invoke(cli, ["calibrate", str(model), "--no-progress", *more])


def _calibration(model: Path) -> dict[str, Any]:
    return json.loads((model / "siamkit.json").read_text())["metadata"]["calibration"]


def test_without_data_it_calibrates_on_the_runs_labelled_validation_folder(
    tmp_path: Path,
) -> None:
    val = tmp_path / "labelled"
    model = ssl_photo_model(tmp_path, val)
    res = _calibrate(model)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    source = f"the run's labelled validation folder {val} (data.val_root)"
    assert lines[0] == f"calibrating on 24 images of 3 classes (cat, dog, owl) from {source}"
    assert lines[1] == val_root_note("calibrate")
    default = _calibration(model)
    assert default["data"] == source and default["root"] == str(val.resolve())
    # the same fit as the folder named with --data: the same images, only said otherwise
    named = _calibrate(model, "--data", str(val), "--json")
    assert named.exit_code == 0, named.output
    assert val_root_note("calibrate") not in named.output
    explicit = _calibration(model)
    assert explicit.pop("data") == f"the folder {val}"
    default.pop("data")
    assert default == explicit
    as_json = _calibrate(model, "--json")
    assert as_json.exit_code == 0, as_json.output
    assert as_json.stderr.strip() == val_root_note("calibrate")
    assert json.loads(as_json.stdout)["data"] == source


def test_data_given_wins_over_the_validation_folder(tmp_path: Path) -> None:
    model = ssl_photo_model(tmp_path, tmp_path / "labelled")
    res = _calibrate(model, "--data", str(tmp_path / "elsewhere"))
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0] == (
        f"calibrating on 12 images of 2 classes (ant, bee) from the folder {tmp_path / 'elsewhere'}"
    )
    assert "data.val_root" not in res.output


def test_a_validation_folder_that_is_gone_is_one_sentence_naming_data(tmp_path: Path) -> None:
    gone = tmp_path / "moved"
    model = ssl_photo_model(tmp_path, None)
    doc = json.loads((model / "siamkit.json").read_text())
    doc["metadata"]["run"]["val_root"] = str(gone)
    (model / "siamkit.json").write_text(json.dumps(doc))
    res = _calibrate(model)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [
        f"Error: the run's labelled validation folder (data.val_root) {gone} is not there; pass "
        "--data FOLDER (held-out images, one sub-folder per class)"
    ]


def test_other_models_still_need_data(tmp_path: Path) -> None:
    """A self-supervised run that recorded no labelled folder is refused as before: click's
    missing --data. A supervised run's is refused in a sentence naming the folder it trained on
    (here loose photos: no classes to hold out; tests/cli/test_calibrate_folder_run_default.py)."""
    bare = ssl_photo_model(tmp_path / "bare", None)
    res = _calibrate(bare)
    assert res.exit_code == 2, res.output
    assert "Missing option '--data'" in res.output, res.output
    supervised = tmp_path / "supervised"
    model = ssl_photo_model(supervised, supervised / "labelled", ssl=False)
    res = _calibrate(model)
    assert res.exit_code == 1, res.output
    assert res.output.startswith(
        f"Error: no --data given, and the folder this model trained on (data.root "
        f"{supervised / 'photos'}) no longer holds the classes its run recorded"
    ), res.output
    for m in (bare, model):
        assert "calibration" not in json.loads((m / "siamkit.json").read_text())["metadata"]


def test_a_validation_folder_under_the_runs_data_root_is_said_to_be_trained_on(
    tmp_path: Path,
) -> None:
    """A self-supervised run trains on every image under data.root, its labelled folder's too
    when that lies under it: the threshold fit there is in-sample, said in a note and recorded
    (the run's own check: the folders resolved, the one inside the other)."""
    photos = tmp_path / "photos"
    val = photos / "labelled"
    model = ssl_photo_model(tmp_path, val)
    res = _calibrate(model)
    assert res.exit_code == 0, res.output
    note = (
        f"the run also trained on these images (without their labels): data.val_root {val} lies "
        f"under data.root {photos}, so the threshold and its TAR and FAR are not held out; "
        "pass --data FOLDER (images kept out of data.root, one sub-folder per class) for held-out "
        "ones"
    )
    assert res.stdout.splitlines()[1:3] == [val_root_note("calibrate"), note]
    assert _calibration(model)["in_sample"] is True
    as_json = _calibrate(model, "--json")
    assert as_json.exit_code == 0, as_json.output
    assert as_json.stderr.strip().splitlines() == [val_root_note("calibrate"), note]
    assert json.loads(as_json.stdout)["in_sample"] is True
    # a sibling folder whose name starts like data.root's is not under it
    apart = tmp_path / "apart"
    other = ssl_photo_model(apart, apart / "photos-labelled")
    res = _calibrate(other)
    assert res.exit_code == 0, res.output
    assert "also trained on" not in res.output and "in_sample" not in _calibration(other)


def test_a_one_class_validation_folder_is_named_not_data(tmp_path: Path) -> None:
    """The refusal of a folder with fewer than two classes named --data when none was given."""
    val = tmp_path / "labelled"
    model = ssl_photo_model(tmp_path, val)
    for c in ("dog", "owl"):
        for f in (val / c).iterdir():
            f.unlink()
        (val / c).rmdir()
    res = _calibrate(model)
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [
        "Error: calibration needs images of at least two classes (impostor pairs), and the run's "
        f"labelled validation folder {val} (data.val_root) gives 1 (cat): pass --data FOLDER with "
        "a sub-folder per class, two or more"
    ]
