"""``siamkit export --int8`` of a self-supervised model measures its int8 check on the run's
labelled validation folder (``data.val_root``) by default, and said nothing when that folder lay
under ``data.root``: the run trained on those images (without their labels), so the check's
figures are in-sample. It now says so, as evaluate and calibrate do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from tests.cli._ssl_val_root_model import ssl_photo_model

from siamkit.cli.main import cli


def _export(model: Path, *more: str) -> Any:
    args = ["export", str(model), "--int8", "--int8-mode", "dynamic", "--no-progress", *more]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    return res


def test_a_validation_folder_under_the_training_folder_is_said_to_be_in_sample(
    tmp_path: Path,
) -> None:
    val = tmp_path / "photos" / "labelled"
    model = ssl_photo_model(tmp_path, val)
    note = (
        f"the run also trained on these images (without their labels): data.val_root {val} "
        f"lies under data.root {tmp_path / 'photos'}, so these figures are not held out; pass "
        "--check-data FOLDER (images kept out of data.root, one sub-folder per class) for held-out "
        "ones"
    )
    check = json.loads(_export(model, "--json").stdout)["int8_check"]
    assert isinstance(check, dict), check  # measured
    assert check["in_sample"] == note
    assert f"({note})" in _export(model, "--force").output


def test_a_validation_folder_beside_the_training_folder_says_nothing(tmp_path: Path) -> None:
    model = ssl_photo_model(tmp_path, tmp_path / "labelled")
    check = json.loads(_export(model, "--json").stdout)["int8_check"]
    assert isinstance(check, dict), check
    assert "in_sample" not in check
    assert "also trained on these images" not in _export(model, "--force").output
