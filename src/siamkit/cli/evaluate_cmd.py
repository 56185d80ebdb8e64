"""``siamkit evaluate``: a thin shell over the library's evaluation of a saved model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from siamkit.cli._eval_data import (
    labelled_val_root,
    load_eval_data,
    own_folder_test_set,
    run_data_default,
    run_data_note,
    val_root_note,
    val_root_source,
)
from siamkit.cli._fewshot_settings import (
    DEFAULT_EPISODES,
    DEFAULT_QUERIES,
    DEFAULT_SEED,
    DEFAULT_SHOTS,
    _default_shots,
    _episode_sizes,
    _from_run_line,
    _recorded,
)
from siamkit.cli._image_model import DEVICE, load_siamese
from siamkit.cli._image_pairs import (
    CLASS_OPTIONS,
    evaluate_pairs,
    is_pairs_file,
    refuse_class_options,
)
from siamkit.cli._inputs import (
    PROGRESS,
    check_input,
    class_tokens,
    friendly_errors,
    given_on_command_line,
    model_image_shape,
    refuse_fashion_mnist_options,
    refuse_given,
)
from siamkit.cli._metric_tables import headline_rows, metrics_table, retrieval_rows
from siamkit.cli._model_run import _run_info, _trained_on, _validated_on_line
from siamkit.cli.text_evaluate import COLUMNS as TEXT_COLUMNS


@click.command("evaluate")
@click.argument("model", type=click.Path())
@click.option(
    "--data",
    default="fashion-mnist",
    help="fashion-mnist, digits, an image folder (one sub-folder per class), signatures:DIR, or "
    "a pairs CSV with the header path_a,path_b,same (image files relative to the CSV's folder; "
    "same = 1 for the same, 0 for not): verification on those pairs only. A text model takes "
    "pairs of texts, labelled or graded (--score-range): a CSV or JSONL, as said below. "
    "[default: the image folder the model's run trained on (data.root; its test classes), a "
    "self-supervised run's labelled validation folder (data.val_root) where it recorded one, "
    "else fashion-mnist; a model trained on a folder that is gone is refused]",
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
    from dataclasses import asdict, replace

    from siamkit.cli._int8_check import val_root_trained_on
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
    given = given_on_command_line(ctx, "data")
    val_root = None if given else labelled_val_root(meta, "--data")
    data = val_root or data  # a self-supervised run's only labels, not a data set it never saw
    net = load_siamese(model, dev, "evaluate")
    # a folder's model is measured on its run's test set there, never on Fashion-MNIST
    own_root = None if given or val_root else run_data_default(meta, "--data")
    data = own_root or data
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
    if val_root is None and not given_on_command_line(ctx, "data"):
        _refuse_default_data(meta, shape)
    ev = load_eval_data(data, meta, class_tokens(classes), split, data_dir, shape)
    if own_root is not None:  # said as such: the run's own test set, as siamkit train read it
        if not classes:
            own_folder_test_set(own_root, ev, meta, "--data")
        notes.append(run_data_note("evaluate", meta, classes is not None))
    seen = None  # the note that the run trained on the folder read without --data
    if val_root is not None:  # said as such: not a folder the user named, nor a test set
        ev = replace(ev, source=val_root_source(val_root))
        notes.append(val_root_note("evaluate"))
        seen = val_root_trained_on(meta, val_root, "these figures")
        if seen is not None:  # its images are under data.root: trained on, so in-sample
            notes.append(seen)
    if len(ev.chosen) < 2:
        one = ", ".join(ev.names[c] for c in ev.chosen)
        raise ValueError(
            f"--classes names one class ({one}); evaluate compares two or more: name them"
            if classes
            else f"{ev.source} gives one class ({one}); evaluate compares two or more: pass "
            "--data FOLDER with a sub-folder per class, two or more"
            if val_root is not None  # no --data was given: say how to give other images
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
        if seen is not None:
            metrics["data"]["in_sample"] = True  # the run trained on these images (see notes)
        if net.threshold is not None:
            metrics["calibration"] = {
                "threshold": net.threshold,
                "test": asdict(rates_at(z, ev.y, net, net.threshold, protocol.seed)),
            }
            fit_here = _calibrated_on(data, ev, meta)
            if fit_here is not None:  # its own images: the rates are not held out
                metrics["calibration"]["fit_on"] = fit_here
                notes.append(
                    f"the model's threshold was fit on this folder's images (siamkit calibrate "
                    f"on {fit_here}), so its TAR and FAR here are not held-out rates"
                )
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


def _refuse_default_data(meta: dict[str, Any], shape: tuple[int, int, int]) -> None:
    """Refuse the built-in default (Fashion-MNIST) for a model that learned from an image folder
    without labels and recorded no labelled folder: a grey 28x28 one was measured on a data set
    it never saw, without a word (a colour one was refused for the images' shape)."""
    from siamkit.cli._eval_data import _labeled_data_hint, _learned_without_labels, training_folder

    trained_in = training_folder(meta)[0]
    if trained_in is None or not _learned_without_labels(meta):
        return
    raise ValueError(
        f"no --data given: it learned from the folder {trained_in} without labels, and "
        f"evaluation needs classes: {_labeled_data_hint(shape, '')}"
    )


def _calibrated_on(data: str, ev: Any, meta: dict[str, Any]) -> str | None:
    """The data the model's threshold was fit on (its ``calibration.data``, as ``siamkit
    calibrate`` described it) when that is the folder ``data`` evaluated here, of classes
    evaluated here (a photo user calibrates on the labelled folder that evaluate then reads by
    default); ``None`` otherwise, or when the record does not say.

    The folder is calibrate's ``calibration.root`` (resolved where it ran); a record made
    before that was kept names it only as typed, which is read only when absolute: a relative
    path was relative to where calibrate ran, and from here it may name another folder (with
    the same class names) or miss the same one reached another way."""
    cal = meta.get("calibration") or {}
    said, classes, root = cal.get("data"), cal.get("classes"), cal.get("root")
    if not isinstance(said, str) or not isinstance(classes, list) or not Path(data).is_dir():
        return None
    if isinstance(root, str) and root:
        folder = root
    elif said.startswith("the folder "):  # what follows its path: " (the classes ...)" and such
        folder = said.removeprefix("the folder ").split(" (the ")[0]
    else:  # (the labelled validation folder was recorded with its root from the first)
        return None
    if not Path(folder).is_absolute() or Path(folder).resolve() != Path(data).resolve():
        return None
    evaluated = {ev.names[c] for c in ev.chosen}
    return said if evaluated & {str(c) for c in classes} else None


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


COMMANDS = [evaluate]
__all__ = ["COMMANDS", "evaluate"]
