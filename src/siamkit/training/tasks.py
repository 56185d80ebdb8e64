"""Run kinds that ``siamkit train`` dispatches on: a config's top-level ``task:`` key.

A config without ``task`` (or with ``task: embedding``) is the metric-learning run of
:mod:`siamkit.training`. Applications (text, self-supervised, tracking, signatures, ...) register a
runner as a ``"module:function"`` string, imported only when a config asks for it, so the training
layer never imports the applications above it.

A runner is ``run(config: dict, out_dir: Path, options: TaskOptions) -> TaskSummary``; ``config``
is the YAML document without its ``task`` key (a top-level ``plugins:`` is imported and dropped
before the task's own checks, :func:`~siamkit.training.config_io.without_plugins`). It validates
everything before writing anything. :func:`get_task` hands it back as a :data:`TaskCall`, which
takes the folder as a str or a path and passes the runner a ``Path``.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siamkit.registry import load_target

DEFAULT_TASK = "embedding"


@dataclass(frozen=True)
class TaskOptions:
    """What the command line adds to a config, and what a Python caller passes the same way.

    Attributes:
        resume: continue the run in ``out_dir`` from its checkpoint (``--resume``).
        overrides: ``"section.key=value"`` strings applied over the config (``--set``).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ... (``--device``).
        progress: progress bars (``--no-progress`` turns them off).
        init_from: a saved model to start from (``--init-from``; the config's
            ``model.init_from``).
        log: receives the run's lines; ``None`` leaves them to the task: ``ssl`` and ``text``
            print them, the others say nothing. ``lambda line: None`` is silence for every task.
        plugins: the plug-in modules the run was started with (``--plugin``,
            ``$SIAMKIT_PLUGINS``, a resumed run's recorded ones, the config's own), written in a
            resolved ``config.yaml``.
    """

    resume: bool = False
    overrides: tuple[str, ...] = ()
    device: str = "auto"
    progress: bool = True
    init_from: str | None = None
    log: Callable[[str], None] | None = None
    plugins: tuple[str, ...] = ()


@dataclass(frozen=True)
class TaskSummary:
    """What a run made: the saved model, headline metrics and the files it wrote."""

    model_dir: Path | None
    metrics: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)


Runner = Callable[[dict[str, Any], Path, TaskOptions], TaskSummary]
"""What :func:`register_task` takes: a runner given its folder as a ``Path``."""
TaskCall = Callable[[dict[str, Any], str | os.PathLike[str], TaskOptions], TaskSummary]
"""What :func:`get_task` gives: a runner that also takes its folder as a str (``"runs/x"``)."""
ConfigCheck = Callable[[dict[str, Any], TaskOptions], None]
"""A task's "check the config only" (:func:`register_task`'s ``check``): given what its runner
is given but the folder, it raises the error the runner would raise for the config (with
``options.overrides``, ``device``, ``init_from``, ``resume``) and writes nothing."""

_TASKS: dict[str, Any] = {
    "ssl": "siamkit.applications.ssl.task:run",
    "signatures": "siamkit.applications.signatures.task:run",
    "half_twin": "siamkit.applications.half_twin.task:run",
    "text": "siamkit.applications.text.train:run",
    "siamfc": "siamkit.applications.tracking.task:run",
}

#: Each task's "check the config only" (:data:`ConfigCheck`), by name: the checks its runner
#: makes of the config before it reads data or writes anything, which ``siamkit train
#: --nproc-per-node N`` makes once before it starts the N processes (:func:`check_task_config`).
_CHECKS: dict[str, Any] = {
    "ssl": "siamkit.applications.ssl.task:check_config",
    "siamfc": "siamkit.applications.tracking.task:check_config",
    "signatures": "siamkit.applications.signatures.task:check_config",
    "half_twin": "siamkit.applications.half_twin.task:check_config",
    "text": "siamkit.applications.text.train:check_config",
}

#: The built-in tasks whose runner trains in one process and refuses a torchrun launch of more
#: (:func:`~siamkit.training.ddp.refuse_torchrun`): ``siamkit train --nproc-per-node N`` refuses
#: them before it starts any process.
ONE_PROCESS_TASKS = frozenset({"half_twin", "signatures", "text"})
_ONE_PROCESS_TARGETS = frozenset(_TASKS[name] for name in ONE_PROCESS_TASKS)
#: The built-in runners that a launch of more than one process may run, and which resume from
#: ``OUT/checkpoint.pt`` (:func:`resumes_from_out_checkpoint`).
_OUT_CHECKPOINT_TARGETS = frozenset(_TASKS[name] for name in ("ssl", "siamfc"))


#: The checks of the built-in ``ssl`` and ``siamfc`` runners that need the run's folder and the
#: launch's process count, which a :data:`ConfigCheck` is not given (:func:`check_launch`), by
#: the runner (its ``"module:attr"``), not the task's name: a plug-in may register the built-in
#: runner under another name (``register_task("myssl", get_task("ssl"))``) or in another's place.
_LAUNCH_CHECKS: dict[str, str] = {
    _TASKS["ssl"]: "siamkit.applications.ssl.task:check_launch",
    _TASKS["siamfc"]: "siamkit.applications.tracking.task:check_launch",
}


def trains_in_one_process(name: str) -> bool:
    """Whether the runner registered for ``task: name`` is a built-in one of
    :data:`ONE_PROCESS_TASKS` (which refuses a torchrun launch of more than one process): by
    the runner, not its name, since a plug-in may register its own runner under one of those
    names (``register_task("text", run, overwrite=True)``) that trains under torchrun."""
    return _runs_builtin(name, _ONE_PROCESS_TARGETS)


def resumes_from_out_checkpoint(name: str) -> bool:
    """Whether the runner registered for ``task: name`` is the built-in ``ssl`` or ``siamfc``
    one, whose ``--resume`` reads ``OUT/checkpoint.pt`` first: ``siamkit train --nproc-per-node
    N --resume`` refuses a missing one before it starts the processes. A plug-in's runner put in
    their place reads what it reads."""
    return _runs_builtin(name, _OUT_CHECKPOINT_TARGETS)


def _runs_builtin(name: str, targets: frozenset[str]) -> bool:
    """Whether the runner registered for ``task: name`` is one of the built-in ``targets``
    (``"module:attr"``), by the runner, not its name."""
    target = _TASKS.get(name)
    if isinstance(target, str):
        return target in targets
    if target is None:
        return False
    runner = inspect.unwrap(target)
    for spec in targets:  # a loaded built-in is its module's attribute
        module, _, attr = spec.partition(":")
        if getattr(sys.modules.get(module), attr, None) is runner:
            return True
    return False


def register_task(
    name: str,
    target: Runner | str,
    overwrite: bool = False,
    check: ConfigCheck | str | None = None,
) -> None:
    """Let configs with ``task: name`` run ``target`` (a callable or ``"module:function"``).

    ``check`` (optional, a callable or ``"module:function"``): the task's "check the config
    only" (:data:`ConfigCheck`), which ``siamkit train --nproc-per-node N`` calls once before it
    starts the processes, so that a bad config or ``--set`` is said once rather than by each of
    the N. Without one, the processes check it, each saying what it finds. A task registered
    again (``overwrite=True``) keeps no check of the runner it replaces."""
    if not name or not isinstance(name, str) or name == DEFAULT_TASK:
        raise ValueError(f"a task name must be a non-empty string other than {DEFAULT_TASK!r}")
    if name in _TASKS and not overwrite:
        raise ValueError(f"a task named {name!r} is already registered")
    _TASKS[name] = target
    if check is None:
        _CHECKS.pop(name, None)
    else:
        _CHECKS[name] = check


def check_task_config(name: str, config: dict[str, Any], options: TaskOptions) -> None:
    """Check ``task: name``'s config (the YAML document without its ``task`` key) and
    ``options`` as its runner would before it reads data or writes anything, raising the
    runner's error, where the task was registered with a ``check``; nothing otherwise (its
    runner checks it)."""
    check = _CHECKS.get(name)
    if check is None:
        return
    if isinstance(check, str):
        check = _CHECKS[name] = load_target(check)
    check(config, options)


def check_launch(
    name: str, config: dict[str, Any], out_dir: Path, options: TaskOptions, world: int
) -> None:
    """What the built-in ``ssl`` or ``siamfc`` runner registered for ``task: name`` refuses in
    each process of a ``world``-process launch of the run in ``out_dir`` beyond
    :func:`check_task_config` (its ``--resume`` config guard, a new run's batch that does not
    share out over the processes), raising the runner's error: ``siamkit train
    --nproc-per-node N`` makes it once before it starts them. The check is the runner's, found
    by the runner, not the name (ssl's runner registered as ``myssl`` or in siamfc's place gets
    ssl's). Nothing for another task or a plug-in's runner (it checks what it reads)."""
    for target, check in _LAUNCH_CHECKS.items():
        if _runs_builtin(name, frozenset({target})):
            load_target(check)(config, out_dir, options, world)
            return


def list_tasks() -> list[str]:
    """Every value ``task:`` accepts."""
    return sorted([DEFAULT_TASK, *_TASKS])


def get_task(name: str) -> TaskCall:
    """The runner for ``task: name``, taking its folder as a str or a path (the registered runner
    is given a ``Path``); a clear error naming the known tasks otherwise.

    >>> summary = get_task("ssl")(doc, "runs/ssl", TaskOptions())  # doctest: +SKIP
    """
    if name == DEFAULT_TASK:  # was "unknown task 'embedding'; choose one of embedding, ..."
        raise ValueError(
            f"task {DEFAULT_TASK!r} (a config without task:) has no runner here: run it with "
            "siamkit.experiment.run_experiment(siamkit.training.config_from_dict(mapping), out_dir)"
        )
    try:
        target = _TASKS[name]
    except KeyError:
        raise ValueError(
            f"unknown task {name!r} in the config; choose one of {', '.join(list_tasks())}"
        ) from None
    if isinstance(target, str):
        target = load_target(target)
    if not isinstance(target, _FolderAsPath):  # get_task's own result registered again is kept
        target = _FolderAsPath(name, target)
    _TASKS[name] = target  # loaded and wrapped once: get_task(name) is the same object each time
    return target


class _FolderAsPath:
    """A registered runner, called with its folder as a str or a path: the runner gets a
    ``Path``. Its name and docstring are the runner's; ``__wrapped__`` is the runner."""

    def __init__(self, name: str, runner: Runner) -> None:
        self.task = name
        self.__wrapped__ = runner
        functools.update_wrapper(self, runner)

    def __call__(
        self, config: dict[str, Any], out_dir: str | os.PathLike[str], options: TaskOptions
    ) -> TaskSummary:
        if not isinstance(out_dir, (str, os.PathLike)):
            raise TypeError(
                f"task {self.task!r} takes out_dir as a folder path (a str or a pathlib.Path), "
                f"got {type(out_dir).__name__}"
            )
        return self.__wrapped__(config, Path(out_dir), options)

    def __repr__(self) -> str:
        runner = self.__wrapped__
        where = f"{getattr(runner, '__module__', '?')}.{getattr(runner, '__qualname__', runner)}"
        return f"<task {self.task!r} runner {where}>"
