"""Batch pairs against a naive enumeration; the peer loss sees the same pairs; training lowers
the loss; the task writes a loadable model whose threshold came from validation writers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from pytorch_metric_learning.losses import ContrastiveLoss

import siamkit
from siamkit.applications.signatures.config import (
    SignatureTrainConfig,
    signature_config_from_dict,
)
from siamkit.applications.signatures.train import _loss_fn, batch_pairs, sample_batch
from siamkit.cli.main import cli
from siamkit.data.signature_set import synthetic_signature_set
from siamkit.export.bundle import read_model_config

TINY = """task: signatures
data: {synthetic_writers: 12, genuine: 7, forged: 4, image_size: [40, 56], split: [0.5, 0.25, 0.25]}
model: {embedding_dim: 16, encoder_kwargs: {widths: [4, 8, 8, 8], fc: 16, stem_stride: 1}}
train: {steps: 6, writers_per_batch: 4, genuine_per_writer: 3, forged_per_writer: 2, eval_every: 3}
eval: {references: 3}
"""


@pytest.mark.parametrize("fraction", [0.0, 0.5, 1.0])
def test_batch_pairs_are_balanced_and_of_the_right_kind(fraction: float) -> None:
    writer = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    forged = torch.tensor([0, 0, 0, 1] * 3).bool()
    i, j, same = batch_pairs(writer, forged, fraction, np.random.default_rng(0))
    pos = {(a, b) for a in range(12) for b in range(a + 1, 12) if writer[a] == writer[b]}
    pos = {(a, b) for a, b in pos if not forged[a] and not forged[b]}
    rows = list(zip(i.tolist(), j.tolist(), same.tolist()))
    assert {(a, b) for a, b, s in rows if s == 1} == pos  # every genuine pair, once
    neg = [(a, b) for a, b, s in rows if s == 0]
    assert len(neg) == len(pos) and len(set(neg)) == len(neg)
    skilled = [p for p in neg if writer[p[0]] == writer[p[1]]]
    assert all(not forged[a] and forged[b] for a, b in skilled)
    assert all(not forged[a] and not forged[b] for a, b in set(neg) - set(skilled))
    assert len(neg) - len(skilled) == round(len(pos) * fraction) or len(skilled) == 3


def test_sample_batch_takes_whole_writers() -> None:
    s = synthetic_signature_set(5, n_genuine=4, n_forged=3, seed=0, size=(40, 56))
    cfg = SignatureTrainConfig(writers_per_batch=3, genuine_per_writer=2, forged_per_writer=2)
    idx = sample_batch(s, cfg, np.random.default_rng(0))
    assert len(idx) == 12 and len(set(s.writer[idx].tolist())) == 3
    assert int(s.forged[idx].sum()) == 6


def test_peer_loss_is_pml_on_the_same_pairs() -> None:
    z = torch.nn.functional.normalize(torch.randn(8, 4), dim=1)
    i, j = torch.tensor([0, 1, 2, 3]), torch.tensor([4, 5, 6, 7])
    same = torch.tensor([1, 1, 0, 0])
    cfg = SignatureTrainConfig(loss="pml", margin=0.7)
    want = ContrastiveLoss(pos_margin=0.0, neg_margin=0.7)(
        z, torch.arange(8), indices_tuple=(i[:2], j[:2], i[2:], j[2:])
    )
    assert float(_loss_fn(cfg)(z, i, j, same)) == pytest.approx(float(want))
    d = (z[i] - z[j]).norm(dim=1)
    ours = (same * d**2 + (1 - same) * torch.relu(0.7 - d) ** 2).mean()
    got = _loss_fn(SignatureTrainConfig(margin=0.7))(z, i, j, same)
    assert float(got) == pytest.approx(float(ours), rel=1e-5)


def test_an_override_into_an_empty_section_or_unreadable_is_one_sentence() -> None:
    """`train:` left empty in the file plus --set train.steps=3 was Python's "'NoneType' object
    does not support item assignment"; an unreadable value was PyYAML's ParserError."""
    cfg = signature_config_from_dict({"train": None}, ("train.steps=3",))
    assert cfg.train.steps == 3
    with pytest.raises(ValueError, match=r"^cannot read the value in override 'train\.steps=\['"):
        signature_config_from_dict({}, ("train.steps=[",))
    with pytest.raises(ValueError, match=r"^section 'train' must be a mapping"):
        signature_config_from_dict({"train": 3}, ("train.steps=3",))


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ValueError, match="bogus"):
        signature_config_from_dict({"train": {"bogus": 1}})
    with pytest.raises(ValueError, match=r"train\.loss"):
        signature_config_from_dict({}, ("train.loss=hinge",))
    with pytest.raises(ValueError, match="section"):
        signature_config_from_dict({"nope": {}})
    assert signature_config_from_dict({}, ("train.steps=3",)).train.steps == 3


