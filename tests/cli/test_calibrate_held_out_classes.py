"""siamkit calibrate on the folder a model trained on with data.val_classes (issue 20's walk):
that run held out whole classes, not images, so every image of a training class there is a
training image. Calibrating on them is refused, and both refusals name the run's validation
classes as the --classes to give; those calibrate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.data.synthetic_glyphs import write_glyph_folder

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A model trained on 8 of a synthetic glyph folder's 12 classes, 3 of them held out."""
    tmp = tmp_path_factory.mktemp("cal")
    glyphs = write_glyph_folder(tmp / "glyphs", 12, per_class=6)
    sets = [f"data.root={glyphs}", "data.dataset=image-folder", "data.image_size=28",
            "data.grayscale=true", "data.train_classes=8", "data.val_classes=3",
            "train.val_metric=eer", "train.epochs=1", "train.steps_per_epoch=1",
            "train.device=cpu"]  # fmt: skip
    args = ["train", str(DEMO), "--out", str(tmp / "run"), "--no-progress", "--episodes", "5"]
    for s in sets:
        args += ["--set", s]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    return tmp / "run", glyphs


def _classes(run: Path, glyphs: Path) -> dict[str, list[str]]:
    meta = json.loads((run / "metrics.json").read_text())["run"]
    names = sorted(p.name for p in glyphs.iterdir())
    return {
        k: [names[c] for c in meta[k]] for k in ("train_classes", "val_classes", "test_classes")
    }


def _calibrate(run: Path, glyphs: Path, *more: str) -> object:
    return CliRunner().invoke(
        cli, ["calibrate", str(run / "model"), "--data", str(glyphs), "--no-progress", *more]
    )


def test_training_classes_of_its_own_folder_are_refused_naming_the_validation_classes(
    run: tuple[Path, Path],
) -> None:
    out, glyphs = run
    c = _classes(out, glyphs)
    val = ",".join(c["val_classes"])
    before = (out / "model" / "siamkit.json").read_text()
    res = _calibrate(out, glyphs, "--classes", f"{c['train_classes'][0]},{c['val_classes'][0]}")
    assert res.exit_code == 1  # type: ignore[attr-defined]
    assert res.output == (  # type: ignore[attr-defined]
        f"Error: the images of {c['train_classes'][0]} in {glyphs} are all ones this model "
        "trained on (its run held out whole classes for validation, not images): calibrate on "
        f"its validation classes instead (--classes {val})\n"
    )
    assert (out / "model" / "siamkit.json").read_text() == before  # nothing saved
    # the whole folder: its test classes are refused first, with the same --classes to give
    res = _calibrate(out, glyphs)
    assert res.exit_code == 1  # type: ignore[attr-defined]
    assert res.output.startswith(f"Error: {', '.join(sorted(c['test_classes']))} are classes")  # type: ignore[attr-defined]
    assert res.output.endswith(  # type: ignore[attr-defined]
        f"never on test classes (here its run's validation classes: --classes {val})\n"
    )
    # what both name calibrates
    res = _calibrate(out, glyphs, "--classes", val)
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert "saved in" in res.output  # type: ignore[attr-defined]


def test_a_copy_of_the_folder_elsewhere_is_not_refused(
    run: tuple[Path, Path], tmp_path: Path
) -> None:
    """Only the folder the model trained on is known to hold its training images."""
    import shutil

    out, glyphs = run
    c = _classes(out, glyphs)
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    other = tmp_path / "glyphs"
    shutil.copytree(glyphs, other)
    res = _calibrate(copy, other, "--classes", ",".join(c["train_classes"][:3]))
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
