"""``siamkit train``, ``siamkit evaluate`` and ``siamkit embed``: thin shells over the library."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import click

from siamkit.cli._image_pairs import (
    CLASS_OPTIONS,
    evaluate_pairs,
    is_pairs_file,
    refuse_class_options,
)
from siamkit.cli._inputs import (
    PROGRESS,
    check_embeddings_out,
    check_input,
    class_tokens,
    collect_images,
    embedding_files,
    format_table,
    friendly_errors,
    given_on_command_line,
    headline_rows,
    load_eval_data,
    metric_cell,
    metrics_table,
    model_image_shape,
    progress_option,
    read_image_files,
    refuse_existing,
    refuse_fashion_mnist_options,
    refuse_given,
    retrieval_rows,
    write_embeddings,
)
from siamkit.cli._registry_help import RegistryHelpCommand
from siamkit.cli.text_evaluate import COLUMNS as TEXT_COLUMNS

if TYPE_CHECKING:
    from siamkit.models import JoinedEmbedding, SiameseNetwork

DEVICE = click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto (CUDA if available), cpu, cuda or cuda:N.",
)


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
    "when the new one finishes, and put back if it fails.",
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
@friendly_errors
def train(
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
) -> None:
    """Train a Siamese network as CONFIG (a YAML file) says, then evaluate it on the test classes.

    Every key of CONFIG has a default (see configs/ for examples); unknown keys are errors.
    Writes OUT/config.yaml (the resolved config), OUT/checkpoint.pt (every epoch, atomically),
    OUT/model/ (weights + calibrated threshold), OUT/metrics.json, OUT/history.json and
    OUT/report.html. Launch with `torchrun --nproc_per_node=N -m siamkit train CONFIG` for
    data-parallel training.

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
    folder = init_from is not None and not _named_start(config, init_from)
    if folder and not resume and not Path(str(init_from)).exists():
        # (a resume does not read it: the checkpoint's weights replace the ones it gave)
        hint = _named_starts(config)[2]
        raise click.BadParameter(f"no saved model at {init_from}{hint}", param_hint="'--init-from'")
    out_dir = Path(out) if out else Path("runs") / Path(config).stem
    _refuse_unmakeable_folder(out_dir, f"--out {out_dir}")
    _refuse_study_folder(out_dir)
    _refuse_set_aside_run(out_dir)
    if not resume and not overwrite:
        _refuse_existing_run(out_dir)
    if overwrite and folder and out_dir.resolve() in Path(str(init_from)).resolve().parents:
        raise click.UsageError(
            f"--init-from {init_from} is inside {out_dir}, whose earlier run --overwrite sets "
            f"aside: copy that model elsewhere first (e.g. cp -r {init_from} runs/base-model)"
        )
    with (
        _resume_hint_on_interrupt(out_dir, enabled=not resume and not overwrite),
        _earlier_run_set_aside(out_dir, enabled=overwrite),
    ):
        from siamkit.experiment import run_experiment
        from siamkit.training import apply_overrides, load_config

        task = _config_task(config)
        if task is not None:
            _run_task(
                task, config, out_dir, resume, overrides, device, progress, as_json, init_from
            )
            return
        if init_from is not None:
            overrides = (*overrides, f"model.init_from={json.dumps(init_from)}")
        plugins = _run_plugins(config, out_dir, resume)
        cfg = load_config(config)
        cfg = apply_overrides(
            cfg, [*overrides, f"train.device={device}"] if device != "auto" else list(overrides)
        )
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
        seen_only = cfg.data.train_classes is None  # evaluated on held-out images of its classes
        header = (
            "metric (held-out images, training classes)" if seen_only else "metric (unseen classes)"
        )
        ver = metrics.get("verification", {})
        rows = headline_rows(metrics) + retrieval_rows(metrics)  # evaluate's rows, same values
        click.echo(metrics_table(rows, ver, (header, "value")))
        click.echo(f"\nmodel:   {result.model_dir}\nmetrics: {result.metrics_path}")
        if result.report_path:
            click.echo(f"report:  {result.report_path}")


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
    from siamkit.tuning.search import STUDY_FILE

    if (out_dir / STUDY_FILE).exists():
        raise click.UsageError(
            f"{out_dir} holds a tuning study ({STUDY_FILE}); train into another --out, "
            f"e.g. --out {out_dir / 'best-run'}"
        )


