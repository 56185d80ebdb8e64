"""siamkit train on a many-class few-image folder (Omniglot's shape) with the demo config, only
the data changed: it trains, validates on held-out classes, calibrates, and evaluates 5- and
20-way episodes on the unseen classes (issue 20); bad class lists stop it before any output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import siamkit
from siamkit.cli.main import cli
from siamkit.data.synthetic_glyphs import write_glyph_folder

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"


@pytest.fixture(scope="module")
def glyphs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_glyph_folder(tmp_path_factory.mktemp("g") / "glyphs", 32, per_class=10)


def _train(glyphs: Path, out: Path, *sets: str) -> object:
    data = ["data.dataset=image-folder", f"data.root={glyphs}", "data.image_size=28",
            "data.grayscale=true"]  # fmt: skip
    quick = ["train.epochs=2", "train.steps_per_epoch=2", "train.device=cpu"]
    args = ["train", str(DEMO), "--out", str(out), "--no-progress", "--episodes", "20"]
    for s in [*data, *quick, *sets]:
        args += ["--set", s]
    return CliRunner().invoke(cli, args)


def test_demo_config_on_a_glyph_folder_trains_validates_calibrates_and_evaluates(
    glyphs: Path, tmp_path: Path
) -> None:
    res = _train(glyphs, tmp_path / "run", "data.train_classes=10", "data.val_classes=4",
                 "train.val_metric=eer")  # fmt: skip
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    fs = metrics["few_shot"]
    # 22 unseen classes: 5-way and 20-way; 10 images a class leave 5 queries after 5 shots
    assert set(fs) == {"5way1shot", "5way5shot", "20way1shot", "20way5shot"}
    assert {v["n_query"] for v in fs.values()} == {5}
    assert 0.05 < fs["20way1shot"]["accuracy"] < fs["5way1shot"]["accuracy"] <= 1.0
    assert metrics["calibration"]["threshold"] > 0
    assert len(metrics["run"]["test_classes"]) == 22
    assert (tmp_path / "run" / "model" / "model.safetensors").exists()
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert all(0.0 <= h["val_metric"] <= 1.0 for h in history)  # validation EER every epoch
    assert "20-way 1-shot" in res.output  # type: ignore[attr-defined]
    # the first line names the classes by folder, as evaluate does, and the held-out ones
    names = sorted(p.name for p in glyphs.iterdir())
    run = metrics["run"]
    train = ", ".join(names[c] for c in run["train_classes"])
    held = set(range(len(names))) - set(run["train_classes"]) - set(run["test_classes"])
    val = ", ".join(names[c] for c in sorted(held))
    assert (
        f"training on 60 images of 6 classes ({train}) on cpu; 40 images of 4 other classes "
        f"held out for validation ({val})"
    ) in res.output.splitlines(), res.output  # type: ignore[attr-defined]
    ev = CliRunner().invoke(
        cli,
        ["evaluate", str(tmp_path / "run" / "model"), "--data", str(glyphs), "--ways", "3,7",
         "--shots", "1", "--episodes", "10", "--json"],
    )  # fmt: skip
    assert ev.exit_code == 0, ev.output
    assert set(json.loads(ev.output)["few_shot"]) == {"3way1shot", "7way1shot"}
    # on its own training folder, evaluate defaults to the classes the model did not train on
    names = sorted(p.name for p in glyphs.iterdir())
    unseen = [names[c] for c in metrics["run"]["test_classes"]]
    assert json.loads(ev.output)["data"]["classes"] == unseen
    bad = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "run" / "model"), "--data",
                                   str(glyphs), "--ways", "1"])  # fmt: skip
    assert bad.exit_code != 0 and "--ways" in bad.output


def test_evaluate_knows_the_training_folder_from_another_working_folder(
    glyphs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """data.root is relative to where training ran: evaluated from another folder (so by
    another relative path), the training folder still defaults to the unseen classes, not to
    all its classes (seen ones included, with no word said)."""
    monkeypatch.chdir(glyphs.parent)
    res = _train(Path(glyphs.name), tmp_path / "run", "data.train_classes=10")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    unseen = json.loads((tmp_path / "run" / "metrics.json").read_text())["run"]["test_classes"]
    monkeypatch.chdir(tmp_path)
    ev = CliRunner().invoke(
        cli,
        ["evaluate", "run/model", "--data", str(Path("..") / glyphs.parent.name / glyphs.name),
         "--ways", "3", "--shots", "1", "--episodes", "5", "--json"],
    )  # fmt: skip
    assert ev.exit_code == 0, ev.output
    names = sorted(p.name for p in glyphs.iterdir())
    assert json.loads(ev.output)["data"]["classes"] == [names[c] for c in unseen]


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["data.train_classes=[]"], "data.train_classes is empty"),
        (["data.train_classes=[0, 1, 2, 3]", "data.val_classes=[3, 4]"], "data.val_classes"),
    ],
)
def test_bad_class_lists_write_nothing(
    glyphs: Path, tmp_path: Path, sets: list[str], message: str
) -> None:
    out = tmp_path / "run"
    res = _train(glyphs, out, *sets)
    assert res.exit_code != 0
    assert message in res.output  # type: ignore[attr-defined]
    assert len(res.output.strip().splitlines()) <= 2  # type: ignore[attr-defined]
    assert not out.exists()


def test_grey_statistics_of_the_config_give_way_to_colour_images_own(tmp_path: Path) -> None:
    """demo.yaml keeps Fashion-MNIST's one-channel input_mean / input_std; on an RGB folder the
    run normalises with the images' own per-channel statistics and says so in one line, never
    the grey values broadcast to three channels (issue 20). Every image has red 0.2 and blue
    0.8 everywhere and green exactly half 0, half 1, so the statistics are known by
    construction."""
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "colour"
    for c in range(12):
        (root / f"c{c:02d}").mkdir(parents=True)
        mask = np.zeros(28 * 28, bool)
        mask[rng.permutation(28 * 28)[: 28 * 14]] = True  # the class's pattern, half the pixels
        for i in range(8):
            img = np.empty((28, 28, 3), np.uint8)
            img[..., 0], img[..., 2] = 51, 204
            img[..., 1] = np.roll(mask, i).reshape(28, 28) * 255
            Image.fromarray(img, "RGB").save(root / f"c{c:02d}" / f"{i}.png")
    res = _train(root, tmp_path / "run", "data.grayscale=false", "train.epochs=1")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    notes = [
        line
        for line in res.output.splitlines()  # type: ignore[attr-defined]
        if "model.input_mean / model.input_std give 1 value but" in line
    ]
    assert len(notes) == 1 and "3 channels" in notes[0], res.output  # type: ignore[attr-defined]
    net = siamkit.load_model(tmp_path / "run" / "model")
    pre = getattr(net, "net", net).preprocess.config()
    assert pre["mean"] == pytest.approx([0.2, 0.5, 0.8], abs=1e-3)
    assert pre["std"][1] == pytest.approx(0.5, abs=1e-3)
