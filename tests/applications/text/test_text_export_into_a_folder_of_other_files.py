"""A folder that holds no text export (MODEL/onnx holding only a file of the user's, once a save
or calibrate removed the export beside it) is refused as no export, --force or not: the refusal
without --force advised --force, which was then refused (s63_FA finding 1)."""

from pathlib import Path

import pytest

from siamkit.applications.text.onnx_export import export_text_bundle


@pytest.mark.parametrize("force", [False, True])
def test_a_folder_of_other_files_is_refused_as_no_export_without_advising_force(
    tmp_path: Path, force: bool
) -> None:
    folder = tmp_path / "model" / "onnx"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ValueError) as refused:
        export_text_bundle(object(), folder, force=force)  # refused before the model is used
    assert str(refused.value) == (
        f"{folder} exists and is not a text ONNX export; move it elsewhere or choose another folder"
    )
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
