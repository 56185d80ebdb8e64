"""SiamFC network pieces against naive references: cross-correlation, loss, labels, crops, bundle."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import siamkit
from siamkit.applications.tracking.backbones import create_backbone
from siamkit.applications.tracking.crops import context_side, crop_square
from siamkit.applications.tracking.loss import balanced_logistic_loss
from siamkit.applications.tracking.model import (
    SiamFCNet,
    TrackerParams,
    cross_correlation,
    save_tracker,
)
from siamkit.applications.tracking.pairs import label_map


def naive_xcorr(z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    b, _, h, w = z.shape
    n, _, hh, ww = x.shape
    out = torch.zeros(n, 1, hh - h + 1, ww - w + 1)
    for i in range(n):
        zi = z[i if b > 1 else 0]
        for r in range(hh - h + 1):
            for c in range(ww - w + 1):
                out[i, 0, r, c] = (zi * x[i, :, r : r + h, c : c + w]).sum()
    return out


@pytest.mark.parametrize("n_z", [3, 1])
def test_cross_correlation_matches_naive_loop(n_z: int) -> None:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(n_z, 4, 3, 3, generator=g)
    x = torch.randn(3, 4, 8, 7, generator=g)
    torch.testing.assert_close(cross_correlation(z, x), naive_xcorr(z, x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["tiny", "small", "alexnet"])
def test_backbones_have_siamfc_geometry(name: str) -> None:
    net = create_backbone(name).eval()
    with torch.no_grad():
        assert net(torch.rand(1, 3, 127, 127)).shape[-2:] == (6, 6)
        assert net(torch.rand(1, 3, 255, 255)).shape[-2:] == (22, 22)


def test_balanced_loss_matches_naive_loop() -> None:
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 5, 5, generator=g)
    labels = (torch.rand(2, 5, 5, generator=g) > 0.7).float()
    total = 0.0
    for b in range(2):
        pos = [
            (v, y)
            for v, y in zip(logits[b].flatten().tolist(), labels[b].flatten().tolist())
            if y == 1
        ]
        neg = [
            (v, y)
            for v, y in zip(logits[b].flatten().tolist(), labels[b].flatten().tolist())
            if y == 0
        ]
        total += 0.5 * np.mean([np.log1p(np.exp(-v)) for v, _ in pos])
        total += 0.5 * np.mean([np.log1p(np.exp(v)) for v, _ in neg])
    assert float(balanced_logistic_loss(logits, labels)) == pytest.approx(total / 2, rel=1e-5)


def test_label_map_by_hand() -> None:
    p = TrackerParams()
    lab = label_map(np.zeros(2), p)  # cells 8 px apart; within 16 px of the centre: 13 cells
    assert (
        lab.shape == (17, 17)
        and lab.sum() == 13
        and lab[8, 8] == 1
        and lab[8, 10] == 1
        and lab[9, 9] == 1
    )
    lab = label_map(np.array([24.0, -8.0]), p)  # target 3 cells right, 1 cell up
    assert lab[7, 11] == 1 and lab[8, 8] == 0


def test_crop_square_is_a_slice_at_unit_scale() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (200, 220, 3), dtype=np.uint8)
    crop = crop_square(img, (100.0, 90.0), 127, 127)
    np.testing.assert_array_equal(crop, img[90 - 63 : 90 + 64, 100 - 63 : 100 + 64])
    # outside the frame: the mean colour
    out = crop_square(img, (0.0, 0.0), 127, 127)
    np.testing.assert_allclose(out[0, 0], img.reshape(-1, 3).mean(0), atol=1)
    assert context_side([0, 0, 10, 30]) == pytest.approx(np.sqrt(30 * 50))


def test_save_and_load_keep_weights_and_hyper_parameters(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = SiamFCNet("tiny", params=TrackerParams(scale_num=5, template_lr=0.01)).eval()
    save_tracker(net, tmp_path / "m")
    back = siamkit.load_model(tmp_path / "m")
    assert isinstance(back, SiamFCNet)
    assert back.params == net.params
    z, x = torch.rand(1, 3, 127, 127), torch.rand(1, 3, 255, 255)
    with torch.no_grad():
        torch.testing.assert_close(back(z, x), net(z, x))


def test_bad_tracker_parameters() -> None:
    with pytest.raises(ValueError, match="scale_num must be odd"):
        TrackerParams(scale_num=4)
    with pytest.raises(ValueError, match="unknown tracker parameter"):
        TrackerParams.from_dict({"scale_nums": 3})


@pytest.mark.parametrize(
    ("tracker", "message"),
    [
        (  # a 21-cell response the tracker took as 20 cells
            {"exemplar_size": 100},
            "got 255 with exemplar_size 100: try instance_size 252 or exemplar_size 103",
        ),
        (  # 16 cells, centred 1.5 px off the crop's centre
            {"instance_size": 250},
            "got 250 with exemplar_size 127: try instance_size 247 or exemplar_size 130",
        ),
        (  # the hint said "try 127", which was then refused as not larger than exemplar_size
            {"instance_size": 130},
            "got 130 with exemplar_size 127: try instance_size 135 or exemplar_size 122",
        ),
        (  # the hint said "try 255", which was then refused as not smaller than instance_size
            {"exemplar_size": 252},
            "got 255 with exemplar_size 252: try instance_size 260 or exemplar_size 247",
        ),
        (  # no exemplar size of at least 87 fits: none is offered
            {"exemplar_size": 90, "instance_size": 93},
            "got 93 with exemplar_size 90: try instance_size 98",
        ),
    ],
)
def test_crop_sizes_off_the_backbones_grid_are_refused(tracker: dict, message: str) -> None:
    """A tracker.exemplar_size of 100 trained into 'logits (B, 441) and labels (B, 400) differ
    in shape' and tracked with a 21-cell response read as 20 cells: the sizes must differ by a
    multiple of the stride. Each size the refusal offers is accepted with the other one."""
    with pytest.raises(ValueError) as err:
        TrackerParams(**tracker)
    said = str(err.value)
    assert said == (
        "tracker.instance_size must be exemplar_size plus a multiple of 8 pixels (the backbones' "
        f"total stride), {message}"
    )
    given = TrackerParams.__dataclass_fields__
    sizes = {k: tracker.get(k, given[k].default) for k in ("exemplar_size", "instance_size")}
    offers = re.findall(r"(instance_size|exemplar_size) (\d+)", said.split(": try ")[1])
    assert offers
    for key, size in offers:
        TrackerParams(**{**sizes, key: int(size)})


def test_an_exemplar_below_one_feature_cell_is_refused() -> None:
    with pytest.raises(ValueError) as err:
        TrackerParams(exemplar_size=60, instance_size=124)
    assert str(err.value) == (
        "tracker.exemplar_size must be at least 87 pixels (the backbones' smallest crop, one "
        "feature cell), got 60"
    )


@pytest.mark.parametrize("backbone", ["tiny", "alexnet"])
@pytest.mark.parametrize(("exemplar", "instance"), [(127, 255), (128, 256), (131, 259), (100, 260)])
def test_sizes_a_whole_number_of_strides_apart_put_the_exemplar_on_the_centre_cell(
    backbone: str, exemplar: int, instance: int
) -> None:
    """Whatever the exemplar size, the exemplar crop's features are the search crop's at the
    response's centre cell when the two differ by a multiple of 16 (8 either side): 128/256 was
    refused though it aligns as exactly as 127/255. The exemplar crop here is the search crop's
    centre, as crop_square takes it at the same pixel scale around the same centre."""
    p = TrackerParams(exemplar_size=exemplar, instance_size=instance)
    net = SiamFCNet(backbone, params=p).eval()
    x = torch.rand(1, 3, instance, instance, generator=torch.Generator().manual_seed(0))
    off = (instance - exemplar) // 2
    z = x[:, :, off : off + exemplar, off : off + exemplar]
    with torch.no_grad():
        fz, fx = net.embed(z), net.embed(x)
    n, k = fz.shape[-1], label_map(np.zeros(2), p).shape[0] // 2  # the labels' centre cell
    torch.testing.assert_close(fz, fx[..., k : k + n, k : k + n], rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("exemplar", "instance"),
    [(87, 95), (95, 191), (127, 255), (135, 263), (128, 256), (129, 257), (100, 124)],
)
def test_accepted_crop_sizes_give_the_response_the_tracker_and_labels_assume(
    exemplar: int, instance: int
) -> None:
    """The response's cell count, measured through the network, is the one the label map and
    the tracker's upsampling are built for."""
    from siamkit.applications.tracking.tracker import SiamFCTracker

    p = TrackerParams(exemplar_size=exemplar, instance_size=instance)
    net = SiamFCNet("tiny", params=p).eval()
    with torch.no_grad():
        n = net(torch.rand(1, 3, exemplar, exemplar), torch.rand(1, 3, instance, instance)).shape
    assert n[-2:] == label_map(np.zeros(2), p).shape
    assert SiamFCTracker(net).upsize == n[-1] * p.response_up
