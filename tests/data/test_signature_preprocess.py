"""SigNet preprocessing against scikit-image's Otsu and geometric properties it must have."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.filters import threshold_otsu

from siamkit.data.signature_preprocess import (
    BlankSignatureError,
    otsu_threshold,
    preprocess_batch,
    signet_preprocess,
)


@pytest.mark.parametrize("seed", range(5))
def test_otsu_matches_scikit_image(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ink = rng.normal(rng.uniform(20, 100), 15, 300)
    paper = rng.normal(rng.uniform(150, 240), 10, 700)
    img = np.concatenate([ink, paper]).clip(0, 255).astype(np.uint8).reshape(20, 50)
    assert otsu_threshold(img) == threshold_otsu(img)


def _page(top: int, left: int, h: int = 20, w: int = 60) -> np.ndarray:
    page = np.full((150, 300), 235, np.uint8)
    page[top : top + h, left : left + w] = 20
    return page


def test_output_does_not_depend_on_where_the_ink_is() -> None:
    a = signet_preprocess(_page(10, 10), size=(40, 60))
    b = signet_preprocess(_page(100, 200), size=(40, 60))
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_inverted_centred_and_aspect_kept() -> None:
    out = signet_preprocess(_page(30, 40, h=30, w=30), size=(60, 90))  # a square of ink
    assert out.dtype == np.float32 and out.shape == (60, 90)
    assert out[0, 0] == 0.0 and out.max() > 0.8  # paper 0, ink bright
    rows = np.flatnonzero(out.max(axis=1) > 0.5)
    cols = np.flatnonzero(out.max(axis=0) > 0.5)
    assert len(rows) == 60  # the square fills the height ...
    assert abs(len(cols) - 60) <= 1  # ... and stays square
    assert abs((cols[0] + cols[-1]) / 2 - 44.5) <= 1  # centred


def test_paper_noise_becomes_exactly_zero() -> None:
    rng = np.random.default_rng(0)
    page = (_page(40, 40).astype(int) + rng.integers(-8, 8, (150, 300))).clip(0, 255)
    out = signet_preprocess(page.astype(np.uint8), size=(40, 60), binary=True)
    assert set(np.unique(out).round(3)) <= set(np.linspace(0, 1, 1001).round(3))
    assert (out == 0).mean() > 0.2


def test_float_and_chw_inputs_give_the_same_result() -> None:
    page = _page(20, 20)
    a = signet_preprocess(page, size=(30, 40))
    b = signet_preprocess(torch.from_numpy(page).float()[None] / 255.0, size=(30, 40))
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert preprocess_batch([page, page], size=(30, 40)).shape == (2, 1, 30, 40)


@pytest.mark.parametrize("page", [np.full((50, 80), 240, np.uint8), np.zeros((50, 80), np.uint8)])
def test_blank_page_is_refused(page: np.ndarray) -> None:
    with pytest.raises(BlankSignatureError, match="blank"):
        signet_preprocess(page)


def test_wrong_shape_or_nan_is_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        signet_preprocess(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="NaN"):
        signet_preprocess(np.full((10, 10), np.nan))