@contextlib.contextmanager
def _earlier_run_set_aside(out_dir: Path, enabled: bool) -> Iterator[None]:
    """With --overwrite: move the earlier run's outputs aside, so the new run's files never mix
    with the old ones; delete them once the new run has finished, and put them back if it fails
    (a refused config or an interrupt loses nothing). Only the first process of a torchrun
    launch does this."""
    from siamkit.training.ddp import is_main_process

    names = [n for n in RUN_OUTPUTS if (out_dir / n).exists()] if enabled else []
    if not names or not is_main_process():
        yield
        return
    stash = Path(tempfile.mkdtemp(prefix=".earlier-run-", dir=out_dir))
    moved: list[str] = []
    try:
        for name in names:
            os.replace(out_dir / name, stash / name)
            moved.append(name)
        yield
    except BaseException:
        for name in RUN_OUTPUTS:  # the failed run's files (not an earlier one never moved) ...
            if name in moved or name not in names:
                _remove(out_dir / name)
        for name in moved:  # ... then the earlier run's back
            os.replace(stash / name, out_dir / name)
        shutil.rmtree(stash, ignore_errors=True)
        raise
    shutil.rmtree(stash, ignore_errors=True)


@contextlib.contextmanager
def _resume_hint_on_interrupt(out_dir: Path, enabled: bool) -> Iterator[None]:
    """Ctrl-C in a new run that has written its checkpoint: the same command again is refused
    (OUT holds a run), so say that --resume continues it, not the generic "run it again".
    Under torchrun every process gets the Ctrl-C: the first alone says it."""
    from siamkit.training.ddp import is_main_process

    try:
        yield
    except KeyboardInterrupt:
        checkpoint = out_dir / "checkpoint.pt"
        if not enabled or not checkpoint.exists():
            raise
        if not is_main_process():
            raise click.exceptions.Exit(130) from None
        click.echo(
            f"interrupted (Ctrl-C); {checkpoint} keeps the run so far: run the same command "
            "with --resume to continue it",
            err=True,
        )
        raise click.exceptions.Exit(130) from None


def _refuse_set_aside_run(out_dir: Path) -> None:
    """Refuse any run into ``out_dir`` while it holds an earlier run that an --overwrite set
    aside and whose process was killed (SIGKILL) before it could put it back: a new run there
    would leave it hidden, or bury it under a second one. The first process of a torchrun
    launch alone asks: it alone sets a run aside, so another process that started later saw its
    set-aside run of this launch and refused the launch."""
    from siamkit.training.ddp import is_main_process

    if not is_main_process():
        return
    left = sorted(p.name for p in out_dir.glob(".earlier-run-*"))
    if left:
        raise click.UsageError(
            f"{out_dir} holds {', '.join(left)}: an earlier run set aside by --overwrite whose "
            "process was killed; move its files back into the folder or delete it, then rerun"
        )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _refuse_existing_run(out_dir: Path) -> None:
    """Refuse to train over an earlier run in ``out_dir`` (its model, and any gallery enrolled
    with it, would be silently replaced), before anything is written."""
    from siamkit.tuning.search import TRAINING_RUN_FILES  # what `siamkit tune` refuses too

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


def _refuse_unmakeable_folder(folder: Path, what: str) -> None:
    """A usage error, before the config is read, for an output folder below a file (every task
    makes its folder only after loading its data)."""
    from siamkit.atomic import check_writable_folder

    try:
        check_writable_folder(folder, what)
    except ValueError as err:
        raise click.UsageError(str(err)) from None


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
    from siamkit.training.config_io import ConfigError, read_yaml
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

    runner = get_task(task)
    plugins = _run_plugins(config, out_dir, resume)  # before the config's parts are checked
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


def _episode_sizes(text: str, option: str, letter: str, least: int) -> tuple[int, ...]:
    """``--ways 5,20`` / ``--shots 1,5`` -> ``(5, 20)``; a click error naming ``option``."""
    try:
        values = tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        values = ()
    if not values:
        raise click.BadParameter(
            f"{text!r} is not a comma-separated list of whole numbers (the {letter} of N-way "
            f"K-shot, e.g. {'5,20' if letter == 'N' else '1,5'})",
            param_hint=option,
        )
    if min(values) < least:
        raise click.BadParameter(
            f"{text!r}: each {letter} of N-way K-shot must be at least {least}", param_hint=option
        )
    return values


