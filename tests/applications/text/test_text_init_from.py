"""``siamkit train --init-from MODEL`` of a ``task: text`` config: the run fine-tunes MODEL (as
``model.path``), records it, and its resume follows the other tasks' rule (it was ignored: the
run fine-tuned the config's model without a word)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from _text_runs import kill_after_first_checkpoint
from _text_runs import text_config as _config
from click.testing import CliRunner

import siamkit
from _tiny_bert import save_tiny_bert
from siamkit.applications.text import train as text_train
from siamkit.applications.text import train_loop
from siamkit.applications.text.model import load_text_model
from siamkit.cli.main import cli
from siamkit.export.bundle import read_model_config
from siamkit.training.tasks import TaskOptions, get_task

WEIGHT = "encoder.transformer.encoder.layer.0.attention.self.query.weight"


@pytest.fixture(scope="module")
def other_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT with other weights (seed 1) than ``tiny_hf`` (seed 0)."""
    return save_tiny_bert(tmp_path_factory.mktemp("other-bert"), layers=2, seed=1)


@pytest.fixture
def first_weights(monkeypatch: pytest.MonkeyPatch) -> dict[str, torch.Tensor]:
    """The model's weights when its training loop starts, filled in by the run."""
    seen: dict[str, torch.Tensor] = {}
    real = text_train._loop

    def loop(model: Any, *args: Any, **kw: Any) -> Any:
        seen.update({k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        return real(model, *args, **kw)

    monkeypatch.setattr(text_train, "_loop", loop)
    return seen


def test_init_from_is_the_model_the_run_fine_tunes(
    other_bert: Path, pairs_csv: Path, tmp_path: Path, first_weights: dict[str, torch.Tensor]
) -> None:
    start = load_text_model(other_bert).state_dict()
    options = TaskOptions(progress=False, init_from=str(other_bert))
    summary = get_task("text")(_config(pairs_csv), tmp_path / "run", options)
    assert first_weights.keys() == start.keys()  # not the default MiniLM of a config without path
    for k, v in start.items():
        torch.testing.assert_close(first_weights[k], v, msg=k)
    after = siamkit.load_model(summary.model_dir)
    assert not torch.allclose(after.state_dict()[WEIGHT], start[WEIGHT])  # and trained it
    assert read_model_config(summary.model_dir)["metadata"]["init_from"] == str(other_bert)
    saved = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["config"]
    assert saved["model"]["init_from"] == str(other_bert)


def test_init_from_and_another_model_path_or_a_non_text_model_are_refused(
    tiny_hf: Path, other_bert: Path, pairs_csv: Path, tmp_path: Path
) -> None:
    from siamkit.applications.tracking.pretrained import PRETRAINED_DIR

    cfg = tmp_path / "text.yaml"
    cfg.write_text(yaml.safe_dump({"task": "text", **_config(pairs_csv, tiny_hf)}))
    out = tmp_path / "run"
    args = ["train", str(cfg), "--out", str(out), "--no-progress"]
    res = CliRunner().invoke(cli, [*args, "--init-from", str(other_bert)])
    assert res.exit_code == 1 and res.output.count("\n") == 1, res.output
    assert f"--init-from {other_bert} and model.path {tiny_hf} name different models" in res.output
    assert not out.exists()
    cfg.write_text(yaml.safe_dump({"task": "text", **_config(pairs_csv)}))
    res = CliRunner().invoke(cli, [*args, "--init-from", str(PRETRAINED_DIR)])
    assert res.exit_code == 1 and res.output.count("\n") == 1, res.output
    assert "(SiamFCNet, kind 'siamfc'), not a text model" in res.output
    assert "expect=" not in res.output
    assert "a text run starts from a siamkit text model" in res.output
    assert not out.exists()


def test_resume_needs_no_init_from_and_refuses_another(
    tiny_hf: Path,
    other_bert: Path,
    pairs_csv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg, out = _config(pairs_csv, checkpoint_every=1), tmp_path / "cut"
    real = train_loop._save_checkpoint
    saves = kill_after_first_checkpoint(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        get_task("text")(cfg, out, TaskOptions(progress=False, init_from=str(other_bert)))
    resume = TaskOptions(progress=False, resume=True, init_from=str(tiny_hf))
    with pytest.raises(
        ValueError, match=f"started from --init-from / model.init_from {other_bert}, not {tiny_hf}"
    ):
        get_task("text")(cfg, out, resume)
    summary = get_task("text")(cfg, out, TaskOptions(progress=False, resume=True))
    assert len(saves) == 4  # the three steps left after the first (2 epochs of 2 steps)
    assert read_model_config(summary.model_dir)["metadata"]["init_from"] == str(other_bert)
    # a run that started from its config's model.path: --init-from on resume is another model
    plain, plain_cfg = tmp_path / "plain", _config(pairs_csv, tiny_hf, checkpoint_every=1)
    saves.clear()
    with pytest.raises(KeyboardInterrupt):
        get_task("text")(plain_cfg, plain, TaskOptions(progress=False))
    again = TaskOptions(progress=False, resume=True, init_from=str(other_bert))
    with pytest.raises(ValueError, match="name different models"):
        get_task("text")(plain_cfg, plain, again)
    same = TaskOptions(progress=False, resume=True, init_from=str(tiny_hf))  # its model.path
    monkeypatch.setattr(train_loop, "_save_checkpoint", real)
    get_task("text")(plain_cfg, plain, same)


def test_the_cli_takes_a_named_text_model_as_the_task_does(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--init-from all-mpnet-base-v2 (a name model.path takes) was refused by the command's
    'no saved model at' check; its pieces missing, the zoo's own sentence says what to install.
    The zoo is stood in for: nothing is assembled or downloaded."""
    import dataclasses

    from siamkit.cli.train_cmd import _named_start
    from siamkit.encoders import text_zoo

    name = "all-mpnet-base-v2"
    cfg = tmp_path / "text.yaml"
    cfg.write_text(yaml.safe_dump({"task": "text", **_config(pairs_csv)}))
    image = tmp_path / "image.yaml"
    image.write_text(yaml.safe_dump({"data": {"dataset": "digits"}}))
    assert _named_start(str(cfg), name) and not _named_start(str(image), name)
    assert not _named_start(str(cfg), "builtin")
    res = CliRunner().invoke(cli, ["train", str(image), "--init-from", name])
    assert res.exit_code == 2 and f"no saved model at {name}" in res.output  # still checked
    res = CliRunner().invoke(cli, ["train", str(cfg), "--init-from", "no-such-model"])
    named = f"all-MiniLM-L6-v2, {name}"  # the default by its name too
    assert f"no saved model at no-such-model (or a named text model: {named})" in res.output
    monkeypatch.setenv("SIAMKIT_CACHE", str(tmp_path / "cache"))  # no assembled copy
    absent = dataclasses.replace(text_zoo.NAMED_TEXT_MODELS[name], packages=("siamkit-no-part",))
    monkeypatch.setitem(text_zoo.NAMED_TEXT_MODELS, name, absent)
    out = tmp_path / "run"
    args = ["train", str(cfg), "--out", str(out), "--no-progress", "--init-from", name]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1 and res.output.count("\n") == 1, res.output
    assert f"the text model {name} needs the packages siamkit-no-part: pip install" in res.output
    assert not out.exists()
    monkeypatch.setattr(text_zoo, "named_text_model", lambda _name: tiny_hf)
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert read_model_config(out / "model")["metadata"]["init_from"] == name


@pytest.mark.parametrize("given", ["init_from", "model.path"])
def test_the_fine_tuned_model_does_not_keep_the_start_models_threshold(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, given: str
) -> None:
    """Graded pairs and no validation share calibrate no threshold: the saved model had the start
    model's, calibrated for other weights (save_model falls back to model.threshold)."""
    from siamkit.export.bundle import save_model

    start = save_model(load_text_model(tiny_hf), tmp_path / "start", threshold=0.123)
    said: list[str] = []
    by_option = given == "init_from"
    cfg = _config(pairs_csv, None if by_option else start)
    init_from = str(start) if by_option else None
    options = TaskOptions(progress=False, init_from=init_from, log=said.append)
    summary = get_task("text")(cfg, tmp_path / "run", options)
    assert read_model_config(summary.model_dir)["threshold"] is None
    assert siamkit.load_model(summary.model_dir).threshold is None
    assert [s for s in said if "threshold" in s] == [
        f"the threshold of {start} (0.123) is not kept: the fine-tuned model has only one this "
        "run calibrates (on 0/1 labelled validation pairs)"
    ]


def test_a_run_writes_its_resolved_config_that_resumes_it(
    other_bert: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A text run wrote no config.yaml (image, signature, SSL and SiamFC runs do): it is the
    resolved config (--init-from as model.path, --set applied), written before training, and
    `siamkit train OUT/config.yaml --resume` continues the run it records."""
    cfg, out = tmp_path / "text.yaml", tmp_path / "run"
    cfg.write_text(yaml.safe_dump({"task": "text", **_config(pairs_csv, checkpoint_every=1)}))
    real = train_loop._save_checkpoint
    kill_after_first_checkpoint(monkeypatch)
    args = ["--out", str(out), "--no-progress"]
    start = ["--init-from", str(other_bert), "--set", "train.lr=0.002"]
    res = CliRunner().invoke(cli, ["train", str(cfg), *args, *start])
    assert res.exit_code == 130, res.output  # killed after its first checkpoint
    written = yaml.safe_load((out / "config.yaml").read_text())
    assert written["task"] == "text" and written["model"]["path"] == str(other_bert)
    assert written["train"]["lr"] == 0.002 and written["train"]["epochs"] == 2
    monkeypatch.setattr(train_loop, "_save_checkpoint", real)
    res = CliRunner().invoke(cli, ["train", str(out / "config.yaml"), *args, "--resume"])
    assert res.exit_code == 0, res.output
    assert f"config:  {out / 'config.yaml'}" in res.output
    assert read_model_config(out / "model")["metadata"]["init_from"] == str(other_bert)
