"""The OUT folder of ``siamkit train``: what a run writes there, the refusals of a folder that
holds another run, a tuning study or a run set aside, and the setting aside of an earlier run
that --overwrite replaces."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import click

from siamkit.clauses import counted, in_number, listed

RUN_OUTPUTS = (
    "config.yaml",
    "checkpoint.pt",
    "history.json",
    "metrics.json",
    "report.html",
    "model",
)
"""What a training run writes into OUT (a task's run writes some of them)."""


def _refuse_study_folder(out_dir: Path) -> None:
    """A tuning study's folder is not a run's: its best.yaml would sit beside a model it did
    not make (and `siamkit tune` refuses a run's folder the same way)."""
    from siamkit.tuning.study import STUDY_FILE

    if (out_dir / STUDY_FILE).exists():
        raise click.UsageError(
            f"{out_dir} holds a tuning study ({STUDY_FILE}); train into another --out, "
            f"e.g. --out {out_dir / 'best-run'}"
        )


@contextlib.contextmanager
def _earlier_run_set_aside(out_dir: Path, enabled: bool) -> Iterator[None]:
    """With --overwrite: move the earlier run's outputs aside, so the new run's files never mix
    with the old ones; delete them once the new run has finished, and put them back if it fails
    (a refused config or an interrupt loses nothing); files of the user's in the earlier run's
    model folder go into the new one (:func:`_keep_users_model_files`). A failed run's cleanup
    removes only what the run wrote (:func:`_the_runs_own`): a user's file of a run output's
    name saved into OUT during the run stays, and where it took an earlier output's place, that
    output stays set aside (``.earlier-run-*``, said in one line). The failed run's own
    report.html (a self-supervised run that stopped on a collapse writes one, its curves) is
    kept as ``report.failed.html`` (:func:`_failed_runs_report_kept`): an earlier failed run's
    of that name (and ``report.failed-2.html`` and on: :func:`_failed_reports`) is set aside
    with the earlier run, so the newest one replaces it, a failed run that wrote none puts it
    back, and a run that finishes removes it, said. A run whose save of OUT/model could not move the user's files out of ``.model.old``
    (:class:`~siamkit.export.bundle.ModelFolderNotFinishedError`, "Saved the model to ...")
    stops there: the files its save had moved go back with the earlier model folder
    (:func:`_carried_back`), and its error then says what became of both models and which
    files to move (:func:`_unfinished_save_sentence`). A save that moved every file of the
    user's and could not remove only the replaced model's own files from ``.model.old`` does
    not stop the run (:func:`~siamkit.export.bundle.replaced_files_left_said`): its model is
    saved, and is kept. Only the first process of a torchrun launch does this."""
    from siamkit.export.bundle import (
        ModelFolderNotFinishedError,
        recover_model_folder,
        replaced_files_left_said,
    )
    from siamkit.training.ddp import is_main_process

    if enabled and is_main_process():  # a save of OUT/model killed after its renames left the
        recover_model_folder(out_dir / "model")  # user's files in .model.old: into OUT/model
    names = (
        [n for n in (*RUN_OUTPUTS, *_failed_reports(out_dir)) if (out_dir / n).exists()]
        if enabled
        else []
    )
    if not names or not is_main_process():
        yield
        return
    stash = Path(tempfile.mkdtemp(prefix=".earlier-run-", dir=out_dir))
    moved: list[str] = []
    try:
        for name in names:
            os.replace(out_dir / name, stash / name)
            moved.append(name)
        with replaced_files_left_said():  # a save that finished is no failed run, and its
            yield  # model is not removed: only the replaced model's files are left, said
    except BaseException as err:
        report = _failed_runs_report_kept(out_dir, err)
        for name in RUN_OUTPUTS:  # the failed run's files (not an earlier one never moved) ...
            if (name in moved or name not in names) and _the_runs_own(out_dir / name):
                _remove_runs_own(out_dir / name)
        earlier = stash / report.name if report is not None else None
        if earlier is not None and _a_plain_file(earlier):
            moved.remove(earlier.name)  # the newest failed run's replaces an earlier one of its
            earlier.unlink()  # name: not left set aside unnamed (a folder or link is kept, said)
        carried = _carried_back(out_dir / "model", stash / "model") if "model" in moved else []
        kept = []
        for name in moved:  # ... then the earlier run's back, where no user's file is
            if os.path.lexists(out_dir / name):
                kept.append(name)
            else:
                os.replace(stash / name, out_dir / name)
        model = out_dir / "model"  # a folder of files the failed run did not write: said as
        a_folder = model.is_dir() and not model.is_symlink()  # such; a file or link is a file
        files = [n for n in kept if n != "model" or not a_folder]
        if files:
            click.echo(
                f"{', '.join(files)} saved in {out_dir} during the run kept; the earlier run's "
                f"{', '.join(files)} left where --overwrite set it aside, in {stash} (a run into "
                f"{out_dir} is refused until it is moved back or deleted)",
                err=True,
            )
        if "model" in kept and a_folder:  # not a model: the earlier one stays set aside
            click.echo(
                f"files in {model} the failed run did not write kept "
                f"({listed(sorted(os.listdir(model)))}); the earlier run's model folder left "
                f"where --overwrite set it aside, in {stash / 'model'}: move those files "
                f"elsewhere, then move it back to {model} (a run into {out_dir} is refused "
                "until it is moved back)",
                err=True,
            )
        if not kept:
            shutil.rmtree(stash, ignore_errors=True)
        if isinstance(err, ModelFolderNotFinishedError):  # its "Saved the model" is undone
            err.args = (_unfinished_save_sentence(out_dir, err, moved, kept, carried, stash),)
        raise
    failed = [n for n in moved if n not in RUN_OUTPUTS]  # a run finished: a failed one's
    if failed:  # report is no news (removed with the stash)
        click.echo(
            f"{listed([str(out_dir / n) for n in failed])} removed: "
            f"{in_number(len(failed), 'the report')} of "
            f"{in_number(len(failed), 'a run', 'runs')} that failed",
            err=True,
        )
    if _keep_users_model_files(out_dir, stash):
        shutil.rmtree(stash, ignore_errors=True)
    else:  # the earlier model folder stays there, with the user's files: only it (the new run
        for entry in os.scandir(stash):  # replaced the earlier run's other outputs)
            if entry.name != "model":
                _remove(Path(entry.path))


def _carried_back(model: Path, earlier: Path) -> list[str]:
    """Once a failed run's own entries are removed from its ``model`` folder, move what is left
    there (files of the user's that its save carried in from ``.model.old``) into the
    ``earlier`` run's model folder set aside, which then goes back in its place: where the
    save would have carried them. A name the earlier folder holds too stays (and so does the
    folder, with the earlier one left set aside, said). The names moved."""
    if not model.is_dir() or model.is_symlink() or not earlier.is_dir() or earlier.is_symlink():
        return []
    moved = []
    for entry in sorted(os.listdir(model)):
        if not os.path.lexists(earlier / entry):
            with contextlib.suppress(OSError):  # refused: it stays, with the folder (said)
                os.replace(model / entry, earlier / entry)
                moved.append(entry)
    with contextlib.suppress(OSError):  # not empty: a name the earlier folder holds too
        model.rmdir()
    return moved


def _unfinished_save_sentence(
    out_dir: Path, err: OSError, moved: list[str], kept: list[str], carried: list[str], stash: Path
) -> str:
    """What a failed --overwrite run ends with where its save of OUT/model could not move the
    user's files out of ``OUT/.model.old`` (``err``, which said "Saved the model to
    OUT/model"; the run stopped there), once its cleanup is done: the new model was removed,
    the earlier run's (``moved`` aside) is back in OUT/model with the files ``carried`` back
    into it, or left set aside in ``stash`` where a file of the user's is in its place
    (``kept``, said in the line before), which files of the user's to move out of
    ``.model.old`` (into the folder the earlier model is in, whose exports there are the
    user's to keep), and the replaced model's export files the save had removed
    (``err.removed``)."""
    from siamkit.export.bundle import _removed_clause, _users_files_advice
    from siamkit.export.runtime import set_aside_folder

    model = out_dir / "model"
    aside = set_aside_folder(model)
    home = stash / "model" if "model" in kept else model  # where the earlier model is
    why = getattr(err, "why", "") or str(err.strerror or err)
    said = f"the run stopped: its save of {model} could not move your files out of {aside} ({why})"
    if "model" not in moved:
        said += ", so its new model was removed"
    elif "model" in kept:
        said += ", so its new model was removed, and the earlier run's set aside (said above)"
    else:
        said += f", so its new model was removed, and the earlier run's is back in {model}"
        if carried:
            said += f" (with {listed(carried)} of yours, which the save had moved)"
    if os.path.lexists(aside):
        said = f"{said}: {_users_files_advice(home, aside)}"
    return said + _removed_clause(getattr(err, "removed", ()), "its save", "its new model")


FAILED_REPORT = "report.failed.html"
"""What a failed --overwrite run's own report.html is kept as, as report.html is the earlier
run's again: one, the newest failed run's (an earlier one is set aside with the earlier run:
:func:`_earlier_run_set_aside`); ``report.failed-2.html`` and on only where a file was saved
at that name during the run, or a folder or link of the user's is there (never set aside)."""


def _failed_reports(out_dir: Path) -> list[str]:
    """The names of the failed runs' reports in ``out_dir``: :data:`FAILED_REPORT`, then
    ``report.failed-2.html`` and on, in their order (an earlier siamkit kept each further
    failed run's as the next of them; plain files only, as siamkit wrote them: a folder or
    link of such a name, :data:`FAILED_REPORT`'s too, is the user's, left where it is, unsaid,
    as any other entry of theirs, and a failed run's report takes the next free name)."""
    numbered = []
    for path in out_dir.glob("report.failed-*.html"):  # a folder or link of the user's of such
        n = path.name[len("report.failed-") : -len(".html")]  # a name is theirs: left alone
        if n.isdecimal() and n.isascii() and _a_plain_file(path):
            numbered.append((int(n), path.name))
    first = [FAILED_REPORT] if _a_plain_file(out_dir / FAILED_REPORT) else []
    return [*first, *(name for _, name in sorted(numbered))]


def _a_plain_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _failed_runs_report_kept(out_dir: Path, err: BaseException) -> Path | None:
    """Keep the report.html a failed --overwrite run wrote (:func:`_the_runs_own`) as
    :data:`FAILED_REPORT` (an earlier one was set aside; the first free name of its kind where
    a file was saved there during the run), as the earlier run's goes back in its place: a
    run stopped on a collapse writes its curves there and its error names it. Said: the error
    that names the report (:class:`~siamkit.applications.ssl.trainer.CollapseError`) names
    the new file instead, another error is followed by a line naming it. The path it is kept
    as, or ``None`` (no report of the run's)."""
    report = out_dir / "report.html"
    if not _the_runs_own(report) or not report.is_file():
        return None
    from siamkit.applications.ssl.trainer import CollapseError

    named = err if isinstance(err, CollapseError) and _same_file(err.report, report) else None
    kept, n = out_dir / FAILED_REPORT, 1
    while os.path.lexists(kept):  # a file saved there during the run: kept too
        n += 1
        kept = out_dir / f"report.failed-{n}.html"
    os.replace(report, kept)
    if named is not None:
        named.report_moved(kept)
    else:
        click.echo(f"the failed run's report: {kept}", err=True)
    return kept


def _same_file(a: Path | None, b: Path) -> bool:
    if a is None:
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _keep_users_model_files(out_dir: Path, stash: Path) -> bool:
    """Once the new run has saved its model, the earlier run's model folder set aside in
    ``stash`` gives it the files of the user's it holds, and its export of the earlier model is
    removed and named, as a save over a model folder does: it is put where such a save killed
    after its renames leaves the replaced folder (``.model.old``), which
    :func:`~siamkit.export.bundle._finish_replacement` finishes (a refused move or deletion
    there is said, with what to move and remove). A ``.model.old`` already
    there (an empty one, left by a save killed as it removed it, is tidied first; a file or link
    of the user's is not touched; a killed save's that still holds files of the user's, as
    their move was refused, is named with them and the refusal), or a refused move of it
    there, keeps the earlier model folder in ``stash``, said in one line: False then, and
    ``stash`` must not be deleted, as it may hold the user's files."""
    from siamkit.export.bundle import (
        CONFIG_FILE,
        _finish_replacement,
        _holds_users_files,
        _users_files_advice,
        _why,
    )
    from siamkit.export.runtime import set_aside_folder

    earlier, new = stash / "model", out_dir / "model"
    aside = set_aside_folder(new)
    if not earlier.is_dir() or not (new / CONFIG_FILE).is_file():
        return True
    errors: list[OSError] = []  # why a killed save's could not be finished, said
    if aside.is_dir() and not aside.is_symlink():  # a save's, killed: finish it first
        _finish_replacement(new, aside, errors)
    if os.path.lexists(aside):
        holding = ""
        if aside.is_dir() and not aside.is_symlink():  # a save's that could not be finished
            why = f" ({_why(errors[0])})" if errors else ""
            what = (  # a refused move, or only a refused deletion (the run's own save's)
                "files of yours a save could not move out of it"
                if _holds_users_files(new, aside)
                else "the replaced model's files a save could not remove"
            )
            holding = f", holding {what}{why}: {_users_files_advice(new, aside)}; and"
        click.echo(
            f"the earlier run's model folder, with any files of yours, left in {earlier}: "
            f"{aside} is in the way{holding or ';'} move your files from {earlier} into {new}, "
            f"then delete {stash} (a run into {out_dir} is refused until it is deleted)",
            err=True,
        )
        return False
    try:
        os.replace(earlier, aside)
    except OSError as err:  # the run finished: its outputs stay, and the earlier model is said
        click.echo(
            f"the earlier run's model folder, with any files of yours, left in {earlier}: it "
            f"could not be moved to {aside} ({_why(err)}); move your files from {earlier} into "
            f"{new}, then delete {stash} (a run into {out_dir} is refused until it is deleted)",
            err=True,
        )
        return False
    if not _finish_replacement(new, aside, errors) and errors:  # the files stay: said
        click.echo(
            f"the earlier run's model folder, moved to {aside} to give the new model in {new} "
            f"the files of yours it held, could not be emptied ({_why(errors[-1])}): "
            f"{_users_files_advice(new, aside)}",
            err=True,
        )
    return True


def _the_runs_own(path: Path) -> bool:
    """Whether ``path`` in OUT is what this run wrote there: a file still the one it wrote
    (:func:`~siamkit.atomic.written_here`; a user's report.html, or a config.yaml saved over
    the run's, is not), or the ``model`` folder (folders are not recorded: a user saves no
    model folder into OUT during the run, and the earlier one was set aside)."""
    from siamkit.atomic import written_here

    if not os.path.lexists(path):
        return False
    return written_here(path) or (path.is_dir() and not path.is_symlink())


def resume_hint_due(out_dir: Path, enabled: bool) -> bool:
    """Whether a run stopped now says that --resume continues it: a new run (``enabled``)
    that has written its checkpoint (:func:`_resume_hint_on_interrupt`). The launcher of
    ``--nproc-per-node`` asks it too, to say a line of its own where process 0 says none."""
    return enabled and (out_dir / "checkpoint.pt").exists()


@contextlib.contextmanager
def _resume_hint_on_interrupt(out_dir: Path, enabled: bool) -> Iterator[None]:
    """Ctrl-C or SIGTERM (``kill``, a scheduler, torchrun stopping its processes) in a new run
    that has written its checkpoint: the same command again is refused (OUT holds a run), so
    say that --resume continues it, not the generic "run it again". Under torchrun every
    process gets the signal: the first alone says it."""
    from siamkit.cli.main import Terminated
    from siamkit.launch_env import stop_line_said
    from siamkit.training.ddp import is_main_process

    try:
        yield
    except (KeyboardInterrupt, Terminated) as stop:
        checkpoint = out_dir / "checkpoint.pt"
        if not resume_hint_due(out_dir, enabled):
            raise
        term = isinstance(stop, Terminated)
        code, signame = (Terminated.STATUS, "SIGTERM") if term else (130, "Ctrl-C")
        if not is_main_process():
            raise click.exceptions.Exit(code) from None
        line = (
            f"interrupted ({signame}); {checkpoint} keeps the run so far: run the same command "
            "with --resume to continue it"
        )
        # (the launcher says one where process 0 did not, on a Ctrl-C or a SIGTERM)
        stop_line_said(lambda: click.echo(line, err=True))
        raise click.exceptions.Exit(code) from None


@contextlib.contextmanager
def _failed_new_run_removed(out_dir: Path, enabled: bool) -> Iterator[None]:
    """A new run (``enabled``: not --resume, not --overwrite) that stops before its first
    checkpoint, with an error (a full disk, a NaN loss) or an interrupt (Ctrl-C, SIGTERM),
    leaves nothing behind that a user would take for a run: the run's files it wrote in OUT
    (:data:`RUN_OUTPUTS`, each still the file this process wrote, by device, inode and
    modification time: :func:`~siamkit.atomic.written_here`) are removed, and OUT, when it made it, with each parent it made, while
    empty. Never a folder with what it holds: a user's file saved into the new OUT during a
    long first epoch, or a second run started into it meanwhile, stays, as does a user's folder
    that was there before with its other files. An interrupt removes them as an error does:
    its config.yaml resumes nothing (--resume needs the checkpoint) and the same command writes
    it again. A run with a
    checkpoint keeps everything, and a resumed run is never ``enabled``. The image cache the run
    wrote inside OUT (``image-cache/``, or a ``data.cache`` folder there) is kept, with the
    folders that hold it, and said: the same command then reads its images from it, not from
    the files again (40 minutes for 50,000 photos). A full disk
    (``ENOSPC``) or a used-up quota (``EDQUOT``) then ends the command in one sentence saying
    so, how much the checkpoint needed and what was removed, with or without the removal. Only
    the first process of a torchrun launch removes anything."""
    from siamkit.atomic import missing_folders
    from siamkit.cli.main import Terminated
    from siamkit.training.ddp import is_main_process

    made = missing_folders(out_dir) if enabled else []
    before = set(os.listdir(out_dir)) if enabled and not made else set()
    try:
        yield
    except (Exception, KeyboardInterrupt, Terminated) as err:
        removed, kept = None, []
        if enabled and is_main_process() and not _holds_run(out_dir):
            kept = _caches_in(out_dir) if made else []
            removed = _remove_new_run(out_dir, made, before, kept)
        said = _full_disk_sentence(err, out_dir, removed) if isinstance(err, OSError) else None
        if said is not None:
            raise click.ClickException(said) from None
        if made and removed is not None and os.path.lexists(out_dir):  # say why OUT is there
            why = ": the same command reads the images from it, not from the files" if kept else ""
            first = removed[0].upper() if removed.startswith(("the ", "its ")) else removed[0]
            click.echo(f"{first}{removed[1:]}{why}", err=True)  # (not Config.yaml ...)
        raise


def _caches_in(out_dir: Path) -> list[Path]:
    """The image cache files this process wrote inside ``out_dir`` (``data.cache``), each as
    named: real paths are compared, as OUT is one and a cache may be named through a symlink
    (``runs -> ../big``)."""
    from siamkit.data.folder_cache import written_caches

    inside = os.path.realpath(out_dir) + os.sep
    return [f for f in written_caches() if os.path.realpath(f).startswith(inside)]


def _holds_run(out_dir: Path) -> bool:
    """Whether ``out_dir`` holds what makes a run worth keeping: a checkpoint or a model."""
    from siamkit.tuning.preflight import TRAINING_RUN_FILES

    return any(os.path.lexists(out_dir / name) for name in TRAINING_RUN_FILES)


def _remove_new_run(
    out_dir: Path, made: list[Path], before: set[str], kept: Sequence[Path] = ()
) -> str | None:
    """Remove what a failed new run wrote (see :func:`_failed_new_run_removed`): its files of
    :data:`RUN_OUTPUTS` that were not in ``out_dir`` ``before`` it and its temporary files, and,
    when it made ``out_dir`` (``made``: it and the parents it made, deepest first), the empty
    folders left in it, then it and each parent while empty. Nothing else goes, never a folder
    with what it holds: a user's file saved into the new folder during the first epoch, a
    second run started into it, and the image cache files ``kept`` stay. What was removed and
    kept, in words, or ``None`` when nothing was removed."""
    from siamkit.atomic import remove_empty_folders

    if made and not os.path.lexists(out_dir):
        return None
    written = _remove_run_files(out_dir, before)
    if not made:
        return f"{', '.join(written)} written in {out_dir} removed" if written else None
    _remove_empty_subfolders(out_dir)  # an image-cache/ whose write failed
    gone = remove_empty_folders(made)
    if gone is not None:  # (made's paths are absolute: a relative OUT's is said relative)
        return (
            f"the new folder {gone if out_dir.is_absolute() else os.path.relpath(gone)} was removed"
        )
    where = ", ".join(sorted({str(f.parent) for f in kept}))
    if not _holds_other_files(out_dir, {os.path.realpath(f) for f in kept}):
        # its images, read once (40 minutes for 50,000 photos), stay for the rerun
        return f"the new folder {out_dir} was removed but for its image cache in {where}"
    said = (
        f"{', '.join(written)} written in the new folder {out_dir} removed, the files there "
        "that the run did not write kept"
        if written
        else None
    )
    if kept:
        cache = f"its image cache kept in {where}"
        return f"{said}, and {cache}" if said else cache
    return said


def _remove_run_files(out_dir: Path, before: set[str]) -> list[str]:
    """Remove the files of :data:`RUN_OUTPUTS` in ``out_dir`` that were not there ``before``
    and that this process wrote (:func:`~siamkit.atomic.written_here`: a user's file of such a
    name, a ``report.html`` saved there during the first epoch, stays), and this process's
    temporary files of them (``.NAME.tmp-PID-...``); the names removed."""
    from siamkit.atomic import written_here

    written = [
        n
        for n in RUN_OUTPUTS
        if n not in before and os.path.lexists(out_dir / n) and written_here(out_dir / n)
    ]
    for name in written:
        _remove(out_dir / name)
    for name in RUN_OUTPUTS:
        for tmp in out_dir.glob(f".{name}.tmp-{os.getpid()}-*"):
            with contextlib.suppress(OSError):
                _remove(tmp)
    return written


def _remove_empty_subfolders(folder: Path) -> None:
    """Remove the empty folders inside ``folder`` (a folder the run made), deepest first: one
    that holds a file stays, with its parents."""
    for parent, subfolders, _ in os.walk(folder, topdown=False):
        for name in subfolders:
            with contextlib.suppress(OSError):  # not empty, or a symlink
                os.rmdir(os.path.join(parent, name))


def _holds_other_files(folder: Path, kept: set[str]) -> bool:
    """Whether ``folder`` holds anything but the files ``kept`` (real paths) and the folders
    that hold them."""
    real = os.path.realpath(folder)
    for entry in os.scandir(folder):
        path = os.path.join(real, entry.name)  # (an entry's own symlink is not followed)
        if path in kept:
            continue
        inside = any(k.startswith(path + os.sep) for k in kept)
        if not inside or not entry.is_dir(follow_symlinks=False):
            return True
        if _holds_other_files(Path(entry.path), kept):
            return True
    return False


def _full_disk_sentence(err: OSError, out_dir: Path, removed: str | None) -> str | None:
    """The one sentence for a run that the disk refused for want of room (``err``: a full disk
    or a used-up quota, in :func:`~siamkit.cli.main.disk_error`'s words): what was being
    written and, for a checkpoint (:class:`~siamkit.training.checkpoint.CheckpointDiskFull`),
    how much it needed and what was free; what was removed; what to do. ``None`` for any other
    error."""
    from siamkit.cli.main import out_of_room
    from siamkit.progress import human_bytes
    from siamkit.training.checkpoint import CheckpointDiskFull

    room = out_of_room(err)
    if room is None:
        return None
    what = err.filename if isinstance(err.filename, str) else str(out_dir)
    if isinstance(err, CheckpointDiskFull) and err.needed is not None:
        free = err.free
        left = f"{human_bytes(free)} was free" if free is not None else "there was not that much"
        said = f"{room.full}: writing {what} needed {human_bytes(err.needed)} and {left}"
    else:
        said = f"{room.said} writing {what}"
    if removed is not None:
        said += f" ({removed}: the run had written no checkpoint)"
    if _holds_run(out_dir):  # the checkpoint of the epochs trained stays
        return f"{said}; {room.free}, then continue the run with the same command and --resume"
    return f"{said}; {room.free} or give an --out {room.elsewhere}, and run it again"


def _refuse_set_aside_run(out_dir: Path) -> None:
    """Refuse any run into ``out_dir`` while it holds an earlier run that an --overwrite set
    aside and did not put back, as its process was killed (SIGKILL) or a user's file saved
    during the failed run took an output's place: a new run there would leave it hidden, or
    bury it under a second one. A set-aside folder that holds only ``model`` (kept, with the
    user's files, as ``.model.old`` was in the way or the move there was refused:
    :func:`_keep_users_model_files`) has its own sentence: move the user's files from it, then
    delete it; and so does one with no model at OUT/model (a failed run's cleanup left it, with
    files of the user's in its place, or the user deleted the new model since): what is there
    (:func:`_in_its_place`) to move elsewhere, then the earlier model folder back. The
    first process of a torchrun launch alone asks: it alone sets a run aside, so another
    process that started later saw its set-aside run of this launch and refused the launch."""
    from siamkit.training.ddp import is_main_process

    if not is_main_process():
        return
    left = sorted(p.name for p in out_dir.glob(".earlier-run-*"))
    if len(left) == 1 and os.listdir(out_dir / left[0]) == ["model"]:
        from siamkit.export.bundle import CONFIG_FILE
        from siamkit.export.runtime import set_aside_folder

        stash, model = out_dir / left[0], out_dir / "model"
        if not (model / CONFIG_FILE).is_file():  # no new model: a failed run's cleanup kept
            raise click.UsageError(  # it, for files in its place, or the user deleted the
                f"{out_dir} holds {left[0]}: the earlier run's model folder, which --overwrite "
                f"set aside and did not put back; {_in_its_place(model)}move "  # new model
                f"{stash / 'model'} back to {model} and delete {stash}"
            )
        # what _keep_users_model_files keeps: only the model folder, beside the new model
        aside = set_aside_folder(model)
        why = (
            f"{aside} was in the way"
            if os.path.lexists(aside)
            else f"it could not be moved to {aside}"
        )
        raise click.UsageError(
            f"{out_dir} holds {left[0]}: the earlier run's model folder, kept as "
            f"{why}; move your files from {stash / 'model'} "
            f"into {out_dir / 'model'}, then delete {stash}"
        )
    if left:
        raise click.UsageError(
            f"{out_dir} holds {', '.join(left)}: an earlier run's files that --overwrite set "
            "aside and did not put back (its process was killed, or a file saved there during "
            "the run took their place); move them back into the folder or delete it, then rerun"
        )


def _in_its_place(model: Path) -> str:
    """What is at OUT/``model`` where an earlier model folder set aside would go back (no
    model: a failed --overwrite run's cleanup kept the user's entries there, or the user
    deleted a finished run's new model), and what to do with it first: "" where nothing is."""
    if not os.path.lexists(model):
        return ""
    if model.is_symlink() or not model.is_dir():
        what = "a link" if model.is_symlink() else "a file"
        return f"{model} is {what} of yours: move it elsewhere, then "
    try:
        names = os.listdir(model)
    except OSError:  # unreadable: what it holds cannot be counted
        return f"{model} is a folder of yours: move it elsewhere, then "
    if not names:
        return f"{model} is an empty folder: remove it, then "
    folders = sum(
        1 for name in names if (model / name).is_dir() and not (model / name).is_symlink()
    )
    files = len(names) - folders  # links and anything not a folder count as files
    held = listed(
        [counted(files, "file")] * bool(files) + [counted(folders, "folder")] * bool(folders)
    )
    them = "it" if len(names) == 1 else "them"
    return f"{model} holds {held} of yours: move {them} elsewhere, then "


def _remove_runs_own(path: Path) -> None:
    """Remove a run output the failed run wrote: a ``model`` folder that also holds entries its
    save did not write (a user's files that the save carried in from a ``.model.old``) loses
    only the save's own entries, the others stay, said in one line."""
    from siamkit.export.bundle import _own_names

    if path.name != "model" or not path.is_dir() or path.is_symlink():
        _remove(path)
        return
    own = _own_names(path)
    others = sorted(e.name for e in os.scandir(path) if e.name not in own)
    if not others:
        _remove(path)
        return
    for name in own:
        if os.path.lexists(path / name):
            _remove(path / name)
    click.echo(
        f"the failed run's model removed from {path}; files there it did not write kept: "
        f"{', '.join(others)}",
        err=True,
    )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _refuse_existing_run(out_dir: Path) -> None:
    """Refuse to train over an earlier run in ``out_dir`` (its model, and any gallery enrolled
    with it, would be silently replaced), before anything is written."""
    from siamkit.tuning.preflight import TRAINING_RUN_FILES  # what `siamkit tune` refuses too

    found = [name for name in TRAINING_RUN_FILES if (out_dir / name).exists()]
    if found:
        # --resume continues from checkpoint.pt: a run that left none (task half_twin) cannot,
        # nor one that stopped on a collapse (task ssl: a resume is refused)
        resume = "continue it with --resume, " if _resumable(out_dir, found) else ""
        raise click.UsageError(
            f"{out_dir} already holds a run ({', '.join(found)}): {resume}start again with "
            "--overwrite, or choose another --out"
        )


def _resumable(out_dir: Path, found: list[str]) -> bool:
    """Whether --resume can continue the run in ``out_dir`` (its files ``found``)."""
    if "checkpoint.pt" not in found:
        return False
    from siamkit.applications.ssl.trainer import stopped_on_collapse

    return not stopped_on_collapse(out_dir / "checkpoint.pt")


def _refuse_unmakeable_folder(folder: Path, what: str) -> None:
    """A usage error, before the config is read, for an output folder below a file (every task
    makes its folder only after loading its data)."""
    from siamkit.atomic import check_writable_folder

    try:
        check_writable_folder(folder, what)
    except ValueError as err:
        raise click.UsageError(str(err)) from None


def _refuse_config_in_out(config: str, out_dir: Path) -> None:
    """Refuse, before anything is written, a new run (or an --overwrite) whose CONFIG is
    OUT/config.yaml: the run writes its resolved config there, so the user's file, comments and
    all, was replaced (and --overwrite set it aside before it was read). A --resume reads the
    run's own resolved config, which it may be, and is not asked."""
    written = out_dir / "config.yaml"
    with contextlib.suppress(OSError):
        if os.path.samefile(config, written):
            raise click.UsageError(
                f"{config} is the {written} this run writes its resolved config to, which "
                "would replace it: copy it elsewhere first (e.g. cp "
                f"{config} my-config.yaml) and train with the copy"
            )
