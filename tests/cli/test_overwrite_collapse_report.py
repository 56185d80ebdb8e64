"""A self-supervised run under ``siamkit train --overwrite`` that stopped on a collapse said
"the curves: OUT/report.html", but the failed run's report.html was then removed as the run's
own and the earlier run's put back: the error pointed at the EARLIER run's curves, and the
collapsed run's were lost. Its report is now kept as OUT/report.failed.html and the error names
that file; the earlier run stays as it was. One failed report: the newest replaces an earlier
one (they piled up as report.failed-2.html, -3 ...), a failed run that wrote none leaves it, and
a run that finishes removes it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from siamkit.cli.main import cli

# collapse_std just under the figure's bound (~1): "collapsed" after epoch 1
COLLAPSING = {
    "task": "ssl",
    "method": "simsiam",
    "data": {"dataset": "digits", "limit": 64},
    "model": {"encoder": "convnet", "encoder_kwargs": {"widths": [4]}, "embedding_dim": 8},
    "ssl": {"proj_dim": 8, "proj_hidden": 16, "pred_hidden": 8, "collapse_std": 0.99},
    "train": {"epochs": 1, "batch_size": 16, "steps_per_epoch": 1, "knn_k": 5, "device": "cpu"},
}
EARLIER = {
    "config.yaml": b"# earlier run\n",
    "metrics.json": b'{"knn": 0.5}',
    "report.html": b"<p>the earlier run's curves</p>",
    "model/weights.pt": b"earlier model",
}


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture
def earlier(tmp_path: Path) -> Path:
    out = tmp_path / "o"
    for name, data in EARLIER.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    return out


def test_a_collapsed_overwrite_names_its_own_report(earlier: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(COLLAPSING))
    args = ["train", str(config), "--out", str(earlier), "--overwrite", "--no-progress"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output
    said = res.output.strip().splitlines()[-1]
    assert said.startswith("Error: epoch 1: the embedding collapsed"), res.output
    failed = earlier / "report.failed.html"
    assert said.endswith(f"; the curves: {failed}"), said
    page = failed.read_text()  # the collapsed run's curves, not the earlier run's
    assert "id='collapse'" in page and "no model saved" in page
    assert _files(earlier) == {**EARLIER, "report.failed.html": failed.read_bytes()}

    # a second collapse's report replaces the first one's: one failed report, the newest
    # (s63: they piled up as report.failed-2.html, -3 ...)
    first = failed.stat().st_ino
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output
    assert res.output.strip().endswith(f"; the curves: {failed}"), res.output
    assert "id='collapse'" in failed.read_text()
    assert failed.stat().st_ino != first  # the second run's file, not the first one kept
    assert _files(earlier) == {**EARLIER, "report.failed.html": failed.read_bytes()}
    assert not [p for p in earlier.iterdir() if p.name.startswith(".")]  # nothing set aside

    # a failed run that wrote no report (a bad --set refused) leaves the failed report as it was
    kept = failed.read_bytes()
    res = CliRunner().invoke(cli, [*args, "--set", "train.epochs=0"])
    assert res.exit_code != 0, res.output
    assert _files(earlier) == {**EARLIER, "report.failed.html": kept}

    # a run that finishes removes it, and says so: no report of a failed run beside its own
    config.write_text(
        yaml.safe_dump({**COLLAPSING, "ssl": {**COLLAPSING["ssl"], "collapse_std": 0}})
    )
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert f"{failed} removed: the report of a run that failed\n" in res.stderr
    assert not failed.exists() and (earlier / "report.html").is_file()
    assert not [p for p in earlier.iterdir() if p.name.startswith("report.failed")]


def test_an_overwrite_stopped_after_its_report_keeps_it_and_says_so(
    earlier: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a run that finished its report, then was interrupted (Ctrl-C while its table printed):
    # the earlier run is put back, and the failed run's report is kept and named in a line
    import siamkit.cli.train_cmd as train_cmd

    def interrupted(*args: object, **kw: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(train_cmd, "format_table", interrupted)
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump({**COLLAPSING, "ssl": {**COLLAPSING["ssl"], "collapse_std": 0}})
    )
    args = ["train", str(config), "--out", str(earlier), "--overwrite", "--no-progress"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 130, res.output
    failed = earlier / "report.failed.html"
    assert f"the failed run's report: {failed}\n" in res.output
    assert "id='collapse'" in failed.read_text()
    assert _files(earlier) == {**EARLIER, "report.failed.html": failed.read_bytes()}
