"""static int8's step line counted its calibration images bare: "quantising model.onnx to int8
(static, calibrated on 1 images)" at --calib-size 1 and "1000 images" at 1,000, while the
export's check line writes "1,000 images" (s61_FB finding 4). The step line is caught as it is
said, and the quantisation stopped there: nothing is quantised."""

from __future__ import annotations

import numpy as np
import pytest

import siamkit.export.quantize as quantize


class _Said(Exception):
    pass


def _step_line(monkeypatch, exported, images: np.ndarray, tmp_path) -> str:
    said: list[str] = []

    def step(what: str) -> None:
        said.append(what)
        raise _Said

    monkeypatch.setattr(quantize, "step", step)
    with pytest.raises(_Said):
        quantize.quantize_onnx(exported, tmp_path / "a.onnx", mode="static", calibration=images)
    assert len(said) == 1
    return said[0]


def test_one_calibration_image_is_said_in_the_singular(
    monkeypatch, exported, fmnist_images, tmp_path
) -> None:
    line = _step_line(monkeypatch, exported, fmnist_images[:1], tmp_path)
    assert line == "quantising model.onnx to int8 (static, calibrated on 1 image)"


def test_a_thousand_calibration_images_are_said_with_the_separator(
    monkeypatch, exported, fmnist_images, tmp_path
) -> None:
    images = np.concatenate([fmnist_images] * 4)[:1000]
    line = _step_line(monkeypatch, exported, images, tmp_path)
    assert line == "quantising model.onnx to int8 (static, calibrated on 1,000 images)"
