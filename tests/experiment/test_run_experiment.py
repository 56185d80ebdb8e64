"""run_experiment as a library: a typed result, metrics.json = to_dict(), and the model saved
before the evaluation (a failing evaluation leaves it behind)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import siamkit
import siamkit.experiment.run as run_mod
from siamkit.evaluation import EvaluationReport
from siamkit.experiment import RunResult, run_experiment
from siamkit.training import apply_overrides, load_config

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
QUICK = ["train.epochs=1", "train.steps_per_epoch=2", "eval.episodes=20"]


def test_a_run_returns_a_typed_result_matching_metrics_json(tmp_path: Path) -> None:
    cfg = apply_overrides(load_config(TINY), QUICK)
    result = run_experiment(cfg, tmp_path, progress=False, log=lambda _: None)
    assert isinstance(result, RunResult) and isinstance(result.evaluation, EvaluationReport)
    assert result.calibration is not None and 0.0 <= result.calibration.test.far <= 1.0
    assert result.test_classes == (6, 7, 8, 9) and len(result.history) == 1
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(result.to_dict()))
    model = siamkit.load_model(result.model_dir)
    assert model.threshold == pytest.approx(result.calibration.threshold)
    # result.calibration is Optional, so result.calibration.threshold failed a user's
    # mypy --strict; require_calibration gives it typed without None, or names why it is missing
    assert result.require_calibration() is result.calibration
    with pytest.raises(ValueError) as err:
        dataclasses.replace(result, calibration=None).require_calibration()
    assert str(err.value) == (
        "this run has no calibration (it had fewer than 3 validation images to fit a threshold "
        "on, as with data.val_fraction 0 and no data.val_classes, or the fit accepted no pair at "
        "all, as its log said): hold out validation images, or fit one with siamkit calibrate, "
        "or check result.calibration is not None first"
    )


def test_a_fit_accepting_no_pair_saves_the_model_without_a_threshold(
    tmp_path: Path, monkeypatch
) -> None:
    """eval.threshold_target far with a validation impostor pair at distance 0 (the same image
    under two classes) fits a threshold below 0, which the model's reader refuses: the run
    saved it, and its model folder could not be loaded. It is now saved without a threshold,
    and the log says why and what to run."""
    import torch

    from siamkit.encoders import create_encoder
    from siamkit.experiment.protocol import calibrate
    from siamkit.models import SiameseNetwork

    # what calibrate gives such pairs: the fit for "far" lies below the pair at 0
    net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[4, 8]), 8).eval()
    x = torch.rand(6, 1, 16, 16)
    x[3] = x[0]  # class 1's first image is class 0's first
    z = net.embed(x).detach()
    below = calibrate(z, torch.tensor([0, 0, 0, 1, 1, 1]), net, "far", 0)
    assert below < 0
    monkeypatch.setattr(run_mod, "calibrate_run", lambda *a, **k: below)
    lines: list[str] = []
    cfg = apply_overrides(load_config(TINY), [*QUICK, "eval.threshold_target=far"])
    result = run_experiment(cfg, tmp_path, progress=False, log=lines.append)
    assert siamkit.load_model(result.model_dir).threshold is None
    assert result.calibration is None
    assert json.loads((tmp_path / "metrics.json").read_text()).get("calibration") is None
    assert sum(line.startswith("no verification threshold saved: ") for line in lines) == 1


def test_eval_clustering_puts_nmi_and_ami_in_metrics_json(tmp_path: Path) -> None:
    cfg = apply_overrides(load_config(TINY), [*QUICK, "eval.clustering=true"])
    run_experiment(cfg, tmp_path, progress=False, log=lambda _: None)
    retrieval = json.loads((tmp_path / "metrics.json").read_text())["retrieval"]
    assert 0.0 <= retrieval["nmi"] <= 1.0 and retrieval["ami"] <= 1.0


def test_the_model_is_saved_before_the_evaluation(tmp_path: Path, monkeypatch) -> None:
    cfg = apply_overrides(load_config(TINY), QUICK)

    def broken(*args, **kwargs):
        raise RuntimeError("evaluation killed")

    monkeypatch.setattr(run_mod, "evaluate_model", broken)
    with pytest.raises(RuntimeError, match="evaluation killed"):
        run_experiment(cfg, tmp_path, progress=False, log=lambda _: None)
    model = siamkit.load_model(tmp_path / "model")
    assert model.threshold is not None  # calibrated on validation pairs, before the test classes
    assert not (tmp_path / "metrics.json").exists()
    assert json.loads((tmp_path / "history.json").read_text())[0]["epoch"] == 1


def test_the_saved_model_states_the_kind_and_params_of_each_part(tmp_path: Path) -> None:
    """A run written in the kind + params form saves its parts' specs in the model's metadata,
    and the saved config (flat form) loads back to the same run config."""
    import yaml

    doc = yaml.safe_load(TINY.read_text())
    doc["loss"] = {"kind": "triplet", "margin": 0.3,
                   "miner": {"kind": "semihard", "params": {"margin": 0.5}}}  # fmt: skip
    doc["optim"] = {"optimizer": {"kind": "adamw", "params": {"lr": 0.002, "weight_decay": 0.01}},
                    "schedule": {"kind": "cosine", "params": {"warmup_fraction": 0.1}}}  # fmt: skip
    path = tmp_path / "nested.yaml"
    path.write_text(yaml.safe_dump(doc))
    cfg = apply_overrides(load_config(path), QUICK)
    result = run_experiment(cfg, tmp_path / "run", progress=False, log=lambda _: None)
    assert result is not None
    saved = json.loads((result.model_dir / "siamkit.json").read_text())
    spec = saved["metadata"]["spec"]
    assert spec["optimizer"] == {
        "kind": "adamw", "params": {"lr": 0.002, "weight_decay": 0.01, "momentum": 0.9}
    }  # fmt: skip
    assert spec["miner"] == {"kind": "semihard", "params": {"margin": 0.5}}
    assert spec["loss"]["kind"] == "triplet" and spec["loss"]["params"]["margin"] == 0.3
    assert spec["encoder"] == {"kind": "convnet", "params": {"widths": [8, 16]}}
    assert spec["schedule"]["kind"] == "cosine" and spec["data"]["kind"] == "digits"
    assert saved["model"]["encoder"]["name"] == "convnet"  # the model's own encoder spec
    assert load_config(tmp_path / "run" / "config.yaml") == cfg


def test_a_refused_resume_leaves_the_run_as_it_was(tmp_path: Path) -> None:
    cfg = apply_overrides(load_config(TINY), QUICK)
    run_experiment(cfg, tmp_path, progress=False, log=lambda _: None)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    changed = apply_overrides(cfg, ["optim.lr=0.01"])
    with pytest.raises(ValueError, match=r"different config \(optim.lr\)"):
        run_experiment(changed, tmp_path, resume=True, progress=False, log=lambda _: None)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def _folder(root: Path, classes: int, per_class: int, size: int = 12) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"k{c}").mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"k{c}" / f"{i}.png")
    return root


def _folder_run(root: Path, *sets: str):
    doc = ["data.dataset=image-folder", f"data.root={root}", "data.image_size=12",
           "data.train_classes=null"]  # fmt: skip
    return apply_overrides(load_config(TINY), [*QUICK, *doc, *sets])


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        # 15 images a class leave 4 test images of each: 1-shot works, 5-shot cannot
        (
            (),
            r"^4-way 5-shot evaluation cannot be met: .* at least 6 images each .* at most 4 "
            r"images; lower eval.shots \(at most 3 at 4-way\)",
        ),
        (
            ("data.image_size=2", "eval.shots=[1]", "model.encoder_kwargs={widths: [8, 16, 16]}"),
            r"^data.image_size = 2 is too small for model.encoder = convnet .* works is 4",
        ),
        # a pair loss on classes of one training image (their only "positive" is themselves)
        (
            ("data.limit=5", "eval.shots=[1]"),
            r"have a single training image after data.limit = 5",
        ),
    ],
)
def test_what_the_run_cannot_do_is_refused_before_anything_is_written(
    tmp_path: Path, sets: tuple[str, ...], message: str
) -> None:
    cfg = _folder_run(_folder(tmp_path / "lab", 4, 15), *sets)
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=message):
        run_experiment(cfg, out, progress=False, log=lambda _: None)
    assert not out.exists()


def test_one_label_per_class_from_a_config_not_read_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    cfg = _folder_run(_folder(tmp_path / "lab", 4, 15), "eval.shots=[1]")
    # built in Python, past the config reader that refuses it: the run's preflight still does
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, labels_per_class=1))
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"single training image after data\.labels_per_class = 1"):
        run_experiment(cfg, out, progress=False, log=lambda _: None)
    assert not out.exists()


def test_a_run_on_every_class_says_its_test_images_are_of_the_training_classes(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    cfg = _folder_run(_folder(tmp_path / "lab", 4, 15), "eval.shots=[1, 3]")
    run_experiment(cfg, tmp_path / "run", progress=False, log=lines.append)
    said = next(s for s in lines if s.startswith("evaluating on"))
    assert "held-out images of the training classes (k0, k1, k2, k3)" in said
    assert "unseen" not in said.replace("not unseen", "")
    # the report's header names them too, and what the run validated on
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert "of 4 classes (k0, k1, k2, k3) · validated on held-out images of the training" in page


def test_a_data_parallel_run_says_its_batch_is_per_process() -> None:
    """Under torchrun each process draws its own P x K batch, so two processes train on twice
    the images a step in half the steps: a user comparing with one process saw a first-epoch
    loss 0.645 against 0.441 and nothing said why. The steps are the sampler's, per rank."""
    import torch

    from siamkit.training.batch_source import PKBatches

    y = torch.arange(6).repeat_interleave(30)
    x = torch.zeros(len(y), 1, 4, 4, dtype=torch.uint8)
    two = PKBatches(x, y, 8, 4, steps_per_epoch=6, rank=1, world=2)  # 8 > 6 classes: 6
    line = run_mod._processes_line(2, two, offline=False)
    assert line.startswith("2 processes: each draws its own batch of 6 classes x 4 images")
    assert "a step trains on 48 images (the loss sees all of them, gathered)" in line
    assert f"an epoch is {two.steps} steps" in line and two.steps == 3
    assert "each process's own" in run_mod._processes_line(2, two, offline=True)
    one = PKBatches(x, y, 8, 4, steps_per_epoch=2, rank=1, world=2)  # one step an epoch
    assert one.steps == 1 and "an epoch is 1 step (one process" in run_mod._processes_line(
        2, one, offline=False
    )


