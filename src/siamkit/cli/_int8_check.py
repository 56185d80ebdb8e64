"""How much accuracy int8 quantisation costs: fp32 and int8 ONNX files on the same held-out images."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHECK_IMAGES = 1000
CHECK_EPISODES = 300
CHECK_QUERIES = 15


def held_out_images(
    model_dir: str, model_doc: dict[str, Any], shape: tuple[int, ...], check_data: str | None
) -> tuple[Any, Any, str] | None:
    """Images ``(N, C, H, W)`` in [0, 1], labels and a description, or ``None`` when there are none.

    ``check_data`` (a folder or built-in name) if given; else the test split of the model's
    built-in dataset (its test classes), the image folder it trained on while that is still
    there (its test classes), or Fashion-MNIST's test split for 1×28×28 models (the int8
    calibration used the train split). At most :data:`CHECK_IMAGES`, a seeded sample.

    Raises:
        ValueError: ``check_data`` was given and cannot be used with this model (no such
            folder, a folder not laid out by class, built-in images of another shape), so that
            the export refuses it before writing anything rather than saying nothing was given.
    """
    import torch

    from siamkit.cli._inputs import (
        BUILTIN_SHAPES,
        DATASET_NAMES,
        load_eval_data,
        training_folder,
    )

    given = check_data
    meta = model_doc.get("metadata") or {}
    run = meta.get("run") or {}
    root, _ = training_folder(meta)
    if check_data is None and run.get("dataset") in DATASET_NAMES:
        check_data = run["dataset"]
    elif check_data is None and root is not None and Path(root).is_dir():
        check_data = root
    elif check_data is None and tuple(shape) == BUILTIN_SHAPES["fashion-mnist"]:
        check_data, meta = "fashion-mnist", {}
    if given is not None and len(shape) != 3:
        raise ValueError(
            f"--check-data is held-out images, and this model takes {tuple(shape)} inputs, "
            "not images: leave --check-data out"
        )
    if given is not None and given not in DATASET_NAMES and not Path(given).is_dir():
        raise ValueError(
            f"--check-data {given}: no such folder; give a folder with one sub-folder per "
            f"class, or {' or '.join(DATASET_NAMES)}"
        )
    if given in DATASET_NAMES and shape[0] != 1:
        raise ValueError(
            f"--check-data {given} holds grayscale images and this model takes "
            f"{shape[0]}-channel ones; give a folder of held-out images by class"
        )
    builtin = BUILTIN_SHAPES.get(str(given))
    if builtin is not None and tuple(shape) != builtin:  # built-in images are not resized
        raise ValueError(
            f"--check-data {given} holds {'x'.join(map(str, builtin))} images and this model "
            f"takes {'x'.join(str(s) for s in shape)} ones; give a folder of held-out images by "
            "class (they are resized to fit)"
        )
    if check_data is None or len(shape) != 3:
        return None
    classes = None if (meta or Path(check_data).is_dir()) else [str(c) for c in range(10)]
    ev = load_eval_data(
        check_data,
        meta,
        classes,
        "test",
        None,
        tuple(shape),  # type: ignore[arg-type]
        option="--check-data",
    )
    pick = torch.randperm(len(ev.y), generator=torch.Generator().manual_seed(0))[:CHECK_IMAGES]
    x = ev.x[pick]
    # (a folder is read at the model's shape; built-in images of another shape are refused
    # above when given, and by load_eval_data otherwise)
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    return (
        x.numpy(),
        ev.y[pick].numpy(),
        f"{len(pick)} images of {ev.describe().split(' of ', 1)[1]}",
    )


def _scores(path: str, x: Any, y: Any, n_way: int, n_query: int) -> dict[str, float]:
    from siamkit.evaluation import evaluate_embeddings
    from siamkit.export.runtime import OnnxEmbedder

    emb = OnnxEmbedder(path)
    z = emb.embed(x)
    rep = evaluate_embeddings(
        z, y, emb.distance_name, few_shot=[(n_way, 1)], episodes=CHECK_EPISODES,
        n_query=n_query, retrieval=False,
    )  # fmt: skip
    assert rep.verification is not None
    return {"eer": rep.verification.eer, "one_shot": next(iter(rep.few_shot.values())).accuracy}


def int8_accuracy_change(
    fp32_path: str, int8_path: str, images: tuple[Any, Any, str]
) -> dict[str, Any]:
    """EER and N-way 1-shot accuracy of both files on ``images`` and the change (int8 - fp32)."""
    import numpy as np

    from siamkit.evaluation.few_shot import max_queries

    x, y, source = images
    # up to 5 ways and 15 queries, fewer where the classes are small (a 1-shot episode takes
    # one support image and at least one query from each of its classes)
    n_way = min(5, int((np.unique(y, return_counts=True)[1] >= 2).sum()))
    if n_way < 2:
        raise ValueError("the accuracy check needs at least two classes of two images each")
    n_query = min(CHECK_QUERIES, max_queries(y, n_way, 1))
    fp32 = _scores(fp32_path, x, y, n_way, n_query)
    int8 = _scores(int8_path, x, y, n_way, n_query)
    return {
        "images": source, "n_way": n_way, "n_query": n_query, "episodes": CHECK_EPISODES,
        "fp32": fp32, "int8": int8, "change": {k: int8[k] - fp32[k] for k in fp32},
    }  # fmt: skip


def describe(check: dict[str, Any]) -> str:
    """One line: ``int8 vs fp32 on 1000 images of ...: EER 0.2012 -> 0.2031 (+0.0019), ...``.

    Four decimals, as evaluate's table, and each change is that of the figures shown, so the
    line adds up (0.045 -> 0.045 (+0.001) did not)."""

    def change(key: str) -> str:
        a, b = (round(float(v[key]), 4) for v in (check["fp32"], check["int8"]))
        return f"{a:.4f} -> {b:.4f} ({round(b - a, 4) + 0.0:+.4f})"  # + 0.0: no -0.0000

    return (
        f"int8 vs fp32 on {check['images']}: EER {change('eer')}, "
        f"{check['n_way']}-way 1-shot {change('one_shot')}"
    )
