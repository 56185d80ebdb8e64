"""``siamkit export`` where onnxruntime is missing writes the ONNX file without comparing it to
the torch model: an export whose numbers differ would pass unnoticed, so it says so in one line,
with the install that checks it, in its text output and beside its ``--json`` document."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli

SAID = (
    "not checked against the torch model (onnxruntime is not installed: pip install "
    "'siamkit[onnx]' and export again with --force to check it)"
)


@pytest.fixture
def no_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import onnxruntime`` fails, as where the onnx extra is not installed."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)


def _export(bundle: Path, out: Path, *extra: str):
    args = ["export", str(bundle), "--out", str(out), "--no-progress", *extra]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0 and "Traceback" not in res.output, res.output
    assert out.is_file()
    return res


def test_the_text_output_says_the_parity_was_not_checked(bundle, tmp_path, no_onnxruntime):
    res = _export(bundle, tmp_path / "m.onnx")
    [line] = [s for s in res.stdout.splitlines() if "m.onnx" in s]
    assert line.endswith(f"KiB, {SAID}"), line
    assert res.stderr == ""


def test_json_output_says_it_on_stderr_in_one_line(bundle, tmp_path, no_onnxruntime):
    out = tmp_path / "m.onnx"
    res = _export(bundle, out, "--json")
    doc = json.loads(res.stdout)  # stdout stays the JSON document alone
    assert doc["files"][0]["max_abs_diff"] is None
    assert res.stderr.splitlines() == [f"warning: {out} was {SAID}"]


def test_json_output_with_onnxruntime_checks_and_says_nothing_more(bundle, tmp_path):
    pytest.importorskip("onnxruntime")
    res = _export(bundle, tmp_path / "m.onnx", "--json")
    assert json.loads(res.stdout)["files"][0]["max_abs_diff"] <= 1e-4
    assert res.stderr == ""


def test_python_api_warns_that_the_parity_was_not_checked(bundle, tmp_path, no_onnxruntime):
    """``export_onnx`` returned ``max_abs_diff=None`` without a word: a script never learned its
    export went unchecked, nor how to check it."""
    from siamkit.export.onnx import ParityNotCheckedWarning, export_onnx

    out = tmp_path / "m.onnx"
    with pytest.warns(ParityNotCheckedWarning) as caught:
        result = export_onnx(bundle, out)
    assert result.max_abs_diff is None and out.is_file()
    [warning] = caught.list
    text = str(warning.message)
    assert text.startswith(f"{out} was not checked against the torch model"), text
    assert "pip install 'siamkit[onnx]'" in text
    assert warning.filename == __file__  # points at the caller's line, not at siamkit's


def test_python_api_with_onnxruntime_checks_and_does_not_warn(bundle, tmp_path, recwarn):
    from siamkit.export.onnx import ParityNotCheckedWarning, export_onnx

    assert export_onnx(bundle, tmp_path / "m.onnx").max_abs_diff is not None
    assert not [w for w in recwarn.list if issubclass(w.category, ParityNotCheckedWarning)]


def test_the_command_says_it_once_not_also_as_a_python_warning(
    bundle, tmp_path, no_onnxruntime, recwarn
):
    """The command's own line says it; the API's warning would print a second, longer one
    (file name and line of siamkit's source) on stderr."""
    from siamkit.export.onnx import ParityNotCheckedWarning

    _export(bundle, tmp_path / "m.onnx")
    assert not [w for w in recwarn.list if issubclass(w.category, ParityNotCheckedWarning)]
