"""``siamkit calibrate MODEL --data ...``: fit the verification threshold on validation images
(or, for a text model, on labelled validation pairs of texts).

siamkit calibrate out/model --data val_images/
siamkit calibrate out/model --data fashion-mnist --classes 0,1,2,3,4,5
siamkit calibrate runs/tickets/model --data val_pairs.csv
siamkit calibrate out/model --data val_image_pairs.csv
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import click

from siamkit.cli._eval_data import (
    _own_folder_classes,
    labelled_val_root,
    load_eval_data,
    run_data_default,
    val_root_note,
    val_root_source,
)
from siamkit.cli._image_pairs import (
    TEXT_PAIRS_FORMAT,
    is_pairs_file,
    refuse_class_options,
    refuse_image_pairs,
)
from siamkit.cli._inputs import (
    DATASET_NAMES,
    PROGRESS,
    check_input,
    class_tokens,
    friendly_errors,
    given_on_command_line,
    model_image_shape,
    refuse_fashion_mnist_options,
    refuse_given,
    text_model_folder,
)
from siamkit.cli.text_evaluate import COLUMNS

#: Pairs of the rarer kind (genuine or impostor) that the --max-pairs a refusal suggests gives
#: a sample on average: far from none.
RARER_PAIRS = 20


def _cap_too_small(max_pairs: int, sampled: tuple[int, int], whole: tuple[int, int]) -> ValueError:
    """The error for a ``--max-pairs`` sample with no genuine or no impostor pair (``sampled``:
    genuine, impostor) of data that has both (``whole``), naming a cap that would do."""
    total = sum(whole)
    enough = min(total, math.ceil(RARER_PAIRS * total / max(1, min(whole))))
    return ValueError(
        f"--max-pairs {max_pairs:,} is too small a sample for both genuine and impostor pairs "
        f"(it drew {sampled[0]:,} genuine and {sampled[1]:,} impostor of the {total:,} pairs "
        f"here): raise it, e.g. --max-pairs {enough:,}"
    )


def _test_class_names(meta: dict[str, Any]) -> set[str]:
    """Names of the classes the model's run kept for testing (empty when it does not say)."""
    run = meta.get("run") or {}
    names = meta.get("class_names") or []
    return {names[c] for c in run.get("test_classes") or () if 0 <= c < len(names)}


def _held_out_class_names(meta: dict[str, Any]) -> list[str]:
    """Names of the whole classes the model's run held out of training for validation
    (``data.val_classes``); empty when it held out images of every class, or does not say. A
    model saved before its run recorded ``val_held_out`` (2026-12-05) has them in its config
    only, and in its run as the classes neither trained on nor tested."""
    run = meta.get("run") or {}
    names = meta.get("class_names") or []
    if "val_held_out" not in run:
        asked = ((meta.get("config") or {}).get("data") or {}).get("val_classes")
        train, test = run.get("train_classes"), run.get("test_classes")
        if not asked or not isinstance(train, list) or not isinstance(test, list):
            return []
        return [n for c, n in enumerate(names) if c not in train and c not in test]
    if run.get("val_held_out") != "classes":
        return []
    return [names[c] for c in run.get("val_classes") or () if 0 <= c < len(names)]


def _named(classes: list[str]) -> str:
    """``"a is a class"`` or ``"a, b are classes"``."""
    return f"{classes[0]} is a class" if len(classes) == 1 else f"{', '.join(classes)} are classes"


def _refuse_test_classes(meta: dict[str, Any], chosen_names: list[str]) -> None:
    clash = sorted(_test_class_names(meta) & set(chosen_names))
    if clash:
        held = _held_out_class_names(meta)
        such = f" (here its run's validation classes: --classes {','.join(held)})" if held else ""
        raise ValueError(
            f"{_named(clash)} this model is tested on: calibrate on held-out images of its "
            f"training classes (validation data), never on test classes{such}"
        )


def _refuse_own_training_images(meta: dict[str, Any], data: str, ev: Any) -> None:
    """A run that held out whole classes for validation (``data.val_classes``) trained on every
    image its folder holds of its training classes: calibrating on them there fits the threshold
    on images the network has seen (too tight for new ones), while its validation classes are
    the held-out data it was fit on when it trained."""
    from pathlib import Path

    from siamkit.cli._eval_data import _own_folder_classes

    held = _held_out_class_names(meta)
    if not held or _own_folder_classes(Path(data), tuple(ev.names), meta) is None:
        return
    names = meta.get("class_names") or []
    train = {names[c] for c in (meta.get("run") or {}).get("train_classes") or ()}
    seen = [ev.names[c] for c in ev.chosen if ev.names[c] in train]
    if seen:
        raise ValueError(
            f"the images of {', '.join(seen)} in {data} are all ones this model trained on (its "
            "run held out whole classes for validation, not images): calibrate on its validation "
            f"classes instead (--classes {','.join(held)})"
        )


