"""An earlier siamkit kept each further failed --overwrite run's report as
``report.failed-2.html``, ``-3`` ...; now OUT holds one failed report, but those already there
were never cleaned: a run that finished left them beside its own report, though it removes
``report.failed.html`` (s63_r6 finding 6). They are set aside with the earlier run like it:
put back by a failed run, removed by a run that finishes, said in one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from siamkit.cli._run_folder import _earlier_run_set_aside

REPORTS = ("report.failed.html", "report.failed-2.html", "report.failed-10.html")


@pytest.fixture
def out(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yaml").write_text("earlier: 1\n")
    for name in (*REPORTS, "report.failed-x.html"):  # the last one is not a failed report's
        (out / name).write_text(f"<p>{name}</p>")
    return out


def test_a_finished_run_removes_every_failed_report_and_says_so(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _earlier_run_set_aside(out, True):
        (out / "config.yaml").write_text("new: 1\n")
        (out / "report.html").write_text("new")
    assert sorted(os.listdir(out)) == ["config.yaml", "report.failed-x.html", "report.html"]
    assert capsys.readouterr().err == (
        f"{out / 'report.failed.html'}, {out / 'report.failed-2.html'} and "
        f"{out / 'report.failed-10.html'} removed: the reports of runs that failed\n"
    )


def test_a_failed_run_puts_every_failed_report_back(out: Path) -> None:
    with pytest.raises(RuntimeError), _earlier_run_set_aside(out, True):
        raise RuntimeError("the run failed")
    assert sorted(os.listdir(out)) == sorted(["config.yaml", "report.failed-x.html", *REPORTS])
    assert all((out / n).read_text() == f"<p>{n}</p>" for n in REPORTS)
    assert (out / "config.yaml").read_text() == "earlier: 1\n"


def test_a_failed_runs_report_replaces_the_earlier_one_of_its_name(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file saved at report.failed.html during the run (none was there before): the failed
    run's report is kept as report.failed-2.html, in place of the earlier one of that name, as
    report.failed.html replaces an earlier one; the earlier -2 does not stay set aside, so the
    next run is not refused for it."""
    from siamkit.atomic import atomic_path

    (out / "report.failed.html").unlink()
    with pytest.raises(RuntimeError), _earlier_run_set_aside(out, True):
        with atomic_path(out / "report.html") as tmp:
            tmp.write_text("the failed run's curves")
        (out / "report.failed.html").write_text("mine")
        raise RuntimeError("the run failed")
    assert not list(out.glob(".earlier-run-*"))
    assert (out / "report.failed.html").read_text() == "mine"
    assert (out / "report.failed-2.html").read_text() == "the failed run's curves"
    assert (out / "report.failed-10.html").read_text() == "<p>report.failed-10.html</p>"
    assert f"the failed run's report: {out / 'report.failed-2.html'}\n" in capsys.readouterr().err


