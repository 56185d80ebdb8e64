"""Figure creation on the Agg canvas, without pyplot's global state (safe in threads and servers)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend

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


#: Text properties that draw a name (a class folder's, a model folder's) as written: matplotlib
#: reads the text between two ``$`` as mathtext, which drew a class ``$5-$10`` as an italic
#: ``5-`` and failed on one that does not parse (``a$}$``). Turning the parsing off, rather than
#: escaping each ``$``, keeps the name exact whatever the user's ``text.parse_math`` (with it
#: off, an escape was drawn as a visible backslash) and whoever calls the plot.
LITERAL: dict[str, Any] = {"parse_math": False}


def literal_legend(ax: Any, handles: Sequence[Any], labels: Sequence[str], **kwargs: Any) -> Legend:
    """``ax.legend`` of exactly these entries, each label drawn as written (:data:`LITERAL`).

    Handles and labels are given, not collected from the artists: matplotlib leaves out an
    artist whose label starts with ``_``, and a class folder ``_background`` had no entry.
    """
    legend = ax.legend(list(handles), [str(s) for s in labels], **kwargs)
    for text in legend.get_texts():
        text.set(**LITERAL)
    return legend
