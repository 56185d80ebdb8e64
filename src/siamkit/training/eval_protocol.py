"""The check a run makes of its test labels before training (DESIGN §4): that the evaluation
protocol (``eval.shots`` and ``eval.ways``) can be met by the test classes. A supervised run
(:func:`~siamkit.experiment.run.run_experiment`) and a tuning study
(:func:`~siamkit.tuning.run_study`) hand :func:`protocol_check` to the loader, so a labelled folder
too small for both ``data.labels_per_class`` and ``eval.shots`` names both in one sentence, and
a study never recommends a ``best.yaml`` that training refuses; ``siamkit evaluate`` calls
:func:`check_protocol` with its own options' names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from siamkit.clauses import counted, in_number, listed
from siamkit.training.config import EvalConfig
from siamkit.training.config_classes import resolved_ways


def protocol_check(protocol: EvalConfig) -> Callable[[Tensor, Sequence[str]], None]:
    """The check of a run's test labels for its ``eval`` section ``protocol``, as
    :func:`~siamkit.training.load_run_data` takes it (``check_test(test_y, class_names)``):
    :func:`check_protocol` with the config's keys, raising ``ValueError``.

    >>> protocol_check(EvalConfig(shots=(1,)))(torch.arange(4).repeat(2), ())  # 4 classes of 2
    """

    def check(y: Tensor, names: Sequence[str]) -> None:
        check_protocol(protocol, y, names=names)

    return check


def check_protocol(
    protocol: EvalConfig,
    y: Tensor,
    what: str = "test",
    keys: tuple[str, str] = ("eval.shots", "eval.ways"),
    names: Sequence[str] = (),
) -> None:
    """Refuse, in one sentence, an evaluation ``protocol`` that labels ``y`` cannot give: fewer
    than two classes, or an N-way K-shot setting without N classes of K + 1 images (K shots and
    at least one query), naming the setting and what to change (``keys``: how the shots and the
    ways are set, e.g. ``("--shots", "--ways")``; ``names[label]`` names a class short of
    images, else its label does). Runs check it before training.

    >>> check_protocol(EvalConfig(shots=(1, 5)), torch.arange(4).repeat(4))
    Traceback (most recent call last):
    ...
    ValueError: 4-way 5-shot evaluation cannot be met: it needs 4 test classes with at least 6 images each (5 shots + 1 query), but the 4 test classes have at most 4 images; lower eval.shots (at most 3 at 4-way) or give the classes more images
    """
    per_label = torch.bincount(y)
    counts = per_label[per_label > 0].sort(descending=True).values
    n_classes = int(counts.numel())
    if n_classes < 2:
        fix = (
            "leave two or more classes out of data.train_classes (the rest are the test classes)"
            if what == "test"
            else "give two or more classes"
        )
        raise ValueError(
            f"the {what} set holds {counted(n_classes, 'class', 'classes')}; N-way evaluation "
            f"needs at least 2: {fix}"
        )
    for n in resolved_ways(protocol, n_classes):
        for k in protocol.shots:
            have = int((counts >= k + 1).sum())
            if have >= n:
                continue
            held = (
                f"the {n_classes:,} {what} classes have at most {counted(int(counts[0]), 'image')}"
                if have == 0
                else f"only {have:,} of the {n_classes:,} {what} classes "
                f"{in_number(have, 'has', 'have')} that many "
                f"({_short_classes(per_label, k + 1, names)})"
            )
            # offer only what helps: fewer shots (n classes of best_k + 1 images), fewer ways
            # (the classes that do have k + 1 images), more images
            best_k = int(counts[n - 1]) - 1  # the most shots n classes allow with one query
            fixes = [f"lower {keys[0]} (at most {best_k:,} at {n:,}-way)"] if best_k >= 1 else []
            if have >= 2:
                fixes.append(f"lower {keys[1]} (at most {have:,} at {k:,}-shot)")
            last = "give the classes more images"
            todo = listed([*fixes, last], "or")
            raise ValueError(
                f"{n:,}-way {k:,}-shot evaluation cannot be met: it needs {n:,} {what} classes "
                f"with at least {k + 1:,} images each ({counted(k, 'shot')} + 1 query), but "
                f"{held}; {todo}"
            )


def _short_classes(per_label: Tensor, need: int, names: Sequence[str], shown: int = 3) -> str:
    """``"short: class 7 (1 image), class 3 (4 images) and 2 more"``: the classes of fewer than
    ``need`` (but some) images, fewest first, named by ``names[label]`` or their label."""
    short = [(int(c), i) for i, c in enumerate(per_label.tolist()) if 0 < c < need]
    short.sort()
    said = [
        f"class {repr(names[i]) if i < len(names) and names[i] != str(i) else i} "
        f"({counted(c, 'image')})"
        for c, i in short[:shown]
    ]
    return f"short: {listed(said, more=len(short) - shown)}"
