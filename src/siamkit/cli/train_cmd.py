"""``siamkit train``: a thin shell over the library's embedding run and each task's run."""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from siamkit.cli._image_model import DEVICE
from siamkit.cli._inputs import friendly_errors, progress_option
from siamkit.cli._metric_tables import (
    format_table,
    headline_rows,
    metric_cell,
    metrics_table,
    retrieval_rows,
)
from siamkit.cli._registry_help import RegistryHelpCommand
from siamkit.cli._run_folder import (
    _earlier_run_set_aside,
    _failed_new_run_removed,
    _refuse_config_in_out,
    _refuse_existing_run,
    _refuse_set_aside_run,
    _refuse_study_folder,
    _refuse_unmakeable_folder,
    _resume_hint_on_interrupt,
    resume_hint_due,
)

if TYPE_CHECKING:
    from siamkit.training.tasks import TaskOptions


@click.command("train", cls=RegistryHelpCommand)
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    help="Output folder [default: runs/<config name>].",
)
@click.option(
    "--resume", is_flag=True, help="Continue from OUT/checkpoint.pt after an interruption."
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Start again in an OUT that already holds a run: the earlier run is set aside, deleted "
    "when the new one finishes (files of yours in its model folder go into the new one; its "
    "ONNX export, where it no longer matches the new model, is removed, and said; one of the "
    "same model with the same threshold is kept), and put back if it fails (a failed run's "
    "report.html, the curves of a self-supervised run stopped on a collapse, is kept as "
    "OUT/report.failed.html, in place of an earlier failed run's, which a run that finishes "
    "removes; where a folder or link of yours holds that name, as the next free "
    "OUT/report.failed-N.html).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override a config value, e.g. --set train.epochs=2 (repeatable). In an embedding run "
    "one entry of a parameter mapping takes one more dot: --set loss.params.margin=0.3.",
)
@click.option(
    "--init-from",
    "init_from",
    type=click.Path(),
    help="Start from this saved model's encoder and head (model.init_from); the class list may "
    "differ, the optimiser starts fresh. A text run fine-tunes it (as model.path: a folder or "
    "a named text model such as all-mpnet-base-v2); a tracker "
    "run takes a saved tracker of its backbone, or 'builtin' for the shipped one. --resume "
    "needs no --init-from: the checkpoint holds the weights.",
)
@DEVICE
@click.option(
    "--episodes",
    type=click.IntRange(min=1),
    help="Few-shot episodes of the final evaluation [default: eval.episodes].",
)
@progress_option(" (training and evaluation)", expose_value=True)
@click.option("--json", "as_json", is_flag=True, help="Print the final metrics as JSON.")
@click.option(
    "--nproc-per-node",
    "nproc_per_node",
    type=int,
    metavar="N",
    help="Train data-parallel on N processes of this machine: siamkit starts torchrun "
    "(--standalone) for you, one process a CUDA GPU (NCCL) or, on the CPU, up to one a core "
    "(gloo); their output comes as it is printed, and a failed launch ends with one sentence "
    "naming the process that failed and its exit code (one process: with its own error and "
    "exit code).",
)
@friendly_errors
@click.pass_context
def train(
    ctx: click.Context,
    config: str,
    out: str | None,
    resume: bool,
    overwrite: bool,
    overrides: tuple[str, ...],
    init_from: str | None,
    device: str,
    episodes: int | None,
    progress: bool,
    as_json: bool,
    nproc_per_node: int | None,
) -> None:
    """Train a Siamese network as CONFIG (a YAML file) says, then evaluate it on the test classes.

    Every key of CONFIG has a default (see configs/ for examples; `siamkit configs` writes them
    out for an installed siamkit); unknown keys are errors.
    Writes OUT/config.yaml (the resolved config), OUT/checkpoint.pt (every epoch, atomically),
    OUT/model/ (weights + calibrated threshold), OUT/metrics.json, OUT/history.json and
    OUT/report.html. `--nproc-per-node N` trains data-parallel on N processes of this machine:
    siamkit starts torchrun, as `torchrun --nproc_per_node=N -m siamkit train CONFIG` does by
    hand. If one process stops, the others say so in one sentence; --nproc-per-node ends with
    one naming it and its exit code, where a hand-started torchrun's own report follows (a
    ChildFailedError traceback and a 'siamkit FAILED' summary, whose 'To enable traceback'
    needs nothing enabled: siamkit's Error: line above gives the reason).

    A config with a top-level `task:` trains that application instead and writes its own
    outputs (the summary at the end lists them): `task: text`
    (a twin transformer on text pairs, configs/text-pairs.yaml; loss.name: cosent, angle,
    cosine_mse, mnrl, contrastive, online_contrastive, triplet or matryoshka), `ssl`
    (self-supervised,
    configs/simclr.yaml; method: simclr, simsiam, byol, vicreg, barlow_twins or nnclr), `siamfc`
    (a tracker, configs/siamfc.yaml), `signatures` (configs/signatures.yaml), `half_twin`.

    Your own images: --set data.dataset=image-folder --set data.root=FOLDER, one sub-folder of
    images per class, with data.train_classes a count of classes to train on (the others are
    the unseen test classes) or null (a held-out share of every class is tested); task: ssl
    reads every image under FOLDER, in its sub-folders too (their names are not used).
    data.val_classes (a count, or class ids) holds whole training classes out for validation,
    so early stopping, restore_best and the threshold are chosen on classes the network never
    trained on (with a few images a class the per-image hold-out, data.val_fraction, may hold
    out none); data.grayscale=true reads grey images as one channel.

    \b
    Examples:
      siamkit train configs/demo.yaml --out runs/shoes
      siamkit train configs/demo.yaml --out runs/shoes --resume
      siamkit train configs/demo.yaml --out runs/shoes2 --set train.epochs=5 --set loss.margin=0.3
      siamkit train configs/demo.yaml --out runs/mine --set data.dataset=image-folder --set data.root=photos/ --set data.train_classes=null
      siamkit train configs/demo.yaml --out runs/glyphs --set data.dataset=image-folder --set data.root=glyphs/ --set data.train_classes=40 --set data.val_classes=8 --set data.grayscale=true
      siamkit train configs/simclr.yaml --out runs/ssl --set data.dataset=image-folder --set data.root=photos/
    """
    if resume and overwrite:
        raise click.UsageError("--resume continues a run and --overwrite starts it again: pick one")
    if nproc_per_node is not None:
        from siamkit.cli._launch import refuse_launch

        refuse_launch(nproc_per_node, config, overrides, device)
    folder = init_from is not None and not _named_start(config, init_from)
    if folder and not resume and not Path(str(init_from)).exists():
        # (a resume does not read it: the checkpoint's weights replace the ones it gave)
        hint = _named_starts(config)[2]
        raise click.BadParameter(f"no saved model at {init_from}{hint}", param_hint="'--init-from'")
    typed = Path(out) if out else Path("runs") / Path(config).stem
    # on the path as typed first: realpath drops ``notes.txt/..`` textually (the run then wrote
    # into the folder the command runs in), where the system refuses a file's ``..``
    _refuse_unmakeable_folder(typed, f"--out {typed}")
    out_dir = _resolved_out(typed)
    _refuse_unmakeable_folder(out_dir, f"--out {out_dir}")
    _refuse_study_folder(out_dir)
    _refuse_set_aside_run(out_dir)
    if not resume:  # a resume reads the run's own resolved config: it may be CONFIG
        # first: "start again with --overwrite" would then be refused as CONFIG in OUT
        _refuse_config_in_out(config, out_dir)
    if not resume and not overwrite:
        _refuse_existing_run(out_dir)
    if overwrite and folder and out_dir.resolve() in Path(str(init_from)).resolve().parents:
        raise click.UsageError(
            f"--init-from {init_from} is inside {out_dir}, whose earlier run --overwrite sets "
            f"aside: copy that model elsewhere first (e.g. cp -r {init_from} runs/base-model)"
        )
    if nproc_per_node is not None:
        # the checks every process would meet, made here once, before N processes import torch
        # and start (a bad --set took about 20 s to be said): OUT's above, CONFIG's and --set's
        task = _config_task(config)
        if task is None:
            cfg = _embedding_config(config, out_dir, resume, overrides, device, init_from)[0]
            from siamkit.training.ddp import resolve_device

            resolve_device(cfg.train.device)  # "unknown device 'x'", each process's first step
            if resume:  # each process's first refusals (_resume_is_complete's): no or an
                # unreadable checkpoint, one of another process count, config or --init-from;
                # the checkpoint is read once more here (the processes each read it again)
                from siamkit.training.preflight import check_resumable
                from siamkit.training.trainer import CHECKPOINT

                check_resumable(cfg, out_dir / CHECKPOINT, world=nproc_per_node)
            else:  # (a finished run's resume reads neither)
                _check_embedding_launch(cfg)
        else:
            from siamkit.training.tasks import TaskOptions

            options = TaskOptions(
                resume=resume, overrides=overrides, device=device, init_from=init_from
            )
            _refuse_task_launch(task, config, out_dir, options, nproc_per_node)
        from siamkit.cli._launch import child_arguments, launch

        # each process checks and runs the rest
        hinted = partial(resume_hint_due, out_dir, not resume and not overwrite)
        launch(nproc_per_node, child_arguments(ctx), hinted)
        return
    with (
        _resume_hint_on_interrupt(out_dir, enabled=not resume and not overwrite),
        _earlier_run_set_aside(out_dir, enabled=overwrite),
        _failed_new_run_removed(out_dir, enabled=not resume and not overwrite),
    ):
        from siamkit.experiment import run_experiment

        task = _config_task(config)
        if task is not None:
            _run_task(
                task, config, out_dir, resume, overrides, device, progress, as_json, init_from
            )
            return
        cfg, plugins = _embedding_config(config, out_dir, resume, overrides, device, init_from)
        if resume and _resume_is_complete(cfg, out_dir):
            if as_json and (out_dir / "metrics.json").is_file():  # the run's, as it finished
                click.echo((out_dir / "metrics.json").read_text(encoding="utf-8").rstrip())
            elif not as_json:  # its table, as it finished (as a text or ssl run's)
                _say_saved_run(cfg, out_dir)
            return
        log = (lambda s: click.echo(s, err=True)) if as_json else click.echo
        result = run_experiment(
            cfg,
            out_dir,
            resume=resume,
            progress=progress,
            episodes=episodes,
            title=f"siamkit train {config}",
            log=log,
            plugins=plugins,
        )
        if result is None:  # a non-zero rank of a distributed run
            return
        metrics = result.to_dict()
        if as_json:
            click.echo(json.dumps(metrics, indent=2))
            return
        _say_run(cfg, metrics, result.model_dir, result.metrics_path, result.report_path)


