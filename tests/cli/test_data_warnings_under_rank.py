"""The commands' data warnings (one ``warning: ...`` line) were said only where ``RANK`` is unset
or "0": a one-process command run where the shell sets ``RANK`` (a cluster job's environment)
dropped them without a word, which made test_face_cli's one-line test fail in such a shell
(s57_c3, s57_r3). Only the later processes of a torchrun launch (``WORLD_SIZE`` > 1) keep still."""

from __future__ import annotations

import warnings

import pytest

from siamkit.cli._inputs import data_warnings_as_lines
from siamkit.data.folders import EmptyFoldersWarning


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({}, True),
        ({"RANK": "1"}, True),  # no launch: said (it was dropped)
        ({"RANK": "1", "WORLD_SIZE": "1"}, True),
        ({"RANK": "0", "WORLD_SIZE": "2"}, True),  # a launch's first process says it
        ({"RANK": "1", "WORLD_SIZE": "2"}, False),  # the others do not
    ],
)
def test_a_data_warning_is_said_unless_by_a_later_process_of_a_launch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env, said
) -> None:
    for name in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with data_warnings_as_lines():
        warnings.simplefilter("always")
        warnings.warn("the class folder ds/cat holds no images", EmptyFoldersWarning, stacklevel=1)
    err = capsys.readouterr().err
    assert err == ("warning: the class folder ds/cat holds no images\n" if said else "")


def test_a_data_warning_said_again_in_one_command_is_said_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """siamkit tune loads a folder once per data config its space checks, and each load said
    the walk's warnings again (tests/tuning/test_tune_data_warnings_once.py): a repeat of one
    text is said once, another text still is."""
    for name in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    with data_warnings_as_lines():
        warnings.simplefilter("always")
        for text in ("ds/cat holds no images", "ds/dog holds no images", "ds/cat holds no images"):
            warnings.warn(text, EmptyFoldersWarning, stacklevel=1)
    assert capsys.readouterr().err == (
        "warning: ds/cat holds no images\nwarning: ds/dog holds no images\n"
    )
