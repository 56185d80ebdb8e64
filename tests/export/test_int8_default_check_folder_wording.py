"""siamkit export --int8 of a model that learned without labels from a folder of photos, run
with no --check-data, said 'accuracy change not measured: --check-data PHOTOS holds images ...'
as if the user had passed the folder the check fell back to: it now says no --check-data was
given and names the folder as the one the model trained on."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from tests._tiny_ssl import save_photos, train_tiny_ssl

from siamkit.cli.main import cli


def test_the_unmeasured_int8_check_says_no_check_data_was_given(tmp_path: Path) -> None:
    photos = save_photos(tmp_path / "photos", 40, sub="more")  # loose photos beside a sub-folder
    model = train_tiny_ssl(tmp_path, photos)
    res = CliRunner().invoke(cli, ["export", str(model), "--format", "onnx", "--int8"])
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert (
        f"accuracy change not measured: no --check-data was given, and the folder it trained "
        f"on, {photos.resolve()}, holds images beside its sub-folders" in said
    ), said
    assert f"--check-data {photos}" not in said
    assert (model / "model.int8.onnx").is_file()
    # a folder the user names is still refused under its own name
    res = CliRunner().invoke(
        cli, ["export", str(model), "--int8", "--force", "--check-data", str(photos)]
    )
    assert res.exit_code == 2, res.output
    assert f"--check-data {photos} holds images beside its sub-folders" in " ".join(
        res.output.split()
    )