def _embedding_config(
    config: str,
    out_dir: Path,
    resume: bool,
    overrides: tuple[str, ...],
    device: str,
    init_from: str | None,
) -> tuple[Any, list[str]]:
    """An embedding run's config (CONFIG with ``--set``, ``--device`` and ``--init-from``) and
    the plug-ins it records, their modules imported first; a bad key or value refused."""
    from siamkit.training import apply_overrides, load_config

    if init_from is not None:
        overrides = (*overrides, f"model.init_from={json.dumps(init_from)}")
    plugins = _run_plugins(config, out_dir, resume)
    cfg = load_config(config)
    cfg = apply_overrides(
        cfg, [*overrides, f"train.device={device}"] if device != "auto" else list(overrides)
    )
    return cfg, plugins


def _check_embedding_launch(cfg: Any) -> None:
    """Before ``--nproc-per-node`` starts a new embedding run's processes, what each would
    refuse before it reads an image or a weight, in its words: an image folder's missing
    ``data.root`` (:func:`~siamkit.data.sources.check_source_root`) and an ``--init-from``
    (``model.init_from``) that is no saved model
    (:func:`~siamkit.training.init_from.check_init_source`). Whether that model fits the
    config needs its weights, and is the processes' to check."""
    from siamkit.data.sources import check_source_root
    from siamkit.training.init_from import check_init_source
    from siamkit.training.parts import data_part

    name, params = data_part(cfg.data)
    check_source_root(name, params.get("root"))
    if cfg.model.init_from:
        check_init_source(cfg.model.init_from)


