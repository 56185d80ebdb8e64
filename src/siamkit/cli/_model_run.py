"""What a saved model's metadata says about the run that trained it, for ``siamkit evaluate``:
whether it trained or validated on the evaluated classes, and its report's facts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from siamkit.clauses import in_number


def _run_classes(data: str, ev: Any, meta: dict[str, Any], key: str) -> set[int] | None:
    """The classes the model's run recorded under ``key`` (``train_classes``,
    ``val_classes``) when ``data`` is what it ran on (the same built-in data set, or its own
    folder); ``None`` when its metadata does not say."""
    from siamkit.cli._eval_data import _own_folder_classes
    from siamkit.cli._inputs import DATASET_NAMES

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
    one, classes = len(both) == 1, in_number(len(both), "class", "classes")
    names = ", ".join(ev.names[c] for c in both)
    return (
        f"{classes} {names} {in_number(len(both), 'was', 'were')} the model's "
        f"run's validation {classes} (val_classes: not trained on, but "
        "choosing its epoch and calibrating its threshold), so these figures are optimistic "
        f"for unseen classes: leave {'it' if one else 'them'} out with --classes"
    )


def _run_info(meta: dict[str, Any], device: object) -> dict[str, Any]:
    """The report header's facts about how the model was trained (from its metadata): its
    classes named by the run's data set, and what it validated on."""
    run = meta.get("run") or {}
    keys = ("train_images", "train_classes", "val_classes", "val_held_out", "train_seconds")
    names = {"class_names": meta["class_names"]} if meta.get("class_names") else {}
    started = {"started_from": meta["started_from"]} if meta.get("started_from") else {}
    return {**{k: run[k] for k in keys if k in run}, **names, **started, "device": str(device)}
