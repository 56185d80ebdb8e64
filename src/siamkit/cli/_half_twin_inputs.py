"""Which tower of an image half-twin (``task: half_twin``) an image file goes through, and the
refusal of a file at the other tower's size: a sketch given where a photo belongs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click


def _image_sizes(model: Any) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """``(f's (H, W), g's (H, W))`` of an image half-twin whose towers differ in size, else None."""
    if getattr(model, "kind", None) != "half_twin":
        return None
    f = getattr(getattr(model, "preprocess_f", None), "input_shape", None)
    g = getattr(getattr(model, "preprocess_g", None), "input_shape", None)
    if f is None or g is None or len(f) != 3 or len(g) != 3 or f[1:] == g[1:]:
        return None
    return (int(f[1]), int(f[2])), (int(g[1]), int(g[2]))


def refuse_other_tower_size(model: Any, paths: Sequence[Any], role: str) -> None:
    """Refuse, before anything is read or written, an image file whose size is exactly the other
    tower's input size (and not its own tower's): for ``role="query"`` (tower f) one at g's size,
    for ``role="document"`` (tower g, what is enrolled) one at f's. Images of any other size are
    resized as for any model; a file that cannot be opened is left to the reader to name."""
    sizes = _image_sizes(model)
    if sizes is None:
        return
    from PIL import Image

    f, g = sizes
    own, other = (f, g) if role == "query" else (g, f)
    for path in paths:
        try:
            with Image.open(path) as im:
                w, h = im.size
        except (OSError, ValueError):
            continue
        if (h, w) != other:
            continue
        if role == "query":
            raise click.ClickException(
                f"{path} is {w}x{h}, the size of this half-twin's second kind of input (tower g, "
                f"what is enrolled), but a query goes through tower f ({own[1]}x{own[0]}): give "
                "an image of the first kind here, or enroll this one"
            )
        raise click.ClickException(
            f"{path} is {w}x{h}, the size of this half-twin's first kind of input (tower f, what "
            f"is searched with), but what is enrolled and verify's OTHER go through tower g "
            f"({own[1]}x{own[0]}): give an image of the second kind here"
        )
