"""``siamkit enroll MODEL photos/`` with a label folder named like an item id (``photos/#5``)
was refused with the library's "... so choose another label, e.g. 'item-5'", which a folder's
label cannot follow (there is no label to choose but the folder's name): it now names the
folder and says to rename it, with the name to give. ``--label '#5'`` keeps the library's."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from siamkit.cli.main import cli


def test_a_label_folder_named_like_an_item_id_is_to_be_renamed(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    for name in ("#5", "bob"):
        (photos / name).mkdir(parents=True)
        (photos / name / "a.png").write_bytes(b"")  # refused before any image is read
    db = tmp_path / "g.db"
    res = CliRunner().invoke(cli, ["enroll", str(tmp_path), "--gallery", str(db), str(photos)])
    assert res.exit_code == 2, res.output
    said = " ".join(res.output.split())
    assert (
        f"Error: the label folder {photos / '#5'} gives a label that looks like an item id "
        "('#' followed by digits names one item in recommend's likes, '#12'): rename it, e.g. "
        f"to {photos / 'item-5'}"
    ) in said
    assert not db.exists()


def test_a_label_given_like_an_item_id_keeps_the_librarys_sentence(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.png").write_bytes(b"")
    db = tmp_path / "g.db"
    args = ["enroll", str(tmp_path), "--gallery", str(db), "--label", "#5"]
    res = CliRunner().invoke(cli, [*args, str(tmp_path / "photos" / "a.png")])
    assert res.exit_code != 0 and "choose another label, e.g. 'item-5'" in res.output
    assert not db.exists()
