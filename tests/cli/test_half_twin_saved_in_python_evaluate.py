"""`siamkit evaluate` of a half-twin built and saved in Python pointed its user to "its run's
metrics.json", which such a model does not have (no run, metadata {}), under "task: half_twin",
a config the user never wrote (reviewer s57_r7 finding 4). It now says how to score it in
Python, with the lines written out; a half-twin trained by a run keeps the metrics.json wording
(tests/cli/test_half_twin_cli.py)."""

from __future__ import annotations

from pathlib import Path

import torch
from click.testing import CliRunner

import siamkit
from _tiny_half_twin import tiny_half_twin
from siamkit.applications.half_twin.task import HalfTwinData, cross_modal_p_at_1
from siamkit.cli.main import cli


def test_evaluate_says_how_to_score_a_half_twin_saved_in_python(tmp_path: Path) -> None:
    net = tiny_half_twin()
    folder = str(siamkit.save_model(net, tmp_path / "ht"))
    res = CliRunner().invoke(cli, ["evaluate", folder, "--data", str(tmp_path)])
    assert res.exit_code != 0, res.output
    assert "metrics.json" not in res.output and "task: half_twin" not in res.output, res.output
    assert "saved without a training run" in res.output and "P@1" in res.output, res.output
    # its closing phrase said "use an image one" (one what?): it names the model they take
    said = " ".join(res.output.split())
    assert "use an image one" not in said, said
    assert (
        "`siamkit enroll`, `identify` and `verify` take an image half-twin (enroll with tower g, "
        "search with tower f)" in said
    ), said
    # the lines it writes out compute what the run's cross-modal P@1 computes
    x, y = torch.rand(6, 1, 12, 12), torch.rand(6, 1, 8, 8)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    with torch.inference_mode():
        d = net.distance.matrix(net.embed(x, branch="f"), net.embed(y, branch="g"))
    said = float((labels[d.argmin(1)] == labels).float().mean())
    for line in (
        "d = net.distance.matrix(net.embed(x, branch='f'), net.embed(y, branch='g'))",
        "(labels[d.argmin(1)] == labels).float().mean()",
    ):
        assert line in res.output.replace("\n", " "), res.output
    assert said == cross_modal_p_at_1(net, HalfTwinData(x, y, labels))
