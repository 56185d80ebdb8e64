"""``task: text`` fine-tuning on a tiny BERT (random weights, MiniLM's tokenizer): it changes the
weights and lowers the training objective; resume ends where an uninterrupted run ends."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from _text_runs import cut_run

import siamkit
from _on_gpu import on_gpu, refuse_gpu_rng_states
from siamkit.applications.text import train as text_train
from siamkit.applications.text import train_loop
from siamkit.applications.text.model import TextSiameseNetwork
from siamkit.applications.text.pairs import read_examples
from siamkit.applications.text.train_config import parse_config
from siamkit.training.tasks import TaskOptions, get_task


def _config(tiny: Path, data: Path, **train: Any) -> dict[str, Any]:
    return {
        "model": {"path": str(tiny), "max_length": 32, "overlap": 8},
        "data": {"train": str(data), "score_range": [0, 5], "val_fraction": 0},
        "loss": {"name": "cosent"},
        "train": {"epochs": 3, "batch_size": 6, "lr": 1e-3, "warmup": 0.0, **train},
    }


@pytest.fixture
def pairs_csv(tmp_path: Path, graded_pairs: list[tuple[str, str, float]]) -> Path:
    path = tmp_path / "pairs.csv"
    path.write_text("a,b,label\n" + "".join(f"{a},{b},{s}\n" for a, b, s in graded_pairs))
    return path


def _assert_same_weights(a_dir: Path, b_dir: Path, **tolerance: float) -> None:
    """The two saved models hold the same tensors under the same names (to ``tolerance``)."""
    a, b = siamkit.load_model(a_dir).state_dict(), siamkit.load_model(b_dir).state_dict()
    assert list(a) == list(b)
    for k, x in a.items():
        torch.testing.assert_close(x, b[k], msg=k, **tolerance)


def _objective(model: TextSiameseNetwork, cfg: dict[str, Any], data: Path) -> float:
    parsed = parse_config(cfg)
    ex = read_examples(data, "pairs", score_range=(0, 5))
    model.eval()
    with torch.no_grad():
        return float(train_loop.batch_loss(model, parsed, ex))


@pytest.mark.parametrize(
    ("train", "match"),
    [
        ({"epochs": "ten"}, r"train\.epochs must be int, got 'ten'"),  # was a TypeError
        ({"epochs": True}, r"train\.epochs must be int, got True"),  # was 1 epoch
        ({"lr": [1]}, r"train\.lr must be float, got \[1\]"),
        ({"lr": float("nan")}, r"train\.lr must be a number, got NaN"),
    ],
)
def test_config_values_of_the_wrong_type_name_the_key(train: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_config({"data": {"train": "x.csv"}, "train": train})
    cfg = parse_config({"data": {"train": "x.csv", "score_range": [0, 5]}, "train": {"lr": "2e-5"}})
    assert cfg.data.score_range == [0.0, 5.0] and cfg.train.lr == 2e-5


def test_fine_tune_changes_weights_and_lowers_the_objective(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path
) -> None:
    cfg = _config(tiny_hf, pairs_csv, epochs=8)
    before = TextSiameseNetwork.pretrained(tiny_hf, max_length=32, overlap=8)
    summary = get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    after = siamkit.load_model(summary.model_dir)
    assert isinstance(after, TextSiameseNetwork)
    w0 = before.state_dict()["encoder.transformer.encoder.layer.0.attention.self.query.weight"]
    w1 = after.state_dict()["encoder.transformer.encoder.layer.0.attention.self.query.weight"]
    assert not torch.allclose(w0, w1)
    start, end = _objective(before, cfg, pairs_csv), _objective(after, cfg, pairs_csv)
    assert end < 0.85 * start, (start, end)  # 4.16 -> 3.38 at the time of writing
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["train.steps"] == 16


def test_resume_after_a_kill_ends_with_the_same_weights(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _config(tiny_hf, pairs_csv, epochs=2, checkpoint_every=1)
    full = get_task("text")(cfg, tmp_path / "full", TaskOptions(progress=False))
    cut_run(cfg, tmp_path / "cut", monkeypatch, at=3)  # killed after the third step's checkpoint
    # the checkpoint read as on a GPU (map_location="cuda"): its generator state too
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: on_gpu(real_load(*a, **k)))
    refuse_gpu_rng_states(monkeypatch)
    resumed = get_task("text")(cfg, tmp_path / "cut", TaskOptions(progress=False, resume=True))
    monkeypatch.undo()
    _assert_same_weights(full.model_dir, resumed.model_dir)


def test_a_checkpoint_with_the_cpu_generator_alone_still_resumes(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checkpoints from before every generator was saved hold the CPU generator's state alone
    (a tensor under ``rng``); they resume to the uninterrupted run as before. On the CPU: such a
    checkpoint never held the GPU generator, so a GPU run's dropout masks cannot be restored."""
    cfg = _config(tiny_hf, pairs_csv, epochs=2, checkpoint_every=1)
    on_cpu = TaskOptions(progress=False, device="cpu")
    full = get_task("text")(cfg, tmp_path / "full", on_cpu)
    cut_run(cfg, tmp_path / "cut", monkeypatch, on_cpu, at=3)
    ckpt = tmp_path / "cut" / text_train.CHECKPOINT
    state = torch.load(ckpt, weights_only=True)
    assert isinstance(state["rng"], dict)
    state["rng"] = state["rng"]["torch"]  # the old layout
    torch.save(state, ckpt)
    resumed = get_task("text")(
        cfg, tmp_path / "cut", TaskOptions(progress=False, device="cpu", resume=True)
    )
    _assert_same_weights(full.model_dir, resumed.model_dir)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_resume_on_cuda_draws_the_dropout_masks_of_an_uninterrupted_run(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # on a GPU the transformer's dropout draws from the GPU's generator, not the CPU's
    cfg = _config(tiny_hf, pairs_csv, epochs=2, checkpoint_every=1)
    on_gpu_opts = TaskOptions(progress=False, device="cuda")
    full = get_task("text")(cfg, tmp_path / "full", on_gpu_opts)
    after_full = torch.cuda.get_rng_state()
    cut_run(cfg, tmp_path / "cut", monkeypatch, on_gpu_opts, at=3)
    resume = TaskOptions(progress=False, device="cuda", resume=True)
    resumed = get_task("text")(cfg, tmp_path / "cut", resume)
    assert torch.equal(torch.cuda.get_rng_state(), after_full)  # the same draws after the cut
    _assert_same_weights(full.model_dir, resumed.model_dir, atol=1e-4, rtol=1e-3)  # CUDA atomics


@pytest.mark.parametrize("start", ["hf_folder", "joined_half_twin_bundle"])
def test_resume_needs_no_start_model(
    start: str,
    tiny_hf: Path,
    pairs_csv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    graded_pairs: list[tuple[str, str, float]],
) -> None:
    """The checkpoint holds the start model's config, tokenizer and lexical tower: a resume
    after the start folder was deleted ends where an uninterrupted run ends (it read that folder
    again, and failed)."""
    base = tmp_path / "start"
    if start == "hf_folder":
        shutil.copytree(tiny_hf, base)
    else:  # a siamkit bundle joined to a lexical tower, fine-tuned as a half twin
        from siamkit.applications.text.lexical import LexicalTower
        from siamkit.export.bundle import save_model

        joined = TextSiameseNetwork.pretrained(tiny_hf, max_length=32, overlap=8)
        texts = [t for a, b, _ in graded_pairs for t in (a, b)]
        joined.lexical = LexicalTower.fit(texts, components=3, weight=0.3)
        save_model(joined, base)  # type: ignore[arg-type]
    cfg = _config(base, pairs_csv, epochs=2, checkpoint_every=1)
    cfg["model"]["share_weights"] = start == "hf_folder"
    full = get_task("text")(cfg, tmp_path / "full", TaskOptions(progress=False))
    cut_run(cfg, tmp_path / "cut", monkeypatch, at=3)
    shutil.rmtree(base)
    resumed = get_task("text")(cfg, tmp_path / "cut", TaskOptions(progress=False, resume=True))
    a, b = siamkit.load_model(full.model_dir), siamkit.load_model(resumed.model_dir)
    assert a.config() == b.config()  # the same architecture, windows, towers and lexical tower
    assert sorted(a.state_dict()) == sorted(b.state_dict())
    for k, x in a.state_dict().items():
        torch.testing.assert_close(x, b.state_dict()[k], msg=k)
    text = ["the printer is out of toner"]
    torch.testing.assert_close(a.embed(text, role="document"), b.embed(text, role="document"))


def test_a_checkpoint_without_the_start_files_reads_the_start_model(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint from before they were saved resumes from the start model, as it did."""
    cfg = _config(tiny_hf, pairs_csv, epochs=2, checkpoint_every=1)
    full = get_task("text")(cfg, tmp_path / "full", TaskOptions(progress=False))
    cut_run(cfg, tmp_path / "cut", monkeypatch, at=3)
    ckpt = tmp_path / "cut" / "checkpoint.pt"
    state = torch.load(ckpt, weights_only=True)
    del state[text_train.START]
    torch.save(state, ckpt)
    resumed = get_task("text")(cfg, tmp_path / "cut", TaskOptions(progress=False, resume=True))
    _assert_same_weights(full.model_dir, resumed.model_dir)
    assert torch.load(ckpt, weights_only=True)[text_train.START] is not None  # saved from now on


@pytest.mark.parametrize("native", [True, False])
def test_text_autocast_takes_the_image_paths_precision(
    native: bool, tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Text fine-tuning took bfloat16 on every GPU, emulated (slowly) on a V100 or T4; it now asks
    the image path's rule (:func:`siamkit.training.step.mixed_precision` and ``autocast_for``):
    float16 with a ``GradScaler`` there. Each call is answered as on a GPU (this one may have none)
    and the run itself stays on the CPU."""
    from siamkit.training import step as training_step

    monkeypatch.setattr(training_step, "native_bf16", lambda: native)
    cuda = torch.device("cuda")
    asked: list[tuple[bool, str]] = []
    scaled: list[bool] = []
    dtypes: list[torch.dtype] = []

    def mixed_precision(wanted: bool, device: torch.device) -> Any:
        asked.append((wanted, device.type))
        amp, scaler = training_step.mixed_precision(wanted, cuda)
        scaled.append(scaler is not None)
        return amp, None  # the answer for a GPU, without a scaler that needs one

    def autocast_for(device: torch.device, amp: bool) -> Any:
        dtypes.append(training_step.autocast_for(cuda, amp).fast_dtype)
        return training_step.autocast_for(device, amp)  # a no-op on the CPU

    monkeypatch.setattr(text_train, "mixed_precision", mixed_precision)
    monkeypatch.setattr(train_loop, "autocast_for", autocast_for)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "CUDA is not available" where it is not
        cfg = _config(tiny_hf, pairs_csv, epochs=2)
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False, device="cpu"))
    assert asked == [(True, "cpu")]  # train.amp and the run's device
    assert scaled == [not native]  # a GradScaler for float16 alone
    assert dtypes == [torch.bfloat16 if native else torch.float16] * 4  # every step


