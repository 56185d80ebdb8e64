"""Training's threshold fit of a score-normalised model (``calibrate_run``) and the public
``calibrate_threshold`` with a cohort-normalised distance fit signed scores as ``siamkit
calibrate`` does: the whole room under an impostor, not clamped at 0 (s54_R1 finding 2).

The reference is written out here: the largest float32 threshold, walked float32 step by step,
at which every reader rejects each impostor computed the rule's room lower and a few float32
steps either side (the four arithmetic clauses, the threshold held as float64 and as float32).
The room is siamkit.decision's ``room`` (ROUNDING at these scores, all within -0.5 to 1.3), so
the reference follows the rule if it changes."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import torch

import siamkit.evaluation.threshold as threshold_mod
import siamkit.experiment.protocol as protocol
from siamkit.decision import room
from siamkit.distances import CohortNormalized
from siamkit.encoders import create_encoder
from siamkit.evaluation.pairs import PairDistances
from siamkit.evaluation.threshold import ThresholdCalibrator, calibrate_threshold
from siamkit.models import SiameseNetwork
from siamkit.training.config import RunConfig

f32 = np.float32
# cohort-normalised scores: negative for near pairs, an impostor 1.5e-5 above 0
GENUINE = f32([-0.5, -0.2, 2e-6, 8e-6])
IMPOSTOR = f32([1.5e-5, 0.4, 0.9, 1.3])


def _steps(d: np.ndarray, k: int = 4) -> np.ndarray:
    """``d`` as float64 and its float32 value moved -k..k float32 steps, ``(n, 2k + 2)``."""
    x = d.astype(f32)
    cols, up, dn = [d, x.astype(np.float64)], x.copy(), x.copy()
    for _ in range(k):
        up, dn = np.nextafter(up, f32(np.inf)), np.nextafter(dn, f32(-np.inf))
        cols += [up.astype(np.float64), dn.astype(np.float64)]
    return np.stack(cols, 1)


def _some_reader_accepts(d: np.ndarray, t: float) -> bool:
    for tt in (np.float64(t), np.float64(f32(t))):
        t32 = f32(tt)
        d32 = d.astype(f32)
        if (
            (d <= tt + room(tt)).any()
            or (d32 <= t32 + room(t32)).any()
            or (d32 <= f32(tt + room(tt))).any()
            or (d <= np.float64(t32 + room(t32))).any()
        ):
            return True
    return False


def _reference_far0(impostor: np.ndarray) -> float:
    """The largest float32 t, walked down float32 step by step from above the answer, at which
    no reader accepts any impostor computed the rule's room lower."""
    imp = impostor.astype(np.float64)
    moved = _steps(imp - room(imp), k=0).ravel()
    low = imp.min()
    t = f32(low - 2 * room(low))
    for _ in range(64):  # start above the answer
        t = np.nextafter(t, f32(np.inf))
    assert _some_reader_accepts(moved, float(t)), "the walk must start above the answer"
    for _ in range(100_000):
        if not _some_reader_accepts(moved, float(t)):
            return float(t)
        t = np.nextafter(t, f32(-np.inf))
    raise AssertionError("no threshold found")


def _every_reader_accepts(d: np.ndarray, t: float) -> bool:
    for tt in (np.float64(t), np.float64(f32(t))):
        t32 = f32(tt)
        d32 = d.astype(f32)
        if not (
            (d <= tt + room(tt)).all()
            and (d32 <= t32 + room(t32)).all()
            and (d32 <= f32(tt + room(tt))).all()
            and (d <= np.float64(t32 + room(t32))).all()
        ):
            return False
    return True


def _readers_counts(genuine: np.ndarray, impostor: np.ndarray, t: float) -> tuple[int, int]:
    """(genuine every reader accepts, impostors every reader rejects) at ``t``, +-4 steps."""
    g = sum(_every_reader_accepts(row, t) for row in _steps(genuine.astype(np.float64)))
    i = sum(not _some_reader_accepts(row, t) for row in _steps(impostor.astype(np.float64)))
    return g, i


def test_training_fits_a_score_normalised_models_threshold_signed(monkeypatch):
    target = "far"
    torch.manual_seed(0)
    net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[4]), 4).eval()
    net.set_score_norm(torch.randn(6, 4), k=2, method="snorm")
    seen = []

    def scores(z, labels, distance, **kw):  # the pairs' scores, as a cohort would give them
        seen.append(distance)
        return PairDistances(torch.from_numpy(GENUINE), torch.from_numpy(IMPOSTOR))

    monkeypatch.setattr(protocol, "pair_distances", scores)
    base = RunConfig()
    cfg = replace(base, eval=replace(base.eval, threshold_target=target, score_norm="snorm"))
    data = SimpleNamespace(val_x=torch.rand(8, 1, 8, 8), val_y=torch.arange(8) // 2)
    t = protocol.calibrate_run(net, data, cfg, torch.device("cpu"))  # type: ignore[arg-type]
    assert isinstance(seen[0], CohortNormalized)
    assert net.score_norm is not None
    # FAR 1e-3 of 4 impostors: none accepted, each with the whole room (unsigned stops at 0)
    assert t == _reference_far0(IMPOSTOR) < 0
    assert _readers_counts(GENUINE, IMPOSTOR, t) == (3, 4)
    assert t == ThresholdCalibrator(target, signed=True).fit(GENUINE, IMPOSTOR).threshold_


def test_calibrate_threshold_takes_a_cohort_normalised_distance_as_signed(monkeypatch):
    torch.manual_seed(0)
    dist = CohortNormalized("euclidean", torch.randn(6, 4), k=2)
    monkeypatch.setattr(
        threshold_mod,
        "pair_distances",
        lambda *a, **k: PairDistances(torch.from_numpy(GENUINE), torch.from_numpy(IMPOSTOR)),
    )
    z, y = torch.randn(8, 4), torch.arange(8) // 2
    t = calibrate_threshold(z, y, dist, target="far", far=0.0)
    assert t == _reference_far0(IMPOSTOR)
    # a plain distance is still fitted unsigned (its threshold stays at 0), or as told
    assert calibrate_threshold(z, y, "euclidean", target="far", far=0.0) == 0.0
    assert calibrate_threshold(z, y, "euclidean", target="far", far=0.0, signed=True) == t


def test_the_calibrators_repr_names_signed():
    assert "signed=True" in repr(ThresholdCalibrator("far", signed=True))
    assert "signed" not in repr(ThresholdCalibrator("far"))