def test_a_misspelled_section_in_set_is_named_with_the_valid_ones(tmp_path: Path) -> None:
    """It was the generic "must look like section.key=value", as if the form were wrong."""
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY)
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(out), "--set", "trian.x=1"])
    assert res.exit_code == 1 and res.output.count("\n") == 1, res.output
    assert (
        "unknown section 'trian' in override 'trian.x=1' (did you mean 'train'?); "
        "valid sections: data, model, train, eval" in res.output
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({"train": {"steps": "ten"}}, r"train\.steps must be int, got 'ten'"),  # was a TypeError
        ({"train": {"steps": True}}, r"train\.steps must be int, got True"),  # was 1 step
        ({"train": {"lr": 0}}, r"train\.lr must be positive"),  # was trained on
        ({"train": {"lr": float("nan")}}, r"train\.lr must be a number, got NaN"),
        ({"data": {"layout": "cedr"}}, r"data\.layout must be auto or one of cedar"),
    ],
)
def test_config_values_of_the_wrong_type_or_range_name_the_key(doc: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        signature_config_from_dict(doc)
    cfg = signature_config_from_dict({"data": {"image_size": [64, 96]}, "train": {"lr": 1}})
    assert cfg.data.image_size == (64, 96) and cfg.train.lr == 1.0


def test_an_image_size_too_small_for_the_encoder_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    """[39, 55] passed the ">= 32" check and died in a max-pool traceback on the first training
    step, after OUT/config.yaml was written."""
    from siamkit.applications.signatures import build_signature_model
    from siamkit.applications.signatures.model import smallest_signature_side

    assert [smallest_signature_side({"stem_stride": s}) for s in (1, 2, 3)] == [15, 29, 43]
    with pytest.raises(ValueError, match=r"give each side at least 43 pixels"):
        build_signature_model((1, 39, 55), 8, {"stem_stride": 3})
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY.replace("image_size: [40, 56]", "image_size: [39, 55]"))
    out = tmp_path / "run"
    args = ["train", str(cfg), "--out", str(out), "--set", "model.encoder_kwargs={stem_stride: 3}"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1 and res.output.count("\n") == 1, res.output
    assert res.output.strip() == (
        "Error: data.image_size [39, 55] is too small for the encoder of model.encoder_kwargs "
        "{'stem_stride': 3}: its feature map shrinks to nothing; give data.image_size of at "
        "least [43, 43], or a smaller model.encoder_kwargs.stem_stride."
    )
    assert not out.exists()


def test_train_task_end_to_end(tmp_path: Path) -> None:
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY)
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    assert "test_eer_skilled" in res.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["synthetic"] is True
    assert metrics["writers"] == {"train": 6, "validation": 3, "test": 3}
    model = siamkit.load_model(tmp_path / "run" / "model")
    assert model.threshold == pytest.approx(metrics["validation"]["skilled"]["eer_threshold"])
    assert metrics["test"]["threshold_source"] == "model"  # chosen on validation writers
    assert model.embed(torch.zeros(1, 1, 40, 56)).shape == (1, 16)
    assert [h["step"] for h in metrics["history"]] == [3, 6]


def test_a_run_on_a_synth_folder_records_synthetic_data(tmp_path: Path) -> None:
    """A run on a folder `signature synth` wrote recorded "synthetic": false in metrics.json
    and the model, as on real scans; its SYNTHETIC file marks it now, and a folder of the same
    images without the file is read as real."""
    from siamkit.applications.signatures.task import load_run_data
    from siamkit.data.synthetic_signatures import write_signature_folders

    sigs = write_signature_folders(tmp_path / "sigs", 12, 7, 4, seed=0, size=(40, 56))
    doc = yaml.safe_load(TINY)
    doc["data"]["root"] = str(sigs)
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    assert "synthetic signatures: 6 train" in res.output
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["synthetic"] is True
    meta = read_model_config(tmp_path / "run" / "model")["metadata"]["signatures"]
    assert meta["synthetic_training_data"] is True
    scans = shutil.copytree(sigs, tmp_path / "scans", ignore=shutil.ignore_patterns("SYN*"))
    doc.pop("task")
    doc["data"]["root"] = str(scans)
    assert load_run_data(signature_config_from_dict(doc))[1] is False


def test_shipped_config_parses() -> None:
    import yaml

    doc = yaml.safe_load((Path(__file__).parents[3] / "configs" / "signatures.yaml").read_text())
    assert doc.pop("task") == "signatures"
    cfg = signature_config_from_dict(doc)
    assert cfg.data.root is None and cfg.eval.references == 5


