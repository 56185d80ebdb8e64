"""benchmarks/val_resolution.py (issue 20, round 18, input resolution): the upsampling wrapper by
hand and against ``F.interpolate``, its output (the taps keep their width), the rule's
candidates, and a fold whose training steps and embedding both go through it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from _bench_scripts import SCRIPTS, load_script, synthetic
from torch import Tensor, nn

from siamkit.encoders.convnet import ConvNet
from siamkit.training.data import RunData

TAPS = {"widths": (32, 64, 128), "taps": (1,), "tap_grids": (4, 2), "tap_power": 0.5}


@pytest.fixture(scope="module")
def res():
    return load_script("val_resolution")


class Flat(nn.Module):
    """An encoder that returns its input's pixels as they come."""

    num_features, in_channels = 16, 1

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1)


def test_the_upsampling_by_hand(res) -> None:
    # f(r, c) = 2 r + c on 2 x 2 pixels, doubled with align_corners=False: output pixel i samples
    # the input at (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped to 0 .. 1
    x = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    at = [0.0, 0.25, 0.75, 1.0]
    want = torch.tensor([[2 * r + c for c in at] for r in at]).flatten()
    got = res.Upsampled(Flat(), 4)(x)
    assert torch.equal(got[0], want)
    assert torch.equal(got, F.interpolate(x, size=(4, 4), mode="bilinear").flatten(1))


@pytest.mark.parametrize("size", [42, 56])
def test_the_convnet_sees_the_upsampled_batch(res, size: int) -> None:
    x = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    seen = []
    inner = ConvNet(in_channels=1, **TAPS)  # type: ignore[arg-type]
    inner.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    wrapper = res.Upsampled(inner, size).eval()
    out = wrapper(x)
    assert seen[0].shape == (3, 1, size, size)
    assert torch.equal(seen[0], F.interpolate(x, size=(size, size), mode="bilinear"))
    # the same width as at 28 x 28: 128 deep features and the taps' 64 x (16 + 4) cells
    assert out.shape == inner(x).shape == (3, 128 + 1280)
    assert (wrapper.num_features, wrapper.num_passthrough) == (1408, 1280)
    assert wrapper.seen == {"train": 0, "eval": 3} and wrapper.sides == {(size, size)}


def test_the_candidates_are_the_rules(res) -> None:
    assert res.CANDIDATES == {"x1.5": 42, "x2": 56}
    with pytest.raises(ValueError, match=r"--res must be one of x1\.5, x2 here, got 'none'"):
        res.upsample("none")
    with pytest.raises(SystemExit, match="the ConvNet saw 0 images in eval mode"):
        res.check_seen(res.Upsampled(Flat(), 42), "eval", 1)


def fold_args(mode: str) -> SimpleNamespace:
    return SimpleNamespace(
        name="cand",
        config=str(SCRIPTS.parent / "configs" / "hypercolumn.yaml"),
        sets=[
            "train.epochs=1",
            "train.steps_per_epoch=2",
            "train.val_metric=none",
            "train.samples_per_class=8",
        ],
        val_images=0,
        seed=0,
        embed_taps=[],
        embed_backbone=False,
        embed_flip=False,
        res=mode,
    )


@pytest.fixture
def convnet_calls(res, monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, tuple[int, int], int]]:
    """A real fold of synthetic images (train 0, 1, 3, 4; held out 2, 5) whose ConvNet records
    each call: its mode, the (H, W) it got and how many images."""
    x, y = synthetic((0, 1, 3, 4), 16, 0)
    vx, vy = synthetic((2, 5), 20, 1)
    tx, ty = synthetic((6, 7, 8, 9), 3, 2)
    names = tuple("abcdefghij")
    data = RunData(x, y, vx, vy, tx, ty, names, (0, 1, 3, 4), (6, 7, 8, 9), (2, 5))
    fold_data = res.start_fold.__globals__["fold_data"]
    monkeypatch.setitem(fold_data.__globals__, "load_run_data", lambda cfg, *a, **k: data)
    calls = []
    forward = ConvNet.forward

    def spy(self: ConvNet, x: Tensor) -> Tensor:
        calls.append((self.training, (int(x.shape[-2]), int(x.shape[-1])), len(x)))
        return forward(self, x)

    monkeypatch.setattr(ConvNet, "forward", spy)
    return calls


@pytest.mark.parametrize(("mode", "side"), [("none", 28), ("x1.5", 42), ("x2", 56)])
def test_a_fold_trains_and_embeds_at_the_candidates_side(
    res, convnet_calls, mode: str, side: int
) -> None:
    out = res.run_fold(fold_args(mode), [2, 5])
    assert 0 <= out["rows"]["cand"]["val_eer"] <= 1
    training = [c for c in convnet_calls if c[0]]
    embedding = [c for c in convnet_calls if not c[0]]
    # both training steps (4 classes x 8) went through the upsampling, at the candidate's side
    assert sum(n for _, _, n in training) == 2 * 32
    assert {hw for _, hw, _ in training} == {(side, side)}
    # and so did the embedding of the 40 held-out images (with the trainer's own passes, if any)
    assert sum(n for _, _, n in embedding) >= 40
    assert {hw for _, hw, _ in embedding} == {(side, side)}


def test_a_bypassing_option_is_refused(res, convnet_calls) -> None:
    args = fold_args("x2")
    args.embed_taps = ['{"taps": [0]}']  # with_taps rebuilds the encoder from its spec
    with pytest.raises(SystemExit, match="without --embed-taps and --embed-backbone"):
        res.run_fold(args, [2, 5])
    assert convnet_calls == []
