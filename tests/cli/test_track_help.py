"""`siamkit track --help` says what the numbers of --box are."""

from __future__ import annotations

from click.testing import CliRunner

from siamkit.cli.main import cli


def test_box_help_says_x_y_is_the_top_left_corner() -> None:
    """--box said 'x,y,w,h in pixels', leaving a new user to guess whether x,y is the box's
    centre (as in SiamFC's own code) or its corner."""
    res = CliRunner().invoke(cli, ["track", "--help"], terminal_width=200)
    assert "x,y its top-left corner (0,0: the frame's) and w,h its width and height" in res.output