#: evaluate's --shots when none is given (the README's Fashion-MNIST figures use them)
DEFAULT_SHOTS = (1, 5)


# EvalConfig's (not imported: the CLI starts fast)
DEFAULT_EPISODES, DEFAULT_QUERIES, DEFAULT_SEED = 1000, 15, 0


class _Recorded(NamedTuple):
    """The N-way K-shot settings the model's run evaluated with that evaluate takes by default,
    each ``None`` where the run recorded none, or what evaluate takes anyway."""

    shots: tuple[int, ...] | None
    ways: tuple[int, ...] | None
    episodes: int | None
    queries: int | None
    seed: int | None


def _recorded(meta: dict[str, Any]) -> _Recorded:
    """The model's run's N-way K-shot settings (its saved config's ``eval`` section, read as
    export's int8 check reads it: :func:`~siamkit.cli._int8_check.run_protocol`), less those
    equal to evaluate's defaults (shots 1,5; ways unset; 1000 episodes; 15 queries; seed 0).

    >>> _recorded({"config": {"eval": {"shots": [1, 10], "ways": 5, "episodes": 200}}})
    _Recorded(shots=(1, 10), ways=(5,), episodes=200, queries=None, seed=None)
    >>> _recorded({"config": {"eval": {"shots": [1, 5], "ways": None, "seed": 3}}})
    _Recorded(shots=None, ways=None, episodes=None, queries=None, seed=3)
    """
    from siamkit.cli._int8_check import run_protocol

    run = run_protocol({"metadata": meta})
    if run is None:
        return _Recorded(None, None, None, None, None)

    def unless(value: Any, default: Any) -> Any:
        return None if value == default else value

    return _Recorded(
        unless(run.shots, DEFAULT_SHOTS), run.ways or None, unless(run.episodes, DEFAULT_EPISODES),
        unless(run.queries, DEFAULT_QUERIES), unless(run.seed, DEFAULT_SEED),
    )  # fmt: skip


#: The option of evaluate that chooses each setting it can take from the model's run.
_RUN_SETTING_OPTIONS = {
    "eval.shots": "--shots",
    "eval.ways": "--ways",
    "eval.queries": "--queries",
    "eval.episodes": "--episodes",
    "eval.seed": "--seed",
}


def _from_run_line(
    shots: tuple[int, ...] | None,
    ways: tuple[int, ...] | None,
    queries: int | None = None,
    episodes: int | None = None,
    seed: int | None = None,
) -> str | None:
    """The line saying that evaluate took these N-way K-shot settings from the model's run
    (``None`` when it took none), naming the options that choose them.

    >>> _from_run_line((1, 3), None, episodes=200)
    "N-way K-shot as the model's run recorded it (eval.shots 1,3 and eval.episodes 200); pass --shots or --episodes to choose"
    """
    values = {"eval.shots": shots, "eval.ways": ways, "eval.queries": queries,
              "eval.episodes": episodes, "eval.seed": seed}  # fmt: skip
    taken = {k: v for k, v in values.items() if v is not None}
    if not taken:
        return None

    def listed(items: list[str]) -> str:
        return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"

    said = [f"{k} {v if isinstance(v, int) else ','.join(map(str, v))}" for k, v in taken.items()]
    options = listed([_RUN_SETTING_OPTIONS[k] for k in taken]).replace(" and ", " or ")
    return f"N-way K-shot as the model's run recorded it ({listed(said)}); pass {options} to choose"


def _default_shots(
    ways: tuple[int, ...] | None, y: Any, shots: tuple[int, ...] = DEFAULT_SHOTS
) -> tuple[tuple[int, ...], str | None]:
    """The ``shots`` (by default :data:`DEFAULT_SHOTS`; else those the model's run recorded)
    that labels ``y`` can meet at ``ways``, and a line naming those left out (``None`` when all
    are kept); all of them when none can be met, so that the protocol's refusal says why."""
    from siamkit.experiment import check_protocol
    from siamkit.training import EvalConfig

    kept, dropped = [], []
    for k in shots:
        try:
            check_protocol(EvalConfig(shots=(k,), ways=ways), y, "evaluation")
        except ValueError:
            dropped.append(k)
        else:
            kept.append(k)
    if not kept or not dropped:
        return shots, None
    need = ", ".join(
        f"{k}-shot needs {k + 1} images a class ({k} shots + 1 query)" for k in dropped
    )
    return tuple(kept), (
        f"evaluating {', '.join(f'{k}-shot' for k in kept)} only: {need}, which too few of "
        "these classes hold; pass --shots to choose"
    )


