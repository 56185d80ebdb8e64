"""What --threshold means, in each text command's --help."""

from __future__ import annotations

import re

from click.testing import CliRunner

from siamkit.cli.main import cli


def _help(command: str) -> str:
    res = CliRunner().invoke(cli, ["text", command, "--help"])
    assert res.exit_code == 0, res.output
    return re.sub(r"(\w)- (\w)", r"\1-\2", " ".join(res.output.split()))  # wrapped at hyphens


def test_dedup_threshold_help_says_what_auto_is_with_each_scoring() -> None:
    """dedup's --threshold help read 'Cosine similarity ... or auto: the model's calibrated
    threshold, else all-MiniLM-L6-v2's default', while with --by passages the threshold is a
    passage coverage and auto is the coverage default whatever the model."""
    from siamkit.applications.text.dedup import COVERAGE_SIMILARITY
    from siamkit.applications.text.model import DOCUMENT_THRESHOLD

    said = _help("dedup")
    assert (
        "their cosine similarity with --by documents, their passage coverage with --by passages"
        in said
    )
    assert (
        "'auto': with --by documents, the model's calibrated threshold, else all-MiniLM-L6-v2's "
        f"document default {1 - DOCUMENT_THRESHOLD:.2f}; with --by passages, all-MiniLM-L6-v2's "
        f"passage-coverage default {COVERAGE_SIMILARITY:.2f} whatever the model"
    ) in said


def test_plagiarism_threshold_help_says_it_matches_sentences() -> None:
    """plagiarism's --threshold help read 'at or above which texts count as the same' and 'auto:
    ... all-MiniLM-L6-v2's default', while it matches SUSPECT's sentences one by one and auto
    is the sentence default."""
    from siamkit.applications.text.model import PASSAGE_THRESHOLD

    said = _help("plagiarism")
    assert (
        "Cosine similarity at or above which (within float32 rounding) a sentence of SUSPECT "
        "matches a source sentence, or "
        "'auto': the model's calibrated threshold, else all-MiniLM-L6-v2's sentence default "
        f"{1 - PASSAGE_THRESHOLD:.2f}."
    ) in said
