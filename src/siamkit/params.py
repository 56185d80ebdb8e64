"""Checks of the settings of losses, miners and other parts, one sentence per bad value.

Each check returns the value as the loss or miner keeps it, or raises a :class:`ParamError`:
a ``ValueError`` that names the parameter, what it must be and what it got
(``beta must be a finite number > 0 (the paper's 1.2), got -1.0.``). A run config re-raises it
under the key the value came from (``loss.params.beta must be ...``), so the sentence is written
once, here, whether the loss is built in Python or from a config.

>>> number("scale", 64, low=0, open_low=True)
64.0
>>> number("alpha", 90.0, low=0, high=90, open_low=True, open_high=True, note="degrees")
Traceback (most recent call last):
    ...
siamkit.params.ParamError: alpha must be a number in (0, 90) (degrees), got 90.0.
"""

from __future__ import annotations

import math
import numbers

#: Bounds shown by name rather than as a decimal.
_NAMED_BOUNDS = {math.pi / 2: "pi/2"}


class ParamError(ValueError):
    """The setting ``param`` is ``value``, which is not ``valid`` (a phrase: ``"a finite number
    >= 0"``). ``param`` is a loss's or miner's parameter (``beta``) or a run config's own key
    (``optim.loss_lr_factor``, ``train.ema_decay``):
    :func:`siamkit.training.config_checks.check_config` checks those through :func:`number` too."""

    def __init__(self, param: str, value: object, valid: str) -> None:
        self.param, self.value, self.valid = param, value, valid
        super().__init__(self.named(param))

    def named(self, where: str) -> str:
        """The sentence with the parameter called ``where`` (a config key)."""
        return f"{where} must be {self.valid}, got {self.value!r}."

    def __reduce__(self) -> tuple[type[ParamError], tuple[str, object, str]]:
        return type(self), (self.param, self.value, self.valid)


def _show(bound: float) -> str:
    return _NAMED_BOUNDS.get(bound, f"{bound:g}")


def _with_note(valid: str, note: str) -> str:
    return f"{valid} ({note})" if note else valid


def number(
    param: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
    note: str = "",
) -> float:
    """``value`` as a float if it is a finite real number within ``[low, high]`` (either end
    open, either left out), else a :class:`ParamError`. ``note`` follows the range in brackets
    (a unit, the paper's value)."""
    if low is None and high is None:
        valid = "a finite number"
    elif high is None:
        valid = f"a finite number {'>' if open_low else '>='} {_show(low)}"  # type: ignore[arg-type]
    elif low is None:
        valid = f"a finite number {'<' if open_high else '<='} {_show(high)}"
    else:
        left, right = "(" if open_low else "[", ")" if open_high else "]"
        valid = f"a number in {left}{_show(low)}, {_show(high)}{right}"
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    x = float(value) if real else math.nan  # type: ignore[arg-type]
    if (
        not math.isfinite(x)
        or (low is not None and (x <= low if open_low else x < low))
        or (high is not None and (x >= high if open_high else x > high))
    ):
        raise ParamError(param, value, _with_note(valid, note))
    return x


def count(param: str, value: object, low: int = 1, *, note: str = "") -> int:
    """``value`` as an int if it is a whole number ``>= low``, else a :class:`ParamError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ParamError(param, value, _with_note(f"a whole number >= {low}", note))
    return int(value)


def choice(param: str, value: object, options: tuple[str, ...]) -> str:
    """``value`` if it is one of ``options``, else a :class:`ParamError` listing them."""
    if not isinstance(value, str) or value not in options:
        raise ParamError(param, value, f"one of {', '.join(options)}")
    return value


def flag(param: str, value: object) -> bool:
    """``value`` if it is ``True`` or ``False`` (not a string such as ``"false"``, which would
    read as true), else a :class:`ParamError`."""
    if not isinstance(value, bool):
        raise ParamError(param, value, "true or false")
    return value


__all__ = ["ParamError", "choice", "count", "flag", "number"]
