"""``siamkit demo``: the main job in one command, on Fashion-MNIST that ships with the system.

Trains on classes 0-5, evaluates on the unseen classes 6-9 (the fmnist-disjoint protocol,
DESIGN §4), writes DIR/report.html, DIR/metrics.json and DIR/model/, and prints a summary next
to the best pytorch-metric-learning recipe measured on this protocol.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from siamkit.clauses import in_number
from siamkit.cli._inputs import friendly_errors, parse_classes, progress_option
from siamkit.cli._metric_tables import (
    format_table,
    headline_rows,
    retrieval_rows,
    unresolved_far_note,
)

if TYPE_CHECKING:
    from siamkit.training import RunConfig

DEFAULT_TRAIN_CLASSES = (0, 1, 2, 3, 4, 5)
COMMAND = "siamkit demo"
"""The ``run.command`` a demo records in its ``metrics.json``: the mark of a folder it may replace."""


def peer_best(dataset: str, train_classes: tuple[int, ...]) -> dict[str, float]:
    """The best pytorch-metric-learning recipe per metric on this split (``{"1-shot": ..,
    "EER": ..}``), from the file benchmarks/bench_fmnist.py writes; ``{}`` when it has none."""
    from siamkit.evaluation.peers import peer_figures

    figures = peer_figures(dataset, train_classes)
    return {} if figures is None else dict(figures["metrics"])


PEER_BEST = peer_best("fashion-mnist", DEFAULT_TRAIN_CLASSES)  # the default split


def demo_config(
    train_classes: tuple[int, ...] | None,
    epochs: int | None,
    limit: int | None,
    seed: int | None,
    device: str,
    data_dir: str | None,
    config: str | None,
    cohort: str | None = None,
) -> RunConfig:
    """The demo recipe (:func:`~siamkit.training.demo_recipe`, or ``config``) with the options applied.

    ``cohort`` other than ``"none"`` turns on adaptive S-norm against that cohort
    (``eval.score_norm = snorm``, ``eval.cohort``); ``"none"`` scores with the raw distance,
    whatever ``config`` says; ``None`` keeps the recipe's (``config``'s) scoring.
    """
    from dataclasses import replace

    from siamkit.training import demo_recipe, load_config
    from siamkit.training.config_checks import check_config

    cfg = load_config(config) if config else demo_recipe()
    if data_dir is not None and cfg.data.dataset != "fashion-mnist":  # else it was ignored
        raise click.UsageError(
            f"--data-dir is for Fashion-MNIST, and {config} trains on {cfg.data.dataset}: "
            "leave it out (a folder of images is the config's data.root)"
        )
    if cohort == "unlabeled" and cfg.data.dataset != "fashion-mnist" and not cfg.eval.cohort_root:
        raise click.UsageError(  # else named as eval.cohort, which the user did not set
            f"--cohort unlabeled needs unlabeled images of the test classes that are not test "
            f"images; {cfg.data.dataset!r} has none (Fashion-MNIST has: its train split): use "
            "--cohort train, or give a folder of such images as the config's eval.cohort_root"
        )
    data: dict[str, Any] = {"train_classes": train_classes, "limit": limit, "root": data_dir}
    train: dict[str, Any] = {"epochs": epochs, "seed": seed, "device": device}
    ev: dict[str, Any] = (
        {}
        if cohort is None
        else {"score_norm": "none"}
        if cohort == "none"
        else {"score_norm": "snorm", "cohort": cohort}
    )
    return check_config(
        replace(
            cfg,
            data=replace(cfg.data, **{k: v for k, v in data.items() if v is not None}),
            train=replace(cfg.train, **{k: v for k, v in train.items() if v is not None}),
            eval=replace(cfg.eval, **ev),
        )
    )


def made_by_demo(out: Path, cfg: RunConfig | None = None) -> bool:
    """Whether the run in ``out`` is an earlier demo's: its ``metrics.json`` records
    ``siamkit demo`` (``run.command``); or, from before that record, its report is titled
    "siamkit demo"; or, stopped before its ``metrics.json``, it holds this demo's ``cfg`` as
    its ``config.yaml`` (a ``make demo`` interrupted and run again)."""
    try:
        run = json.loads((out / "metrics.json").read_text(encoding="utf-8")).get("run")
    except FileNotFoundError:
        return cfg is not None and _same_config(out / "config.yaml", cfg)
    except (OSError, ValueError, AttributeError):
        return False
    if isinstance(run, dict) and "command" in run:
        return run["command"] == COMMAND
    try:  # written before demos recorded their command
        with open(out / "report.html", encoding="utf-8") as f:
            return "<title>siamkit demo:" in f.read(4096)
    except OSError:
        return False


def _same_config(path: Path, cfg: RunConfig) -> bool:
    import yaml

    from siamkit.training.config_io import config_to_dict

    try:
        written = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    return bool(written == yaml.safe_load(yaml.safe_dump(config_to_dict(cfg), sort_keys=False)))


def refuse_other_folder(out: Path, cfg: RunConfig | None = None) -> None:
    """Refuse, before anything is written, an ``out`` that holds anything but an earlier demo's
    outputs (:func:`made_by_demo`; ``cfg``: the demo about to run): a run another command made
    (train, tune, an SSL or text run), a demo folder with other files in it, or unrelated files
    would be replaced or mixed with the demo's. The temporary files of a demo killed mid-write
    (``.metrics.json.*`` ...) count as its own."""
    from siamkit.cli._run_folder import RUN_OUTPUTS

    if not out.is_dir():
        return
    names = sorted(p.name for p in out.iterdir())
    if not names:
        return
    demo_run = made_by_demo(out, cfg)

    def own(name: str) -> bool:
        return name in RUN_OUTPUTS or any(name.startswith(f".{o}.") for o in RUN_OUTPUTS)

    if demo_run and all(own(n) for n in names):
        return  # an earlier demo's folder: `make demo` runs again into it
    other = [n for n in names if not own(n)] if demo_run else names
    from siamkit.data.folders import shown_names

    shown = shown_names(other, 5)
    what = (
        f"a run that siamkit demo did not make ({shown})"
        if not demo_run and set(names) & set(RUN_OUTPUTS)
        else f"files that siamkit demo did not write ({shown})"
    )
    raise click.UsageError(
        f"--out {out} already holds {what}, which the demo would replace or mix with its own: "
        f"choose another --out, or remove {out} first"
    )


def data_name(cfg: RunConfig) -> str:
    """What the run trains on, for the report's title: ``Fashion-MNIST``, ``digits``, a folder."""
    if cfg.data.dataset == "fashion-mnist":
        return "Fashion-MNIST"
    if cfg.data.dataset == "image-folder" and cfg.data.root:
        return f"the folder {cfg.data.root}"
    return cfg.data.dataset