def test_the_training_line_names_classes_and_cuts_a_long_list() -> None:
    """The first line listed an image folder's classes as numbers ('of classes [0, 1, ...]'),
    where evaluate lists folder names, and data.val_classes as '(50 held out for validation)'
    naming none: both are named now, the first ten and 'and N more'."""
    import torch

    from siamkit.training.data import RunData

    names = tuple(f"glyph_{i:02d}" for i in range(60))
    y = torch.arange(60).repeat_interleave(2)
    train, val = tuple(range(45)), tuple(range(45, 50))
    data = RunData(y[:90], y[:90], y[90:100], y[90:100], y[100:], y[100:], names, train,
                   tuple(range(50, 60)), val)  # fmt: skip
    first_ten = ", ".join(names[:10])
    assert run_mod.training_line(data, "cpu") == (
        f"training on 90 images of 45 classes ({first_ten} and 35 more) on cpu; 10 images of "
        f"5 other classes held out for validation ({', '.join(names[45:50])})"
    )
    shared = data._replace(val_classes=())  # data.val_fraction: a share of the same classes
    assert run_mod.training_line(shared, "cpu").endswith(
        "on cpu; 10 more images of them held out for validation"
    )
    none = shared._replace(val_x=y[:0], val_y=y[:0])
    assert run_mod.training_line(none, "cpu").endswith("on cpu; none held out for validation")