@click.command("evaluate")
@click.argument("model", type=click.Path())
@click.option(
    "--data",
    default="fashion-mnist",
    show_default=True,
    help="fashion-mnist, digits, an image folder (one sub-folder per class), signatures:DIR, or "
    "a pairs CSV with the header path_a,path_b,same (image files relative to the CSV's folder; "
    "same = 1 for the same, 0 for not): verification on those pairs only. A text model takes "
    "pairs of texts, labelled or graded (--score-range): a CSV or JSONL, as said below.",
)
@click.option(
    "--classes",
    help="Comma-separated class names or numbers to test on (e.g. shirt,sneaker,bag) "
    "[default: a folder's sub-folders (the folder the model trained on: those it did not train "
    "on, or with data.train_classes: null the images it held out); built-in data: the classes "
    "the model did not train on, else 6,7,8,9].",
)
@click.option(
    "--split",
    type=click.Choice(["test", "train"]),
    default="test",
    show_default=True,
    help="Split of --data fashion-mnist (refused for digits, which have one set of images, and "
    "for a folder).",
)
@click.option(
    "--data-dir", type=click.Path(file_okay=False), help="Folder with the Fashion-MNIST files."
)
@click.option(
    "--episodes",
    type=click.IntRange(min=1),
    help="Few-shot episodes [default: the eval.episodes the model's run recorded, else 1000].",
)
@click.option(
    "--queries",
    type=click.IntRange(min=1),
    help="Query images a class in each few-shot episode (fewer where the classes cannot give "
    "them) [default: the eval.queries the model's run recorded, else 15].",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    help="Seed of the few-shot episodes drawn (and of --clustering's k-means) [default: the "
    "eval.seed the model's run recorded, else 0].",
)
@click.option(
    "--shots",
    help="K values of N-way K-shot, e.g. 1,5 [default: the eval.shots the model's run "
    "recorded, else 1,5; those of them the classes' image counts allow, with a line saying so].",
)
@click.option(
    "--ways",
    help="N values of N-way K-shot, e.g. 5,20 (each episode draws N of the classes; an N above "
    "the number of evaluated classes runs as all of them, and the table says so) "
    "[default: the eval.ways the model's run recorded, else all classes up to 20, else 5,20].",
)
@click.option(
    "--report", "report", type=click.Path(dir_okay=False), help="Also write an HTML report here."
)
@DEVICE
@click.option(
    "--raw-distance",
    is_flag=True,
    help="Ignore the model's cohort score normalisation (eval.score_norm) and its threshold: "
    "compare embeddings with the raw distance.",
)
@click.option(
    "--clustering",
    is_flag=True,
    help="Also cluster the embeddings with a seeded k-means (k = the number of classes) and "
    "report NMI and AMI against the labels, beside the retrieval metrics (eval.clustering in a "
    "run config). Off by default: its cost grows with the number of classes, about 0.7 CPU-s at "
    "10 classes but 40 at 1,000 (10k embeddings of 128 dimensions). Not for a pairs CSV.",
)
@click.option(
    "--score-range",
    metavar="LO,HI",
    help="A text model on graded pairs (a, b, score; e.g. 0,5 for STS-style scores): Pearson and "
    "Spearman of the cosine similarity against the scores, read from the column score (else "
    "label), each within LO..HI. No ROC AUC, EER or TAR@FAR there: a cut on graded scores would "
    "be arbitrary; label the pairs 0/1 for them.",
)
@TEXT_COLUMNS
@click.option(
    "--json", "as_json", is_flag=True, help="Print the metrics as JSON (the metrics.json layout)."
)
@PROGRESS
@friendly_errors
def evaluate(
    model: str,
    data: str,
    classes: str | None,
    split: str,
    data_dir: str | None,
    episodes: int | None,
    queries: int | None,
    seed: int | None,
    shots: str | None,
    ways: str | None,
    report: str | None,
    device: str,
    raw_distance: bool,
    clustering: bool,
    score_range: str | None,
    columns: dict[str, str] | None,
    as_json: bool,
) -> None:
    """Evaluate a saved MODEL folder: N-way K-shot, verification (ROC AUC, EER, TAR@FAR) and retrieval.

    Retrieval (leave-one-out): P@1, MAP@R, Recall@K, R-precision, MAP over all ranks and MRR;
    with --clustering also NMI and AMI of a k-means.

    With the model's calibrated threshold, also the TAR/FAR it reaches on these pairs.

    On a pairs CSV (--data pairs.csv, header path_a,path_b,same; the 1:1 protocol of an
    LFW-style list of image pairs) each image is embedded once and the listed pairs are scored:
    ROC AUC, EER, TAR@FAR and, with the model's threshold, its accuracy, TAR and FAR. N-way
    K-shot and retrieval need classes and are not computed there; --report holds the
    verification parts (ROC/DET, distance histograms).

    A text model (a siamkit text model folder, a Hugging Face folder, or a named model such as
    all-MiniLM-L6-v2) is evaluated on held-out pairs of texts, --data a CSV or JSONL: with
    columns a, b and label, any case (label 1, true or yes = the same; 0, false or no = not),
    the same verification as image pairs, on the distance 1 - cosine; with --score-range
    LO,HI, graded scores (column score, else label): Pearson and Spearman of the cosine
    similarity, and no verification metrics (a cut on graded scores would be arbitrary; label
    the pairs 0/1 for them). A file with its own header names its columns with --columns
    (e.g. a=ticket_one,b=ticket_two,label=is_duplicate). Each distinct text is
    embedded once, a half-twin's a texts with its query tower and b texts with its document
    tower; texts longer than the model's window are embedded as overlapping windows, averaged,
    and the output says how many were.

    \b
    Examples:
      siamkit evaluate runs/demo/model
      siamkit evaluate runs/demo/model --data val_images/ --report report.html
      siamkit evaluate runs/demo/model --data pairs.csv --json
      siamkit evaluate runs/tickets/model --data test_pairs.csv --report pairs.html
      siamkit evaluate all-MiniLM-L6-v2 --data sts_test.csv --score-range 0,5
    """
    if data.startswith("signatures:"):  # FAR/FRR/EER on skilled and random forgeries
        from siamkit.cli.signature_cmds import evaluate_signature_data

        _refuse_unused_options(click.get_current_context(), ("report", "as_json"))

        return evaluate_signature_data(
            model, data[len("signatures:") :], report=report, as_json=as_json
        )
    from siamkit.cli.text_evaluate import evaluate_text, parse_score_range, text_model_folder_of

    ctx = click.get_current_context()
    text_folder = text_model_folder_of(model)
    if text_folder is not None:
        rng = parse_score_range(score_range)
        return evaluate_text(ctx, model, text_folder, data, rng, report, device, as_json, columns)
    refuse_given(ctx, ("score_range",), "for a text model's graded pairs of texts")
    refuse_given(ctx, ("columns",), "for a text model's pairs of texts")
    from dataclasses import asdict

    from siamkit.evaluation import shared_distance_matrices
    from siamkit.experiment import check_protocol, evaluate_model, rates_at, try_write_report
    from siamkit.export.bundle import read_model_config
    from siamkit.training import EvalConfig
    from siamkit.training.ddp import resolve_device

    if report:  # a bad destination is refused before the evaluation, not after it
        from siamkit.evaluation.report import check_report_path

        check_report_path(report)
    dev = resolve_device(device)
    meta = read_model_config(model).get("metadata", {})
    net = load_siamese(model, dev, "evaluate")
    if raw_distance and net.score_norm is not None:
        net.set_score_norm(None)  # also drops the threshold, which was fit on normalised scores
    if is_pairs_file(data):  # the 1:1 protocol of a list of pairs: verification only
        refuse_class_options(
            click.get_current_context(), (*CLASS_OPTIONS, "queries", "seed", "clustering")
        )
        return evaluate_pairs(model, net, data, report, dev, _run_info(meta, dev), as_json)
    refuse_fashion_mnist_options(click.get_current_context(), data)  # else they were ignored
    run_shots, run_ways, run_episodes, run_queries, run_seed = _recorded(meta)  # options win
    n_ways = run_ways if ways is None else _episode_sizes(ways, "--ways", "N", 2)
    k_shots = DEFAULT_SHOTS if shots is None else _episode_sizes(shots, "--shots", "K", 1)
    notes = [
        _from_run_line(
            run_shots if shots is None else None,
            run_ways if ways is None else None,
            run_queries if queries is None else None,
            run_episodes if episodes is None else None,
            run_seed if seed is None else None,
        )
    ]
    episodes = episodes or run_episodes or DEFAULT_EPISODES
    queries = queries or run_queries or DEFAULT_QUERIES
    seed = (run_seed or DEFAULT_SEED) if seed is None else seed
    shape = model_image_shape(net, model)
    ev = load_eval_data(data, meta, class_tokens(classes), split, data_dir, shape)
    if len(ev.chosen) < 2:
        one = ", ".join(ev.names[c] for c in ev.chosen)
        raise ValueError(
            f"--classes names one class ({one}); evaluate compares two or more: name them"
            if classes
            else f"{ev.source} gives one class ({one}); evaluate compares two or more: name "
            "them with --classes, or give a folder with a sub-folder per class"
        )
    check_input(net, ev.x)
    if shots is None:  # a small folder keeps the default shots it can meet, said in a line
        k_shots, note = _default_shots(n_ways, ev.y, run_shots or DEFAULT_SHOTS)
        notes.append(note)
    notes.append(_validated_on_line(data, ev, meta))
    protocol = EvalConfig(
        episodes=episodes, shots=k_shots, queries=queries, ways=n_ways, seed=seed,
        clustering=clustering,
    )  # fmt: skip
    check_protocol(protocol, ev.y, what="evaluation", keys=("--shots", "--ways"), names=ev.names)
    with shared_distance_matrices():  # a learned pair head scores all pairs once, not per part
        rep, z = evaluate_model(net, ev.x, ev.y, protocol, dev, episodes)
        metrics = rep.to_dict()
        metrics["data"]["classes"] = [ev.names[c] for c in ev.chosen]
        metrics["data"]["source"] = ev.source
        if net.threshold is not None:
            metrics["calibration"] = {
                "threshold": net.threshold,
                "test": asdict(rates_at(z, ev.y, net, net.threshold)),
            }
        asked = "--ways" if ways is not None else "the run's eval.ways"
        ran_as = _ran_as_line(metrics, n_ways, asked)  # before the report, which says it too
        if report:
            from siamkit.evaluation.report import ways_asked_of

            try_write_report(
                Path(report), rep, z, ev.y, images=ev.x, class_names=list(ev.names),
                title=f"siamkit evaluate {model}", distance=net.scoring_distance,
                calibration=metrics.get("calibration"), run_info=_run_info(meta, dev),
                trained_on=_trained_on(data, ev, meta), ways_asked=ways_asked_of(metrics),
            )  # fmt: skip
    said = [n for n in notes if n]
    if as_json:  # the note on stderr, and each capped N in its entry
        for line in [*said, *([ran_as] if ran_as else [])]:
            click.echo(line, err=True)
        click.echo(json.dumps(metrics, indent=2))
        return
    click.echo(ev.describe())
    for line in said:
        click.echo(line)
    rows = headline_rows(metrics) + retrieval_rows(metrics)
    click.echo(metrics_table(rows, metrics["verification"]))
    if ran_as:  # --help promises the table says so
        click.echo(ran_as)
    if "calibration" in metrics:
        cal = metrics["calibration"]
        click.echo(
            f"\nthe model's threshold {cal['threshold']:.4f}: TAR {cal['test']['tar']:.3f}, "
            f"FAR {cal['test']['far']:.3f} on these classes"
        )


