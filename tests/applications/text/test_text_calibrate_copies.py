"""A text model calls a pair the same up to ``dedup.ROUNDING`` above its threshold, so a far fit
is made as it will decide: a copy of a text labelled as different (at 6e-8, not 0, in float32)
is refused, and an impostor pair within that rounding above the threshold is kept out by a
threshold lowered under it, never saved with a FAR above --far (reviewer s52_R5: FAR 0.250
saved for --far 0, and text similarity said 'same')."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from siamkit.applications.text.dedup import ROUNDING
from siamkit.cli.calibrate_cmd import _fit
from siamkit.cli.main import cli

TEXTS = [
    "the printer is out of toner", "vpn login fails at home", "battery drains quickly",
    "please reset my password", "cannot connect to the vpn", "printer needs new toner",
    "the battery runs out fast", "my screen flickers", "email not syncing", "keyboard keys stuck",
    "wifi drops every hour", "cannot print in colour",
]  # fmt: skip


def test_a_copy_labelled_different_is_refused_though_not_at_exactly_0(
    tiny_hf: Path, tmp_path: Path
) -> None:
    from siamkit.applications.text import load_text_model

    net = load_text_model(tiny_hf)
    with torch.inference_mode():
        za = net.embed(TEXTS, role="query").numpy()
        zb = net.embed(TEXTS, role="document").numpy()
    copies = np.clip(1.0 - (za * zb).sum(1), 0.0, 2.0)
    copy = next(t for t, d in zip(TEXTS, copies, strict=True) if 0 < d <= ROUNDING)  # the case
    rows = [(TEXTS[0], TEXTS[5], 1), (TEXTS[1], TEXTS[4], 1), (TEXTS[2], TEXTS[6], 1)]
    rows += [(TEXTS[3], TEXTS[7], 0), (TEXTS[8], TEXTS[9], 0), (TEXTS[10], TEXTS[11], 0)]
    rows.append((copy, copy, 0))
    data = tmp_path / "val.csv"
    data.write_text("a,b,label\n" + "".join(f"{a},{b},{y}\n" for a, b, y in rows))
    out = tmp_path / "m"
    args = ["calibrate", str(tiny_hf), "--data", str(data), "--out", str(out)]
    result = CliRunner().invoke(cli, [*args, "--target", "far", "--far", "0"])
    assert result.exit_code == 1, result.output
    assert result.output.strip() == (
        "Error: no threshold keeps the false accept rate within --far 0: 1 of the 4 impostor "
        "pairs is at distance 1e-05 or less (the two sides embed as one, e.g. the same image or "
        "text given as different), and every threshold accepts it, as a model calls a pair the "
        "same up to 1e-05 (float32 rounding) above its threshold; remove it from --data, or "
        "allow it with --far 0.25 or more"
    )
    assert not out.exists()
    # the reference: text similarity's rule, d <= t + ROUNDING, at every threshold t >= 0
    assert all(copies.min() <= t + ROUNDING for t in (0.0, *copies))


def test_a_far_fit_rejects_the_impostor_within_rounding_above_it_as_the_model_decides() -> None:
    """Every model now decides d <= t + ROUNDING (siamkit.decision), so a far fit at the genuine
    distance 0.29998 just below an impostor at 0.3 would accept that impostor: the calibrator
    lowers such a threshold (evaluation.threshold._as_decided) until the impostor is rejected
    even computed ROUNDING lower (room for the readers' own distance), for image and text
    models alike, so the genuine pair 2e-5 under it is still accepted."""
    genuine = np.float32([0.1, 0.29998, 0.8])
    impostor = np.float32([0.3, 0.9, 1.2, 1.3])
    info = _fit(genuine, impostor, "far", 0.0, {})
    assert info["threshold"] < 0.29998 and info["far"] == 0.0
    assert not (impostor <= info["threshold"] + ROUNDING).any()  # as the model decides
    assert not (float(impostor[0]) <= info["threshold"] + ROUNDING)  # in float64 too
    assert info["tar"] == pytest.approx(2 / 3)  # 0.1 and 0.29998, within ROUNDING of it
    assert _fit(genuine, impostor, "far", 0.25, {})["far"] == 0.25