def _refuse_digits_training_images(meta: dict[str, Any], data: str, chosen: Any) -> None:
    """scikit-learn's digits have no test split: for a model trained on them, every image of its
    training classes is a training image (or one of its run's validation images), so the
    threshold would be fit on what the network has seen."""
    run = meta.get("run") or {}
    if data != "digits" or run.get("dataset") != "digits":
        return
    seen = sorted(set(run.get("train_classes") or ()) & {int(c) for c in chosen})
    if seen:
        raise ValueError(
            f"--data digits has no test split: its images of classes "
            f"{', '.join(map(str, seen))} are the ones this model trained on; calibrate on a "
            "folder of held-out images of its training classes instead"
        )


@click.command("calibrate")
@click.argument("model", callback=text_model_folder)
@click.option(
    "--data",
    default=None,
    help="Validation images: a folder with one sub-folder per class, fashion-mnist / digits, or "
    "a pairs CSV with the header path_a,path_b,same (image files relative to the CSV's folder; "
    "1 = same, 0 = not). Use held-out images of the classes the model trained on, never the "
    "classes you test on. For a text model: labelled pairs, CSV or JSONL with columns a, b and "
    "label, any case (label 1, true or yes = same; 0, false or no = not), or others named "
    "with --columns. [default: a self-supervised run's labelled validation folder "
    "(data.val_root) where it recorded one; the validation classes (data.val_classes) of the "
    "image folder a run trained on, where it held out whole classes; else required]",
)
@click.option(
    "--classes",
    help="Comma-separated class names or numbers [default: a folder's sub-folders; for built-in "
    "data the classes the model trained on, as its metadata records them; without --data, the "
    "validation classes of the folder the model's run trained on].",
)
@click.option(
    "--split",
    type=click.Choice(["test", "train"]),
    default="test",
    show_default=True,
    help="Split of a built-in dataset: 'test' holds images of the training classes that "
    "training did not use (Fashion-MNIST; digits have no test split).",
)
@click.option(
    "--data-dir", type=click.Path(file_okay=False), help="Folder with the Fashion-MNIST files."
)
@click.option(
    "--target",
    type=click.Choice(["eer", "accuracy", "far"]),
    default="eer",
    show_default=True,
    help="eer: FAR = FRR; accuracy: best balanced accuracy; far: highest TAR with FAR <= --far.",
)
@click.option(
    "--far",
    type=click.FloatRange(0, 1),
    default=1e-3,
    show_default=True,
    help="The false accept rate allowed with --target far.",
)
@click.option(  # 300,000 is verification.CALIBRATION_PAIRS, written out: --help imports no torch
    "--max-pairs",
    type=click.IntRange(min=1),
    default=None,
    help="Fit on a seeded sample of at most this many pairs (for images of classes, seeded with "
    "the model's run's eval.seed, as that run's own fit). [default: for images of classes, "
    "the pairs a training run fits its threshold on: all of them where that costs no more than "
    "a sample of 300,000 (by their number, the embedding's width and the distance), else a "
    "sample of 300,000; for a pairs file, 300,000]",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="When MODEL is a pretrained text model (a Hugging Face folder, or a named one such as "
    "all-mpnet-base-v2) rather than a siamkit model: save it here as a siamkit text model with "
    "the threshold.",
)
@click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto (CUDA if available), cpu, cuda or cuda:N.",
)
@COLUMNS
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@PROGRESS
@friendly_errors
def calibrate(
    model: str,
    data: str | None,
    classes: str | None,
    split: str,
    data_dir: str | None,
    target: str,
    far: float,
    max_pairs: int | None,
    out: str | None,
    device: str,
    columns: dict[str, str] | None,
    as_json: bool,
) -> None:
    """Fit MODEL's verification threshold on validation images and save it in the model folder.

    verify, identify, enroll's galleries, serve and export then decide "same" / "not the same"
    with it. MODEL/siamkit.json is rewritten (atomically); the weights, and so galleries made
    with the model, stay valid. An ONNX export in MODEL made with another threshold, or from
    another model (at any threshold), is removed and named, before the new threshold is saved,
    as a save over a model folder removes an export that would no longer match it (siamkit
    export writes it again); one of this model made with the same threshold is kept. Classes the model's run kept for testing are refused, and so are its
    training classes in the folder it trained on when its run held out whole classes for
    validation (data.val_classes): every image of them there is a training image.

    An image model also calibrates on a list of labelled image pairs: --data is a CSV with the
    header path_a,path_b,same (paths relative to the CSV's folder; 1 = the same, 0 = not). Each
    image is embedded once and the threshold is fit on the listed pairs' distances.

    A text model (siamkit text, or `siamkit train` with task: text) calibrates on labelled pairs
    of texts instead: --data is a CSV or JSONL file with columns a, b and label, any case (label
    1, true or yes = the same; 0, false or no = not), pairs you will not test on; a file with
    its own header names its columns with --columns (as data.columns does for siamkit train).
    Its distance is 1 - cosine similarity. A half-twin (towers of its own) is fit on a by its
    query tower against b by its document tower, and its threshold for two documents (both by
    the document tower, which text dedup --threshold auto uses) is refit on the same pairs, so
    the two never disagree; the output states both.

    \b
    Examples:
      siamkit calibrate out/model --data val_images/
      siamkit calibrate out/model --data fashion-mnist --classes 0,1,2,3,4,5
      siamkit calibrate out/model --data val_images/ --target far --far 0.001
      siamkit calibrate out/model --data val_image_pairs.csv
      siamkit calibrate runs/tickets/model --data val_pairs.csv
      siamkit calibrate runs/tickets/model --data tickets.csv --columns a=ticket_one,b=ticket_two,label=is_duplicate
      siamkit calibrate all-mpnet-base-v2 --data val_pairs.csv --out runs/mpnet-calibrated
    """
    from siamkit.cli._image_model import load_siamese
    from siamkit.cli._int8_check import val_root_trained_on
    from siamkit.encode import encode
    from siamkit.encoders.text import check_model_folder, is_pretrained_text_folder
    from siamkit.evaluation import verification
    from siamkit.evaluation.pairs import n_pairs, pair_distances
    from siamkit.experiment.protocol import threshold_seed
    from siamkit.export.bundle import read_model_config
    from siamkit.export.sidecar import TEXT_EXPORT_META
    from siamkit.training.ddp import resolve_device

    ctx = click.get_current_context()
    # a pairs file's cap: the threshold fit's sample, as images of classes take it where all
    # their pairs would cost more (verification.calibration_pairs)
    listed = verification.CALIBRATION_PAIRS if max_pairs is None else max_pairs
    if target != "far" and given_on_command_line(ctx, "far"):
        raise click.UsageError(
            f"--far is the false accept rate allowed with --target far; with --target {target} "
            "it would be ignored: add --target far, or leave --far out"
        )
    val_root: str | None = None
    own_val: list[str] | None = None  # a folder's run's validation classes, read without --data
    if data is None:  # a self-supervised run's only labels, as evaluate reads them
        data, own_val = _default_data(ctx, model)
        val_root = data if own_val is None else None
    if is_pretrained_text_folder(model):
        if classes is not None or data_dir is not None or split != "test":
            raise click.UsageError(
                "--classes, --split and --data-dir are for image models; a text model calibrates "
                f"on --data PAIRS, {TEXT_PAIRS_FORMAT}"
            )
        if out is None:
            raise click.UsageError(
                f"{model} is a pretrained text model, not a siamkit model folder: give --out DIR "
                "to save it there as a siamkit text model with the threshold"
            )
        _calibrate_text(model, data, target, far, listed, as_json, device, out, columns)
        return
    if out is not None:
        if not (Path(model) / "siamkit.json").is_file():  # neither: say what the folder lacks
            # the reader's sentences: MODEL/onnx names MODEL; a run's folder whose run saved no
            # model (checkpoint.pt, no model/) says why and that --resume finishes it
            if any((Path(model) / name).is_file() for name in (TEXT_EXPORT_META, "checkpoint.pt")):
                read_model_config(model)
            check_model_folder(model)
        raise click.UsageError(
            "--out is for a pretrained text model; a siamkit model's threshold is saved in its "
            "own folder"
        )
    doc = read_model_config(model)
    meta = doc.get("metadata") or {}
    if (doc.get("model") or {}).get("kind") == "text":
        if classes is not None or data_dir is not None or split != "test":
            raise click.UsageError(
                "--classes, --split and --data-dir are for image models; a text model calibrates "
                f"on --data PAIRS, {TEXT_PAIRS_FORMAT}"
            )
        _calibrate_text(model, data, target, far, listed, as_json, device, columns=columns)
        return
    refuse_given(ctx, ("columns",), "for a text model's pairs of texts")
    dev = resolve_device(device)
    net = load_siamese(model, dev, "calibrate")
    if is_pairs_file(data):
        refuse_class_options(click.get_current_context(), ("classes", "split", "data_dir"))
        _calibrate_image_pairs(model, net, data, target, far, listed, dev, as_json)
        return
    refuse_fashion_mnist_options(ctx, data)  # a folder, or digits: they would be ignored
    tokens = class_tokens(classes) if classes is not None or own_val is None else own_val
    ev = load_eval_data(data, meta, tokens, split, data_dir, model_image_shape(net, model), "train")
    if own_val is not None and _own_folder_classes(Path(data), ev.names, meta) is None:
        # its class numbers name other classes there: its validation classes are unknown
        raise ValueError(
            f"no --data given, and the folder this model trained on (data.root {data}) no longer "
            "holds the classes its run recorded, so which of them it held out for validation is "
            f"unknown: {_HELD_OUT_IMAGES}"
        )
    if val_root is not None:  # said as such, as evaluate says it (and reads it back)
        ev = replace(ev, source=val_root_source(val_root))
    chosen_names = [ev.names[c] for c in ev.chosen]
    _refuse_test_classes(meta, chosen_names)
    _refuse_own_training_images(meta, data, ev)
    _refuse_digits_training_images(meta, data, ev.chosen)
    if len(ev.chosen) < 2:
        given = ", ".join(chosen_names) or "none"
        if val_root is not None:  # no --data was given: name the folder it read instead
            raise ValueError(
                f"calibration needs images of at least two classes (impostor pairs), and "
                f"{ev.source} gives {len(ev.chosen)} ({given}): pass --data FOLDER with a "
                "sub-folder per class, two or more"
                + (", or --classes naming two or more of its classes" if len(ev.names) > 1 else "")
            )
        raise ValueError(
            f"calibration needs images of at least two classes (impostor pairs), and --data "
            f"{data} gives {len(ev.chosen)} ({given}): give a folder with a sub-folder per class, "
            "two or more, or --classes naming two or more"
        )
    check_input(net, ev.x)
    z = encode(net, ev.x, device=dev)
    if max_pairs is None:  # the pairs a training run's fit takes of its validation images
        sample = verification.calibration_pairs(len(ev.y), z.shape[1], net.scoring_distance)
    else:
        sample = max_pairs if n_pairs(len(ev.y)) > max_pairs else None
    # the seed the run's own fit drew its sample with, read as that fit reads it: with seed 0 for
    # every model, a run with another eval.seed got another threshold for the same images
    # wherever the rule samples (s61_FA finding 1)
    seed = threshold_seed(meta.get("config"))
    pd = pair_distances(z, ev.y, net.scoring_distance, max_pairs=sample, seed=seed)
    genuine = _genuine_pairs(ev.y)
    if sample is not None and genuine and (pd.genuine.size == 0 or pd.impostor.size == 0):
        whole = (genuine, n_pairs(len(ev.y)) - genuine)
        raise _cap_too_small(sample, (pd.genuine.size, pd.impostor.size), whole)
    if pd.genuine.size == 0:
        raise ValueError("calibration needs at least two images of one class (genuine pairs)")
    where: dict[str, Any] = {"data": ev.source, "classes": chosen_names, "images": len(ev.y)}
    notes = [val_root_note("calibrate")] if val_root is not None else []
    if own_val is not None:
        notes.append(_validation_classes_note(classes is not None))
    seen = (
        None
        if val_root is None
        else val_root_trained_on(meta, val_root, "the threshold and its TAR and FAR")
    )
    if seen is not None:  # its images are under data.root: trained on, so fit in-sample
        where["in_sample"] = True
        notes.append(seen)
    if data not in DATASET_NAMES:  # a path as typed is relative to here: evaluate, run from
        # another folder, compares the folder's own path with it
        where["root"] = str(Path(data).resolve())
    info, removed = _fit_and_save(model, pd.genuine, pd.impostor, target, far, where)
    _say_saved(model, info, removed, ev.describe(), as_json, "\n".join(notes) or None)


