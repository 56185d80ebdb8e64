"""Hyper-parameter search over a run config, scored on class-disjoint validation classes only.

>>> from siamkit.tuning import SearchSpace, run_study  # doctest: +SKIP
"""

from siamkit.tuning.results import StudyResult
from siamkit.tuning.search import run_study
from siamkit.tuning.space import DEFAULT_SPACE, Param, SearchSpace, load_space

__all__ = ["DEFAULT_SPACE", "Param", "SearchSpace", "StudyResult", "load_space", "run_study"]
