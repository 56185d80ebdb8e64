"""run_experiment given what a notebook user has at hand instead of a RunConfig (a YAML mapping,
a path, another task's config) says in one sentence what to pass, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from siamkit.experiment import run_experiment


@pytest.mark.parametrize(
    ("cfg", "names"),
    [
        ({"data": {"dataset": "digits"}}, ["got dict", "config_from_dict", "load_config"]),
        ("configs/demo.yaml", ["got str", "config_from_dict", "load_config"]),
        ({"task": "ssl", "method": "simclr"}, ["task: ssl", "get_task('ssl')"]),
    ],
)
def test_a_config_that_is_not_a_run_config_is_refused_naming_what_to_pass(
    tmp_path: Path, cfg: object, names: list[str]
) -> None:
    # a mapping went as far as an AttributeError ('dict' object has no attribute 'data')
    with pytest.raises(TypeError) as err:
        run_experiment(cfg, tmp_path / "run", progress=False, log=lambda _: None)  # type: ignore[arg-type]
    assert all(n in str(err.value) for n in names), str(err.value)
    assert not (tmp_path / "run").exists()
