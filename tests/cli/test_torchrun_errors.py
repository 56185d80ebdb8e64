"""A user's error under ``torchrun``: every process meets it, the run says it once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_config_error_met_by_every_rank_is_said_once(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={port}",
        "-m", "siamkit", "train", str(ROOT / "configs" / "digits-tiny.yaml"),
        "--out", str(tmp_path / "run"), "--set", "loss.kind=nope",
    ]  # fmt: skip
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert out.count("Error: loss.kind = 'nope' is not valid") == 1, out
    assert not (tmp_path / "run").exists()