def _default_data(ctx: click.Context, model: str) -> tuple[str, list[str] | None]:
    """The data calibrate reads without --data, and the classes of it (``None``: all): the
    labelled validation folder of a model trained self-supervised
    (:func:`~siamkit.cli._eval_data.labelled_val_root`, as ``siamkit evaluate`` reads it), the
    only labels its run had; or, for a model trained with labels on an image folder whose run
    held out whole classes for validation (``data.val_classes``), that folder and those
    classes, the held-out images its training fit the threshold on. Else --data is missing, as
    click says it for a model trained on a built-in data set (or recording none), and in one
    sentence naming the folder (or data) it trained on for any other: neither Fashion-MNIST nor
    that folder's other classes (trained on, or its test set) are for calibrating it.

    Raises:
        ValueError: the run's folder or validation folder is gone, or it held out no whole
            classes, naming it and --data.
    """
    from siamkit.encoders.text import is_pretrained_text_folder
    from siamkit.export.bundle import read_model_config

    if not is_pretrained_text_folder(model):
        meta = read_model_config(model).get("metadata") or {}
        val_root = labelled_val_root(meta, "--data")
        if val_root is not None:
            return val_root, None
        root = run_data_default(meta, "--data", _HELD_OUT_IMAGES)  # gone, or unreadable
        held = _held_out_class_names(meta)
        if root is not None and held:
            return root, held
        if root is not None:
            raise ValueError(
                f"no --data given, and the folder this model trained on (data.root {root}) "
                "holds the images it trained on and those it is tested on, its run having held out "
                f"images, not whole classes, for validation: {_HELD_OUT_IMAGES}"
            )
    param = next(p for p in ctx.command.params if p.name == "data")
    raise click.MissingParameter(ctx=ctx, param=param)