def test_auto_reduce_picks_the_best_on_the_given_writers() -> None:
    from siamkit.applications.signatures import build_signature_model
    from siamkit.applications.signatures.config import SignatureEvalConfig
    from siamkit.applications.signatures.train import validate

    s = synthetic_signature_set(5, n_genuine=5, n_forged=3, seed=2, size=(40, 56))
    model = build_signature_model((1, 40, 56), 8, {"widths": [4, 4, 4, 4], "fc": 8})
    each = {
        r: validate(model, s, SignatureEvalConfig(references=2, reduce=r))
        for r in ("mean", "min", "max")
    }
    auto = validate(model, s, SignatureEvalConfig(references=2, reduce="auto"))
    best = min(each.values(), key=lambda e: e.skilled.eer + e.random.eer)
    assert auto == best and auto.reduce in each


def test_train_with_appearance_skip_saves_the_joined_model(tmp_path: Path) -> None:
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY)
    args = ["--set", "model.appearance_weight=1.0", "--set", "train.steps=2"]
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "r"), *args])
    assert res.exit_code == 0, res.output
    model = siamkit.load_model(tmp_path / "r" / "model")
    assert isinstance(model, siamkit.JoinedEmbedding)
    hog_dim = 12 * (40 // 4) * (56 // 4)
    assert model.embedding_dim == 16 + hog_dim
    x = torch.rand(2, 1, 40, 56)
    assert model.parts(x)["learned"].shape == model.net.embed(x).shape == (2, 16)
    assert model.embed(x).shape == (2, 16 + hog_dim)


def _straight_cut_and_resumed(tmp_path: Path, monkeypatch, device: str) -> tuple[Path, Path, Path]:
    """An 8-step run (checkpoints every 2 steps) made straight, and again stopped after its
    step-4 checkpoint and resumed, both on ``device``: (config, straight folder, resumed folder)."""
    import siamkit.applications.signatures.train as train_mod

    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY.replace("steps: 6", "steps: 8").replace("eval_every: 3", "eval_every: 2"))
    straight, cut = tmp_path / "straight", tmp_path / "cut"
    on = ["--device", device]
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(straight), *on])
    assert res.exit_code == 0, res.output
    calls = {"n": 0}
    real = train_mod.sample_batch

    def stop_at_step_5(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt  # as if killed after the step-4 checkpoint
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "sample_batch", stop_at_step_5)
    CliRunner().invoke(cli, ["train", str(cfg), "--out", str(cut), *on])
    assert calls["n"] == 5 and (cut / "checkpoint.pt").is_file()
    assert not (cut / "model").exists()
    monkeypatch.setattr(train_mod, "sample_batch", real)
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(cut), *on, "--resume"])
    assert res.exit_code == 0, res.output
    return cfg, straight, cut


def test_resume_after_an_interruption_ends_as_the_straight_run(tmp_path: Path, monkeypatch) -> None:
    """Stopped after the step-4 checkpoint of 8 and resumed: the same weights, history and
    metrics as a run that was never stopped (CPU, bit for bit)."""
    cfg, straight, cut = _straight_cut_and_resumed(tmp_path, monkeypatch, "cpu")
    a, b = (siamkit.load_model(d / "model").state_dict() for d in (straight, cut))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (straight, cut))
    assert ma == mb and [h["step"] for h in mb["history"]] == [2, 4, 6, 8]
    res = CliRunner().invoke(
        cli, ["train", str(cfg), "--out", str(cut), "--resume", "--set", "train.lr=0.01"]
    )
    assert res.exit_code == 1 and "different config (train.lr)" in res.output
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "none"), "--resume"])
    assert res.exit_code == 1 and "no checkpoint.pt" in res.output


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_resume_on_a_gpu_ends_near_the_straight_run(tmp_path: Path, monkeypatch) -> None:
    """The same cut and resume on CUDA: the batches, pairs and generators are restored, so the
    weights end where the uninterrupted run's end, up to CUDA's unordered sums."""
    _, straight, cut = _straight_cut_and_resumed(tmp_path, monkeypatch, "cuda")
    a, b = (siamkit.load_model(d / "model").state_dict() for d in (straight, cut))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-4, rtol=1e-3, msg=k)
    history = json.loads((cut / "metrics.json").read_text())["history"]
    assert [h["step"] for h in history] == [2, 4, 6, 8]