def test_the_evaluating_line_names_the_test_classes_as_the_first_line_does() -> None:
    """A walk on an image folder (part_000 ... part_119) read 'evaluating on 240 images of unseen
    classes [1, 9, 10, ...]': ids, where the run's first line names the same folders. The line
    names them now, the first ten and 'and N more'; ids only where the data set has no name."""
    import torch

    from siamkit.training.data import RunData

    names = tuple(f"part_{i:03d}" for i in range(120))
    test = tuple(range(80, 120))
    y = torch.tensor(test).repeat_interleave(6)
    data = RunData(y[:0], y[:0], y[:0], y[:0], y, y, names, tuple(range(80)), test)
    assert run_mod.evaluating_line(data, held_out_images=False) == (
        f"evaluating on 240 images of 40 unseen classes ({', '.join(names[80:90])} and 30 more) ..."
    )
    every = data._replace(test_classes=(0, 1), train_classes=(0, 1))
    assert run_mod.evaluating_line(every, held_out_images=True).startswith(
        "evaluating on 240 held-out images of the training classes (part_000, part_001) (not unseen"
    )
    nameless = data._replace(class_names=())
    assert "(80, 81, 82, 83, 84, 85, 86, 87, 88, 89 and 30 more)" in run_mod.evaluating_line(
        nameless, held_out_images=False
    )


def test_metrics_json_names_the_validation_classes(tmp_path: Path) -> None:
    """metrics.json listed the training and test classes but not the validation classes
    (data.val_classes, left out of the training classes), so a reader could not check that no
    test class chose the epoch or the threshold. It lists them now, in the model's record too."""
    cfg = apply_overrides(load_config(TINY), [*QUICK, "data.val_classes=[4, 5]"])
    run_experiment(cfg, tmp_path / "a", progress=False, log=lambda _: None)
    run = json.loads((tmp_path / "a" / "metrics.json").read_text())["run"]
    assert run["train_classes"] == [0, 1, 2, 3] and run["val_classes"] == [4, 5]
    assert run["val_held_out"] == "classes" and run["test_classes"] == [6, 7, 8, 9]
    saved = json.loads((tmp_path / "a" / "model" / "siamkit.json").read_text())
    assert saved["metadata"]["run"]["val_classes"] == [4, 5]
    cfg = apply_overrides(load_config(TINY), QUICK)  # held-out images of the training classes
    run_experiment(cfg, tmp_path / "b", progress=False, log=lambda _: None)
    run = json.loads((tmp_path / "b" / "metrics.json").read_text())["run"]
    assert run["val_classes"] == run["train_classes"] == [0, 1, 2, 3, 4, 5]
    assert run["val_held_out"] == "images"