#: What to give calibrate of a model whose training data it cannot read as held-out images.
_HELD_OUT_IMAGES = (
    "give --data a folder of held-out images of the classes it trained on (never of classes it "
    "is tested on), one sub-folder per class"
)


def _validation_classes_note(classes: bool) -> str:
    """The note calibrate says when, given no --data, it read the validation classes of the
    folder the model's run trained on (``classes``: --classes named others there).

    >>> _validation_classes_note(False).split(", its run")[0]
    'no --data given: calibrated on the folder the model trained on (data.root)'
    """
    what = (
        "the classes --classes names"
        if classes
        else "its run's validation classes (data.val_classes), held out of training but used "
        "to choose its epoch, not a test set"
    )
    return (
        f"no --data given: calibrated on the folder the model trained on (data.root), {what}; "
        "pass --data FOLDER (one sub-folder per class) to calibrate on other images"
    )


def _genuine_pairs(labels: Any) -> int:
    """Number of same-class pairs among items of ``labels``."""
    import numpy as np

    counts = np.unique(np.asarray(labels), return_counts=True)[1].astype(np.int64)
    return int((counts * (counts - 1) // 2).sum())


def _calibrate_image_pairs(
    model: str,
    net: Any,
    data: str,
    target: str,
    far: float,
    max_pairs: int,
    device: Any,
    as_json: bool,
) -> None:
    """``siamkit calibrate`` for an image model on a pairs CSV (path_a,path_b,same): the
    threshold on the listed pairs' distances (a seeded sample of ``max_pairs`` of them when there
    are more), saved as for a class folder."""
    import numpy as np

    from siamkit.cli._image_pairs import pair_scores, read_image_pairs

    pairs = read_image_pairs(data)
    if pairs.same.size > max_pairs:  # a seeded sample, as for a class folder
        whole = (pairs.n_genuine, pairs.n_impostor)
        keep = np.sort(np.random.default_rng(0).choice(pairs.same.size, max_pairs, replace=False))
        pairs = pairs.subset(keep)
        if pairs.n_genuine == 0 or pairs.n_impostor == 0:
            raise _cap_too_small(max_pairs, (pairs.n_genuine, pairs.n_impostor), whole)
    pd = pair_scores(net, pairs, model, device)
    where = {"data": data, "pairs": int(pairs.same.size), "images": len(pairs.paths)}
    info, removed = _fit_and_save(model, pd.genuine, pd.impostor, target, far, where)
    _say_saved(model, info, removed, pairs.describe(), as_json)


def _say_saved(
    model: str,
    info: dict[str, Any],
    hint: str | None,
    described: str,
    as_json: bool,
    note: str | None = None,
) -> None:
    """Print what :func:`_fit_and_save` saved (its record as JSON with ``as_json``), and
    ``hint``, the sentence naming the ONNX export it removed as of another model or threshold
    (on stderr; JSON: ``hint``, only then); ``note``: how the data was chosen, after the data's
    line (on stderr with ``as_json``)."""
    from pathlib import Path

    if as_json and note is not None:
        click.echo(note, err=True)
    if _echo_json(as_json, model, info, hint):
        return
    click.echo(f"calibrating on {described}")
    if note is not None:
        click.echo(note)
    click.echo(
        f"threshold {info['threshold']:.4f} ({info['target']}): TAR {info['tar']:.3f}, FAR "
        f"{info['far']:.3f} on {info['genuine_pairs']:,} genuine / "
        f"{info['impostor_pairs']:,} impostor pairs; saved in {Path(model) / 'siamkit.json'}"
    )
    if hint is not None:  # on stderr, as a save's "Removed ..." and calibrate's failed one
        click.echo(hint, err=True)


def _removed_then_saved(
    model: str,
    threshold: float,
    info: dict[str, Any],
    document_threshold: float | None = None,
) -> str | None:
    """Remove MODEL's ONNX exports that would not match it with ``threshold``, then save it
    (with ``info``, and ``document_threshold``: :func:`write_threshold`); the sentence naming
    what was removed and the ``siamkit export`` commands that write it again, ``None`` when
    nothing was (the paths removed: ``info["removed"]``, for ``--json``). Removed first (:func:`siamkit.export.bundle.remove_stale_exports`, the rule a
    save over a model folder follows: an export carries its threshold, which the torch-free
    runtime decides by), so that a kill or a failure between the two loses at most an export,
    and never leaves one of the old threshold to be served with the new one in siamkit.json;
    a failed save, or a removal that failed part-way, says what was removed before it raises."""

    from siamkit.clauses import in_number, listed
    from siamkit.export.bundle import (
        by_name_clause,
        export_again,
        export_commands,
        read_model_config,
        remove_stale_exports,
        unhashed_text_exports,
    )
    from siamkit.export.threshold_file import write_threshold

    commands = export_commands(Path(model))  # read before the export's records go
    unhashed = unhashed_text_exports(Path(model))  # whose files go by their names, said so

    def sentence(removed: list[Path], saved: bool) -> str:
        made, blocking = export_again(commands, removed)
        one = len(made) <= 1
        what = f"the {in_number(len(made) or 1, 'ONNX export')}"
        said = f"Removed {listed([str(p) for p in removed])}: {what} of another model or threshold"
        if saved:
            said += ", which would no longer match the model"
        else:
            said += " than the one being saved, before that save, which did not finish"
        if made:
            named = listed([f"`{c}`" for c in made])
            again = f"{named} {'writes it' if one else 'write them'} again"
            again += " with the new one" if saved else ""
            if blocking:
                again += f" once you move {listed([str(p) for p in blocking])} elsewhere"
            said += f" ({again})"
        return said + by_name_clause(unhashed, removed)

    deleted: list[Path] = []  # named where the removal fails part-way: the save's rule
    try:
        removed = remove_stale_exports(model, threshold, deleted)
    except BaseException:
        if deleted:  # the threshold is not saved: the line says what is gone already
            click.echo(sentence(deleted, saved=False), err=True)
        raise
    try:
        write_threshold(model, threshold, info, document_threshold=document_threshold)
    except BaseException:
        if removed:  # stopped in the write (Ctrl-C) after its rename, it is saved all the same
            try:
                saved = read_model_config(model).get("threshold") == threshold
            except (OSError, ValueError):
                saved = False
            click.echo(sentence(removed, saved), err=True)
        raise
    if not removed:
        return None
    info["removed"] = [str(p) for p in removed]  # for --json, after the record is saved
    return sentence(removed, saved=True)


def _echo_json(as_json: bool, model: str, info: dict[str, Any], hint: str | None) -> bool:
    """With ``as_json``, print the saved record (``hint`` only when there is one) and say so."""
    if as_json:
        doc = {"model": model, **info, **({"hint": hint} if hint else {})}
        click.echo(json.dumps(doc, indent=2))
    return as_json


def _at_least(rate: float) -> float:
    """``rate`` rounded up to 3 significant digits, so that the ``--far`` it is offered as
    still allows the false accepts it counts (``0.0012345`` -> ``0.00124``).

    >>> _at_least(0.0012345), _at_least(0.25)
    (0.00124, 0.25)
    """
    places = 2 - math.floor(math.log10(rate))
    return max(rate, math.ceil(round(rate * 10**places, 9)) / 10**places)


def _nothing_accepted(impostor: Any, target: str, far: float) -> ValueError:
    """The error for a fit whose threshold accepts no pair at all, which a distance of 0 makes
    negative: no model of distances >= 0 takes it (its reader refuses it). For a far fit, the
    impostor pairs it cannot reject: every model calls a pair the same up to float32 rounding
    (:data:`siamkit.decision.ROUNDING`) above its threshold, so a pair at that distance or less
    is accepted at every threshold >= 0 (:func:`siamkit.evaluation.threshold.rejects` at 0:
    in float32 or float64)."""
    from siamkit.clauses import in_number
    from siamkit.decision import ROUNDING
    from siamkit.evaluation.threshold import rejects

    always = ~rejects(impostor, 0.0)
    n, zero, exact = int(impostor.size), int(always.sum()), bool((impostor[always] <= 0).all())
    if target == "far" and zero:
        at = "at distance 0" if exact else f"at distance {ROUNDING:g} or less"
        them = "it" if zero == 1 else "them"
        within = (
            ""
            if exact
            else f", as a model calls a pair the same up to {ROUNDING:g} (float32 rounding) above "
            "its threshold"
        )
        return ValueError(
            f"no threshold keeps the false accept rate within --far {far:g}: {zero:,} of the "
            f"{n:,} impostor pairs {in_number(zero, 'is', 'are')} {at} (the two sides "
            f"embed as one, e.g. the same image or text given as different), and every threshold "
            f"accepts {them}{within}; remove {them} from --data, or allow {them} with --far "
            f"{_at_least(zero / n):g} or more"
        )
    return ValueError(
        f"--target {target} is met best here by accepting no pair at all (the model puts "
        "impostor pairs closer than genuine ones), which no threshold >= 0 does while a pair is "
        "at distance 0: check that --data holds labelled validation data of the model's own kind"
    )


def _fit(
    genuine: Any,
    impostor: Any,
    target: str,
    far: float,
    where: dict[str, Any],
    signed: bool = False,
) -> dict[str, Any]:
    """Fit the threshold on genuine and impostor distances (numpy arrays): the record saved
    under ``metadata.calibration``, with ``where`` (what the pairs came from) and the fit's TAR
    and FAR as the model decides with it (:func:`siamkit.decision.accepts`: up to float32
    rounding above the threshold). ``signed``: the values are a score-normalised model's
    scores, which may be negative, and so may its threshold; a distance's threshold below 0 is
    refused (:func:`_nothing_accepted`). A far fit never accepts more impostor pairs than
    ``far`` allows as the model decides: the calibrator stays under the first impostor it
    rejects by the least that has every reader reject it even computed its room lower
    (:func:`siamkit.decision.room`: 1e-5, scale-relative beyond 5.24)
    (:func:`siamkit.evaluation.threshold.highest_rejecting`; room for verify's and the ONNX
    runtime's own computation of the distance), not below 0 for that room, and below 0 only
    when that pair is at float32 rounding of 0 or less."""
    import numpy as np

    from siamkit.decision import accepts
    from siamkit.evaluation.threshold import Target, ThresholdCalibrator

    cal = ThresholdCalibrator(cast(Target, target), far=far, signed=signed)  # a Choice
    cal = cal.fit(genuine, impostor)
    t = float(cal.threshold_)
    if t < 0 and not signed:  # below every distance, one of them 0: it accepts nothing
        raise _nothing_accepted(impostor, target, far)
    info: dict[str, Any] = {
        "threshold": t, "target": target, **where, "genuine_pairs": int(genuine.size),
        "impostor_pairs": int(impostor.size), "tar": float(np.mean(accepts(genuine, t))),
        "far": float(np.mean(accepts(impostor, t))),
    }  # fmt: skip
    if target == "far":
        info["far_target"] = far
    return info


def _fit_and_save(
    model: str, genuine: Any, impostor: Any, target: str, far: float, where: dict[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """:func:`_fit`, the threshold and its record then saved in the model folder ``model``
    (a score-normalised model's threshold may be negative, as its reader takes it), and the
    ONNX export of another threshold removed first: the record, and the sentence naming what
    was removed (:func:`_removed_then_saved`)."""
    from siamkit.export.bundle import read_model_config

    signed = (read_model_config(model).get("model") or {}).get("score_norm") is not None
    info = _fit(genuine, impostor, target, far, where, signed)
    return info, _removed_then_saved(model, info["threshold"], info)


def _calibrate_text(
    model: str,
    data: str,
    target: str,
    far: float,
    max_pairs: int,
    as_json: bool,
    device: str = "auto",
    out: str | None = None,
    columns: dict[str, str] | None = None,
) -> None:
    """``siamkit calibrate`` for a text model: the threshold on the distances (1 - cosine) of
    labelled pairs of texts, embedded on ``device``, saved as for images (``out``: a pretrained
    folder is first saved there as a siamkit text model; ``columns``: ``--columns``)."""
    from pathlib import Path

    import numpy as np

    from siamkit.applications.text import load_text_model
    from siamkit.applications.text.embedding import embed_texts
    from siamkit.applications.text.pairs import read_labelled_pairs
    from siamkit.training.ddp import resolve_device

    if out is not None and Path(out).exists():
        raise click.UsageError(f"{out} already exists; choose a new --out folder")
    dev = resolve_device(device)  # checked before the data is read
    if Path(data).is_dir() or Path(data).suffix.lower() not in (".csv", ".jsonl"):
        raise click.UsageError(
            f"--data {data}: a text model calibrates on labelled pairs of texts, "
            f"{TEXT_PAIRS_FORMAT}"
        )
    refuse_image_pairs(data)
    # read and checked before the model loads
    ex = read_labelled_pairs(data, "calibration", columns, columns_key="--columns")
    y = np.asarray(ex.targets)
    a, b = np.asarray(ex.texts[0], dtype=object), np.asarray(ex.texts[1], dtype=object)
    numbers = np.arange(1, len(y) + 1)  # each pair's number in the file, which a refusal names
    if len(y) > max_pairs:  # a seeded sample, as for images (the file holds both labels)
        whole = (int((y == 1).sum()), int((y == 0).sum()))
        keep = np.sort(np.random.default_rng(0).choice(len(y), max_pairs, replace=False))
        a, b, y, numbers = a[keep], b[keep], y[keep], numbers[keep]
        if not (y == 1).any() or not (y == 0).any():  # refused before the model loads
            raise _cap_too_small(max_pairs, (int((y == 1).sum()), int((y == 0).sum())), whole)
    net = load_text_model(model).to(dev)
    progress = False if as_json else None  # a bar on a terminal, none in JSON mode

    def vectors(column: str, role: str) -> np.ndarray:
        # a NaN embedding is named by its pair and column, not by its row of the sample
        # (s55_R2 finding 2)
        texts = a if column == "a" else b
        names = [f"pair {n}'s {column}" for n in numbers.tolist()]
        emb = embed_texts(  # calibrate runs no search: it fits a threshold
            net,
            list(texts),
            role=role,
            progress=progress,
            unit=f"{column} texts",
            names=names,
            which="no threshold can be fitted on",
        )
        return np.asarray(emb.vectors)

    zb = vectors("b", "document")
    d = np.clip(1.0 - (vectors("a", "query") * zb).sum(1), 0.0, 2.0)
    genuine, impostor = d[y == 1], d[y == 0]
    info = _fit(genuine, impostor, target, far, {"data": data})
    if not getattr(net, "share_weights", True):  # a half-twin: its dedup threshold as well
        dd = np.clip(1.0 - (vectors("a", "document") * zb).sum(1), 0.0, 2.0)
        info.update(_documents_fit(dd[y == 1], dd[y == 0], target, far))
        net.document_threshold = info["document_threshold"]
    hint = None
    if out is not None:  # one atomic save: no model folder without its threshold, even on kill -9
        from siamkit.export.bundle import save_model

        meta = {"task": "text", "pretrained_from": str(model), "calibration": info}
        save_model(net, out, threshold=info["threshold"], metadata=meta)
        model = out
    else:  # the two thresholds in one write: never one refitted without the other
        both = info.get("document_threshold")
        hint = _removed_then_saved(model, info["threshold"], info, both)
    if _echo_json(as_json, model, info, hint):
        return
    t = info["threshold"]
    pairs = f"{genuine.size:,} genuine / {impostor.size:,} impostor pairs of {data}"
    if "document_threshold" not in info:
        click.echo(
            f"threshold {t:.4f} ({target}; similarity >= {1 - t:.4f} is the same): TAR "
            f"{info['tar']:.3f}, FAR {info['far']:.3f} on {pairs}; saved in {model}/siamkit.json"
        )
    else:
        td = info["document_threshold"]
        click.echo(
            f"threshold {t:.4f} ({target}; similarity >= {1 - t:.4f} is the same) for a query "
            f"(query tower) against a document (document tower): TAR {info['tar']:.3f}, FAR "
            f"{info['far']:.3f} on {pairs}\n"
            f"document threshold {td:.4f} ({target}; similarity >= {1 - td:.4f}) for two "
            "documents, both by the document tower, as text dedup --threshold auto compares "
            f"them: TAR {info['document_tar']:.3f}, FAR {info['document_far']:.3f} on the same "
            f"pairs; both saved in {model}/siamkit.json"
        )
    if hint is not None:  # on stderr, as a save's "Removed ..." and calibrate's failed one
        click.echo(hint, err=True)


def _documents_fit(genuine: Any, impostor: Any, target: str, far: float) -> dict[str, Any]:
    """A half-twin's threshold for two documents (both sides embedded by its document tower,
    as ``siamkit text dedup`` compares them), fit on the distances of the same labelled pairs
    as its query-document threshold with the same target: ``document_threshold``,
    ``document_tar`` and ``document_far``, recorded beside the other's."""
    fit = _fit(genuine, impostor, target, far, {})
    return {f"document_{k}": fit[k] for k in ("threshold", "tar", "far")}


COMMANDS = [calibrate]