def test_a_resume_does_not_read_the_init_from_model(tmp_path: Path) -> None:
    """On resume the checkpoint's weights replace the --init-from model's: it is not read, so
    the resume works after that model was deleted, given again or not."""
    from siamkit.applications.signatures.model import build_signature_model

    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY)
    doc = yaml.safe_load(TINY)
    del doc["task"]
    m = signature_config_from_dict(doc).model
    net = build_signature_model((1, 40, 56), m.embedding_dim, m.encoder_kwargs)
    source, out = tmp_path / "source", tmp_path / "run"
    siamkit.save_model(net, source / "model")
    args = ["train", str(cfg), "--out", str(out), "--init-from", str(source / "model")]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0 and (out / "checkpoint.pt").is_file(), res.output
    saved = torch.load(out / "checkpoint.pt", weights_only=True)["config"]
    assert saved["model"]["init_from"] == str(source / "model")  # what a resume checks
    shutil.rmtree(source)
    res = CliRunner().invoke(cli, [*args, "--resume"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, [*args[:4], "--resume"])
    assert res.exit_code == 0, res.output
    assert read_model_config(out / "model")["metadata"]["init_from"] == str(source / "model")
    other = tmp_path / "other" / "model"  # another model: refused, not silently ignored
    res = CliRunner().invoke(cli, [*args[:4], "--resume", "--init-from", str(other)])
    assert res.exit_code == 1 and res.output.count("\n") == 1, res.output
    assert (
        f"started from --init-from / model.init_from {source / 'model'}, not {other}" in res.output
    )


def _checkpoint_of(out: Path, config: dict) -> Path:
    """A checkpoint holding only the config a run was made with (all a resume checks first)."""
    from siamkit.training.checkpoint import save_checkpoint

    return save_checkpoint({"epoch": 3, "config": config}, out / "checkpoint.pt")


def _resume(cfg: Path, out: Path, *sets: str, init_from: str | None = None):
    args = [a for s in sets for a in ("--set", s)]
    args += ["--init-from", init_from] if init_from is not None else []
    return CliRunner().invoke(cli, ["train", str(cfg), "--out", str(out), "--resume", *args])


def _tiny_run_config(init_from: str | None = None) -> dict:
    """What a checkpoint of TINY's run records (started from ``init_from``)."""
    from siamkit.applications.signatures.task import _resumable

    doc = yaml.safe_load(TINY)
    del doc["task"]
    return _resumable(signature_config_from_dict(doc), init_from)


class _DataRead(Exception):
    pass


def test_a_refused_resume_reads_no_data_and_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    from siamkit.applications.signatures import task

    def no_data(*args, **kwargs):
        raise _DataRead  # the config check comes first

    monkeypatch.setattr(task, "load_run_data", no_data)
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY)
    out = tmp_path / "run"
    path = _checkpoint_of(out, _tiny_run_config())
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    res = _resume(cfg, out, "train.steps=8")  # the cosine schedule's length
    assert res.exit_code == 1 and not isinstance(res.exception, _DataRead), res.output
    assert (
        "the checkpoint was made with a different config (train.steps); resume with the same one"
        in res.output
    )
    assert "Traceback" not in res.output
    assert [p.name for p in out.iterdir()] == ["checkpoint.pt"]
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    # validation during training reads eval.seed: unlike an embedding run's, it may not change
    res = _resume(cfg, out, "eval.seed=7")
    assert res.exit_code == 1 and "different config (eval.seed)" in res.output, res.output
    res = _resume(cfg, out, "train.threads=1")  # not part of the run: past the check
    assert isinstance(res.exception, _DataRead), res.output


def test_a_checkpoint_from_before_a_key_was_added_resumes(tmp_path: Path, monkeypatch) -> None:
    # the key takes its default, as the run that wrote the checkpoint had it; one the config does
    # not know is named
    from siamkit.applications.signatures import task

    def no_data(*args, **kwargs):
        raise _DataRead

    monkeypatch.setattr(task, "load_run_data", no_data)
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY)
    old = _tiny_run_config()
    del old["model"]["appearance_pool"], old["train"]["random_fraction"]
    _checkpoint_of(tmp_path / "a", old)
    assert isinstance(_resume(cfg, tmp_path / "a").exception, _DataRead)
    res = _resume(cfg, tmp_path / "a", "model.appearance_pool=2")
    assert res.exit_code == 1 and "different config (model.appearance_pool)" in res.output
    _checkpoint_of(tmp_path / "b", {**old, "train": {**old["train"], "gone": 1}})
    res = _resume(cfg, tmp_path / "b")
    assert res.exit_code == 1 and "different config (train.gone)" in res.output


def test_a_resume_given_another_init_from_is_refused(tmp_path: Path, monkeypatch) -> None:
    """It was accepted and ignored: the checkpoint did not record the model the run started from.
    None, or the same one, continues; a checkpoint from before it was recorded resumes as before."""
    from siamkit.applications.signatures import task

    def no_data(*args, **kwargs):
        raise _DataRead  # past the checks

    monkeypatch.setattr(task, "load_run_data", no_data)
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY)
    out, start = tmp_path / "run", str(tmp_path / "start")
    _checkpoint_of(out, _tiny_run_config(start))
    res = _resume(cfg, out, init_from=str(tmp_path / "other"))
    assert res.exit_code == 1 and res.output.count("\n") == 1, res.output
    assert (
        f"started from --init-from / model.init_from {start}, not {tmp_path / 'other'}: resume"
        in res.output
    )
    assert isinstance(_resume(cfg, out, init_from=start).exception, _DataRead)
    assert isinstance(_resume(cfg, out).exception, _DataRead)
    plain = tmp_path / "plain"  # a run that started from no saved model
    _checkpoint_of(plain, _tiny_run_config())
    res = _resume(cfg, plain, init_from=start)
    assert res.exit_code == 1 and "did not start from a saved model" in res.output, res.output
    old = _tiny_run_config()
    del old["model"]["init_from"]
    _checkpoint_of(tmp_path / "old", old)
    res = _resume(cfg, tmp_path / "old", init_from=str(tmp_path / "other"))
    assert isinstance(res.exception, _DataRead), res.output


