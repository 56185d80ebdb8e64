"""``siamkit calibrate MODEL --data ...``: fit the verification threshold on validation images.

siamkit calibrate out/model --data val_images/
siamkit calibrate out/model --data fashion-mnist --classes 0,1,2,3,4,5
"""

from __future__ import annotations

import json
from typing import Any

import click

from siamkit.cli._inputs import (
    check_input,
    class_tokens,
    friendly_errors,
    load_eval_data,
    model_image_shape,
)

MAX_PAIRS = 300_000


def _test_class_names(meta: dict[str, Any]) -> set[str]:
    """Names of the classes the model's run kept for testing (empty when it does not say)."""
    run = meta.get("run") or {}
    names = meta.get("class_names") or []
    return {names[c] for c in run.get("test_classes") or () if 0 <= c < len(names)}


def _refuse_test_classes(meta: dict[str, Any], chosen_names: list[str]) -> None:
    clash = sorted(_test_class_names(meta) & set(chosen_names))
    if clash:
        raise ValueError(
            f"{', '.join(clash)} are classes this model is tested on: calibrate on held-out "
            "images of its training classes (validation data), never on test classes"
        )


@click.command("calibrate")
@click.argument("model", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--data",
    required=True,
    help="Validation images: a folder with one sub-folder per class, or fashion-mnist / digits. "
    "Use held-out images of the classes the model trained on, never the classes you test on.",
)
@click.option(
    "--classes",
    help="Comma-separated class names or numbers [default: a folder's sub-folders; for built-in "
    "data the classes the model trained on, as its metadata records them].",
)
@click.option(
    "--split",
    type=click.Choice(["test", "train"]),
    default="test",
    show_default=True,
    help="Split of a built-in dataset: 'test' holds images of the training classes that "
    "training did not use.",
)
@click.option("--data-dir", type=click.Path(file_okay=False), help="Folder with Fashion-MNIST.")
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
@click.option(
    "--max-pairs",
    type=click.IntRange(min=1),
    default=MAX_PAIRS,
    show_default=True,
    help="Fit on a seeded sample of at most this many pairs.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@friendly_errors
def calibrate(
    model: str,
    data: str,
    classes: str | None,
    split: str,
    data_dir: str | None,
    target: str,
    far: float,
    max_pairs: int,
    device: str,
    as_json: bool,
) -> None:
    """Fit MODEL's verification threshold on validation images and save it in the model folder.

    verify, identify, enroll's galleries, serve and export then decide "same" / "not the same"
    with it. Only MODEL/siamkit.json is rewritten (atomically); the weights, and so galleries made
    with the model, stay valid. Classes the model's run kept for testing are refused.

    \b
    Examples:
      siamkit calibrate out/model --data val_images/
      siamkit calibrate out/model --data fashion-mnist --classes 0,1,2,3,4,5
      siamkit calibrate out/model --data val_images/ --target far --far 0.001
    """
    from pathlib import Path

    import numpy as np

    from siamkit.cli.train_cmds import load_siamese
    from siamkit.encode import encode
    from siamkit.evaluation.pairs import n_pairs, pair_distances
    from siamkit.evaluation.threshold import ThresholdCalibrator
    from siamkit.export.bundle import read_model_config
    from siamkit.export.threshold_file import write_threshold
    from siamkit.training.ddp import resolve_device

    meta = read_model_config(model).get("metadata") or {}
    dev = resolve_device(device)
    net = load_siamese(model, dev)
    ev = load_eval_data(
        data, meta, class_tokens(classes), split, data_dir, model_image_shape(net, model), "train"
    )
    chosen_names = [ev.names[c] for c in ev.chosen]
    _refuse_test_classes(meta, chosen_names)
    if len(ev.chosen) < 2:
        raise ValueError("calibration needs images of at least two classes (impostor pairs)")
    check_input(net, ev.x)
    z = encode(net, ev.x, device=dev)
    sample = max_pairs if n_pairs(len(ev.y)) > max_pairs else None
    pd = pair_distances(z, ev.y, net.scoring_distance, max_pairs=sample, seed=0)
    if pd.genuine.size == 0:
        raise ValueError("calibration needs at least two images of one class (genuine pairs)")
    cal = ThresholdCalibrator(target, far=far).fit(pd.genuine, pd.impostor)  # type: ignore[arg-type]
    tar = float(np.mean(pd.genuine <= cal.threshold_))
    far_at = float(np.mean(pd.impostor <= cal.threshold_))
    info = {
        "threshold": cal.threshold_, "target": target, "data": ev.source, "classes": chosen_names,
        "images": len(ev.y), "genuine_pairs": int(pd.genuine.size),
        "impostor_pairs": int(pd.impostor.size), "tar": tar, "far": far_at,
    }  # fmt: skip
    if target == "far":
        info["far_target"] = far
    write_threshold(model, cal.threshold_, info)
    if as_json:
        click.echo(json.dumps({"model": model, **info}, indent=2))
        return
    click.echo(f"calibrating on {ev.describe()}")
    click.echo(
        f"threshold {cal.threshold_:.4f} ({target}): TAR {tar:.3f}, FAR {far_at:.3f} on "
        f"{pd.genuine.size:,} genuine / {pd.impostor.size:,} impostor pairs; saved in "
        f"{Path(model) / 'siamkit.json'}"
    )
    if (Path(model) / "onnx.json").exists():
        click.echo("ONNX files exported before still carry the old threshold: export them again")


COMMANDS = [calibrate]
