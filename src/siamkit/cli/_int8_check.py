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


def run_protocol(model_doc: dict[str, Any]) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """The N-way K-shot the model's run evaluated with: its saved config's ``eval.shots`` and
    ``eval.ways`` (``()``: ``null``, the number of classes decides), each the config's default
    where missing; ``None`` when the model records no run config, or one that cannot be read.

    >>> run_protocol({"metadata": {"config": {"eval": {"shots": [1, 5], "ways": 20}}}})
    ((1, 5), (20,))
    >>> run_protocol({"metadata": {"config": {"eval": {"shots": 1, "ways": None}}}})
    ((1,), ())
    >>> run_protocol({"metadata": {}}) is None
    True
    """
    section = ((model_doc.get("metadata") or {}).get("config") or {}).get("eval")
    if not isinstance(section, dict):
        return None

    def sizes(key: str, default: Any, least: int) -> tuple[int, ...] | None:
        value = section.get(key, default)
        values = [] if value is None else [value] if isinstance(value, int) else value
        if not isinstance(values, (list, tuple)):
            return None
        ok = all(isinstance(v, int) and not isinstance(v, bool) and v >= least for v in values)
        return tuple(values) if ok else None

    shots, ways = sizes("shots", [1, 5], 1), sizes("ways", None, 2)
    if not shots or ways is None:
        return None
    return shots, ways


def check_settings(
    y: Any, protocol: tuple[tuple[int, ...], tuple[int, ...]] | None
) -> tuple[list[dict[str, int]], str]:
    """The N-way K-shot settings (``n_way``, ``k_shot``, ``n_query``) the check measures on
    labels ``y``, and a sentence saying which and why.

    The run's recorded ``protocol`` (:func:`run_protocol`), so that the figures compare with its
    ``metrics.json``: ``eval.ways`` capped at the classes there are (``null``: all of them up to
    20, else 5 and 20, as the run took them), each of ``eval.shots`` the images allow (K shots
    and a query in N classes), with up to :data:`CHECK_QUERIES` queries. Without a recorded
    protocol, or when the images allow none of it, up to 5-way 1-shot.
    """
    import numpy as np

    from siamkit.evaluation.few_shot import max_queries
    from siamkit.training.config import EvalConfig, resolved_ways

    def setting(n: int, k: int) -> dict[str, int]:
        return {"n_way": n, "k_shot": k, "n_query": min(CHECK_QUERIES, max_queries(y, n, k))}

    counts = np.unique(y, return_counts=True)[1]
    fallback = min(5, int((counts >= 2).sum()))
    if protocol is None:
        return [setting(fallback, 1)], "the model records no run's eval.ways or eval.shots"
    shots, ways = protocol
    recorded = (
        f"eval.ways {','.join(map(str, ways)) if ways else 'null'}, "
        f"eval.shots {','.join(map(str, shots))}"
    )
    n_ways = resolved_ways(EvalConfig(ways=ways or None), len(counts))
    kept = [(n, k) for n in n_ways for k in shots if n >= 2 and max_queries(y, n, k) >= 1]
    if not kept:
        return [setting(fallback, 1)], (
            f"the model's run recorded {recorded}, which these images do not allow (K-shot "
            "needs K + 1 images in each of N classes)"
        )
    notes = []
    capped = [n for n in ways if n > len(counts)]
    if capped:
        notes.append(
            f"{','.join(map(str, capped))}-way ran as {len(counts)}-way ({len(counts)} classes "
            "here)"
        )
    left = [k for k in shots if all(kk != k for _, kk in kept)]
    if left:
        notes.append(f"{','.join(map(str, left))}-shot left out (too few images a class)")
    said = f"N-way K-shot as the model's run recorded it: {recorded}"
    return [setting(n, k) for n, k in kept], "; ".join([said, *notes])


def _scores(path: str, x: Any, y: Any, settings: list[dict[str, int]]) -> dict[str, float]:
    from siamkit.evaluation import evaluate_embeddings
    from siamkit.evaluation.few_shot import few_shot_episodes
    from siamkit.export.runtime import OnnxEmbedder

    emb = OnnxEmbedder(path)
    z = emb.embed(x)
    rep = evaluate_embeddings(z, y, emb.distance_name, few_shot=(), retrieval=False)
    assert rep.verification is not None
    scores = {"eer": rep.verification.eer}
    for s in settings:
        acc = few_shot_episodes(z, y, s["n_way"], s["k_shot"], s["n_query"], CHECK_EPISODES,
                                distance=emb.distance_name).accuracy  # fmt: skip
        scores[f"{s['n_way']}way{s['k_shot']}shot"] = acc
    return scores


def int8_accuracy_change(
    fp32_path: str,
    int8_path: str,
    images: tuple[Any, Any, str],
    protocol: tuple[tuple[int, ...], tuple[int, ...]] | None = None,
) -> dict[str, Any]:
    """EER and N-way K-shot accuracy of both files on ``images`` and the change (int8 - fp32),
    at the settings of :func:`check_settings` (the run's recorded ``protocol`` where given)."""
    import numpy as np

    x, y, source = images
    if int((np.unique(y, return_counts=True)[1] >= 2).sum()) < 2:
        raise ValueError("the accuracy check needs at least two classes of two images each")
    settings, basis = check_settings(y, protocol)
    fp32 = _scores(fp32_path, x, y, settings)
    int8 = _scores(int8_path, x, y, settings)
    return {
        "images": source, "few_shot": settings, "episodes": CHECK_EPISODES, "few_shot_basis": basis,
        "fp32": fp32, "int8": int8, "change": {k: int8[k] - fp32[k] for k in fp32},
    }  # fmt: skip


def describe(check: dict[str, Any]) -> str:
    """One line: ``int8 vs fp32 on 1000 images of ...: EER 0.2012 -> 0.2031 (+0.0019), 20-way
    1-shot ... (N-way K-shot as the model's run recorded it: ...)``.

    Four decimals, as evaluate's table, and each change is that of the figures shown, so the
    line adds up (0.045 -> 0.045 (+0.001) did not)."""

    def change(key: str) -> str:
        a, b = (round(float(v[key]), 4) for v in (check["fp32"], check["int8"]))
        return f"{a:.4f} -> {b:.4f} ({round(b - a, 4) + 0.0:+.4f})"  # + 0.0: no -0.0000

    shots = ", ".join(
        f"{n}-way {k}-shot {change(f'{n}way{k}shot')}"
        for n, k in ((s["n_way"], s["k_shot"]) for s in check["few_shot"])
    )
    return (
        f"int8 vs fp32 on {check['images']}: EER {change('eer')}, {shots} "
        f"({check['few_shot_basis']})"
    )
