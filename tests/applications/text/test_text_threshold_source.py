"""Where a text command's default threshold comes from, as it tells the user: a calibrated
threshold is had with the installed CLI (``siamkit calibrate``), not a benchmark script."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from siamkit.applications.text.similarity import CALIBRATE, resolve_threshold


def _model(model_type: str, hidden: int, layers: int) -> SimpleNamespace:
    """What resolve_threshold reads of a model without a calibrated threshold."""
    config = {"model_type": model_type, "hidden_size": hidden, "num_hidden_layers": layers}
    encoder = SimpleNamespace(hf_config=lambda: config)
    return SimpleNamespace(threshold=None, lexical=None, encoder=encoder)


@pytest.mark.parametrize("level", ["passage", "document"])
@pytest.mark.parametrize("shape", [("bert", 384, 6), ("mpnet", 768, 12)])
def test_default_threshold_source_names_the_calibrate_command(
    level: str, shape: tuple[str, int, int]
) -> None:
    """The source read '... benchmarks/bench_text.py calibrate', a script a pip user does not
    have; it now says how to calibrate with `siamkit calibrate`, for MiniLM and other models."""
    _, source = resolve_threshold(_model(*shape), None, level, "--threshold")  # type: ignore[arg-type]
    assert "benchmarks/" not in source and "bench_text" not in source
    assert "all-MiniLM-L6-v2's" in source and CALIBRATE in source
    assert source.count("siamkit calibrate") == 1


def test_calibrate_hint_names_the_real_command_and_options() -> None:
    """The hint's command and options are calibrate's own (a renamed option fails here)."""
    import click

    from siamkit.cli.main import cli

    calibrate = cli.get_command(click.Context(cli), "calibrate")
    assert calibrate is not None
    options = {o for p in calibrate.params for o in p.opts}
    said = re.findall(r"--[a-z][a-z-]*", CALIBRATE)
    assert said and set(said) <= options
    assert CALIBRATE.startswith("`siamkit calibrate MODEL --data PAIRS`")


def test_passage_coverage_source_for_another_model_does_not_say_calibrate() -> None:
    """dedup --by passages with a model other than MiniLM told the user to calibrate it, though
    calibrate's threshold is a cosine of whole texts and does not set the passage coverage; it
    now says to check the default on their own duplicates and pass --threshold."""
    from siamkit.applications.text.duplicates import coverage_threshold

    mpnet = SimpleNamespace(**vars(_model("mpnet", 768, 12)), score_map=None)
    _, source = coverage_threshold(mpnet, None, "--threshold")
    assert "calibrate MODEL" not in source, source
    assert "pass --threshold COVERAGE" in source and "does not set the passage coverage" in source
    minilm = SimpleNamespace(**vars(_model("bert", 384, 6)), score_map=None)
    _, source = coverage_threshold(minilm, None, "--threshold")
    assert source.endswith("background documents 0-149"), source