class _RecordingScaler(torch.amp.GradScaler):
    """A ``GradScaler`` on the CPU (float32 gradients: powers of two scale them exactly) that
    records its calls; it doubles its scale every step, so its state after a run tells whether
    a resume restored it."""

    calls: ClassVar[list[str]] = []

    def __init__(self) -> None:
        super().__init__("cpu", init_scale=2.0**8, growth_interval=1)

    def scale(self, outputs: Any) -> Any:
        self.calls.append("scale")
        return super().scale(outputs)

    def unscale_(self, optimizer: torch.optim.Optimizer) -> None:
        self.calls.append("unscale_")
        super().unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("step")
        return super().step(optimizer, *args, **kwargs)

    def update(self, new_scale: Any = None) -> None:
        self.calls.append("update")
        super().update(new_scale)


@pytest.mark.parametrize("saved", [True, False], ids=["scaler_saved", "older_checkpoint"])
def test_a_float16_run_steps_through_its_scaler_and_resumes_with_its_state(
    saved: bool, tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where :func:`~siamkit.training.step.mixed_precision` gives a ``GradScaler`` (float16) the
    loop scales the loss, unscales before clipping, steps and updates through it; the checkpoint
    keeps its state and ``--resume`` restores it. A checkpoint from before it was kept resumes
    with a fresh scaler."""
    scalers: list[_RecordingScaler] = []

    def mixed_precision(wanted: bool, device: torch.device) -> Any:
        scalers.append(_RecordingScaler())
        return False, scalers[-1]  # autocast off: a float16 GPU's scaler, on the CPU

    monkeypatch.setattr(text_train, "mixed_precision", mixed_precision)
    _RecordingScaler.calls = []
    cfg = _config(tiny_hf, pairs_csv, epochs=2, checkpoint_every=1)  # 4 steps, clipped
    opts = TaskOptions(progress=False, device="cpu")
    full = get_task("text")(cfg, tmp_path / "full", opts)
    assert _RecordingScaler.calls == ["scale", "unscale_", "step", "update"] * 4
    assert scalers[-1].get_scale() == 2.0**12  # no step overflowed: each doubled it
    ckpt = tmp_path / "full" / text_train.CHECKPOINT
    assert torch.load(ckpt, weights_only=True)["scaler"] == scalers[-1].state_dict()
    cut_run(cfg, tmp_path / "cut", monkeypatch, opts, at=3)
    ckpt = tmp_path / "cut" / text_train.CHECKPOINT
    state = torch.load(ckpt, weights_only=True)
    assert state["scaler"]["scale"] == 2.0**11
    if not saved:
        del state["scaler"]  # the older layout
        torch.save(state, ckpt)
    resume = TaskOptions(progress=False, device="cpu", resume=True)
    resumed = get_task("text")(cfg, tmp_path / "cut", resume)
    assert scalers[-1].get_scale() == (2.0**12 if saved else 2.0**9)  # one step after the cut
    _assert_same_weights(full.model_dir, resumed.model_dir)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_float16_fine_tuning_on_cuda_resumes_with_its_scaler(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GPU without native bfloat16 (patched here) fine-tunes under float16 autocast with a
    ``GradScaler``; its state is in the checkpoint and the resumed run ends where the
    uninterrupted one ends."""
    from siamkit.training import step as training_step

    monkeypatch.setattr(training_step, "native_bf16", lambda: False)
    dtypes: list[torch.dtype | None] = []
    real_loss = train_loop.batch_loss

    def batch_loss(model: TextSiameseNetwork, cfg: Any, ex: Any) -> torch.Tensor:
        on = torch.is_autocast_enabled("cuda")
        dtypes.append(torch.get_autocast_dtype("cuda") if on else None)
        return real_loss(model, cfg, ex)

    monkeypatch.setattr(train_loop, "batch_loss", batch_loss)
    cfg = _config(tiny_hf, pairs_csv, epochs=2, checkpoint_every=1)
    opts = TaskOptions(progress=False, device="cuda")
    full = get_task("text")(cfg, tmp_path / "full", opts)
    assert dtypes == [torch.float16] * 4
    scaler_state = torch.load(tmp_path / "full" / text_train.CHECKPOINT, weights_only=True)[
        "scaler"
    ]
    assert scaler_state is not None and scaler_state["scale"] > 0
    cut_run(cfg, tmp_path / "cut", monkeypatch, opts, at=3)
    resume = TaskOptions(progress=False, device="cuda", resume=True)
    resumed = get_task("text")(cfg, tmp_path / "cut", resume)
    # float16, CUDA's atomics
    _assert_same_weights(full.model_dir, resumed.model_dir, atol=1e-3, rtol=1e-2)


def test_gradient_checkpointing_is_on_in_both_towers_without_a_deprecation_warning(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """transformers 5 deprecates ``gradient_checkpointing_enable`` (a FutureWarning on every
    text run with ``train.gradient_checkpointing``) for ``activation_checkpointing_enable``."""
    real_setup, models = text_train._setup, []

    def setup(*args: Any, **kwargs: Any) -> TextSiameseNetwork:
        models.append(real_setup(*args, **kwargs))
        return models[-1]

    monkeypatch.setattr(text_train, "_setup", setup)
    cfg = _config(tiny_hf, pairs_csv, epochs=1, gradient_checkpointing=True)
    cfg["model"]["share_weights"] = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        get_task("text")(cfg, tmp_path / "gc", TaskOptions(progress=False))
    said = [str(w.message) for w in caught if "checkpointing" in str(w.message)]
    assert not said, said
    (model,) = models
    for enc in (model.encoder, model.doc_encoder):
        assert enc is not None
        flags = [
            m.gradient_checkpointing
            for m in enc.transformer.modules()
            if hasattr(m, "gradient_checkpointing")
        ]
        assert flags and all(flags), flags  # every BERT layer recomputes its activations


def test_half_twin_mnrl_trains_two_towers(
    tiny_hf: Path, tmp_path: Path, graded_pairs: list[tuple[str, str, float]]
) -> None:
    data = tmp_path / "ap.jsonl"
    data.write_text(
        "".join(
            json.dumps({"anchor": a, "positive": b}) + "\n" for a, b, s in graded_pairs if s > 3
        )
    )
    cfg = _config(tiny_hf, data, epochs=2)
    cfg["model"]["share_weights"] = False
    cfg["data"] = {"train": str(data), "format": "anchor_positive", "val_fraction": 0}
    cfg["loss"] = {"name": "mnrl"}
    summary = get_task("text")(cfg, tmp_path / "ht", TaskOptions(progress=False))
    model = siamkit.load_model(summary.model_dir)
    assert not model.share_weights
    q = model.embed(["printer toner"])
    d = model.embed(["printer toner"], role="document")
    assert not torch.allclose(q, d)  # the towers drifted apart


def test_bad_training_data_is_one_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "b.csv"
    bad.write_text("first,second,label\nx,y,1\n")
    with pytest.raises(ValueError, match="has no columns 'a', 'b'"):
        read_examples(bad)
    bad.write_text("a,b,score\nx,y,7\n")
    with pytest.raises(ValueError, match=r"score=7.0 is outside the score range \[0, 5\]"):
        read_examples(bad, columns={"label": "score"}, score_range=(0, 5))
    with pytest.raises(ValueError, match=r"loss 'cosent' trains on data\.format 'pairs'"):
        parse_config({"data": {"train": "x.csv", "format": "triplets"}, "loss": {"name": "cosent"}})


def test_onnx_export_matches_torch_with_long_texts(tiny_hf: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from siamkit.applications.text.onnx import TextOnnxEmbedder
    from siamkit.applications.text.onnx_export import export_text_onnx

    model = TextSiameseNetwork.pretrained(tiny_hf, max_length=32, overlap=8)
    folder = export_text_onnx(model, tmp_path / "edge", int8=True)
    texts = ["the printer is out of toner", " ".join(f"word{i} is here." for i in range(40))]
    ref = model.embed(texts).numpy()
    assert model.last_chunked == 1  # the second text spans several 32-token windows
    np_out = TextOnnxEmbedder(folder).embed(texts)
    assert np.abs(np_out - ref).max() < 1e-5
    q = TextOnnxEmbedder(folder, int8=True).embed(texts)
    assert q.shape == ref.shape and np.allclose(np.linalg.norm(q, axis=1), 1, atol=1e-5)


def test_text_export_command_reports_parity_and_keeps_an_export(tiny_hf: Path, tmp_path: Path):
    pytest.importorskip("onnxruntime")
    from click.testing import CliRunner

    from siamkit.applications.text.onnx import TextOnnxEmbedder
    from siamkit.cli.main import cli

    out = tmp_path / "edge"
    args = ["text", "export", "--model", str(tiny_hf), "--out", str(out), "--int8"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "fp32:" in res.output and "int8:" in res.output and "min cosine" in res.output
    fp32, int8 = (
        next(x for x in res.output.splitlines() if x.startswith(p)) for p in ("fp32:", "int8:")
    )
    assert fp32.endswith("(at least 0.9999: the export embeds as the torch model)"), fp32
    assert "no limit is held" in int8, int8
    texts = ["a tiny model", "another short text"]
    want = TextSiameseNetwork.pretrained(tiny_hf).embed(texts).numpy()
    assert np.abs(TextOnnxEmbedder(out).embed(texts) - want).max() < 1e-5
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 2 and "already exists; pass --force" in again.output
    assert CliRunner().invoke(cli, [*args, "--force"]).exit_code == 0


def test_metrics_json_is_whole_or_absent_when_the_run_is_stopped_writing_it(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """metrics.json was written in place: Ctrl-C mid-write left a truncated file under its name
    (the other outputs are written beside their names and renamed)."""
    real = Path.write_text

    def dying_write(self: Path, data: str, *a: Any, **kw: Any) -> int:
        if self.name == "metrics.json" or self.name.startswith(".metrics.json"):
            real(self, data[:5], *a, **kw)
            raise KeyboardInterrupt
        return real(self, data, *a, **kw)

    real_bytes = Path.write_bytes

    def dying_bytes(self: Path, data: bytes) -> int:
        if self.name.startswith(".metrics.json"):
            real_bytes(self, data[:5])
            raise KeyboardInterrupt
        return real_bytes(self, data)

    monkeypatch.setattr(Path, "write_text", dying_write)
    monkeypatch.setattr(Path, "write_bytes", dying_bytes)
    with pytest.raises(KeyboardInterrupt):
        get_task("text")(
            _config(tiny_hf, pairs_csv, epochs=1), tmp_path / "run", TaskOptions(progress=False)
        )
    monkeypatch.undo()
    assert not (tmp_path / "run" / "metrics.json").exists()
    assert not list((tmp_path / "run").glob(".metrics.json*"))


def test_a_window_the_model_cannot_take_is_refused_before_training(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path
) -> None:
    # max_length 32 with an overlap of 16 trained, then saved a model no command could load (left
    # out, the overlap is an eighth of a window under 256: 4)
    cfg = _config(tiny_hf, pairs_csv)
    cfg["model"]["overlap"] = 16
    with pytest.raises(ValueError, match=r"model\.overlap lies in \[0, 15\]"):
        parse_config(cfg)
    # a window past the transformer's 512 positions trained on short pairs, then crashed in
    # the transformer on the first long text
    cfg = _config(tiny_hf, pairs_csv)
    cfg["model"]["max_length"] = 1024
    with pytest.raises(ValueError, match=r"max_length must lie in \[8, 512\]"):
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert not (tmp_path / "run" / "model").exists()
    with pytest.raises(ValueError, match=r"max_length must lie in \[8, 512\]"):
        TextSiameseNetwork.pretrained(tiny_hf, max_length=1024, overlap=8)


def test_resuming_a_finished_run_keeps_its_final_loss_and_says_it_was_finished(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path
) -> None:
    cfg = _config(tiny_hf, pairs_csv, epochs=1)
    first = get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    lines: list[str] = []
    opts = TaskOptions(progress=False, resume=True, log=lines.append)
    again = get_task("text")(cfg, tmp_path / "run", opts)
    # it wrote train.final_loss null and said it resumed "at epoch 2" of a 1-epoch run
    assert again.metrics["train.final_loss"] == first.metrics["train.final_loss"] is not None
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["train.final_loss"] == first.metrics["train.final_loss"]
    assert any("holds a finished run (epochs 1 of 1)" in line for line in lines), lines


def test_validation_pairs_that_cannot_be_scored_are_refused_before_training(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path
) -> None:
    # one validation pair (0.05 of 12): scipy's "`x` and `y` must have length at least 2" after
    # the whole training, with no model saved; the share of one score takes a pair of another
    # (_two_targets_each), and two pairs are still too few
    cfg = _config(tiny_hf, pairs_csv, epochs=1)
    cfg["data"]["val_fraction"] = 0.05
    with pytest.raises(ValueError, match=r"0\.05 of 12 examples\) are 2; Pearson and Spearman"):
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert not (tmp_path / "run").exists()
    labelled = tmp_path / "labelled.csv"
    labelled.write_text("a,b,label\n" + "x,y,1\n" * 11 + "p,q,0\n")
    val = tmp_path / "val.csv"
    val.write_text("a,b,label\nx,y,1\nx,z,1\n")
    cfg = _config(tiny_hf, labelled, epochs=1)
    del cfg["data"]["score_range"]
    cfg["data"]["val"] = str(val)
    with pytest.raises(ValueError, match=r"are 2, all labelled 1; the threshold is calibrated"):
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))


def test_fewer_graded_validation_pairs_than_a_correlation_needs_are_refused_before_training(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path
) -> None:
    # two graded validation pairs reported Pearson/Spearman 1.0 (two points always lie on a
    # line) as if the model had learned the scores
    val = tmp_path / "val.csv"
    val.write_text("a,b,label\nthe sink is leaking,water leaks from the sink,4\nx,y,1\n")
    cfg = _config(tiny_hf, pairs_csv, epochs=1)
    cfg["data"]["val"] = str(val)
    want = r"are 2; Pearson and Spearman of fewer than 3 pairs are always \+1 or -1: give data"
    with pytest.raises(ValueError, match=want):
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert not (tmp_path / "run").exists()
    del cfg["data"]["val"]
    cfg["data"]["val_fraction"] = 0.15  # 2 of 12
    with pytest.raises(ValueError, match=r"0\.15 of 12 examples\) are 2; Pearson"):
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert not (tmp_path / "run").exists()


def test_graded_validation_pairs_at_the_ends_of_the_range_are_not_taken_for_labels(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path
) -> None:
    # scores 0 and 5 of [0, 5] scale to 0 and 1: validation took them for 0/1 labels and saved
    # an equal-error "threshold" fitted on two graded pairs as the model's calibrated one
    val = tmp_path / "val.csv"
    val.write_text("a,b,label\nthe sink is leaking,water leaks from the sink,5\nx,y,0\np,q,5\n")
    cfg = _config(tiny_hf, pairs_csv, epochs=1)
    cfg["data"]["val"] = str(val)
    summary = get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert "similarity.pearson" in summary.metrics
    assert "verification.min_similarity" not in summary.metrics
    assert "verification.threshold" not in summary.metrics
    assert siamkit.load_model(summary.model_dir).threshold is None


def test_cosent_on_pairs_of_one_score_is_refused_before_training(
    tiny_hf: Path, tmp_path: Path
) -> None:
    # CoSENT ranks pairs of different scores: with one score its loss is exactly 0 at every
    # step, and the run saved the start model unchanged as a fine-tuned one
    same = tmp_path / "same.csv"
    same.write_text("a,b,label\n" + "".join(f"text {i},other {i},4\n" for i in range(8)))
    cfg = _config(tiny_hf, same, epochs=1)
    with pytest.raises(ValueError, match=r"the 8 training pairs all score 4: add pairs"):
        get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("tty", [False, True], ids=["log", "terminal"])
def test_a_run_stopped_before_its_first_checkpoint_leaves_no_folder_and_says_so_last(
    tiny_hf: Path, pairs_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tty: bool
) -> None:
    """Ctrl-C before the first checkpoint, as in an image run: the folder the run made is
    removed, as an error there removes it (it kept config.yaml alone, which nothing resumes),
    the last line says to run the command again, and the same command then trains. The
    fine-tuning bar was left open: it was drawn again after that line."""
    import yaml
    from click.testing import CliRunner

    from siamkit.cli.main import cli
    from siamkit.progress import Progress

    real = Progress.__init__

    def eager(self: Progress, *args: Any, **kwargs: Any) -> None:  # shown from the start
        real(self, *args, **{**kwargs, "delay": 0, "tty": tty})

    def stopped(*args: Any, **kwargs: Any) -> torch.Tensor:
        raise KeyboardInterrupt

    monkeypatch.setattr(Progress, "__init__", eager)
    monkeypatch.setattr(train_loop, "batch_loss", stopped)
    config = tmp_path / "text.yaml"
    config.write_text(yaml.safe_dump({"task": "text", **_config(tiny_hf, pairs_csv, epochs=1)}))
    out = tmp_path / "run"
    args = ["train", str(config), "--out", str(out)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 130, res.output
    assert not out.exists()
    said = "interrupted (Ctrl-C) before the command finished; run it again\n"
    assert res.stderr.endswith(said), res.stderr  # nothing drawn after it
    if not tty:  # no step was done: no progress line either
        assert res.stderr == said
    monkeypatch.undo()
    again = CliRunner().invoke(cli, [*args, "--no-progress"])
    assert again.exit_code == 0, again.output
