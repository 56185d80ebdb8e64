"""Which input size each tower of an image half-twin (two towers: trained with ``task: half_twin``,
or a HalfTwinNetwork saved in Python) takes, and the sentence for an image at the other tower's size
(a sketch given where a photo belongs), shared by the command line and the service, which each read
the image's size their own way."""

from __future__ import annotations

from typing import Any

Size = tuple[int, int]


def tower_sizes(model: Any) -> tuple[Size, Size] | None:
    """``(f's (H, W), g's (H, W))`` of an image half-twin whose towers differ in size, else None."""
    if getattr(model, "kind", None) != "half_twin":
        return None
    f = getattr(getattr(model, "preprocess_f", None), "input_shape", None)
    g = getattr(getattr(model, "preprocess_g", None), "input_shape", None)
    if f is None or g is None or len(f) != 3 or len(g) != 3 or tuple(f[1:]) == tuple(g[1:]):
        return None
    return (int(f[1]), int(f[2])), (int(g[1]), int(g[2]))


def other_tower_problem(
    sizes: tuple[Size, Size], name: str, width: int, height: int, role: str, also_g: str
) -> str | None:
    """The sentence (no final stop) for the image ``name`` of ``width`` x ``height`` when that is
    exactly the other tower's input size: for ``role="query"`` (tower f) g's size, for
    ``role="document"`` (tower g, what is enrolled) f's; ``also_g`` names what else goes through
    g (``"verify's OTHER"``). None for any other size, which is resized as for any model.

    >>> other_tower_problem(((28, 28), (14, 14)), "a.png", 14, 14, "query", "")[:34]
    'a.png is 14x14, the size of this h'
    >>> other_tower_problem(((28, 28), (14, 14)), "a.png", 20, 20, "query", "") is None
    True
    """
    f, g = sizes
    own, other = (f, g) if role == "query" else (g, f)
    if (height, width) != other:
        return None
    if role == "query":
        return (
            f"{name} is {width}x{height}, the size of this half-twin's second kind of input "
            f"(tower g, what is enrolled), but a query goes through tower f "
            f"({own[1]}x{own[0]}): give an image of the first kind here, or enroll this one"
        )
    return (
        f"{name} is {width}x{height}, the size of this half-twin's first kind of input (tower f, "
        f"what is searched with), but what is enrolled and {also_g} go through tower g "
        f"({own[1]}x{own[0]}): give an image of the second kind here"
    )
