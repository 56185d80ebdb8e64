"""``siamkit train --init-from MODEL`` of a ``task: siamfc`` config: training starts from a saved
tracker of the config's backbone (``builtin``: the shipped one), the run records it, and its
resume follows the other tasks' rule (it was ignored: training started from random weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from click.testing import CliRunner

import siamkit
from siamkit.applications.tracking import task as siamfc_task
from siamkit.applications.tracking.model import SiamFCNet, save_tracker
from siamkit.applications.tracking.pretrained import load_pretrained_tracker
from siamkit.cli.main import cli
from siamkit.encoders import create_encoder
from siamkit.export.bundle import read_model_config
from siamkit.training.tasks import TaskOptions, get_task

CONFIG: dict[str, Any] = {
    "model": {"backbone": "tiny"},
    "data": {"frame_size": [160, 120], "n_frames": 20},
    "train": {"steps": 2, "batch_size": 2, "threads": 1, "checkpoint_every": 1},
    "eval": {"n_sequences": 1, "n_frames": 5, "frame_size": [160, 120]},
}


@pytest.fixture(scope="module")
def tracker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny tracker whose weights a fresh one does not have."""
    torch.manual_seed(7)
    net = SiamFCNet("tiny")
    with torch.no_grad():
        net.bias.fill_(0.5)
    return save_tracker(net, tmp_path_factory.mktemp("tracker") / "model")


@pytest.fixture
def first_weights(monkeypatch: pytest.MonkeyPatch) -> dict[str, torch.Tensor]:
    """The network's weights when its training starts, filled in by the run."""
    seen: dict[str, torch.Tensor] = {}
    real = siamfc_task.train_siamfc

    def train(net: SiamFCNet, *args: Any, **kw: Any) -> Any:
        seen.update({k: v.detach().clone() for k, v in net.state_dict().items()})
        return real(net, *args, **kw)

    monkeypatch.setattr(siamfc_task, "train_siamfc", train)
    return seen


def _assert_same(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert got.keys() == want.keys()
    for k, v in want.items():
        torch.testing.assert_close(got[k], v, msg=k)


def test_training_starts_from_the_init_from_tracker_and_records_it(
    tracker: Path, tmp_path: Path, first_weights: dict[str, torch.Tensor]
) -> None:
    out = tmp_path / "run"
    options = TaskOptions(progress=False, init_from=str(tracker))
    summary = get_task("siamfc")(CONFIG, out, options)
    _assert_same(first_weights, siamkit.load_model(tracker).state_dict())
    assert yaml.safe_load((out / "config.yaml").read_text())["model"]["init_from"] == str(tracker)
    assert read_model_config(summary.model_dir)["metadata"]["init_from"] == str(tracker)


def test_init_from_builtin_starts_from_the_shipped_tracker(
    tmp_path: Path, first_weights: dict[str, torch.Tensor]
) -> None:
    cfg = tmp_path / "siamfc.yaml"
    doc = {"task": "siamfc", **CONFIG, "model": {"backbone": "small"}}
    cfg.write_text(yaml.safe_dump({**doc, "train": {**CONFIG["train"], "steps": 1}}))
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(out), "--init-from", "builtin"])
    assert res.exit_code == 0, res.output
    _assert_same(first_weights, load_pretrained_tracker().state_dict())
    assert yaml.safe_load((out / "config.yaml").read_text())["model"]["init_from"] == "builtin"


def test_another_backbone_or_a_non_tracker_is_refused_before_anything_is_written(
    tracker: Path, tmp_path: Path
) -> None:
    cfg = tmp_path / "siamfc.yaml"
    cfg.write_text(yaml.safe_dump({"task": "siamfc", **CONFIG}))
    out = tmp_path / "run"
    args = ["train", str(cfg), "--out", str(out), "--init-from"]
    res = CliRunner().invoke(cli, [*args, "builtin"])
    assert res.exit_code == 1 and res.output.count("\n") == 1, res.output
    assert "--init-from builtin is a tracker with the 'small' backbone" in res.output
    assert "model.backbone is 'tiny'" in res.output
    torch.manual_seed(0)
    image = siamkit.SiameseNetwork(
        create_encoder("convnet", in_channels=1, widths=(4, 8)),
        embedding_dim=4,
        preprocess=siamkit.Preprocess(input_shape=(1, 28, 28)),
    )
    bundle = siamkit.save_model(image, tmp_path / "image-model")
    res = CliRunner().invoke(cli, [*args, str(bundle)])
    assert res.exit_code == 1 and res.output.count("\n") == 1, res.output
    assert f"--init-from {bundle} is a 'siamese' model, not a tracker" in res.output
    assert not out.exists()


def test_resume_needs_no_init_from_and_refuses_another(tracker: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cut = {**CONFIG, "train": {**CONFIG["train"], "max_minutes": 1e-9}}  # stops after step 1
    get_task("siamfc")(cut, out, TaskOptions(progress=False, init_from=str(tracker)))
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    another = TaskOptions(progress=False, resume=True, init_from="builtin")
    with pytest.raises(
        ValueError, match=f"started from --init-from / model.init_from {tracker}, not builtin"
    ):
        get_task("siamfc")(CONFIG, out, another)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    summary = get_task("siamfc")(CONFIG, out, TaskOptions(progress=False, resume=True))
    assert summary.metrics["train.steps"] == 2
    assert yaml.safe_load((out / "config.yaml").read_text())["model"]["init_from"] == str(tracker)
    assert read_model_config(out / "model")["metadata"]["init_from"] == str(tracker)
    plain = tmp_path / "plain"  # a run that started from no saved model
    get_task("siamfc")(cut, plain, TaskOptions(progress=False))
    with pytest.raises(ValueError, match="did not start from a saved model"):
        get_task("siamfc")(CONFIG, plain, TaskOptions(resume=True, init_from=str(tracker)))
