"""How much accuracy int8 quantisation costs: fp32 and int8 ONNX files on the same held-out images."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from siamkit.clauses import counted, listed

CHECK_IMAGES = 1000
CHECK_EPISODES = 300
CHECK_QUERIES = 15
#: The check's own episodes, queries and seed, where the model's run records none.
_CHECK_OWN = {"episodes": CHECK_EPISODES, "queries": CHECK_QUERIES, "seed": 0}
#: The fewest genuine pairs (two images of one class) the check's figures are worth reading
#: at. The EER is read where the genuine pairs' rejection rate meets the impostors', so one
#: genuine pair moves it by up to 1 / (genuine pairs): below 100 pairs that step is above 0.01,
#: the size of change an int8 file is judged by, and the change shown is mostly which few pairs
#: the images happen to give; few-shot episodes redraw the same few images too (4 images in 2
#: classes give 2 pairs: an EER in steps of 0.5).
MIN_GENUINE_PAIRS = 100


#: What to do when a half-twin's own validation rows are too few (:func:`too_few_images`).
_FEW_ROWS = (
    f"a run holding out rows with {MIN_GENUINE_PAIRS} genuine pairs or more (data.val_fraction) "
    "gives figures worth reading"
)


class CheckImages(NamedTuple):
    """What the int8 check scores: inputs ``x`` ``(N, ...)`` and labels ``y`` ``(N,)``, a
    description, how they differ from the run's test set (``None``: they are it), and for a
    half-twin the inputs of tower g paired row by row with ``x`` (``g_inputs``, its run's ``y``
    data), or why there are none (``no_g_inputs``: g is then given ``x`` itself, resized);
    ``remedy``: what to give when they are too few (:func:`too_few_images`), if not a folder;
    ``signatures``: for a signature model, its writers' genuine signatures and skilled forgeries
    with the references, reduction and seed it verifies with (:class:`SignatureCheck`);
    ``in_sample``: the note that they are images the run trained on (its labelled validation
    folder under its data.root: :func:`val_root_trained_on`), else ``None``."""

    x: Any
    y: Any
    source: str
    differs: str | None
    g_inputs: Any = None
    no_g_inputs: str = ""
    remedy: str | None = None
    signatures: Any = None
    in_sample: str | None = None


def too_few_images(y: Any, remedy: str | None = None) -> str | None:
    """The sentence saying that the check images in labels ``y`` are too few for its figures to
    mean much (fewer than :data:`MIN_GENUINE_PAIRS` genuine pairs), else ``None``; ``remedy``
    replaces its closing advice (to give --check-data more images).

    >>> too_few_images([0, 0, 1, 1])
    'too few images for the figures to mean much: 2 genuine pairs (4 images in 2 classes), so one pair moves the EER by up to 0.5; give --check-data a folder with 100 genuine pairs or more (e.g. 5 classes of 7 images)'
    >>> too_few_images([c for c in range(5) for _ in range(7)]) is None
    True
    """
    import numpy as np

    counts = np.unique(np.asarray(y), return_counts=True)[1]
    genuine = int((counts * (counts - 1) // 2).sum())
    if genuine >= MIN_GENUINE_PAIRS:
        return None
    step = f"{1 / max(genuine, 1):.2g}"
    remedy = remedy or (
        f"give --check-data a folder with {MIN_GENUINE_PAIRS} genuine pairs or more (e.g. 5 "
        "classes of 7 images)"
    )
    return (
        f"too few images for the figures to mean much: {counted(genuine, 'genuine pair')} "
        f"({counted(len(y), 'image')} in {counted(len(counts), 'class', 'classes')}), so one pair "
        f"moves the EER by up to {step}; {remedy}"
    )


def held_out_images(
    model_dir: str, model_doc: dict[str, Any], shape: tuple[int, ...], check_data: str | None
) -> CheckImages | None:
    """Images ``(N, C, H, W)`` in [0, 1], labels, a description and how they differ from the
    test set the model's run evaluated on (``None``: they are that set, in its order, so that
    :func:`int8_accuracy_change` at the run's settings gives ``metrics.json``'s few-shot
    figures), or ``None`` when there are none.

    ``check_data`` (a folder or built-in name) if given; else the test split of the model's
    built-in dataset (its test classes), the labelled validation folder of a self-supervised
    run (``data.val_root``, :func:`~siamkit.cli._eval_data.labelled_val_root`: the only labels
    it had; said when it lies under the folder the run trained on), the image folder it
    trained on while that is still there (its test classes,
    :func:`~siamkit.cli._eval_data.run_data_default`), or, for a 1×28×28 model that records
    no data of its own (or none of these: a half-twin's ``.npz``, gone, say; the line then does
    not say it records none, :func:`_records_data`), Fashion-MNIST's train split (of the
    training classes the model records, else all ten; :func:`_fashion_mnist_training_classes`):
    its test split holds the test classes 6-9, kept for the final check, which a default must
    not read. At most :data:`CHECK_IMAGES`, a seeded sample (there, the images of those classes
    nearest the far end of the whole split's seed-0 permutation, whose near end the default
    calibration takes: not its images, unless it takes nearly all of the split).

    Raises:
        ValueError: ``check_data`` was given and cannot be used with this model (no such
            folder, a folder not laid out by class, built-in images of another shape), so that
            the export refuses it before writing anything rather than saying nothing was given;
            or, not given, the folder a supervised run trained on is gone or holds other
            classes now (the export then says the change was not measured, and why).
    """
    import torch

    from siamkit.cli._eval_data import (
        labelled_val_root,
        load_eval_data,
        own_folder_test_set,
        run_data_default,
        training_folder,
        val_root_source,
    )
    from siamkit.cli._inputs import BUILTIN_SHAPES, DATASET_NAMES

    given = check_data
    fallback: list[str] | None = None  # the Fashion-MNIST classes of a model without data
    recorded = False  # that model records data of its own all the same, which is not read
    meta = model_doc.get("metadata") or {}
    run = meta.get("run") or {}
    root, _ = training_folder(meta)
    val_root = labelled_val_root(meta) if given is None else None
    # the folder a supervised run trained on (its test set); gone, it is said, not replaced
    own = run_data_default(meta, "--check-data") if given is None and val_root is None else None
    if check_data is None and run.get("dataset") in DATASET_NAMES:
        check_data = run["dataset"]
    elif check_data is None and val_root is not None:
        check_data = val_root
    elif check_data is None and own is not None:
        check_data = own
    elif check_data is None and root is not None and Path(root).is_dir():
        check_data = root  # a self-supervised run's photos: refused below, and said
    elif check_data is None and root is None and tuple(shape) == BUILTIN_SHAPES["fashion-mnist"]:
        # a model that records no data of its own, or none read here (a half-twin's .npz gone):
        # Fashion-MNIST is not one it learned on;
        # its train split, as the calibration: the test split holds the test classes 6-9
        fallback = _fashion_mnist_training_classes(run)
        recorded = _records_data(meta)  # a half-twin's data.path gone, say: not "no data"
        check_data, meta = "fashion-mnist", {}
    if given is not None and len(shape) != 3:
        raise ValueError(
            f"--check-data is held-out images, and this model takes {tuple(shape)} inputs, "
            "not images: leave --check-data out"
        )
    if given is not None and given not in DATASET_NAMES and not Path(given).is_dir():
        raise ValueError(
            f"--check-data {given}: no such folder; give a folder with one sub-folder per "
            f"class, or {listed(DATASET_NAMES, 'or')}"
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
        classes,  # the fallback's too: all ten, the calibration's order (picked below)
        "test" if fallback is None else "train",
        None,
        tuple(shape),  # type: ignore[arg-type]
        option="--check-data",
    )
    if own is not None:  # the class list it recorded, or no known test set there
        own_folder_test_set(own, ev, meta, "--check-data")
    pick = torch.randperm(len(ev.y), generator=torch.Generator().manual_seed(0))
    if fallback is None:
        pick = pick[:CHECK_IMAGES]
    else:
        # the whole train split's seed-0 permutation, whose near end the default calibration
        # (export.calibration, all ten classes) takes: the images of these classes nearest its
        # far end, so not the calibration's images unless it takes nearly all 60,000 (a
        # permutation of these classes alone is another order: it met the calibration's)
        far = pick.flip(0)
        pick = far[torch.isin(ev.y[far], torch.tensor([int(c) for c in fallback]))]
        pick = pick[:CHECK_IMAGES]
        ev = replace(ev, chosen=tuple(int(c) for c in fallback))
    # in the set's order: the episodes a seed draws depend on it (and EER does not)
    pick = pick.sort().values
    x = ev.x[pick]
    # (a folder is read at the model's shape; built-in images of another shape are refused
    # above when given, and by load_eval_data otherwise)
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    seen = None  # the note that the run trained on these images
    if check_data == val_root:  # said as such: not a folder the user named, nor a test set
        ev = replace(ev, source=val_root_source(val_root))
        differs: str | None = "its run's labelled validation images (data.val_root)"
        seen = val_root_trained_on(meta, val_root, "these figures", "--check-data")
    elif fallback is not None and not recorded:  # said in the line: training images
        ev = replace(
            ev, source="fashion-mnist (train split, as the model records no data of its own)"
        )
        differs = "Fashion-MNIST training images, the model recording no data of its own"
    elif fallback is not None:  # its recorded data is not read (a half-twin's clause says why)
        ev = replace(ev, source="fashion-mnist (train split)")
        differs = "Fashion-MNIST training images, not its run's test set"
    elif not _runs_test_set(check_data, meta, ev):
        differs = "other images than its test classes"
    elif len(pick) < len(ev.y):
        differs = f"a sample of {len(pick):,} of its {len(ev.y):,} test images"
    else:
        differs = None
    return CheckImages(
        x.numpy(),
        ev.y[pick].numpy(),
        f"{counted(len(pick), 'image')} of {ev.describe().split(' of ', 1)[1]}",
        differs,
        in_sample=seen,
    )


def _records_data(meta: dict[str, Any]) -> bool:
    """Whether a model's metadata names data its run trained on: a data set, a folder or a
    half-twin's ``data.path`` (in its ``run`` or its config's ``data``), whether or not it can
    be read now. The int8 check's Fashion-MNIST fallback says "the model records no data of
    its own" only where this is false: a half-twin whose ``.npz`` is gone records one.

    >>> _records_data({"task": "half_twin", "config": {"data": {"path": "/gone/pairs.npz"}}})
    True
    >>> _records_data({"run": {"train_classes": [0, 1, 2]}})
    False
    """
    run = meta.get("run") or {}
    data = (meta.get("config") or {}).get("data") or {}
    named = [run.get("dataset"), run.get("data_root")]
    named += [data.get(k) for k in ("dataset", "root", "path")]
    return any(isinstance(v, str) and bool(v) for v in named)


def _fashion_mnist_training_classes(run: dict[str, Any]) -> list[str]:
    """The Fashion-MNIST classes the int8 check of a model that records no data of its own reads
    (in the train split): the training classes its run records, where they are Fashion-MNIST
    labels (0-9) and the run names no other data set, else all ten.

    >>> _fashion_mnist_training_classes({"train_classes": [0, 1, 2, 3, 4, 5]})
    ['0', '1', '2', '3', '4', '5']
    >>> len(_fashion_mnist_training_classes({}))
    10
    """
    recorded = run.get("train_classes")
    labels = range(10)
    if (
        run.get("dataset") in (None, "fashion-mnist")
        and isinstance(recorded, list)
        and recorded
        and all(isinstance(c, int) and not isinstance(c, bool) and c in labels for c in recorded)
    ):
        return [str(c) for c in sorted(set(recorded))]
    return [str(c) for c in labels]


def val_root_trained_on(
    meta: dict[str, Any], val_root: str, figures: str, option: str = "--data"
) -> str | None:
    """The note that the run's labelled validation folder ``val_root`` (as
    :func:`~siamkit.cli._eval_data.labelled_val_root` gave it) lies under the folder the run
    trained on (``data.root``, as ``run.data_root`` recorded it resolved; an old model's config
    only where absolute), :func:`~siamkit.applications.ssl.task.val_root_under_root` as
    training warns of it: a self-supervised run trains on every image under its root, so
    ``figures`` measured on that folder are on images the model has seen (with ``data.limit``,
    a sample of them: then it says they may be); ``None`` otherwise, or where the root is
    unknown. ``option``: the command's option that gives other images."""
    from siamkit.applications.ssl.task import val_root_under_root

    data = (meta.get("config") or {}).get("data") or {}
    root = (meta.get("run") or {}).get("data_root") or data.get("root")
    if not isinstance(root, str) or not root or not Path(root).is_absolute():
        return None
    if not val_root_under_root(val_root, root):
        return None
    if data.get("limit") is None:
        return (
            f"the run also trained on these images (without their labels): data.val_root "
            f"{val_root} lies under data.root {root}, so {figures} are not held out; pass "
            f"{option} FOLDER (images kept out of data.root, one sub-folder per class) for "
            "held-out ones"
        )
    # data.limit trained on a seeded sample of data.root's images: some of these, or none, as
    # training's own kNN note says (_monitor_trained_on)
    return (
        f"the run may have trained on these images (without their labels; data.limit "
        f"{data['limit']} kept a sample of data.root's): data.val_root {val_root} lies under "
        f"data.root {root}, so {figures} may not be held out; pass {option} FOLDER (images "
        "kept out of data.root, one sub-folder per class) for held-out ones"
    )


