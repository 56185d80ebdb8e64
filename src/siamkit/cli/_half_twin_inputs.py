"""Which tower of an image half-twin (two towers: trained with ``task: half_twin``, or a
HalfTwinNetwork saved in Python) an image file goes through, and the refusal of a file at the other
tower's size: a sketch given where a photo belongs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from siamkit.models.half_twin_sizes import other_tower_problem, tower_sizes


def refuse_other_tower_size(model: Any, paths: Sequence[Any], role: str) -> None:
    """Refuse, before anything is read or written, an image file whose size is exactly the other
    tower's input size (and not its own tower's): for ``role="query"`` (tower f) one at g's size,
    for ``role="document"`` (tower g, what is enrolled) one at f's. Images of any other size are
    resized as for any model; a file that cannot be opened is left to the reader to name."""
    sizes = tower_sizes(model)
    if sizes is None:
        return
    from PIL import Image

    for path in paths:
        try:
            with Image.open(path) as im:
                w, h = im.size
        except (OSError, ValueError):
            continue
        problem = other_tower_problem(sizes, str(path), w, h, role, "verify's OTHER")
        if problem is not None:
            raise click.ClickException(problem)
