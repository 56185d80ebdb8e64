"""Figures for evaluation reports. Each ``plot_*`` returns a matplotlib ``Figure``.

Figures are drawn on their own Agg canvas (``matplotlib`` is imported when a plot is made,
never at ``import siamkit``), so plotting never changes the global pyplot backend and works in
servers and threads. Use :func:`figure_to_png` to get PNG bytes, or ``fig.savefig(path)``.

Example:
    >>> from siamkit.evaluation import verification_report
    >>> fig = plot_roc(verification_report([0.1, 0.2, 0.3], [0.25, 0.8, 0.9]))
    >>> figure_to_png(fig)[:4]
    b'\\x89PNG'
"""

from siamkit.evaluation.plots._figure import figure_to_png, new_figure
from siamkit.evaluation.plots.analysis import plot_confusions, plot_failure_pairs
from siamkit.evaluation.plots.curves import (
    plot_det,
    plot_distance_histograms,
    plot_roc,
    plot_roc_det,
    plot_training_curves,
)
from siamkit.evaluation.plots.embeddings import (
    as_display_images,
    pick_queries,
    plot_embedding_map,
    plot_neighbor_grid,
    project_2d,
)

__all__ = [
    "as_display_images",
    "figure_to_png",
    "new_figure",
    "pick_queries",
    "plot_confusions",
    "plot_det",
    "plot_distance_histograms",
    "plot_embedding_map",
    "plot_failure_pairs",
    "plot_neighbor_grid",
    "plot_roc",
    "plot_roc_det",
    "plot_training_curves",
    "project_2d",
]
