"""The image half-twin as a user meets it on the command line: each command's --help says which
tower an input goes through, an image of the other kind (at the other tower's size) is one
sentence naming what to give instead, with nothing written, and the commands that take one-tower
models say what to do with a half-twin."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import siamkit
from _tiny_half_twin import tiny_half_twin, write_grey_png
from siamkit.cli.main import cli
from siamkit.models import Preprocess, SiameseNetwork


def _model(tmp_path: Path, metadata: dict[str, str] | None = None) -> Path:
    """Two tiny convnets: f over 12x12 grey images, g over 8x8 ones."""
    return siamkit.save_model(tiny_half_twin(), tmp_path / "model", metadata=metadata)


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize(
    ("command", "wording"),
    [
        ("enroll", "enrolls IMAGES with its tower g"),
        ("identify", "embeds each QUERY with its tower f"),
        ("verify", "embeds IMAGE with its tower f"),
        ("serve", "embeds what /enroll stores and /verify's file_b with its tower g"),
    ],
)
def test_help_says_which_tower_each_input_goes_through(command: str, wording: str) -> None:
    res = _run(command, "--help")
    assert res.exit_code == 0
    assert wording in " ".join(res.output.split())


def test_an_image_of_the_other_kind_is_refused_naming_what_to_give(tmp_path: Path) -> None:
    model = str(_model(tmp_path))
    f_img, g_img = (
        write_grey_png(tmp_path / "f.png", 12, 1),
        write_grey_png(tmp_path / "g.png", 8, 2),
    )
    db = str(tmp_path / "g.db")
    res = _run("enroll", model, "--gallery", db, "--label", "a", "--no-progress", f_img)
    assert res.exit_code == 1
    assert "f.png is 12x12, the size of this half-twin's first kind of input (tower f" in res.output
    assert res.output.rstrip().endswith("give an image of the second kind here")
    assert not Path(db).exists()  # nothing written
    res = _run("enroll", model, "--gallery", db, "--label", "a", "--no-progress", g_img)
    assert res.exit_code == 0, res.output
    res = _run("identify", model, "--gallery", db, "--no-progress", g_img)
    assert res.exit_code == 1
    assert "g.png is 8x8, the size of this half-twin's second kind of input (tower g" in res.output
    assert "a query goes through tower f (12x12)" in res.output
    res = _run("verify", model, g_img, f_img)  # the two swapped
    assert res.exit_code == 1 and "g.png is 8x8" in res.output
    res = _run("verify", model, f_img, g_img, "--json")  # the right way round: f(IMAGE), g(OTHER)
    assert res.exit_code == 0, res.output
    # an image at neither size is resized, as for any model
    res = _run(
        "identify",
        model,
        "--gallery",
        db,
        "--no-progress",
        write_grey_png(tmp_path / "o.png", 20, 3),
    )
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(
    ("args", "wording"),
    [
        (("evaluate",), "which evaluate does not score: its run's metrics.json"),
        (
            ("evaluate",),
            "`verify` take an image half-twin (enroll with tower g, search with tower f)",
        ),
        (("calibrate", "--data", "."), "which calibrate does not fit: fit its threshold in Python"),
        (("embed", "x.png", "--out", "e.npy"), "net.embed(x, branch='f')"),
    ],
)
def test_one_tower_commands_say_what_to_do_with_a_half_twin(
    tmp_path: Path, args: tuple[str, ...], wording: str
) -> None:
    # saved as a run saves it (a half-twin saved in Python has no run's metrics.json:
    # tests/cli/test_half_twin_saved_in_python_evaluate.py)
    model = str(_model(tmp_path, {"task": "half_twin"}))
    write_grey_png(tmp_path / "x.png", 12, 1)
    res = _run(args[0], model, *(str(tmp_path / a) if "." in a else a for a in args[1:]))
    assert res.exit_code != 0
    assert "is a half-twin (task: half_twin, two towers)" in res.output
    assert wording in " ".join(res.output.split())


def test_export_branch_g_of_a_one_tower_model_says_to_drop_it(tmp_path: Path) -> None:
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))
    net = SiameseNetwork(enc, embedding_dim=4, preprocess=Preprocess(input_shape=(1, 12, 12)))
    folder = siamkit.save_model(net.eval(), tmp_path / "siam")
    res = _run("export", str(folder), "--branch", "g")
    assert res.exit_code == 1
    assert "one tower (f): drop --branch g" in res.output
    # --branch g also exports a HalfTwinNetwork saved in Python, which has no task (s58_r5 2)
    assert "(task: half_twin)" not in res.output
    said = " ".join(res.output.split())
    assert "the second tower (g) of a half-twin (a HalfTwinNetwork, trained with" in said
    assert sorted(p.name for p in folder.iterdir()) == ["model.safetensors", "siamkit.json"]
