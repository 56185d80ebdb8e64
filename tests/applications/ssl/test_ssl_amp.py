"""``train.amp`` of ``task: ssl`` and ``task: siamfc``: autocast (+ GradScaler where float16) on
CUDA, as the supervised path; nothing on the CPU."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch

from siamkit.applications.ssl.config import ssl_config_from_dict
from siamkit.applications.ssl.data import load_ssl_data
from siamkit.applications.ssl.task import build_ssl_model
from siamkit.applications.ssl.trainer import build_ssl_trainer
from siamkit.applications.tracking.model import SiamFCNet
from siamkit.applications.tracking.pairs import SequencePairs
from siamkit.applications.tracking.train import TrainSettings, train_siamfc
from siamkit.data.synthetic_tracking import linear_square_sequence

DOC: dict[str, Any] = {
    "method": "simclr",
    "data": {"dataset": "digits", "limit": 200},
    "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [8, 16]}, "embedding_dim": 16},
    "ssl": {"proj_dim": 16, "proj_hidden": 32, "pred_hidden": 8},
    "train": {"epochs": 1, "batch_size": 16, "steps_per_epoch": 2, "knn_k": 5,
              "monitor_images": 64},
}  # fmt: skip
HALF = (torch.float16, torch.bfloat16)


def _ssl_dtypes(device: str, amp: bool) -> tuple[Any, list[torch.dtype], dict[str, torch.Tensor]]:
    doc = copy.deepcopy(DOC)
    doc["train"].update(device=device, amp=amp)
    cfg = ssl_config_from_dict(doc)
    data = load_ssl_data(cfg.data)
    model = build_ssl_model(cfg, data)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer, _ = build_ssl_trainer(model, cfg, data, None, progress=False)
    seen: list[torch.dtype] = []
    model.net.encoder.register_forward_hook(
        lambda m, i, o: seen.append(o.dtype) if m.training else None
    )
    trainer.fit()
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in trainer.history[1:])
    return trainer, seen, before


def _tracker_dtypes(device: str, amp: bool) -> list[torch.dtype]:
    net = SiamFCNet("tiny")
    seen: list[torch.dtype] = []
    net.backbone.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    s = TrainSettings(steps=2, batch_size=2, threads=1, checkpoint_every=2, device=device, amp=amp)
    result = train_siamfc(net, SequencePairs([linear_square_sequence(n_frames=10)], max_gap=5), s)
    assert torch.isfinite(torch.tensor(result.history[-1]["loss"]))
    assert next(net.parameters()).device.type == "cpu"  # handed back where it came from
    return seen


def test_amp_is_a_no_op_on_the_cpu() -> None:
    trainer, seen, _ = _ssl_dtypes("cpu", amp=True)
    assert trainer.step_kwargs["amp"] is False and trainer.step_kwargs["scaler"] is None
    assert set(seen) == {torch.float32}
    assert set(_tracker_dtypes("cpu", amp=True)) == {torch.float32}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_amp_autocasts_on_cuda() -> None:
    bf16 = torch.cuda.is_bf16_supported()
    trainer, seen, before = _ssl_dtypes("cuda", amp=True)
    assert trainer.step_kwargs["amp"] is True
    assert (trainer.step_kwargs["scaler"] is None) == bf16  # a GradScaler for float16 only
    assert seen and set(seen) <= set(HALF)
    after = trainer.net.state_dict()
    assert any(not torch.equal(before[k], after[k].cpu()) for k in before)  # it trained
    assert all(v.dtype == before[k].dtype for k, v in after.items())  # weights stay float32
    off, seen_off, _ = _ssl_dtypes("cuda", amp=False)
    assert off.step_kwargs["amp"] is False and set(seen_off) == {torch.float32}
    assert {d for d in _tracker_dtypes("cuda", amp=True) if d != torch.float32} <= set(HALF)
    assert set(_tracker_dtypes("cuda", amp=True)) & set(HALF)


def test_a_checkpoint_from_before_train_amp_resumes() -> None:
    from siamkit.applications.ssl.trainer import ssl_config_guard

    guard = ssl_config_guard(ssl_config_from_dict(copy.deepcopy(DOC)))
    old = copy.deepcopy(guard.config)
    del old["train"]["amp"]  # a checkpoint written before the key existed
    guard.load_state_dict(old)
    old["train"]["batch_size"] = 8
    with pytest.raises(ValueError, match=r"different config \(train\.batch_size\)"):
        guard.load_state_dict(old)
