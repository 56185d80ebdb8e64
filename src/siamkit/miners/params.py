"""Moved to :mod:`siamkit.params`; this name stays importable for plug-ins that use it."""

from siamkit.params import ParamError, choice, count, flag, number

__all__ = ["ParamError", "choice", "count", "flag", "number"]