def _runs_test_set(data: str, meta: dict[str, Any], ev: Any) -> bool:
    """``data`` as ``load_eval_data`` read it is the test set the model's run evaluated on: its
    recorded test classes of its built-in data set, or of the image folder it trained on."""
    from siamkit.cli._eval_data import _own_folder_classes, _trained_on_every_class
    from siamkit.cli._inputs import DATASET_NAMES

    run = meta.get("run") or {}
    if data in DATASET_NAMES:  # digits on every class tested a held-out share of each
        every = data != "fashion-mnist" and _trained_on_every_class(meta)
        return run.get("dataset") == data and bool(run.get("test_classes")) and not every
    return _own_folder_classes(Path(data), ev.names, meta) is not None


class RunProtocol(NamedTuple):
    """The N-way K-shot protocol the model's run evaluated with (:func:`run_protocol`)."""

    shots: tuple[int, ...]
    ways: tuple[int, ...]  # (): eval.ways null, the number of classes decides
    # None: not recorded, the check's own (CHECK_EPISODES, CHECK_QUERIES, seed 0)
    episodes: int | None = None
    queries: int | None = None
    seed: int | None = None


def run_protocol(model_doc: dict[str, Any]) -> RunProtocol | None:
    """The N-way K-shot the model's run evaluated with: its saved config's ``eval.shots`` and
    ``eval.ways`` (``()``: ``null``, the number of classes decides), each the config's default
    where missing, and its ``eval.episodes``, ``eval.queries`` and ``eval.seed`` (``None``
    where missing: the check's own); ``None`` when the model records no run config, or one
    that cannot be read.

    >>> run_protocol({"metadata": {"config": {"eval": {"shots": [1, 5], "ways": 20}}}})
    RunProtocol(shots=(1, 5), ways=(20,), episodes=None, queries=None, seed=None)
    >>> eval_ = {"shots": 1, "ways": None, "episodes": 1000, "queries": 5, "seed": 3}
    >>> run_protocol({"metadata": {"config": {"eval": eval_}}})
    RunProtocol(shots=(1,), ways=(), episodes=1000, queries=5, seed=3)
    >>> run_protocol({"metadata": {}}) is None
    True
    """
    section = ((model_doc.get("metadata") or {}).get("config") or {}).get("eval")
    if not isinstance(section, dict):
        return None

    def whole(v: Any, least: int) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= least

    def sizes(key: str, default: Any, least: int) -> tuple[int, ...] | None:
        value = section.get(key, default)
        values = [] if value is None else [value] if isinstance(value, int) else value
        if not isinstance(values, (list, tuple)):
            return None
        return tuple(values) if all(whole(v, least) for v in values) else None

    shots, ways = sizes("shots", [1, 5], 1), sizes("ways", None, 2)
    if not shots or ways is None:
        return None
    # what cannot be read counts as not recorded: the check's own, which its line names
    counts = {k: section.get(k) for k in ("episodes", "queries", "seed")}
    counts = {k: v if whole(v, 0 if k == "seed" else 1) else None for k, v in counts.items()}
    return RunProtocol(shots, ways, **counts)