def test_train_device_reaches_the_training_loop(tmp_path: Path, monkeypatch) -> None:
    """`siamkit train --device` (over the config's train.device) is where the loop trains; it
    was ignored, so a GPU machine trained signatures on the CPU. The model comes back on the
    CPU it was built on, and a resume may go on elsewhere (train.device is not checked)."""
    import siamkit.applications.signatures.train as train_mod

    asked: list[str] = []
    real = train_mod.resolve_device

    def spy(name: str) -> torch.device:
        asked.append(name)
        return real("cpu")

    monkeypatch.setattr(train_mod, "resolve_device", spy)
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY.replace("eval_every: 3}", "eval_every: 3, device: cuda:7}"))
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(out), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert asked == ["cpu"]
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["device"] == "cpu"
    saved = torch.load(out / "checkpoint.pt", weights_only=True)["config"]
    assert "device" not in saved["train"]  # a resume may go on on another device


def test_device_from_the_config_when_the_command_line_says_auto(tmp_path: Path, monkeypatch):
    import siamkit.applications.signatures.train as train_mod

    asked: list[str] = []
    monkeypatch.setattr(
        train_mod, "resolve_device", lambda n: asked.append(n) or torch.device("cpu")
    )
    monkeypatch.setattr("siamkit.applications.signatures.task.resolve_device", lambda n: None)
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY.replace("eval_every: 3}", "eval_every: 3, device: cuda:7}"))
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    assert asked == ["cuda:7"]


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA"
)
def test_a_gpu_that_is_not_there_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY)
    res = CliRunner().invoke(
        cli, ["train", str(cfg), "--out", str(tmp_path / "run"), "--device", "cuda"]
    )
    assert res.exit_code == 1 and "no usable CUDA GPU" in res.output, res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "run").exists()


def test_torchrun_is_refused_before_anything_is_written(tmp_path: Path, monkeypatch) -> None:
    # every process would train the whole run alone and write the same files
    monkeypatch.setenv("WORLD_SIZE", "2")
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY)
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code == 1 and "task signatures trains in one process" in res.output
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_trains_on_a_gpu_and_saves_a_cpu_model(tmp_path: Path) -> None:
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY)
    res = CliRunner().invoke(
        cli, ["train", str(cfg), "--out", str(tmp_path / "run"), "--device", "cuda"]
    )
    assert res.exit_code == 0, res.output
    model = siamkit.load_model(tmp_path / "run" / "model")
    assert model.embed(torch.zeros(1, 1, 40, 56)).shape == (1, 16)


def test_too_few_genuine_for_the_references_is_refused_before_training(
    tmp_path: Path, monkeypatch
) -> None:
    """Writers with no more genuine signatures than eval.references trained the whole run, then
    failed in the validation evaluation: the same sentence now comes before any step."""
    import siamkit.applications.signatures.task as task_mod

    def no_training(*a, **kw):
        raise AssertionError("trained before refusing")

    monkeypatch.setattr(task_mod, "train_signatures", no_training)
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY.replace("genuine: 7", "genuine: 3"))
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(out)])
    assert res.exit_code == 1, res.output
    assert "eval.references = 3" in res.output and "at most 3 genuine" in res.output
    assert not out.exists()


def _stopped_at_step_4(cfg: Path, out: Path, monkeypatch, *more: str):
    """``siamkit train cfg --out out`` (and ``more``) stopped by Ctrl-C as step 4 draws its
    batch, as if killed after the step-3 checkpoint; its result. Batches are drawn as before
    once it returns."""
    import siamkit.applications.signatures.train as train_mod

    real, calls = train_mod.sample_batch, {"n": 0}

    def stop_at_step_4(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # after the step-3 checkpoint
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "sample_batch", stop_at_step_4)
    try:
        return CliRunner().invoke(cli, ["train", str(cfg), "--out", str(out), *more])
    finally:
        monkeypatch.setattr(train_mod, "sample_batch", real)


