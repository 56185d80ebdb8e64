"""The small pretrained tracker shipped inside the package (used when ``siamkit track`` gets no ``--model``).

Made by ``siamkit train configs/siamfc.yaml --out runs/siamfc-small`` (see BENCHMARKS.md for the
data, time and scores) and copied to ``pretrained/siamfc-small/``.

>>> net = load_pretrained_tracker()
"""

from __future__ import annotations

from pathlib import Path

from siamkit.applications.tracking.model import SiamFCNet

PRETRAINED_DIR = Path(__file__).parent / "pretrained" / "siamfc-small"

#: What ``siamkit train`` of a ``task: siamfc`` config takes as ``--init-from`` (or
#: ``model.init_from``) for the built-in tracker: ``--init-from builtin`` (a folder of that name
#: is ``./builtin``).
BUILTIN_NAME = "builtin"


def tracker_folder(init_from: str) -> Path:
    """The folder ``init_from`` names: :data:`PRETRAINED_DIR` for :data:`BUILTIN_NAME`, else
    the path itself."""
    return PRETRAINED_DIR if init_from == BUILTIN_NAME else Path(init_from)


def load_pretrained_tracker() -> SiamFCNet:
    """The shipped real-time tracker (``small`` backbone), in eval mode."""
    from siamkit.export.bundle import load_model

    if not (PRETRAINED_DIR / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"the built-in tracker is missing from {PRETRAINED_DIR}; reinstall siamkit or pass --model"
        )
    net = load_model(PRETRAINED_DIR)
    assert isinstance(net, SiamFCNet)
    return net