def _refuse_task_launch(
    task: str, config: str, out_dir: Path, options: TaskOptions, count: int
) -> None:
    """Before ``--nproc-per-node COUNT`` starts a task config's processes, what each would
    refuse as it starts, in its words: a task no runner is registered for (a plug-in's task
    registers as its module is imported), more than one process for a task that trains in
    one (:func:`~siamkit.training.tasks.trains_in_one_process`: the built-in runner of a task
    of :data:`~siamkit.training.tasks.ONE_PROCESS_TASKS`, not a plug-in's registered under its
    name), and a bad config, ``--set``, ``--device`` or ``--init-from`` where the task has a
    "check the config only" (:func:`~siamkit.training.tasks.check_task_config`: each built-in
    task's, a plug-in's registered with one), then a ``--resume`` with no ``OUT/checkpoint.pt``
    where the built-in ssl or siamfc runner would read it
    (:func:`~siamkit.training.tasks.resumes_from_out_checkpoint`), and that runner's checks of
    OUT's checkpoint and of COUNT (:func:`~siamkit.training.tasks.check_launch`: a resume's
    config guard, a new run's batch that does not share out over COUNT). The rest is checked by
    the processes.
    Only the check's error is said here: a warning it meets (siamfc's off-grid
    ``instance_size`` on ``--resume``) is process 0's to say, once."""
    from siamkit.training.config_io import read_yaml
    from siamkit.training.ddp import refuse_torchrun
    from siamkit.training.tasks import (
        check_launch,
        check_task_config,
        get_task,
        list_tasks,
        resumes_from_out_checkpoint,
        trains_in_one_process,
    )

    _run_plugins(config, out_dir, options.resume)
    if task not in list_tasks():
        get_task(task)  # "unknown task ...; choose one of ..."
    if trains_in_one_process(task):
        refuse_torchrun(task, count)
    doc = read_yaml(config)
    doc.pop("task")
    with warnings.catch_warnings():  # said by process 0 as it starts, not twice
        warnings.simplefilter("ignore")
        check_task_config(task, doc, options)
        if options.resume and resumes_from_out_checkpoint(task):
            from siamkit.training.checkpoint import check_checkpoint_there

            check_checkpoint_there(out_dir / "checkpoint.pt")
        check_launch(task, doc, out_dir, options, count)