def summary(metrics: dict[str, object], peers: dict[str, float]) -> str:
    """The headline table, then the ranking rows evaluate prints (R-precision, MAP, MRR):
    siamkit's value (and the peer's best on this split, when known). A TAR@FAR the run's
    impostor pairs are too few to measure shows "-", and the line evaluate prints says why
    (:func:`~siamkit.cli._metric_tables.unresolved_far_note`). Rows the peer was not measured on show
    "-" in its column, and a line under the table says so: they compare nothing."""
    rows: list[tuple[str, ...]] = []
    compare = bool(peers)
    unmeasured = []
    for name, value in headline_rows(metrics) + retrieval_rows(metrics):  # as evaluate prints
        shown = "-" if value is None else f"{value:.3f}"
        if compare:
            peer = peers.get(name.split(" ", 1)[1] if name.endswith("-shot") else name)
            if peer is None:
                unmeasured.append(name)
            rows.append((name, shown, "-" if peer is None else f"{peer:.3f}"))
        else:
            rows.append((name, shown))
    header = (
        ("metric (unseen classes)", "siamkit", "best PML peer")
        if compare
        else ("metric (unseen classes)", "siamkit")
    )
    table = format_table(rows, header)
    verification = metrics.get("verification")
    far_note = unresolved_far_note(verification if isinstance(verification, dict) else {})
    if far_note is not None:  # as evaluate and train print it under theirs
        table += f"\n{far_note}"
    if unmeasured:
        table += (
            f'\n"-" under best PML peer: the benchmark did not measure the peer on '
            f"{', '.join(unmeasured)}; those rows are siamkit's alone, not a comparison."
        )
    return table


def ablation_lines(metrics: dict[str, object]) -> list[str]:
    """One line per part of the embedding evaluated alone (models with an appearance skip)."""
    from siamkit.experiment import ABLATION_PARTS

    parts = metrics.get("ablation")
    if not isinstance(parts, dict) or not parts:
        return []
    lines = ["\nwhere the result comes from (same evaluation, each part alone):"]
    for key, part in parts.items():
        cells = [
            f"{name} {value:.3f}" for name, value in headline_rows(part)[:3] if value is not None
        ]
        lines.append(f"  {ABLATION_PARTS.get(key, key)}: " + ", ".join(cells))
    return lines


