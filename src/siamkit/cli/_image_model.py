"""The saved Siamese image model that ``siamkit evaluate``, ``embed`` and ``calibrate`` load, and
the refusal of any other kind of model; the --device option of those commands and ``train``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import torch

    from siamkit.models import JoinedEmbedding, SiameseNetwork

DEVICE = click.option(
    "--device",
    default="auto",
    show_default=True,
    help="auto (CUDA if available), cpu, cuda or cuda:N.",
)


def load_siamese(
    path: str, device: str | torch.device, command: str
) -> SiameseNetwork | JoinedEmbedding:
    """A saved Siamese model (or one joined with appearance features) for ``command`` (evaluate,
    embed, calibrate); a half-twin model (two different encoders) is a clear error naming it."""
    from siamkit.export.bundle import load_model
    from siamkit.models import JoinedEmbedding, SiameseNetwork

    net = load_model(path, map_location=device)
    if not isinstance(net, (SiameseNetwork, JoinedEmbedding)):
        raise ValueError(f"{path} {_other_kind(net, command)}")
    return net


def _other_kind(net: object, command: str) -> str:
    """What the model is, and which commands take it, for ``command``'s refusal of it."""
    kind = getattr(net, "input_kind", "image")
    if kind == "text":
        return (
            f"is a text model; {command} takes image models. For texts use `siamkit "
            "text similarity`, `text dedup`, `text plagiarism` or `text enroll`, `siamkit "
            "calibrate MODEL --data PAIRS` for its threshold and `siamkit evaluate MODEL --data "
            "PAIRS` to score it"
        )
    if getattr(net, "kind", None) == "siamfc":
        return (
            f"is a tracker, which {command} does not take; evaluate it with `siamkit "
            "evaluate-tracking MODEL`"
        )
    if getattr(net, "kind", None) == "dlib_face":
        score = (
            "; score it with `siamkit face evaluate --model MODEL`" if command != "embed" else ""
        )
        return (
            f"is dlib's face model, which {command} does not take; for faces use `siamkit face "
            f"enroll`, `face verify` or `face identify` with --model MODEL{score}"
        )
    if getattr(net, "kind", None) == "half_twin":  # was "is a HalfTwinNetwork", naming no way on
        return (
            f"is a half-twin (task: half_twin, two towers), which {command} {_HALF_TWIN[command]}"
        )
    return (
        f"is a {type(net).__name__}; {command} takes Siamese image models whose twins share one "
        "encoder"
    )


#: What each command that takes one-tower models says to do with a half-twin instead.
_HALF_TWIN = {
    "evaluate": (
        "does not score: its run's metrics.json holds the validation cross-modal P@1 (tower f's "
        "nearest tower-g item has its label); `siamkit enroll`, `identify` and `verify` use an image one"
    ),
    "calibrate": (
        "does not fit: fit its threshold in Python on distances f(x) to g(y) of matching and "
        "non-matching pairs (siamkit.evaluation.ThresholdCalibrator().fit(genuine, impostor)"
        ".threshold_, set net.threshold and siamkit.save_model), or pass --threshold to verify "
        "and identify"
    ),
    "embed": (
        "does not take: embed with one tower in Python, net.embed(x, branch='f') for the first "
        "kind of input and branch='g' for the second"
    ),
}