def _resolved_out(out: Path) -> Path:
    """OUT resolved once, for every check, the run's writing and the removal of a failed new
    run: on its text, ``--out new/..`` named the folder it is in as a new folder, which a
    failed run removed with all it held, and ``--out runs/new/../old`` was not refused as
    ``--out runs/old`` is. A relative OUT below the folder the command runs in stays relative
    (``runs/old``), any other is its real absolute path."""
    real = Path(os.path.realpath(out))
    if out.is_absolute():
        return real
    with contextlib.suppress(ValueError, OSError):
        return real.relative_to(os.getcwd())
    return real


def _say_run(
    cfg: Any, metrics: dict[str, Any], model_dir: Path, metrics_path: Path, report: Path | None
) -> None:
    """The end of an image run's output: its metrics (``metrics.json``'s) as a table, and
    where its model, metrics and report are."""
    seen_only = cfg.data.train_classes is None  # evaluated on held-out images of its classes
    header = (
        "metric (held-out images, training classes)" if seen_only else "metric (unseen classes)"
    )
    ver = metrics.get("verification", {})
    rows = headline_rows(metrics) + retrieval_rows(metrics)  # evaluate's rows, same values
    click.echo(metrics_table(rows, ver, (header, "value")))
    click.echo(f"\nmodel:   {model_dir}\nmetrics: {metrics_path}")
    if report:
        click.echo(f"report:  {report}")


def _say_saved_run(cfg: Any, out_dir: Path) -> None:
    """:func:`_say_run` of ``out_dir``'s complete run, read back from its files (its
    ``metrics.json``, as it finished), writing nothing: a complete resume said only that it was
    complete, where a text or self-supervised run's prints its metrics again."""
    from siamkit.training.ddp import is_main_process
    from siamkit.training.resume_note import saved_run_summary

    if not is_main_process():  # one table from a torchrun launch
        return
    saved = saved_run_summary(out_dir, {"metrics": "metrics.json", "report": "report.html"})
    metrics, report = saved.files["metrics"], saved.files.get("report")
    _say_run(cfg, saved.metrics, out_dir / "model", metrics, report)


def _resume_is_complete(cfg: Any, out_dir: Path) -> bool:
    """Before ``--resume`` writes anything: whether OUT/checkpoint.pt's run is complete (all of
    ``train.epochs`` trained, or stopped early), said in one line, and the command then ends
    there with the run's saved metrics (:func:`_say_saved_run`), changing none of its files
    (training it again added to its train_seconds and rewrote its model, metrics and report);
    else the line saying where it resumes. A run whose checkpoint is at its last epoch but whose
    model or metrics.json was never saved (killed, or a full disk, in the final save or
    evaluation) is not complete: the resume saves it. A missing checkpoint or one of another
    config is refused first, as the run refuses it."""
    from siamkit.training.checkpoint import load_checkpoint
    from siamkit.training.ddp import is_main_process
    from siamkit.training.preflight import check_resumable
    from siamkit.training.resume_note import resume_note
    from siamkit.training.trainer import CHECKPOINT

    checkpoint = out_dir / CHECKPOINT
    state = load_checkpoint(checkpoint)  # read once for both
    check_resumable(cfg, checkpoint, state)
    note = resume_note(checkpoint, cfg.train.epochs, cfg.optim.schedule, state)
    if note is None:  # stopped in its final save or evaluation: the resume saves it
        return False
    said, complete = note
    if is_main_process():  # one line from a torchrun launch
        click.echo(said, err=True)
    return complete