def test_a_run_stopped_after_its_first_checkpoint_has_its_config(tmp_path: Path, monkeypatch):
    """config.yaml (resolved) is written before training, as the other tasks write it, not at
    the end: a run stopped after its step-3 checkpoint holds it, and resuming with it (the
    command a stopped run's folder offers) finishes the run."""
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY)
    out = tmp_path / "run"
    res = _stopped_at_step_4(cfg, out, monkeypatch, "--device", "cpu")
    assert res.exit_code == 130 and (out / "checkpoint.pt").is_file(), res.output
    written = yaml.safe_load((out / "config.yaml").read_text())
    assert written["task"] == "signatures" and written["train"]["device"] == "cpu"  # resolved
    assert written["train"]["steps"] == 6 and written["data"]["image_size"] == [40, 56]
    res = CliRunner().invoke(
        cli, ["train", str(out / "config.yaml"), "--out", str(out), "--resume"]
    )
    assert res.exit_code == 0, res.output
    assert [h["step"] for h in json.loads((out / "metrics.json").read_text())["history"]] == [3, 6]


def test_the_train_task_is_reproducible_by_train_seed(tmp_path: Path) -> None:
    """Two `siamkit train` runs of one signature config (train.seed 0) end with the same
    weights, whatever the process's torch RNG was before: the network's initial weights were
    drawn unseeded, so two runs (or a resume and an uninterrupted run in two processes)
    differed."""
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY)
    weights = []
    for run, rng_before in (("a", 1), ("b", 2)):
        torch.manual_seed(rng_before)  # another state of the global RNG, as another process has
        res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / run)])
        assert res.exit_code == 0, res.output
        weights.append(siamkit.load_model(tmp_path / run / "model").state_dict())
    assert weights[0].keys() == weights[1].keys()
    for name, value in weights[0].items():
        assert torch.equal(value, weights[1][name]), name


def test_a_run_without_skilled_forgeries_saves_a_model_that_loads(tmp_path: Path) -> None:
    """Without skilled forgeries the model's threshold was the validation's skilled EER
    threshold, NaN: the run ended with a model that load_model refused ("threshold nan"), and
    metrics.json's history held NaN."""
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY.replace("forged: 4", "forged: 0").replace("eval_every: 3", "eval_every: 6"))
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    model = siamkit.load_model(tmp_path / "run" / "model")
    text = (tmp_path / "run" / "metrics.json").read_text()
    assert "NaN" not in text  # the history's skilled EER was NaN, which is no JSON
    val = json.loads(text)["validation"]
    assert model.threshold == pytest.approx(val["random"]["eer_threshold"])
    assert val["skilled"]["eer"] is None and val["threshold_source"] == "random EER of these scores"


def test_one_validation_writer_and_no_forgeries_is_refused_before_training(tmp_path: Path) -> None:
    """Validation then has no EER to choose weights by, nor a threshold: the run failed at its
    first validation check, saying 'verification needs both genuine and impostor pairs'."""
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY.replace("forged: 4", "forged: 0").replace("writers: 12", "writers: 4"))
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code != 0
    assert "the validation writers give no forgery to measure an EER with" in res.output
    assert not (tmp_path / "run").exists()


def test_validation_without_skilled_forgeries_chooses_by_the_random_eer(monkeypatch) -> None:
    """The skilled + random EER was NaN without skilled forgeries: reduce "auto" took the
    first reduction, and training kept the first check's weights, whatever came after."""
    from types import SimpleNamespace

    import siamkit.applications.signatures.train as train_mod
    from siamkit.applications.signatures.config import SignatureEvalConfig
    from siamkit.applications.signatures.decision import REDUCTIONS
    from siamkit.applications.signatures.evaluate import evaluate_signatures

    g = torch.Generator().manual_seed(1)
    writer = torch.arange(4).repeat_interleave(4)
    forged = torch.zeros(16, dtype=torch.bool)
    z = torch.randn(4, 3, generator=g)[writer] + 0.8 * torch.randn(16, 3, generator=g)
    s = synthetic_signature_set(4, n_genuine=4, n_forged=0, seed=0, size=(40, 56))
    assert s.writer.tolist() == writer.tolist()
    monkeypatch.setattr(train_mod, "embed_signatures", lambda model, images: z)
    net = SimpleNamespace(distance="euclidean")  # embed_signatures is replaced: no network
    auto = train_mod.validate(net, s, SignatureEvalConfig(references=2, reduce="auto"))  # type: ignore[arg-type]
    each = {r: evaluate_signatures(z, writer, forged, 2, r).random.eer for r in REDUCTIONS}
    assert each["mean"] > min(each.values())  # the first reduction is not the best here
    assert auto.random.eer == min(each.values()) and each[auto.reduce] == min(each.values())
    assert train_mod.selection_score(auto) == auto.random.eer


