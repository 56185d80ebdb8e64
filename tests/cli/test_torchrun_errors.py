"""A user's error under ``torchrun``: every process meets it, the run says it once."""

from __future__ import annotations

from pathlib import Path

from _gloo import torchrun_siamkit

ROOT = Path(__file__).resolve().parents[2]


def test_a_config_error_met_by_every_rank_is_said_once(tmp_path: Path) -> None:
    config = str(ROOT / "configs" / "digits-tiny.yaml")
    res = torchrun_siamkit(
        "train", config, "--out", str(tmp_path / "run"), "--set", "loss.kind=nope", timeout=300
    )
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert out.count("Error: loss.kind = 'nope' is not valid") == 1, out
    assert not (tmp_path / "run").exists()