def _ran_as_line(metrics: dict[str, Any], n_ways: tuple[int, ...] | None, asked: str) -> str | None:
    """The line saying that the N-way asked above the evaluated classes ran as all of them
    (``None`` when none was), with ``n_way_asked`` (those N) set in each few-shot entry that ran
    so, for ``--json``; ``asked``: how the N were given."""
    from siamkit.experiment.result import mark_ways_asked, ways_over_line

    over = mark_ways_asked(metrics, n_ways or ())
    return ways_over_line(asked, over, metrics["data"]["n_classes"]) if over else None


def _refuse_unused_options(ctx: click.Context, used: tuple[str, ...]) -> None:
    """A usage error naming the options given on the command line that ``--data signatures:DIR``
    does not use (they were ignored: --device evaluated on the CPU, --raw-distance kept the
    model's threshold, --episodes or --classes changed nothing)."""
    given = [
        f"--{name.replace('_', '-')}"
        for name in ctx.params
        if name not in ("model", "data", *used) and given_on_command_line(ctx, name)
    ]
    if given:
        raise click.UsageError(
            f"--data signatures:DIR takes only --report and --json, not {', '.join(given)}: "
            f"leave {'them' if len(given) > 1 else 'it'} out, or use siamkit signature evaluate "
            "(--references, --reduce, "
            "--threshold, --layout, --seed)"
        )