@pytest.mark.parametrize(
    ("genuine", "forged", "refused"),
    [
        ([5, 2], [0, 3], True),  # the only skilled forgeries are of a writer not evaluated
        ([5, 2], [3, 0], False),  # the writer evaluated has its own
        ([5, 5], [0, 0], False),  # two writers evaluated: random forgeries
        ([5, 4], [0, 3], False),  # 4 genuine (> 3 references): both evaluated
    ],
)
def test_the_refusal_counts_the_skilled_forgeries_of_the_writers_evaluated(
    genuine: list[int], forged: list[int], refused: bool
) -> None:
    """It counted every validation writer's: a writer with too few genuine signatures to be
    evaluated lent the one evaluated its forgeries, the check passed, and the run failed at its
    first validation check (reviewer s52_R2). It refuses exactly when validation has no forgery
    to measure an EER with, as evaluate_signatures (what validation runs) finds it."""
    from siamkit.applications.signatures.evaluate import evaluate_signatures
    from siamkit.applications.signatures.task import _check_references
    from siamkit.data.signature_set import SignatureSet

    writer = torch.tensor([w for w, n in enumerate(np.add(genuine, forged)) for _ in range(n)])
    forged_t = torch.tensor([i >= g for g, f in zip(genuine, forged) for i in range(g + f)])
    data = SignatureSet(torch.rand(len(writer), 1, 8, 8), writer, forged_t, ["a", "b"])
    z = torch.randn(len(writer), 4, generator=torch.Generator().manual_seed(0))
    if refused:
        with pytest.raises(ValueError, match="no forgery to choose a threshold against"):
            evaluate_signatures(z, writer, forged_t, 3)
        with pytest.raises(
            ValueError, match=r"only one of them .* and it has no skilled forgeries"
        ):
            _check_references(data, "validation", 3)
    else:
        evaluate_signatures(z, writer, forged_t, 3)
        _check_references(data, "validation", 3)


def test_training_keeps_the_weights_of_the_best_validation_check(tmp_path: Path) -> None:
    """With one validation writer there are no random forgeries, and the skilled + random EER
    was NaN: training kept the first check's weights (EER 0.5) over the second's (0.25). The
    model saved, and the validation figures, are now the best check's (reviewer s52_R2)."""
    from siamkit.training.checkpoint import load_checkpoint

    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY.replace("writers: 12", "writers: 4"))  # 1 validation writer
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(out)])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    history, val = metrics["history"], metrics["validation"]
    assert [h["step"] for h in history] == [3, 6] and all(
        h["val_eer_random"] is None for h in history
    )
    skilled = [h["val_eer_skilled"] for h in history]  # selection_score: the skilled EER alone
    assert skilled[1] < skilled[0]  # the first check is not the best one here
    assert val["skilled"]["eer"] == min(skilled) and val["random"]["eer"] is None
    assert load_checkpoint(out / "checkpoint.pt")["best_score"] == min(skilled)
    model = siamkit.load_model(out / "model")  # its threshold: the best weights' validation
    assert model.threshold == pytest.approx(val["skilled"]["eer_threshold"])


def test_a_checkpoint_written_before_selection_score_resumes_to_valid_json(
    tmp_path: Path, monkeypatch
) -> None:
    """A checkpoint of 7b9e1b2d^ holds NaN for a kind of forgery with none to score (here the
    random EER: one validation writer) and best_score NaN: resumed, metrics.json held NaN (no
    JSON) and the run kept the first check's weights. NaN is now None in the history, a NaN best
    is scored from history[0] (its weights are the first check's), a later better check replaces
    it, and metrics.json is written without NaN (reviewers s52_R2, s52_R11)."""
    import math

    from siamkit.training.checkpoint import load_checkpoint, save_checkpoint

    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY.replace("writers: 12", "writers: 4"))
    out = tmp_path / "run"
    res = _stopped_at_step_4(cfg, out, monkeypatch)
    assert res.exit_code == 130, res.output
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["history"][0]["val_eer_random"] is None
    state["history"][0]["val_eer_random"] = math.nan  # as 7b9e1b2d^ wrote them
    state["best_score"] = math.nan
    save_checkpoint(state, out / "checkpoint.pt")
    res = CliRunner().invoke(
        cli, ["train", str(out / "config.yaml"), "--out", str(out), "--resume"]
    )
    assert res.exit_code == 0, res.output

    def no_constant(name: str) -> None:
        raise AssertionError(f"metrics.json holds {name}, which is no JSON")

    metrics = json.loads((out / "metrics.json").read_text(), parse_constant=no_constant)
    history = metrics["history"]
    assert [h["val_eer_random"] for h in history] == [None, None]
    skilled = [h["val_eer_skilled"] for h in history]
    assert skilled[1] < skilled[0]  # the first check's weights are not the best
    assert metrics["validation"]["skilled"]["eer"] == min(skilled)


