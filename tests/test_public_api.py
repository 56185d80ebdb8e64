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


def _classes(hint: object) -> list[type]:
    """The classes a type hint names (``X | None``, ``list[X]``, ... unpacked)."""
    import typing

    if isinstance(hint, type) and not typing.get_args(hint):
        return [hint]
    return [c for arg in typing.get_args(hint) for c in _classes(arg)]


def test_the_experiment_functions_public_parameters_take_only_exported_types() -> None:
    """calibrate_run(..., embeddings=) and evaluate_run(..., val_embeddings=) were public and
    typed ValidationEmbeddings, which no __all__ lists (siamkit.training.from_config's, made
    only inside the training's validator): run_experiment's own plumbing, now private
    (keyword-only, underscored). Every other public parameter's siamkit class is exported."""
    import inspect
    import typing

    import siamkit.experiment as experiment

    packages = ("siamkit", "siamkit.training", "siamkit.experiment", "siamkit.models",
                "siamkit.evaluation", "siamkit.distances", "siamkit.data")  # fmt: skip
    exported = [
        getattr(module, name)
        for module in map(importlib.import_module, packages)
        for name in module.__all__
    ]
    hidden = []
    for fname in experiment.__all__:
        f = getattr(experiment, fname)
        if not inspect.isfunction(f):
            continue
        hints = typing.get_type_hints(f)
        for pname, param in inspect.signature(f).parameters.items():
            if pname.startswith("_"):
                assert param.kind is inspect.Parameter.KEYWORD_ONLY, (fname, pname)
                continue
            for c in _classes(hints.get(pname)):
                if c.__module__.startswith("siamkit") and not any(c is e for e in exported):
                    hidden.append(f"{fname}({pname}: {c.__qualname__})")
    assert hidden == []