def check_settings(
    y: Any, protocol: RunProtocol | None, differs: str | None = None
) -> tuple[list[dict[str, int]], str]:
    """The N-way K-shot settings (``n_way``, ``k_shot``, ``n_query``) the check measures on
    labels ``y``, and a sentence saying which and why.

    The run's recorded ``protocol`` (:func:`run_protocol`), so that the figures compare with its
    ``metrics.json``: ``eval.ways`` capped at the classes there are (``null``: all of them up to
    20, else 5 and 20, as the run took them), each of ``eval.shots`` the images allow (K shots
    and a query in N classes), and ``eval.queries`` lowered to what every setting allows, as
    the run lowered them. Without a recorded protocol, or when the images allow none of it, up
    to 5-way 1-shot with up to :data:`CHECK_QUERIES` queries. ``differs``: how the images
    differ from the run's test set (``None``: they are that set), which the sentence says
    instead of "as the model's run recorded it".
    """
    import numpy as np

    from siamkit.evaluation.few_shot import max_queries
    from siamkit.training.config import EvalConfig
    from siamkit.training.config_classes import resolved_ways

    def settings(pairs: list[tuple[int, int]], queries: int) -> list[dict[str, int]]:
        n_query = min(queries, *(max_queries(y, n, k) for n, k in pairs))
        return [{"n_way": n, "k_shot": k, "n_query": n_query} for n, k in pairs]

    counts = np.unique(y, return_counts=True)[1]
    fallback = [(min(5, int((counts >= 2).sum())), 1)]
    if protocol is None:
        none = "the model records no run's eval.ways or eval.shots"
        return settings(fallback, CHECK_QUERIES), none
    shots, ways = protocol.shots, protocol.ways
    recorded = (
        f"eval.ways {','.join(map(str, ways)) if ways else 'null'}, "
        f"eval.shots {','.join(map(str, shots))}"
    )
    n_ways = resolved_ways(EvalConfig(ways=ways or None), len(counts))
    kept = [(n, k) for n in n_ways for k in shots if n >= 2 and max_queries(y, n, k) >= 1]
    if not kept:
        return settings(fallback, CHECK_QUERIES), (
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
    for key in _CHECK_OWN:
        value = getattr(protocol, key)
        recorded += "" if value is None else f", eval.{key} {value}"
    unrecorded = [k for k in _CHECK_OWN if getattr(protocol, k) is None]
    if unrecorded:  # a config written without them: the check's own, which it names
        notes.insert(0, "the check's own " + ", ".join(f"{k} {_CHECK_OWN[k]}" for k in unrecorded))
    said = (
        f"N-way K-shot as the model's run recorded it: {recorded}"
        if differs is None
        else f"N-way K-shot at the model's run's {recorded}, on {differs}: not metrics.json's "
        "figures"
    )
    return settings(kept, _recorded_or_own(protocol, "queries")), "; ".join([said, *notes])


def _recorded_or_own(protocol: RunProtocol | None, key: str) -> int:
    """The run's recorded ``eval.<key>`` (episodes, queries, seed), else the check's own."""
    value = None if protocol is None else getattr(protocol, key)
    return int(_CHECK_OWN[key] if value is None else value)


def _scores(
    model: Any,
    x: Any,
    y: Any,
    settings: list[dict[str, int]],
    episodes: int,
    seed: int,
    g_inputs: Any = None,
) -> dict[str, float]:
    """EER and each setting's few-shot accuracy of an export (an
    :class:`~siamkit.export.OnnxModel`) on images ``x``: one tower's embeddings as evaluate
    scores them, or a half-twin's pairing (:func:`_paired_scores`, tower g on ``g_inputs``
    where given)."""
    from siamkit.evaluation import evaluate_embeddings
    from siamkit.evaluation.few_shot import few_shot_episodes

    if model.kind == "half_twin":  # an export of both branches
        return _paired_scores(model, x, y, settings, episodes, seed, g_inputs)
    distance = model.embedder.distance_name
    z = model.embedder.embed(x)
    rep = evaluate_embeddings(z, y, distance, few_shot=(), retrieval=False)
    assert rep.verification is not None
    scores = {"eer": rep.verification.eer}
    for s in settings:
        acc = few_shot_episodes(z, y, s["n_way"], s["k_shot"], s["n_query"], episodes, seed,
                                distance=distance).accuracy  # fmt: skip
        scores[f"{s['n_way']}way{s['k_shot']}shot"] = acc
    return scores


def pairing(model: Any, own_g: bool = False, no_g_inputs: str = "") -> str | None:
    """How a half-twin export's figures pair its branches, and what branch g was given (its
    run's ``y`` rows paired with f's, ``own_g``; else f's inputs themselves, resized, and why:
    ``no_g_inputs``), for the check's line; ``None`` for a model of one tower."""
    if model.kind == "half_twin":
        f, g = ("x".join(map(str, p.input_shape)) for p in (model.preprocess_f, model.preprocess_g))
        if own_g:
            g = f"the y inputs paired with them, {g}"
        else:
            at = "" if g == f else f" at {g}"
            g = f"the same images{at}, not inputs of g's own kind: {no_g_inputs or 'none given'}"
        return (
            f"probes and queries through branch f ({f}), references and support through branch "
            f"g ({g}), as the half-twin is deployed"
        )
    if model.half_twin_branch == "f":  # siamkit export --branch f: no g graph to pair with
        return (
            "branch f against itself (--branch f wrote no branch g graph), not the half-twin's "
            "f-against-g pairing"
        )
    return None


def _paired_scores(
    model: Any,
    x: Any,
    y: Any,
    settings: list[dict[str, int]],
    episodes: int,
    seed: int,
    g_inputs: Any = None,
) -> dict[str, float]:
    """A half-twin's figures as it is trained and deployed (``delta(f(probe), g(reference))``):
    each item through branch f (the query role) and through branch g (the document role: its
    ``g_inputs`` row, else the same image at g's input shape, :func:`reference_images`), as a
    gallery or the service embeds them
    (:func:`~siamkit.index.embedding.role_tower`). Verification: every ordered pair ``i != j``,
    probe ``i`` through f against reference ``j`` through g (both orders, as f and g differ);
    few-shot: the same episodes as one tower's, queries through f against prototypes of
    support images through g."""
    import numpy as np
    import torch

    from siamkit.evaluation.few_shot import Episodes, episode_accuracies, sample_episodes
    from siamkit.evaluation.roc import eer
    from siamkit.index.embedding import role_tower

    xt = torch.from_numpy(np.asarray(x, dtype=np.float32))
    zq = role_tower(model, "query").embed(xt)  # (N, D), branch f
    references = (
        reference_images(xt, model.preprocess_g.input_shape)
        if g_inputs is None
        else torch.from_numpy(np.asarray(g_inputs, dtype=np.float32))
    )
    zr = role_tower(model, "document").embed(references)  # (N, D), branch g
    with torch.inference_mode():
        d = model.distance.matrix(zq, zr).numpy()  # (N, N): probe i (f), reference j (g)
    labels = np.asarray(y)
    same = labels[:, None] == labels[None, :]
    other = ~np.eye(len(labels), dtype=bool)
    scores = {"eer": eer(d[same & other], d[~same & other]).value}
    z = torch.cat([zq, zr])  # (2N, D): item i's f embedding at i, its g embedding at N + i
    for s in settings:
        ep = sample_episodes(labels, s["n_way"], s["k_shot"], s["n_query"], episodes, seed)
        ep = Episodes(ep.support + len(labels), ep.query, ep.classes)  # support through g
        acc = episode_accuracies(z, ep, model.distance)
        scores[f"{s['n_way']}way{s['k_shot']}shot"] = float(acc.mean())
    return scores


def reference_images(x: Any, shape: Any) -> Any:
    """Images ``(N, C, H, W)`` in [0, 1] as a half-twin's branch g takes them, ``shape`` =
    ``(C', H', W')``: grey to colour by copying the channel, colour to grey by Pillow's ``L``
    weights (as an image file is read at either), resized as an upload is
    (:func:`~siamkit.data.image_io.resize_images`).

    >>> import torch
    >>> tuple(reference_images(torch.rand(2, 1, 28, 28), (3, 32, 32)).shape)
    (2, 3, 32, 32)
    """
    from siamkit.data.image_io import resize_images

    c, h, w = (int(s) for s in shape)
    if x.shape[1] == 1 and c == 3:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] == 3 and c == 1:
        x = (x * x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return resize_images(x.contiguous(), (h, w))


def int8_accuracy_change(
    fp32_path: str,
    int8_path: str,
    images: CheckImages | tuple[Any, Any, str, str | None],
    protocol: RunProtocol | None = None,
) -> dict[str, Any]:
    """EER and N-way K-shot accuracy of both files on ``images`` (:func:`held_out_images`) and
    the change (int8 - fp32), at the settings of :func:`check_settings` (the run's recorded
    ``protocol`` where given: its episodes and seed too, so that on the run's test set the
    fp32 figures are ``metrics.json``'s; else :data:`CHECK_EPISODES` episodes, seed 0).

    A half-twin's export of both branches is scored as it is deployed, queries and probes
    through branch f against support and references through branch g (:func:`_paired_scores`:
    on ``images.g_inputs``, the run's ``y`` rows, where given), in both precisions; ``pairing``
    (:func:`pairing`) says so and what g was given, as it says when an export of branch f alone
    (``--branch f``) could only be scored against itself."""
    import numpy as np

    from siamkit.export.onnx_model import OnnxModel

    images = CheckImages(*images)
    x, y, source, differs, g_inputs, no_g_inputs, remedy = images[:7]
    if int((np.unique(y, return_counts=True)[1] >= 2).sum()) < 2:
        raise ValueError("the accuracy check needs at least two classes of two images each")
    settings, basis = check_settings(y, protocol, differs)
    episodes = _recorded_or_own(protocol, "episodes")
    seed = _recorded_or_own(protocol, "seed")
    # a half-twin export of both branches opens branch g's graph beside branch f's
    models = OnnxModel(fp32_path), OnnxModel(int8_path)
    fp32, int8 = (_scores(m, x, y, settings, episodes, seed, g_inputs) for m in models)
    paired = pairing(models[0], g_inputs is not None, no_g_inputs)
    # said, not refused: the export itself is fine
    few = too_few_images(y, _FEW_ROWS if g_inputs is not None else remedy)
    signed = {} if images.signatures is None else signature_change(models, images.signatures)
    return {
        **signed,
        "images": source, **({"too_few_images": few} if few else {}),
        **({"in_sample": images.in_sample} if images.in_sample else {}),
        **({"pairing": paired} if paired else {}), "few_shot": settings,
        "episodes": episodes, "few_shot_basis": basis, "fp32": fp32, "int8": int8,
        "change": {k: int8[k] - fp32[k] for k in fp32},
    }  # fmt: skip


def describe(check: dict[str, Any]) -> str:
    """One line: ``int8 vs fp32 on 1000 images of ...: EER 0.2012 -> 0.2031 (+0.0019), 20-way
    1-shot ... (N-way K-shot as the model's run recorded it: ...)``; a half-twin's says how its
    branches were paired after the images (``pairing``), and images too few for the figures to
    mean much say so right after them (``too_few_images``, :func:`too_few_images`), as do
    images the run trained on (``in_sample``: its labelled validation folder under data.root).

    Four decimals, as evaluate's table, and each change is that of the figures shown, so the
    line adds up (0.045 -> 0.045 (+0.001) did not)."""

    def change(key: str) -> str:
        a, b = (round(float(v[key]), 4) for v in (check["fp32"], check["int8"]))
        return f"{a:.4f} -> {b:.4f} ({round(b - a, 4) + 0.0:+.4f})"  # + 0.0: no -0.0000

    shots = ", ".join(
        f"{n}-way {k}-shot {change(f'{n}way{k}shot')}"
        for n, k in ((s["n_way"], s["k_shot"]) for s in check["few_shot"])
    )
    paired = f", {check['pairing']}" if check.get("pairing") else ""
    few = f" ({check['too_few_images']})" if check.get("too_few_images") else ""
    few += f" ({check['in_sample']})" if check.get("in_sample") else ""
    line = (
        f"int8 vs fp32 on {check['images']}{few}{paired}: EER {change('eer')}, {shots} "
        f"({check['few_shot_basis']})"
    )
    sig = check.get("signatures")
    if isinstance(sig, str):
        return f"{line}; signature verification not measured: {sig}"
    if isinstance(sig, dict):
        rates = []
        for kind in ("skilled", "random"):
            a, b = (sig[p][kind] for p in ("fp32", "int8"))
            if a is not None and b is not None:
                a, b = round(float(a), 4), round(float(b), 4)
                rates.append(
                    f"{kind}-forgery EER {a:.4f} -> {b:.4f} ({round(b - a, 4) + 0.0:+.4f})"
                )
        line += f"; signature verification on {sig['data']}: {', '.join(rates) or 'no forgeries'}"
    return line


#: How --calib-data and --check-data name a signature corpus (as evaluate's --data does): read
#: as the signature commands read it (:func:`~siamkit.data.signature_set.load_signature_set`).
SIGNATURES = "signatures:"


class SignatureData(NamedTuple):
    """Signatures preprocessed as a signature model takes them (``sigs``), the writers its run
    trained on and tested on (``None``: a corpus given on the command line, not its run's),
    what they are (``where``), and the run's ``eval.seed`` (which genuine signatures its test
    took as references)."""

    sigs: Any
    train: list[int] | None
    test: list[int] | None
    where: str
    seed: int = 0


def is_signature_model(model_doc: dict[str, Any]) -> bool:
    """Whether the signature task saved the model (its ``metadata.signatures``)."""
    return "signatures" in (model_doc.get("metadata") or {})


def given_signatures(option: str, value: str, shape: tuple[int, ...]) -> SignatureData:
    """The corpus ``value`` (``signatures:DIR``) given to ``option``, read and preprocessed at the
    model's input ``shape`` as the signature commands read it.

    Raises:
        ValueError: the model does not take 1-channel images, or ``DIR`` is not a signature
            corpus (no such folder, no known layout, an unreadable or blank scan).
    """
    from siamkit.data.signature_set import load_signature_set

    folder = value[len(SIGNATURES) :]
    if len(shape) != 3 or shape[0] != 1:
        raise ValueError(
            f"{option} {value}: signatures are 1-channel images and this model takes "
            f"{tuple(shape)} inputs; give a folder of images by class"
        )
    if not folder or not Path(folder).is_dir():
        raise ValueError(
            f"{option} {value}: no such folder; give signatures:DIR with DIR a signature corpus "
            "(CEDAR, GPDS, BHSig or <writer>/genuine/*, <writer>/forged/*)"
        )
    try:
        sigs = load_signature_set(folder, "auto", tuple(shape[1:]))
    except (ValueError, FileNotFoundError) as err:
        raise ValueError(f"{option} {value}: {str(err).strip().rstrip('.')}") from None
    return SignatureData(sigs, None, None, f"the signatures in {folder}")


def run_signatures(model_dir: str, shape: tuple[int, ...]) -> SignatureData | str:
    """The signatures a signature model's run trained and tested on, from the run data the
    model records (:func:`~siamkit.applications.signatures.run_record.recorded_run`; a model
    saved before it did: its run config ``MODEL/../config.yaml``, as ``siamkit train --out RUN``
    wrote it): its ``data.root`` corpus read and preprocessed as the run read it
    (:func:`load_run_data`), or its synthetic writers made again (``data.root: null``), split
    into writers as the run split them; else the clause saying why there are none (no run data
    recorded nor a run config beside the model, its data.root gone or unreadable, images of
    another size)."""
    from siamkit.applications.signatures.config import SignatureRunConfig
    from siamkit.applications.signatures.run_record import recorded_run
    from siamkit.applications.signatures.task import load_run_data
    from siamkit.data.signature_set import writer_disjoint_split

    run = recorded_run(model_dir)
    if isinstance(run, str):
        return run
    d = run.data
    if tuple(d.image_size) != tuple(shape[1:]):
        recorded = (
            "the run data the model records"
            if run.source == "the model"
            else f"its run's config {run.source}"
        )
        return (
            f"{recorded} has data.image_size {list(d.image_size)}, not the model's "
            f"{list(shape[1:])}"
        )
    if d.root is not None and not Path(d.root).is_dir():
        return f"its run's signatures (data.root {d.root}) are not there"
    try:
        sigs, _ = load_run_data(SignatureRunConfig(data=d))
        train, _, test = writer_disjoint_split(len(sigs.names), d.split, d.seed)
    except (ValueError, FileNotFoundError) as err:
        return f"its run's signatures cannot be read ({str(err).strip().rstrip('.')})"
    where = (
        f"its run's signatures {d.root}"
        if d.root is not None
        else f"its run's synthetic signatures (data.root null: "
        f"{counted(d.synthetic_writers, 'writer')}, "
        f"seed {d.seed}, made again)"
    )
    return SignatureData(sigs, train, test, where, run.eval_seed)


def signature_calibration(data: SignatureData, count: int, seed: int = 0) -> tuple[Any, str]:
    """A seeded sample of ``count`` signatures (genuine and forged) of the writers the run
    trained on (of every writer of a given corpus), ``(N, 1, H, W)`` float32 in [0, 1] as the
    model takes them, and their label."""
    import numpy as np
    import torch

    from siamkit.training.data import seeded_sample

    sigs = data.sigs
    keep = torch.ones(len(sigs.writer), dtype=torch.bool)
    whose = ""
    if data.train is not None:
        keep = torch.isin(sigs.writer, torch.as_tensor(data.train))
        whose = f" of its {counted(len(data.train), 'training writer')}"
    rows = torch.nonzero(keep).flatten()
    rows = rows[seeded_sample(len(rows), count, seed)]
    x = np.ascontiguousarray(sigs.images[rows].numpy(), dtype=np.float32)
    return x, f"{counted(len(rows), 'signature')}{whose} ({data.where})"


def signature_check_images(
    data: SignatureData, model_doc: dict[str, Any] | None = None
) -> CheckImages:
    """The int8 check's images on signatures: the genuine signatures of the writers the run
    tested on (of every writer of a given corpus, or of the run's when its test writers are too
    few for the check), labelled by writer, at most :data:`CHECK_IMAGES`, a seeded sample.
    Skilled forgeries are left out: the check's EER and N-way K-shot tell writers apart; with
    the signature model's ``model_doc``, its forgery EERs are checked too (:func:`signature_check`)."""
    import numpy as np
    import torch

    from siamkit.training.data import seeded_sample

    sigs = data.sigs
    genuine = ~sigs.forged
    whose = "every writer"
    if data.test is not None:
        test = genuine & torch.isin(sigs.writer, torch.as_tensor(data.test))
        counts = torch.bincount(sigs.writer[test])
        if int((counts >= 2).sum()) >= 2:
            genuine, whose = test, f"its {counted(len(data.test), 'test writer')}"
        else:
            whose = "every writer (its test writers are too few for the check)"
    rows = torch.nonzero(genuine).flatten()
    rows = rows[seeded_sample(len(rows), CHECK_IMAGES, 0)]
    y = sigs.writer[rows].numpy().astype(np.int64)
    writers = len(np.unique(y))
    return CheckImages(
        np.ascontiguousarray(sigs.images[rows].numpy(), dtype=np.float32),
        y,
        f"{counted(len(rows), 'genuine signature')} of {counted(writers, 'writer')} ({whose}) of "
        f"{data.where}, "
        "skilled forgeries left out",
        "genuine signatures, not the signature metrics",
        remedy=(
            f"give --check-data signatures:DIR with {MIN_GENUINE_PAIRS} genuine pairs or more "
            "(e.g. 5 writers of 7 genuine signatures)"
        ),
        signatures=None if model_doc is None else signature_check(data, model_doc),
    )


class SignatureCheck(NamedTuple):
    """What a signature model's int8 check verifies: ``sigs`` (genuine signatures and skilled
    forgeries of the writers checked), the ``references`` and ``reduce`` it verifies with, what
    they are (``where``) and which genuine signatures are references (``seed``)."""

    sigs: Any
    references: int
    reduce: str
    where: str
    seed: int = 0


def signature_check(data: SignatureData, model_doc: dict[str, Any]) -> SignatureCheck:
    """The writers :func:`signature_check_images` checks (its run's test writers, or every
    writer of a given corpus), genuine and forged, with the references and reduction the model
    records (``metadata.signatures``; 5 and mean where it records none) and its run's
    ``eval.seed``: on its run's test writers, the fp32 figures are ``metrics.json``'s."""
    meta = (model_doc.get("metadata") or {}).get("signatures") or {}
    references = meta.get("references", 5)
    reduce = meta.get("reduce", "mean")
    references = references if isinstance(references, int) and references >= 1 else 5
    reduce = reduce if reduce in ("mean", "min", "max") else "mean"
    sigs, whose = data.sigs, "every writer"
    if data.test is not None:
        sigs, whose = sigs.subset(data.test), f"its {counted(len(data.test), 'test writer')}"
    return SignatureCheck(sigs, references, reduce, f"{whose} of {data.where}", data.seed)


def signature_change(models: Any, check: SignatureCheck) -> dict[str, Any]:
    """Skilled- and random-forgery EER of the fp32 and int8 files (``models``, two
    :class:`~siamkit.export.OnnxModel`) on ``check``'s writers, as ``siamkit signature
    evaluate`` scores them (``references`` genuine references a writer, ``reduce``d distances,
    the run's ``seed``); under ``"signatures"``, or why it could not be measured (a sentence)."""
    import torch

    from siamkit.applications.signatures.evaluate import evaluable_writers, evaluate_signatures

    sigs = check.sigs
    if not evaluable_writers(sigs.writer, sigs.forged, check.references):  # export's own words
        return {
            "signatures": "no writer has more than "
            f"{counted(check.references, 'genuine signature')}, the "
            "references a writer the check uses (the model's metadata.signatures.references; 5 "
            "where it records none), and one must be left to question; check with writers of "
            "more genuine signatures (--check-data signatures:DIR)"
        }
    x = sigs.images.numpy()
    out: dict[str, Any] = {
        "data": f"{counted(len(sigs.writer), 'signature')} (genuine and skilled forgeries) of "
        f"{check.where}, {counted(check.references, 'reference')} a writer, "
        f"{check.reduce} distance"
    }
    for name, model in zip(("fp32", "int8"), models, strict=True):
        z = torch.from_numpy(model.embedder.embed(x))
        try:  # any threshold: the EERs do not depend on it, and none is to be chosen here
            ev = evaluate_signatures(
                z, sigs.writer, sigs.forged, check.references, check.reduce,
                model.embedder.distance_name, threshold=0.0, seed=check.seed,
            )  # fmt: skip
        except ValueError as err:
            return {"signatures": str(err).strip().rstrip(".")}
        rates = ev.to_dict()
        out[name] = {k: (rates.get(k) or {}).get("eer") for k in ("skilled", "random")}
        if all(v is None for v in out[name].values()):
            return {
                "signatures": "there is no forgery to measure an EER against: one writer "
                "evaluated (no other writer's signature is a random forgery), and no skilled "
                "forgeries of it; check with signatures that have skilled forgeries or of a "
                "second writer (--check-data signatures:DIR)"
            }
    return {"signatures": out}
