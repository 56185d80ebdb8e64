"""`siamkit evaluate-tracking --synthetic` was silent for seconds while it made its sequences
(reading the background videos), before its first progress line; it now says so on stderr,
as other long steps do (--no-progress and --json keep stderr quiet)."""

from __future__ import annotations

from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.progress import set_enabled


def test_making_the_synthetic_sequences_is_announced() -> None:
    args = ["evaluate-tracking", "--synthetic", "test", "--n-sequences", "1"]
    try:
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 0, res.output
        said = "making 1 synthetic test sequence of 100 frames (640x480) ...\n"
        assert res.stderr.startswith(said)
        assert said not in res.stdout
        quiet = CliRunner().invoke(cli, [*args, "--no-progress"])
        assert quiet.exit_code == 0 and "synthetic" not in quiet.stderr
    finally:
        set_enabled(False)
