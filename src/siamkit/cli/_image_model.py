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
    embed, calibrate); a half-twin model (two different encoders) is a clear error naming it, and
    a generic model over the 'text' encoder is refused as every command refuses it (a half-twin
    of it was told to embed with net.embed(x, branch='f'), which a text tower cannot: s57_FB Q2)."""
    from siamkit.encoders.text import generic_text_model_refusal, over_text_encoder
    from siamkit.export.bundle import load_model
    from siamkit.models import JoinedEmbedding, SiameseNetwork

    net = load_model(path, map_location=device)
    if over_text_encoder(net):  # a half-twin's advice (net.embed(x, branch='f')) cannot help it
        raise ValueError(generic_text_model_refusal(path, net))
    if not isinstance(net, (SiameseNetwork, JoinedEmbedding)):
        raise ValueError(f"{path} {_other_kind(net, command, _from_a_run(path))}")
    return net


def _from_a_run(path: str) -> bool:
    """Whether the saved half-twin at ``path`` was trained by a run (``task: half_twin``, which
    records the run's metrics.json beside it), not built and saved in Python."""
    from siamkit.export.bundle import read_model_config

    try:
        meta = read_model_config(path).get("metadata") or {}
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("task") == "half_twin"


def _other_kind(net: object, command: str, from_run: bool = True) -> str:
    """What the model is, and which commands take it, for ``command``'s refusal of it;
    ``from_run``: a half-twin trained by a run (``task: half_twin``), not one saved in Python."""
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
        if not from_run:  # built in Python: no task in its config, no run, no metrics.json
            said = _HALF_TWIN_NO_RUN.get(command, _HALF_TWIN[command])
            return (
                f"is a half-twin (two towers, saved without a training run), which {command} {said}"
            )
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
        "nearest tower-g item has its label); `siamkit enroll`, `identify` and `verify` take an "
        "image half-twin (enroll with tower g, search with tower f)"
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
#: :data:`_HALF_TWIN` for a half-twin saved in Python, which has no run's metrics.json.
_HALF_TWIN_NO_RUN = {
    "evaluate": (
        "does not score: score it in Python by its cross-modal P@1, the share of f(x) whose "
        "nearest g(y) has its label: d = net.distance.matrix(net.embed(x, branch='f'), "
        "net.embed(y, branch='g')); (labels[d.argmin(1)] == labels).float().mean(); `siamkit "
        "enroll`, `identify` and `verify` take an image half-twin (enroll with tower g, search "
        "with tower f)"
    ),
}