@click.command("demo")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    default="siamkit-demo",
    show_default=True,
    help="Output folder.",
)
@click.option(
    "--train-classes",
    help="Comma-separated Fashion-MNIST classes to train on; the rest are the unseen test "
    "classes [default: 0,1,2,3,4,5, or --config's data.train_classes].",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    help="Training epochs [default: 10, the recipe's, or --config's train.epochs].",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Train on at most this many images (a quick look; the validation and test images are "
    "not limited).",
)
@click.option(
    "--episodes",
    type=click.IntRange(min=1),
    help="Few-shot episodes of the evaluation [default: 1000, or --config's eval.episodes].",
)
@click.option("--seed", type=int, help="Training seed [default: 0, or --config's train.seed].")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    help="A YAML config to use instead of the built-in recipe.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    help="Folder with the Fashion-MNIST .gz files (found automatically otherwise).",
)
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto (CUDA if available), cpu, cuda or cuda:N.",
)
@click.option(
    "--cohort",
    type=click.Choice(["none", "train", "unlabeled"]),
    default=None,
    help="Score pairs with adaptive S-norm against a cohort: 'train' (training images; the "
    "protocol as written) or 'unlabeled' (train-split images of the unseen classes, labels "
    "unused: a protocol variant, reported as such). 'none' keeps the raw distance, whatever "
    "--config's eval.score_norm says [default: none, or --config's eval.score_norm].",
)
@progress_option(" (training and evaluation)", expose_value=True)
@click.option(
    "--json", "as_json", is_flag=True, help="Print metrics.json to stdout instead of the table."
)
@friendly_errors
def demo(
    out: str,
    train_classes: str | None,
    epochs: int | None,
    limit: int | None,
    episodes: int | None,
    seed: int | None,
    config: str | None,
    data_dir: str | None,
    device: str,
    cohort: str | None,
    progress: bool,
    as_json: bool,
) -> None:
    """Train on Fashion-MNIST classes 0-5, test on the unseen classes 6-9, and write a report.

    Finds Fashion-MNIST (the Debian package dataset-fashion-mnist, ~/.cache/siamkit, $SIAMKIT_DATA
    or --data-dir), trains a Siamese ConvNet (a few minutes on a CPU), evaluates 4-way 1-/5-shot
    classification, verification (ROC AUC, EER, TAR@FAR) and retrieval (P@1, MAP@R, R-precision,
    MAP, MRR) on classes it never saw, calibrates a verification threshold on held-out pairs, and
    writes OUT/report.html, OUT/metrics.json and OUT/model/ (load it with siamkit.load_model).
    Running it again into the same OUT replaces the earlier demo; an OUT holding anything else
    (a `siamkit train` run, other files) is refused.
    """
    from siamkit.experiment import run_experiment
    from siamkit.training.data import UnknownTrainClasses

    classes = parse_classes(train_classes, "--train-classes")
    cfg = demo_config(classes, epochs, limit, seed, device, data_dir, config, cohort)
    refuse_other_folder(Path(out), cfg)
    log = (lambda s: click.echo(s, err=True)) if as_json else click.echo
    t0 = time.perf_counter()
    try:
        result = run_experiment(
            cfg,
            Path(out),
            progress=progress,
            episodes=episodes,
            title=f"siamkit demo: {data_name(cfg)}, unseen classes",
            log=log,
            command=COMMAND,
        )
    except UnknownTrainClasses as err:  # it suggests --set, which demo does not have
        where = "--train-classes" if classes is not None else f"{config}'s data.train_classes"
        raise ValueError(
            f"unknown train {in_number(len(err.unknown), 'class', 'classes')} {err.unknown} in "
            f"{where}: {err.dataset} has classes "
            f"{err.classes}; give --train-classes the ids to train on (the others become the "
            "unseen test classes), e.g. --train-classes 0,1,2"
        ) from None
    if result is None:
        return
    metrics = result.to_dict()
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
        return
    peers = peer_best(result.dataset, result.train_classes) if cfg.data.limit is None else {}
    click.echo("")
    norm = metrics.get("score_norm")
    if isinstance(norm, dict):
        click.echo(
            f"pairs scored with {norm['method']} (k = {norm['k']}) against {norm['cohort']} "
            f"{norm['cohort_source']}; the peer's figures use the raw distance"
        )
    click.echo(summary(metrics, peers))
    for line in ablation_lines(metrics):
        click.echo(line)
    cal = metrics.get("calibration")
    if isinstance(cal, dict):
        test = cal["test"]
        click.echo(
            f"\ncalibrated threshold {cal['threshold']:.4f} (fit on validation pairs): "
            f"TAR {test['tar']:.3f}, FAR {test['far']:.3f} on the unseen classes"
        )
    click.echo(f"\nfinished in {time.perf_counter() - t0:.0f} s")
    click.echo(f"report:  {result.report_path or '(not written)'}")
    click.echo(f"metrics: {result.metrics_path}")
    click.echo(f"model:   {result.model_dir}")


COMMANDS = [demo]
__all__ = ["COMMANDS", "PEER_BEST", "demo"]
