"""The score map (cosine -> graded-score scale): isotonic like scikit-learn's, monotone, fitted on
the training pairs only, saved and loaded with the text bundle (older bundles load without one)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.isotonic import IsotonicRegression

import siamkit
from siamkit.applications.text.losses import cosine_mse_loss
from siamkit.applications.text.model import TextSiameseNetwork
from siamkit.applications.text.score_map import ScoreMap
from siamkit.applications.text.similarity import compare_texts
from siamkit.training.tasks import TaskOptions, get_task


def _config(tiny: Path, data: Path, epochs: int) -> dict[str, Any]:
    return {
        "model": {"path": str(tiny), "max_length": 32, "overlap": 8},
        "data": {"train": str(data), "score_range": [0, 5], "val_fraction": 0},
        "loss": {"name": "cosent"},
        "train": {"epochs": epochs, "batch_size": 6, "lr": 1e-3, "warmup": 0.0},
    }


@pytest.mark.parametrize("seed", range(5))
def test_fit_matches_sklearn_isotonic_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(-0.2, 1.0, 300), 2)  # rounding makes tied cosines
    y = np.clip(x**3 + rng.normal(0, 0.2, 300), 0, 1)
    ours = ScoreMap.fit(x, y)
    ref = IsotonicRegression(out_of_bounds="clip").fit(x, y)
    q = rng.uniform(-0.5, 1.2, 1000)  # inside and outside the fitted range
    np.testing.assert_allclose(ours(q), ref.predict(q), atol=1e-12)
    assert np.all(np.diff(ours(np.sort(q))) >= 0)  # monotone


def test_rescaled_and_round_trip() -> None:
    m = ScoreMap.fit([0.1, 0.2, 0.3, 0.4], [0.0, 0.5, 0.25, 1.0])  # one violation pooled
    assert m.y == (0.0, 0.375, 0.375, 1.0)
    r = m.rescaled(0, 5)
    np.testing.assert_allclose(r([0.1, 0.25, 0.4]), [0.0, 1.875, 5.0])
    assert ScoreMap.from_dict(json.loads(json.dumps(r.to_dict()))) == r


@pytest.mark.parametrize(
    "doc",
    [
        None,
        {"kind": "isotonic", "x": [0.1, 0.2], "y": [0.5]},
        {"kind": "isotonic", "x": [0.2, 0.1], "y": [0.1, 0.5]},
        {"kind": "isotonic", "x": [0.1, 0.2], "y": [0.5, 0.1]},
        {"kind": "isotonic", "x": [0.1, "a"], "y": [0.1, 0.5]},
        {"kind": "spline", "x": [0.1], "y": [0.1]},
    ],
)
def test_bad_maps_are_one_sentence(doc: object) -> None:
    with pytest.raises(ValueError) as err:
        ScoreMap.from_dict(doc)
    assert "\n" not in str(err.value) and "score map" in str(err.value)


def test_cosine_mse_loss_is_the_mean_squared_gap() -> None:
    za = torch.nn.functional.normalize(torch.randn(5, 8), dim=1)
    zb = torch.nn.functional.normalize(torch.randn(5, 8), dim=1)
    s = torch.rand(5)
    want = sum(((za[k] @ zb[k]) - s[k]) ** 2 for k in range(5)) / 5
    assert torch.isclose(cosine_mse_loss(za, zb, s), want)


def test_fine_tuning_saves_a_map_fitted_on_the_training_pairs_only(
    tiny_hf: Path, tmp_path: Path, graded_pairs: list[tuple[str, str, float]]
) -> None:
    train, val = graded_pairs[:8], graded_pairs[8:]
    for name, rows in (("train", train), ("val", val)):
        (tmp_path / f"{name}.csv").write_text(
            "a,b,label\n" + "".join(f"{a},{b},{s}\n" for a, b, s in rows)
        )
    cfg = _config(tiny_hf, tmp_path / "train.csv", epochs=2)
    cfg["data"]["val"] = str(tmp_path / "val.csv")
    summary = get_task("text")(cfg, tmp_path / "run", TaskOptions(progress=False, device="cpu"))
    model = siamkit.load_model(summary.model_dir)
    assert isinstance(model, TextSiameseNetwork) and model.score_map is not None
    saved = json.loads((summary.model_dir / "siamkit.json").read_text())
    assert saved["model"]["score_map"]["kind"] == "isotonic"

    def cosines(rows: list[tuple[str, str, float]]) -> np.ndarray:
        with torch.no_grad():
            za = model.embed([a for a, _, _ in rows]).numpy()
            zb = model.embed([b for _, b, _ in rows], role="document").numpy()
        return (za * zb).sum(1)

    ct = cosines(train)
    st = np.array([s for _, _, s in train])
    ref = IsotonicRegression(out_of_bounds="clip").fit(ct, st / 5)  # scores scaled to [0, 1]
    grid = np.linspace(-1, 1, 401)
    np.testing.assert_allclose(model.score_map(grid), 5 * ref.predict(grid), atol=1e-5)
    both = IsotonicRegression(out_of_bounds="clip").fit(
        np.r_[ct, cosines(val)], np.r_[st, [s for _, _, s in val]] / 5
    )
    assert not np.allclose(model.score_map(grid), 5 * both.predict(grid), atol=1e-3)
    r = compare_texts(model, graded_pairs[0][0], graded_pairs[0][1])
    assert r.score is not None and r.score == pytest.approx(float(model.score_map(r.similarity)))
    from click.testing import CliRunner

    from siamkit.cli.main import cli

    args = [
        "text",
        "similarity",
        graded_pairs[0][0],
        graded_pairs[0][1],
        "--model",
        str(summary.model_dir),
    ]
    res = CliRunner().invoke(cli, [*args, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["score"] == pytest.approx(r.score, abs=1e-4)
    res = CliRunner().invoke(cli, args)
    assert f"score {r.score:.4f} (on the fine-tuning scores' scale" in res.output


def test_a_bundle_without_a_map_loads_and_scores_none(tiny_hf: Path, tmp_path: Path) -> None:
    from siamkit.export.bundle import save_model

    net = TextSiameseNetwork.pretrained(tiny_hf, max_length=32, overlap=8)
    folder = save_model(net, tmp_path / "m")
    assert "score_map" not in json.loads((folder / "siamkit.json").read_text())["model"]
    back = siamkit.load_model(folder)
    assert isinstance(back, TextSiameseNetwork) and back.score_map is None
    assert compare_texts(back, "a text", "another text").score is None