def test_a_resumed_checkpoint_from_before_selection_score_keeps_its_first_checks_weights(
    tmp_path: Path, monkeypatch
) -> None:
    """A NaN best_score (7b9e1b2d^) compared false with every score, so the checkpoint's best
    weights are its first check's. Resuming dropped them as no best: where the first check was
    the best, the run ended with a later check's worse weights (reviewer s52_R11: history
    [0.25, 0.75, 0.5], validation EER 0.5). They are kept, scored from history[0]."""
    import math

    from siamkit.training.checkpoint import load_checkpoint, save_checkpoint

    cfg = tmp_path / "sig.yaml"
    cfg.write_text(
        TINY.replace("writers: 12", "writers: 4")
        .replace("split: [0.5, 0.25, 0.25]}", "split: [0.5, 0.25, 0.25], seed: 5}")
        .replace("steps: 6", "steps: 9")
        .replace("eval_every: 3}", "eval_every: 3, lr: 0.003}")
    )
    out = tmp_path / "run"
    res = _stopped_at_step_4(cfg, out, monkeypatch)
    assert res.exit_code == 130, res.output
    state = load_checkpoint(out / "checkpoint.pt")
    first = state["history"][0]["val_eer_skilled"]
    assert state["best_score"] == first and state["history"][0]["val_eer_random"] is None
    state["history"][0]["val_eer_random"] = math.nan  # as 7b9e1b2d^ wrote them
    state["best_score"] = math.nan
    save_checkpoint(state, out / "checkpoint.pt")
    res = CliRunner().invoke(
        cli, ["train", str(out / "config.yaml"), "--out", str(out), "--resume"]
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    skilled = [h["val_eer_skilled"] for h in metrics["history"]]
    assert len(skilled) == 3 and skilled[0] == first
    assert first < min(skilled[1:])  # the first check is the best here
    assert metrics["validation"]["skilled"]["eer"] == first
    assert load_checkpoint(out / "checkpoint.pt")["best_score"] == first


@pytest.mark.parametrize("margin", ["1.0e+20", ".inf", "0", "-1"])
def test_a_margin_that_is_not_positive_or_overflows_float32_is_refused(margin: str) -> None:
    """train.margin was not checked: 1e20 squared is inf in float32, a similar pair's 0 * inf made
    the loss NaN, and the finished run failed writing metrics.json (reviewer s52_R11)."""
    doc = yaml.safe_load(TINY)
    doc.pop("task")
    with pytest.raises(ValueError, match=r"^train\.margin must be a positive number no larger"):
        signature_config_from_dict(doc, (f"train.margin={margin}",))
    signature_config_from_dict(doc, ("train.margin=1.0e+9",))  # the largest taken
    big = torch.tensor([1e9], dtype=torch.float32)  # whose square, even times many pairs, fits
    assert torch.isfinite(torch.relu(big).pow(2).repeat(10_000).sum())


def test_a_nan_loss_is_none_in_the_history_and_the_log_says_nan() -> None:
    """A NaN loss with finite weights (a margin whose square overflows float32, given past the
    config's check) went into the history as NaN, which metrics.json refuses: the finished run
    failed, and the same run resumed (whose history is mended) did not (reviewer s52_R11)."""
    from siamkit.applications.signatures.config import SignatureEvalConfig
    from siamkit.applications.signatures.model import build_signature_model
    from siamkit.applications.signatures.train import train_signatures

    data = synthetic_signature_set(4, n_genuine=5, n_forged=2, seed=0, size=(40, 56))
    torch.manual_seed(0)
    model = build_signature_model(
        (1, 40, 56), 16, {"widths": [4, 8, 8, 8], "fc": 16, "stem_stride": 1}
    )
    cfg = SignatureTrainConfig(
        steps=2, writers_per_batch=4, genuine_per_writer=3, forged_per_writer=2, eval_every=2,
        margin=1e20,
    )  # fmt: skip
    lines: list[str] = []
    _, history = train_signatures(
        model, data, data, cfg, SignatureEvalConfig(references=3), lines.append
    )
    assert "loss nan," in lines[-1]  # the loss was NaN: a check that the case is reached
    assert history[0]["loss"] is None
    json.dumps(history, allow_nan=False)


def test_metrics_that_are_no_json_leave_no_model_behind(tmp_path: Path, monkeypatch) -> None:
    """metrics.json was written after save_model, so a NaN that made it fail left model/ without
    its metrics.json (reviewer s52_R11). The JSON is made first, and the failure names where."""
    import siamkit.applications.signatures.task as task_mod

    real = task_mod.train_signatures

    def nan_loss(*args, **kwargs):
        model, history = real(*args, **kwargs)
        history[0]["loss"] = float("nan")
        return model, history

    monkeypatch.setattr(task_mod, "train_signatures", nan_loss)
    cfg = tmp_path / "sig.yaml"
    cfg.write_text(TINY)
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(out)])
    assert res.exit_code != 0
    assert "metrics.json cannot hold history[0].loss = nan" in res.output
    assert not (out / "model").exists() and not (out / "metrics.json").exists()