def _named_starts(config: str) -> tuple[tuple[str, ...], bool, str]:
    """The models the config's task knows by name as ``--init-from`` rather than a folder, whether
    a folder of that name wins over the name, and what to add to the 'no saved model' error: the
    built-in tracker (``builtin``) for ``task: siamfc``; the named text models of
    :mod:`siamkit.encoders.text_zoo` (``all-mpnet-base-v2``) for ``task: text``, which the run
    assembles from its installed packages, or names the ones to install."""
    task = _config_task(config)
    if task == "siamfc":
        from siamkit.applications.tracking.pretrained import BUILTIN_NAME

        return (BUILTIN_NAME,), False, f" (or {BUILTIN_NAME}: the built-in tracker)"
    if task == "text":
        from siamkit.encoders.text_zoo import text_model_names

        names = tuple(text_model_names())
        return names, True, f" (or a named text model: {', '.join(names)})"
    return (), False, ""


def _named_start(config: str, init_from: str) -> bool:
    """Whether ``--init-from`` names a model the config's task knows by name (:func:`_named_starts`)
    rather than a folder."""
    names, folder_wins, _ = _named_starts(config)
    return init_from in names and not (folder_wins and Path(init_from).exists())


def _run_plugins(config: str, out_dir: Path, resume: bool) -> list[str]:
    """The plug-in modules the run records in OUT/config.yaml (``plugins:``): a resumed run's
    recorded ones, imported here before CONFIG is read (a resume needs no --plugin again), then
    --plugin / $SIAMKIT_PLUGINS and CONFIG's own ``plugins:``."""
    from siamkit.cli.main import started_plugins
    from siamkit.training.config_io import read_config_plugins

    recorded = out_dir / "config.yaml"
    plugins = read_config_plugins(recorded) if resume and recorded.is_file() else []
    plugins += started_plugins()
    if Path(config).is_file():  # (else load_config says so)
        plugins += read_config_plugins(config)
    return list(dict.fromkeys(plugins))


def _config_task(config: str) -> str | None:
    """The config's ``task:`` when it names an application's run (not the default embedding run)."""
    from siamkit.training.config_io import read_yaml
    from siamkit.training.config_sections import ConfigError
    from siamkit.training.tasks import DEFAULT_TASK

    path = Path(config)
    if not path.is_file():
        return None  # load_config says so
    try:
        doc = read_yaml(path)
    except ConfigError:
        return None  # load_config says so
    task = doc.get("task") if isinstance(doc, dict) else None
    if task is None or task == DEFAULT_TASK:
        return None
    if not isinstance(task, str):
        raise click.UsageError(f"{config}: task must be a name, got {task!r}")
    return task


def _run_task(
    task: str,
    config: str,
    out_dir: Path,
    resume: bool,
    overrides: tuple[str, ...],
    device: str,
    progress: bool,
    as_json: bool,
    init_from: str | None = None,
) -> None:
    from siamkit.training.config_io import read_yaml
    from siamkit.training.tasks import TaskOptions, get_task

    # first: a plug-in of the config's own plugins: may register the task (or its own runner
    # under a built-in task's name), as it does for the launcher's check
    plugins = _run_plugins(config, out_dir, resume)  # before the config's parts are checked
    runner = get_task(task)
    doc = read_yaml(config)
    doc.pop("task")
    log = (lambda s: click.echo(s, err=True)) if as_json else click.echo
    options = TaskOptions(
        resume=resume,
        overrides=overrides,
        device=device,
        progress=progress,
        init_from=init_from,
        log=log,
        plugins=tuple(plugins),
    )
    summary = runner(doc, out_dir, options)
    from siamkit.training.ddp import is_main_process

    if not is_main_process():  # another process of a torchrun launch prints nothing
        return
    if as_json:
        click.echo(json.dumps(summary.metrics, indent=2, default=str))
        return
    rows = [(k, metric_cell(v)) for k, v in summary.metrics.items()]
    if rows:
        click.echo(format_table(rows, ("metric", "value")))
    if summary.model_dir is not None:
        click.echo(f"\nmodel:   {summary.model_dir}")
    for name, path in summary.files.items():
        click.echo(f"{name + ':':<8} {path}")


COMMANDS = [train]
__all__ = ["COMMANDS", "train"]
