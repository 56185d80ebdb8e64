"""The N-way K-shot settings of ``siamkit evaluate``: its options read, its defaults, those the
model's run recorded (taken where no option is given, with a line saying so), and the shots
a small set of classes can meet."""

from __future__ import annotations

from typing import Any, NamedTuple

import click

from siamkit.clauses import listed


def _episode_sizes(text: str, option: str, letter: str, least: int) -> tuple[int, ...]:
    """``--ways 5,20`` / ``--shots 1,5`` -> ``(5, 20)``; a click error naming ``option``."""
    try:
        values = tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        values = ()
    if not values:
        raise click.BadParameter(
            f"{text!r} is not a comma-separated list of whole numbers (the {letter} of N-way "
            f"K-shot, e.g. {'5,20' if letter == 'N' else '1,5'})",
            param_hint=option,
        )
    if min(values) < least:
        raise click.BadParameter(
            f"{text!r}: each {letter} of N-way K-shot must be at least {least}", param_hint=option
        )
    return values


#: evaluate's --shots when none is given (the README's Fashion-MNIST figures use them)
DEFAULT_SHOTS = (1, 5)


# EvalConfig's (not imported: the CLI starts fast)
DEFAULT_EPISODES, DEFAULT_QUERIES, DEFAULT_SEED = 1000, 15, 0


class _Recorded(NamedTuple):
    """The N-way K-shot settings the model's run evaluated with that evaluate takes by default,
    each ``None`` where the run recorded none, or what evaluate takes anyway."""

    shots: tuple[int, ...] | None
    ways: tuple[int, ...] | None
    episodes: int | None
    queries: int | None
    seed: int | None


def _recorded(meta: dict[str, Any]) -> _Recorded:
    """The model's run's N-way K-shot settings (its saved config's ``eval`` section, read as
    export's int8 check reads it: :func:`~siamkit.cli._int8_check.run_protocol`), less those
    equal to evaluate's defaults (shots 1,5; ways unset; 1000 episodes; 15 queries; seed 0).

    >>> _recorded({"config": {"eval": {"shots": [1, 10], "ways": 5, "episodes": 200}}})
    _Recorded(shots=(1, 10), ways=(5,), episodes=200, queries=None, seed=None)
    >>> _recorded({"config": {"eval": {"shots": [1, 5], "ways": None, "seed": 3}}})
    _Recorded(shots=None, ways=None, episodes=None, queries=None, seed=3)
    """
    from siamkit.cli._int8_check import run_protocol

    run = run_protocol({"metadata": meta})
    if run is None:
        return _Recorded(None, None, None, None, None)

    def unless(value: Any, default: Any) -> Any:
        return None if value == default else value

    return _Recorded(
        unless(run.shots, DEFAULT_SHOTS), run.ways or None, unless(run.episodes, DEFAULT_EPISODES),
        unless(run.queries, DEFAULT_QUERIES), unless(run.seed, DEFAULT_SEED),
    )  # fmt: skip


#: The option of evaluate that chooses each setting it can take from the model's run.
_RUN_SETTING_OPTIONS = {
    "eval.shots": "--shots",
    "eval.ways": "--ways",
    "eval.queries": "--queries",
    "eval.episodes": "--episodes",
    "eval.seed": "--seed",
}


def _from_run_line(
    shots: tuple[int, ...] | None,
    ways: tuple[int, ...] | None,
    queries: int | None = None,
    episodes: int | None = None,
    seed: int | None = None,
) -> str | None:
    """The line saying that evaluate took these N-way K-shot settings from the model's run
    (``None`` when it took none), naming the options that choose them.

    >>> _from_run_line((1, 3), None, episodes=200)
    "N-way K-shot as the model's run recorded it (eval.shots 1,3 and eval.episodes 200); pass --shots or --episodes to choose"
    """
    values = {"eval.shots": shots, "eval.ways": ways, "eval.queries": queries,
              "eval.episodes": episodes, "eval.seed": seed}  # fmt: skip
    taken = {k: v for k, v in values.items() if v is not None}
    if not taken:
        return None

    said = [f"{k} {v if isinstance(v, int) else ','.join(map(str, v))}" for k, v in taken.items()]
    options = listed([_RUN_SETTING_OPTIONS[k] for k in taken], "or")
    return f"N-way K-shot as the model's run recorded it ({listed(said)}); pass {options} to choose"


def _default_shots(
    ways: tuple[int, ...] | None, y: Any, shots: tuple[int, ...] = DEFAULT_SHOTS
) -> tuple[tuple[int, ...], str | None]:
    """The ``shots`` (by default :data:`DEFAULT_SHOTS`; else those the model's run recorded)
    that labels ``y`` can meet at ``ways``, and a line naming those left out (``None`` when all
    are kept); all of them when none can be met, so that the protocol's refusal says why."""
    from siamkit.experiment import check_protocol
    from siamkit.training import EvalConfig

    kept, dropped = [], []
    for k in shots:
        try:
            check_protocol(EvalConfig(shots=(k,), ways=ways), y, "evaluation")
        except ValueError:
            dropped.append(k)
        else:
            kept.append(k)
    if not kept or not dropped:
        return shots, None
    need = ", ".join(
        f"{k}-shot needs {k + 1} images a class ({k} shots + 1 query)" for k in dropped
    )
    return tuple(kept), (
        f"evaluating {', '.join(f'{k}-shot' for k in kept)} only: {need}, which too few of "
        "these classes hold; pass --shots to choose"
    )
