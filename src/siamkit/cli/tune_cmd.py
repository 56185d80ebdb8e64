"""``siamkit tune``: hyper-parameter search scored on validation classes only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from siamkit.clauses import counted
from siamkit.cli._inputs import friendly_errors
from siamkit.cli._metric_tables import format_table


@click.command("tune")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Finished trials wanted (completed or pruned). A failed trial (values the config "
    "refuses together) does not count: another is drawn, and the study stops after N trials "
    "in a row fail (at least 10), exiting with status 1.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    help="Study folder: study.db (resumable), trials.csv, best.yaml [default: runs/tune-<config "
    "name>]. One study runs in it at a time: a second run on it is refused while the first runs "
    "(where its file system supports flock; elsewhere, as on Windows, the run warns that the "
    "folder is not locked).",
)
@click.option(
    "--space",
    type=click.Path(dir_okay=False),
    help="Search-space YAML (section.key: {choice: [...]} | {float: [lo, hi], log: true} | "
    "{int: [lo, hi]}); a loss's own key (loss.margin, loss.temperature) is drawn only for the "
    "losses that read it, optim.loss_lr_factor only for those that learn parameters; a choice's model.encoder_kwargs are merged over CONFIG's (a wider "
    "ConvNet keeps its taps) unless it picks another encoder, which takes the choice's alone "
    "[default: loss, its margin or temperature, lr, augmentation, encoder width, embedding "
    "size, epochs].",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override a config value before searching, e.g. --set data.val_classes=2 (repeatable). "
    "A key the space searches is then fixed and not searched (e.g. --set train.epochs=3); one "
    "model.encoder_kwargs entry no choice sets (taps) is kept beside each choice's instead.",
)
@click.option(
    "--timeout",
    type=float,
    help="Stop starting trials after this many seconds (a running trial finishes). A study it "
    "stops before --trials finished says so at its end; run the same command again to continue it. "
    "When no trial completed and some failed, it exits with status 1.",
)
@click.option(
    "--progress/--no-progress",
    default=True,
    show_default=True,
    help="Show a progress bar over trials.",
)
@friendly_errors
def tune(
    config: str,
    trials: int,
    out: str | None,
    space: str | None,
    overrides: tuple[str, ...],
    timeout: float | None,
    progress: bool,
) -> None:
    """Search hyper-parameters for CONFIG with Optuna (TPE, median pruning per epoch).

    Every trial is scored by train.val_metric on data.val_classes: classes held out of the
    training classes, never the test classes. Run it again with the same arguments to continue a
    killed study. Then: siamkit train OUT/best.yaml.

    With few validation classes P@1 saturates (every trial ~0.9998): score with
    --set train.val_metric=eer (or few_shot); tune warns when the trials' scores are all alike.

    \b
    Examples:
      siamkit tune configs/demo.yaml --trials 20 --set data.val_classes=2 \\
        --set train.val_metric=eer --out runs/tune
      siamkit tune configs/demo.yaml --space my-space.yaml --set data.val_classes=2 \\
        --set train.val_metric=eer --out runs/tune-mine
      siamkit train runs/tune/best.yaml --out runs/best
    """
    from siamkit.cli.main import Terminated, started_plugins
    from siamkit.launch_env import launched
    from siamkit.training import apply_overrides, load_config
    from siamkit.training.config_io import read_config_plugins
    from siamkit.tuning import load_space, run_study
    from siamkit.tuning.preflight import check_out_dir, check_tunable
    from siamkit.tuning.search import StudyInterrupted, StudyTerminated
    from siamkit.tuning.space import LOSS_LR_FACTOR, _normal_key
    from siamkit.tuning.study import STUDY_FILE, import_study_plugins

    # before anything is read or written: every process would open OUT/study.db at once
    # (WORLD_SIZE read by the one rule, siamkit.launch_env: "abc" or "-1" is no launch's)
    if launched():
        raise click.UsageError(TUNE_UNDER_TORCHRUN)

    out_dir = Path(out) if out else Path("runs") / f"tune-{Path(config).stem}"
    # a continued study's plug-ins, before CONFIG (which may name their parts) is read
    recorded = import_study_plugins(out_dir)
    # load_config refuses an application's config (task: ssl, ...) in one sentence
    written = load_config(config)
    base = apply_overrides(written, list(overrides))
    # best.yaml names the plug-ins the study was started with, so training it needs no --plugin
    plugins = list(dict.fromkeys([*recorded, *started_plugins(), *read_config_plugins(config)]))
    # a key as apply_overrides reads it: "optim. lr" set optim.lr, and the study searched it anyway
    fixed = {_normal_key(o.partition("=")[0]) for o in overrides}
    searched, pinned = load_space(space).without(fixed)
    if pinned:
        click.echo(f"not searched, fixed by --set: {', '.join(pinned)}")
    # an encoder_kwargs entry no choice sets stays searched beside it (SearchSpace.without)
    entries = sorted(k for k in fixed if k.startswith("model.encoder_kwargs."))
    others = searched.other_encoders(base) if entries else []
    if others:
        click.echo(
            f"--set {', '.join(entries)} goes in the {base.model.encoder} trials only: a trial "
            f"of another encoder ({', '.join(others)}) takes its choice's encoder_kwargs alone"
        )
    # a loss's own key that none of the study's losses reads (loss.margin with loss.kind supcon)
    searched, unread, kinds = searched.unread(base)
    # optim.loss_lr_factor, the rate of what a loss learns itself, when none of them learns
    idle = [k for k in unread if k == LOSS_LR_FACTOR]
    unread = [k for k in unread if k != LOSS_LR_FACTOR]
    if unread:
        click.echo(f"not searched, read by no loss of this study ({', '.join(kinds)}): "
                   f"{', '.join(unread)}")  # fmt: skip
    if idle:
        click.echo(f"not searched, no loss of this study ({', '.join(kinds)}) learns parameters "
                   f"of its own: {', '.join(idle)}")  # fmt: skip
    if not searched.params:
        why = [f"--set fixes {', '.join(pinned)}"] if pinned else []
        why += [f"no loss of this study reads {', '.join(unread)}"] if unread else []
        why += [f"no loss of this study learns what {idle[0]} sets the rate of"] if idle else []
        raise click.UsageError(f"{'; '.join(why)}: nothing is left to search")
    check_out_dir(out_dir)
    check_tunable(base, searched)  # before the study folder is made
    try:  # run_study checks the test classes as train does: best.yaml trains
        result = run_study(base, searched, out_dir, n_trials=trials, timeout=timeout,
                           progress=progress, log=click.echo, plugins=plugins)  # fmt: skip
    except (KeyboardInterrupt, Terminated, StudyTerminated) as err:
        # SIGTERM (a scheduler, a plain kill) ends it as Ctrl-C does, with its own status (143)
        code = 130 if isinstance(err, KeyboardInterrupt) else err.code
        code = code if isinstance(code, int) else 1
        if not (out_dir / STUDY_FILE).is_file():  # while the data loaded: no study was begun
            click.echo("study interrupted before it began; nothing was written", err=True)
            raise click.exceptions.Exit(code) from None
        click.echo(
            f"study interrupted; {out_dir / STUDY_FILE} keeps its finished trials: run the same "
            "command again to continue it",
            err=True,
        )
        # once the study has begun: best.yaml written from its completed trials, if any
        if isinstance(err, (StudyInterrupted, StudyTerminated)) and err.best_config is not None:
            best, done = err.best_config, err.complete
            click.echo(
                f"best config of the {counted(done, 'completed trial')}: {best}  "
                f"(siamkit train {best})",
                err=True,
            )
            if short := short_run_note(config, written, base, best):
                click.echo(short, err=True)
        raise click.exceptions.Exit(code) from None
    click.echo(
        f"\n{counted(result.finished, 'trial')} finished "
        f"({result.complete:,} complete, {result.pruned:,} pruned), {result.failed:,} failed"
        + (f", {result.interrupted:,} interrupted" if result.interrupted else "")
        + f" in {result.seconds:.0f} s"
        + (
            "; their scores do not tell them apart (see the warning below)"
            if result.warning
            else ""
        )
    )
    # too many failures in a row: the search did not succeed, so the command fails (exit 1)
    # after saying what it found; a timeout is the time asked for, only a warning
    gave_up = result.stopped if result.stopped_by == "failures" else None
    if result.stopped and not gave_up:
        click.echo(f"warning: {result.stopped}")
    if result.best_config is None:
        click.echo("no trial completed; nothing to recommend")
        if gave_up:
            raise click.ClickException(gave_up)
        if result.failed:  # the timeout came first: the search failed all the same (exit 1)
            raise click.ClickException(
                f"no trial completed before the timeout and {result.failed:,} failed (each failed "
                f"trial's warning says why, as does {out_dir / 'trials.csv'}); change the space "
                "or the config, or run the same command again to continue the study"
            )
        return
    # 4 significant digits (0.0001628, not 0.00016283591083632567); best.yaml has them all.
    # A choice as the trial trained it (a ConvNet's encoder_kwargs with the config's taps)
    trained = searched.trained(result.best_params, base)
    rows = [(k, best_value_text(k, v)) for k, v in trained.items()]
    click.echo(format_table(rows, ("best value (validation classes)", "")))
    click.echo(f"\nvalidation {base.train.val_metric}: {result.best_value:.4f}")
    click.echo(f"best config: {result.best_config}  (siamkit train {result.best_config})")
    if short := short_run_note(config, written, base, result.best_config):
        click.echo(short)
    if result.warning:
        click.echo(f"warning: {result.warning}")
    if gave_up:
        raise click.ClickException(gave_up)


def best_value_text(key: str, value: Any) -> str:
    """A searched value as the table of best values shows it: a float to 4 significant digits,
    a section's choice (a map) as the config's keys would read (``loss.kind=triplet
    loss.mining=semihard``, not a Python dict repr), any other value as it is."""
    if isinstance(value, dict) and value:
        return " ".join(_key_items(key, value))
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _key_items(key: str, value: Any) -> list[str]:
    """``key=value`` for each leaf of a map (nested maps as ``key.sub.leaf``), values as YAML."""
    from siamkit.tuning.space import overrides_item

    if isinstance(value, dict) and value:
        return [item for k, v in value.items() for item in _key_items(f"{key}.{k}", v)]
    return [f"{key}={value:.4g}" if isinstance(value, float) else overrides_item(key, value)]


#: Why ``siamkit tune`` refuses a torchrun launch. Its trials cannot share one study.db either:
#: a study opened marks every trial still running in it failed (left by a killed study).
TUNE_UNDER_TORCHRUN = (
    "siamkit tune runs in one process (each trial is a single-process training, and processes "
    "sharing OUT/study.db would fail each other's trials): run it without torchrun"
)


#: The keys that make a study's trials short runs (``--set train.epochs=1``); best.yaml keeps them.
SHORT_RUN_KEYS = ("train.epochs", "train.steps_per_epoch", "data.limit")


def short_run_note(config: str, written: Any, base: Any, best: Path) -> str | None:
    """One line when ``--set`` gave a short-run key (:data:`SHORT_RUN_KEYS`) another value than
    CONFIG's: best.yaml keeps it, so ``siamkit train best.yaml`` trains the short run; the line
    names the keys and the ``--set`` that trains at CONFIG's values. ``None`` when none differs."""
    from siamkit.tuning.space import overrides_item

    def value(cfg: Any, key: str) -> Any:
        section, name = key.split(".")
        return getattr(getattr(cfg, section), name)

    changed = [k for k in SHORT_RUN_KEYS if value(base, k) != value(written, k)]
    if not changed:
        return None
    kept = ", ".join(overrides_item(k, value(base, k)) for k in changed)
    back = " ".join(f"--set {overrides_item(k, value(written, k))}" for k in changed)
    return (
        f"note: {best} keeps this study's --set {kept}, so siamkit train trains that short run; "
        f"to train with {config}'s values: siamkit train {best} {back}"
    )
