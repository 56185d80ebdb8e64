"""benchmarks/val_folds.py's stop_at_failing_fold: the rule rounds 9 and 12 to 18 ran their
candidates under (a fold's EER above its limit, or its spread too small, ends the candidate
there), shared by val_distill.py, val_joint_ssl.py, val_rho.py, val_mixup.py, val_sam.py,
val_proto.py, val_proto_aux.py and val_resolution.py."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest
from _bench_scripts import load_script


@pytest.fixture(scope="module")
def folds():
    return load_script("val_folds")


def _fold(eer: float, spread: float):
    def run_fold(args: argparse.Namespace, fold: list[int]) -> dict:
        rows = {"T": {"val_eer": 0.5, "spread": 0.0}, args.name: {"val_eer": eer, "spread": spread}}
        history = [{"epoch": 1, "spread": 0.2}, {"epoch": 2, "spread": 0.01}]
        return {"rows": rows, "seconds": 1, "history": history}

    return run_fold


@pytest.mark.parametrize(
    ("eer", "spread", "min_spread", "fails"),
    [
        (0.061, 0.09, 0.05, False),  # at the limit passes
        (0.0611, 0.09, 0.05, True),  # above it fails
        (0.050, 0.049, 0.05, True),  # a thin spread fails
        (0.050, 0.049, None, False),  # round 9's rule has no spread
    ],
)
def test_a_candidate_stops_at_its_first_failing_fold(
    folds, capsys, eer: float, spread: float, min_spread: float | None, fails: bool
) -> None:
    ruled = folds.stop_at_failing_fold(_fold(eer, spread), folds.T_FOLD_LIMITS, min_spread)
    args = argparse.Namespace(name="cand", json=None)
    if fails:
        with pytest.raises(SystemExit) as stop:
            ruled(args, [2, 5])
        assert stop.value.code == 0
        out = capsys.readouterr().out
        assert out.splitlines()[-1].startswith("cand | fold [2, 5] | EER ")
        assert out.splitlines()[-1].endswith(": fails the rule") and "T | fold [2, 5]" in out
        # the failing fold's per-epoch spread is printed before the script ends (rounds 12-17)
        history = '   history [{"epoch": 1, "spread": 0.2}, {"epoch": 2, "spread": 0.01}]'
        assert out.splitlines()[-2] == history
    else:
        assert ruled(args, [2, 5])["rows"]["cand"]["val_eer"] == eer
        assert capsys.readouterr().out == ""


def test_the_failing_fold_is_written_to_json_marked_failed(folds, tmp_path: Path) -> None:
    # the script ended at the failing fold before --json had its line: its figures were printed
    # only, and a round's file held the passing folds alone
    log = tmp_path / "r.jsonl"
    args = argparse.Namespace(name="cand", json=str(log), sets=["a=1"], folds="0,3;2,5")
    ruled = folds.stop_at_failing_fold(_fold(0.07, 0.09), folds.T_FOLD_LIMITS)
    with pytest.raises(SystemExit):
        folds.run_folds(argparse.ArgumentParser(), args, ruled)  # {0,3}'s limit 0.338 passes
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(line["fold"], line.get("failed")) for line in lines] == [
        ([0, 3], None),
        ([2, 5], True),
    ]
    assert lines[1]["rows"]["cand"] == {"val_eer": 0.07, "spread": 0.09}
    assert lines[1]["name"] == "cand" and lines[1]["sets"] == ["a=1"]
    assert lines[1]["history"][-1] == {"epoch": 2, "spread": 0.01}


@pytest.mark.parametrize(
    "script",
    [
        "val_distill",
        "val_joint_ssl",
        "val_rho",
        "val_mixup",
        "val_sam",
        "val_proto",
        "val_proto_aux",
        "val_resolution",
    ],
)
def test_the_rounds_scripts_use_the_shared_rule(script: str) -> None:
    mod = load_script(script)
    assert mod.run_taps_folds.__module__ == "val_taps"  # val_taps.py: their shared start and end
    taps = load_script("val_taps")
    assert taps.stop_at_failing_fold.__module__ == "val_folds"
    # round 7's T (EER 0.056 / 0.333 / 0.167) + 0.005, as each round's docstring states
    assert taps.T_FOLD_LIMITS == {(2, 5): 0.061, (0, 3): 0.338, (1, 4): 0.172}


@pytest.mark.parametrize(
    ("script", "option"),
    [("val_distill", "--distill-weight 10"), ("val_joint_ssl", "--ssl-weight 1.0"),
     ("val_rho", "--rho-p 0.2"), ("val_mixup", "--mix input"), ("val_sam", "--sam sam"),
     ("val_proto", "--proto s1"), ("val_proto_aux", "--aux w1"),
     ("val_resolution", "--res x2")],
)  # fmt: skip
def test_the_rounds_scripts_help_prints_the_command_each_round_ran(
    script: str, option: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each docstring held its own copy of the command; val_taps.RUN holds it once."""
    mod = load_script(script)
    monkeypatch.setattr(sys, "argv", [f"{script}.py", "--help"])
    with pytest.raises(SystemExit):
        mod.main()
    out = " ".join(capsys.readouterr().out.split())
    want = (
        f"Run: OMP_NUM_THREADS=1 nice python benchmarks/{script}.py NAME --config "
        'configs/hypercolumn.yaml --folds "2,5;0,3;1,4" --set train.epochs=10 --set '
        f"train.steps_per_epoch=50 --set train.val_metric=none {option}"
    )
    assert want in out