@click.command("embed")
@click.argument("model", type=click.Path())
@click.argument("inputs", nargs=-1)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output file: .npy or .parquet.",
)
@click.option(
    "--data",
    type=click.Choice(["fashion-mnist", "digits"]),
    help="Embed a built-in dataset instead of INPUTS.",
)
@click.option(
    "--split",
    type=click.Choice(["test", "train"]),
    default="test",
    show_default=True,
    help="Split of --data fashion-mnist (refused for digits, which have one set of images, and "
    "for INPUTS).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    help="Images per forward pass.",
)
@click.option(
    "--force",
    "--overwrite",
    "force",
    is_flag=True,
    help="Replace OUT (and its row ids, z.ids.txt for z.npy) if it exists (--overwrite is the "
    "same).",
)
@DEVICE
@PROGRESS
@friendly_errors
def embed(
    model: str,
    inputs: tuple[str, ...],
    out: str,
    data: str | None,
    split: str,
    batch_size: int,
    force: bool,
    device: str,
) -> None:
    """Embed images with MODEL and save the (N, D) embeddings to OUT (.npy or .parquet).

    INPUTS are image files or folders (searched recursively; an image's label is its folder
    name). .npy writes the float32 matrix plus the file naming each row (z.npy: z.ids.txt, one id
    a line); .parquet writes columns id, label and embedding. An existing OUT is only
    replaced with --force.

    \b
    Examples:
      siamkit embed runs/shoes/model img1.png img2.png --out z.npy
      siamkit embed runs/shoes/model photos/ --out z.parquet
      siamkit embed runs/shoes/model --data fashion-mnist --split test --out z.npy
    """
    from siamkit.encode import encode
    from siamkit.training.ddp import resolve_device

    if data and inputs:
        raise click.UsageError(
            f"give image files / folders or --data {data}, not both ({inputs[0]} would be ignored)"
        )
    if (
        given_on_command_line(click.get_current_context(), "split")
        and data != "fashion-mnist"
        and (data or inputs)
    ):
        what = "--data digits has one set of images" if data else "image files / folders have none"
        raise click.UsageError(
            f"--split picks a split of --data fashion-mnist, and {what}: leave --split out"
        )
    check_embeddings_out(Path(out))  # before any work: embedding many images takes minutes
    refuse_existing(embedding_files(Path(out)), force, "or choose another --out")
    dev = resolve_device(device)
    net = load_siamese(model, dev, "embed")
    shape = model_image_shape(net, model)
    if data:
        from siamkit.export.bundle import read_model_config

        meta = read_model_config(model).get("metadata", {})  # names its own data on a misfit
        ev = load_eval_data(data, meta, [str(c) for c in range(10)], split, None, shape)
        x, label_list = ev.x, [ev.names[int(c)] for c in ev.y]
        ids = [f"{data}:{split}:{i}" for i in range(len(label_list))]
    elif inputs:
        paths, label_list = collect_images(inputs)
        x, ids = read_image_files(paths, shape), [str(p) for p in paths]
    else:
        raise click.UsageError("give image files / folders, or --data NAME")
    check_input(net, x)
    z = encode(net, x, batch_size, dev).numpy()
    written = write_embeddings(Path(out), z, ids, label_list)
    click.echo(
        f"embedded {z.shape[0]} images -> {z.shape[1]}-d; wrote {', '.join(map(str, written))}"
    )


