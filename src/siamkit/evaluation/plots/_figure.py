"""Figure creation on the Agg canvas, without pyplot's global state (safe in threads and servers)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Enough distinct colours for up to 20 classes; more classes cycle.
CLASS_CMAP = "tab10"
CLASS_CMAP_MANY = "tab20"


def new_figure(width: float = 6.4, height: float = 4.8, **kwargs: Any) -> Figure:
    """A matplotlib ``Figure`` attached to an Agg canvas (matplotlib is imported here, lazily)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained", **kwargs)
    FigureCanvasAgg(fig)
    return fig


def figure_to_png(fig: Figure, dpi: int = 110) -> bytes:
    """Render a figure to PNG bytes.

    Example:
        >>> fig = new_figure()
        >>> figure_to_png(fig)[:4]
        b'\\x89PNG'
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def class_colors(n: int) -> list[Any]:
    """``n`` distinguishable RGBA colours."""
    from matplotlib import colormaps

    cmap = colormaps[CLASS_CMAP if n <= 10 else CLASS_CMAP_MANY]
    return [cmap(i % cmap.N) for i in range(n)]
