"""Which precision a CUDA run's autocast takes: bfloat16 only where the GPU has it natively."""

from __future__ import annotations

import warnings

import pytest
import torch

from siamkit.training.step import autocast_for, mixed_precision


@pytest.mark.parametrize("native", [True, False])
def test_emulated_bfloat16_takes_float16_with_a_scaler(
    native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A V100 or T4 emulates bfloat16 (slowly), and ``torch.cuda.is_bf16_supported()`` says yes
    there unless asked ``including_emulation=False``."""

    def is_bf16_supported(including_emulation: bool = True) -> bool:
        return native or including_emulation

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    cuda = torch.device("cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # this machine may have no CUDA: the objects still say
        amp, scaler = mixed_precision(True, cuda)
        ctx = autocast_for(cuda, True)
    assert amp
    assert (scaler is None) == native
    assert ctx.fast_dtype == (torch.bfloat16 if native else torch.float16)
    assert mixed_precision(True, torch.device("cpu")) == (False, None)