def _run_classes(data: str, ev: Any, meta: dict[str, Any], key: str) -> set[int] | None:
    """The classes the model's run recorded under ``key`` (``train_classes``,
    ``val_classes``) when ``data`` is what it ran on (the same built-in data set, or its own
    folder); ``None`` when its metadata does not say."""
    from siamkit.cli._inputs import DATASET_NAMES, _own_folder_classes

    run = meta.get("run") or {}
    recorded = run.get(key)
    if recorded is None:
        return None
    if data in DATASET_NAMES:
        if run.get("dataset") != data:
            return None
    elif _own_folder_classes(Path(data), tuple(ev.names), meta) is None:
        return None
    return {int(c) for c in recorded}


def _trained_on(data: str, ev: Any, meta: dict[str, Any]) -> bool | Literal["validation"] | None:
    """Whether the model trained on any of the evaluated classes; ``"validation"`` when it did
    not, but some are its run's validation classes (``val_classes``, which its threshold was fit
    on); ``None`` when its metadata does not say (another folder, no recorded training classes,
    or a run that held classes out for validation before their record)."""
    train = _run_classes(data, ev, meta, "train_classes")
    if train is None:
        return None
    chosen = {int(c) for c in ev.chosen}
    if train & chosen:
        return True
    val = _run_classes(data, ev, meta, "val_classes")
    if val is None:  # recorded before val_classes were: which classes validated it is not known
        held = ((meta.get("config") or {}).get("data") or {}).get("val_classes")
        return None if held is not None else False
    return "validation" if val & chosen else False