def test_a_folder_or_link_of_the_users_of_a_numbered_name_is_left_alone(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only siamkit's plain files are failed reports (s63_LR1 finding 4): a finished run used
    to delete a folder of the user's named report.failed-3.html, with its files, and say it
    was a failed run's report. A folder or link of such a name is left as any entry of theirs."""
    (out / "report.failed-3.html").mkdir()
    (out / "report.failed-3.html" / "notes.txt").write_text("mine")
    (out / "report.failed-4.html").symlink_to(out / "report.failed-x.html")
    with _earlier_run_set_aside(out, True):
        (out / "config.yaml").write_text("new: 1\n")
    assert (out / "report.failed-3.html" / "notes.txt").read_text() == "mine"
    assert os.readlink(out / "report.failed-4.html") == str(out / "report.failed-x.html")
    assert sorted(os.listdir(out)) == [
        "config.yaml",
        "report.failed-3.html",
        "report.failed-4.html",
        "report.failed-x.html",
    ]
    assert capsys.readouterr().err == (
        f"{out / 'report.failed.html'}, {out / 'report.failed-2.html'} and "
        f"{out / 'report.failed-10.html'} removed: the reports of runs that failed\n"
    )


def test_a_failed_run_that_keeps_a_file_of_yours_leaves_no_replaced_report_set_aside(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Files saved at config.yaml and report.failed.html during the run stay, so the earlier
    run's of those names stay set aside, said; the failed run's report is kept as
    report.failed-2.html, which replaces the earlier -2: that one used to stay set aside too,
    unsaid, so moving back what the line names still left the next run refused (s63_LR1
    finding 5)."""
    from siamkit.atomic import atomic_path

    with pytest.raises(RuntimeError), _earlier_run_set_aside(out, True):
        with atomic_path(out / "report.html") as tmp:
            tmp.write_text("the failed run's curves")
        (out / "config.yaml").write_text("mine: 1\n")
        (out / "report.failed.html").write_text("mine")
        raise RuntimeError("the run failed")
    (stash,) = out.glob(".earlier-run-*")
    assert sorted(os.listdir(stash)) == ["config.yaml", "report.failed.html"]
    assert (out / "report.failed-2.html").read_text() == "the failed run's curves"
    assert (out / "report.failed-10.html").read_text() == "<p>report.failed-10.html</p>"
    assert (
        f"config.yaml, report.failed.html saved in {out} during the run kept; the earlier "
        f"run's config.yaml, report.failed.html left where --overwrite set it aside, in {stash}"
    ) in capsys.readouterr().err


def test_a_folder_of_yours_at_the_failed_reports_name_is_left_where_it_is(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only a plain file at report.failed.html is a failed run's report: a folder of the
    user's of that name is not set aside with the earlier run (it was, and kept there by a
    failed run, so the next run was refused until it was moved back), and the failed run's
    report takes the next free name, in place of the earlier one of that name."""
    from siamkit.atomic import atomic_path

    (out / "report.failed.html").unlink()
    (out / "report.failed.html").mkdir()
    (out / "report.failed.html" / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError), _earlier_run_set_aside(out, True):
        assert (out / "report.failed.html" / "notes.txt").read_text() == "mine"  # not aside
        with atomic_path(out / "report.html") as tmp:
            tmp.write_text("the failed run's curves")
        raise RuntimeError("the run failed")
    assert not list(out.glob(".earlier-run-*"))
    assert os.listdir(out / "report.failed.html") == ["notes.txt"]
    assert (out / "report.failed.html" / "notes.txt").read_text() == "mine"
    assert (out / "report.failed-2.html").read_text() == "the failed run's curves"
    assert (out / "report.failed-10.html").read_text() == "<p>report.failed-10.html</p>"
    assert (out / "config.yaml").read_text() == "earlier: 1\n"
    assert capsys.readouterr().err == (f"the failed run's report: {out / 'report.failed-2.html'}\n")


@pytest.mark.parametrize("kind", ["folder", "link"])
def test_a_finished_run_leaves_a_folder_or_link_of_yours_at_the_failed_reports_name(
    out: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """s63_mLR1's open point: a finished --overwrite run removed a folder of the user's named
    report.failed.html, with its files, and said "removed: the report of a run that failed";
    the numbered names were already limited to plain files. The same check now: the folder
    (or a link, with what it leads to) stays, unsaid, and only the plain reports go."""
    target = out.parent / "elsewhere.html"
    (out / "report.failed.html").unlink()
    if kind == "folder":
        (out / "report.failed.html").mkdir()
        (out / "report.failed.html" / "notes.txt").write_text("mine")
    else:
        target.write_text("mine")
        (out / "report.failed.html").symlink_to(target)
    with _earlier_run_set_aside(out, True):
        (out / "config.yaml").write_text("new: 1\n")
        (out / "report.html").write_text("new")
    if kind == "folder":
        assert (out / "report.failed.html" / "notes.txt").read_text() == "mine"
    else:
        assert os.readlink(out / "report.failed.html") == str(target)
        assert target.read_text() == "mine"
    assert sorted(os.listdir(out)) == [
        "config.yaml", "report.failed-x.html", "report.failed.html", "report.html"
    ]  # fmt: skip
    assert capsys.readouterr().err == (
        f"{out / 'report.failed-2.html'} and {out / 'report.failed-10.html'} removed: the "
        "reports of runs that failed\n"
    )
