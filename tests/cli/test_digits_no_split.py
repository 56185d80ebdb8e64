"""scikit-learn's digits are one set of images: evaluate must not call them a test split."""

from __future__ import annotations

from click.testing import CliRunner

from siamkit.cli.main import cli


def test_evaluate_does_not_call_digits_a_test_split(tiny_demo_dir):
    """evaluate said '714 images ... from digits (test split)', though its --help says digits
    have one set of images (and refuses --split for them): there is no test split to name."""
    model = str(tiny_demo_dir / "model")
    evaluated = CliRunner().invoke(
        cli, ["evaluate", model, "--data", "digits", "--episodes", "10", "--no-progress"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "from digits (one set of images, no test split)" in evaluated.output
    assert "test split" not in evaluated.output.replace("no test split", "")