def _validated_on_line(data: str, ev: Any, meta: dict[str, Any]) -> str | None:
    """The line naming the evaluated classes that validated the model's run (its recorded
    ``val_classes``, held out of training) though it did not train on them: they chose its epoch
    and calibrated its threshold, so counting them as unseen flatters the figures; ``None``
    when there are none (or the metadata does not say)."""
    val = _run_classes(data, ev, meta, "val_classes") or set()
    val -= _run_classes(data, ev, meta, "train_classes") or set()  # trained on: not unseen
    both = [c for c in ev.chosen if int(c) in val]
    if not both:
        return None
    one = len(both) == 1
    names = ", ".join(ev.names[c] for c in both)
    return (
        f"{'class' if one else 'classes'} {names} {'was' if one else 'were'} the model's "
        f"run's validation {'class' if one else 'classes'} (val_classes: not trained on, but "
        "choosing its epoch and calibrating its threshold), so these figures are optimistic "
        f"for unseen classes: leave {'it' if one else 'them'} out with --classes"
    )


def _run_info(meta: dict[str, Any], device: object) -> dict[str, Any]:
    """The report header's facts about how the model was trained (from its metadata): its
    classes named by the run's data set, and what it validated on."""
    run = meta.get("run") or {}
    keys = ("train_images", "train_classes", "val_classes", "val_held_out", "train_seconds")
    names = {"class_names": meta["class_names"]} if meta.get("class_names") else {}
    return {**{k: run[k] for k in keys if k in run}, **names, "device": str(device)}


def load_siamese(path: str, device: object, command: str) -> SiameseNetwork | JoinedEmbedding:
    """A saved Siamese model (or one joined with appearance features) for ``command`` (evaluate,
    embed, calibrate); a half-twin model (two different encoders) is a clear error naming it."""
    from siamkit.export.bundle import load_model
    from siamkit.models import JoinedEmbedding, SiameseNetwork

    net = load_model(path, map_location=device)  # type: ignore[arg-type]
    if not isinstance(net, (SiameseNetwork, JoinedEmbedding)):
        raise ValueError(f"{path} {_other_kind(net, command)}")
    return net


def _other_kind(net: object, command: str) -> str:
    """What the model is, and which commands take it, for ``command``'s refusal of it."""
    kind = getattr(net, "input_kind", "image")
    if kind == "text":
        return (
            f"is a text model; {command} takes image models. For texts use `siamkit "
            "text similarity`, `text dedup`, `text plagiarism` or `text enroll`, `siamkit "
            "calibrate MODEL --data PAIRS` for its threshold and `siamkit evaluate MODEL --data "
            "PAIRS` to score it"
        )
    if getattr(net, "kind", None) == "siamfc":
        return (
            f"is a tracker, which {command} does not take; evaluate it with `siamkit "
            "evaluate-tracking MODEL`"
        )
    if getattr(net, "kind", None) == "dlib_face":
        score = (
            "; score it with `siamkit face evaluate --model MODEL`" if command != "embed" else ""
        )
        return (
            f"is dlib's face model, which {command} does not take; for faces use `siamkit face "
            f"enroll`, `face verify` or `face identify` with --model MODEL{score}"
        )
    return (
        f"is a {type(net).__name__}; {command} takes Siamese image models whose twins share one "
        "encoder"
    )


COMMANDS = [train, evaluate, embed]
__all__ = ["COMMANDS", "embed", "evaluate", "train"]
