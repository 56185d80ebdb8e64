"""What ``import siamkit`` offers a notebook user: every package the README's Python examples use
is an attribute of ``siamkit`` (lazily imported) and listed in ``siamkit.__all__``."""

from __future__ import annotations

import importlib
import subprocess
import sys


def test_the_readmes_library_packages_are_attributes_of_siamkit() -> None:
    # a fresh process: another test's import of siamkit.experiment would set the attribute
    code = (
        "import siamkit\n"
        "for name in ('experiment', 'tuning', 'applications'):\n"
        "    assert name in siamkit.__all__, name\n"
        "    assert name in dir(siamkit), name\n"
        "    getattr(siamkit, name)\n"
        "print(siamkit.experiment.run_experiment.__name__, siamkit.tuning.run_study.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["run_experiment", "run_study"]


def test_every_name_in_all_resolves() -> None:
    siamkit = importlib.import_module("siamkit")
    for name in siamkit.__all__:
        assert getattr(siamkit, name) is not None, name


def test_a_task_config_runs_from_siamkit_training_as_siamkit_train_runs_it() -> None:
    # TaskOptions and get_task lived only in siamkit.training.tasks, named nowhere public
    import siamkit.training as training
    from siamkit.applications.ssl.task import run as ssl_run

    for name in ("TaskOptions", "TaskSummary", "get_task", "list_tasks"):
        assert name in training.__all__, name
    assert training.get_task("ssl").__wrapped__ is ssl_run and "ssl" in training.list_tasks()
    assert training.TaskOptions(progress=False).progress is False


def test_unknown_item_error_is_exported_beside_unknown_label_error() -> None:
    """Gallery.remove_items and Gallery.recommend raise UnknownItemError for ids not in the
    gallery, but only siamkit.index.gallery_search had it: a user catching it imported a private
    module. siamkit.index exports it with UnknownLabelError, which it is a kind of."""
    import siamkit.index as index
    from siamkit.index.gallery_search import UnknownItemError

    assert {"UnknownItemError", "UnknownLabelError"} <= set(index.__all__)
    assert index.UnknownItemError is UnknownItemError
    assert issubclass(index.UnknownItemError, index.UnknownLabelError)
    assert index.UnknownItemError("item ids not in the gallery: 57", [57]).item_ids == [57]
