"""export --int8's check line: its figures add up and read like evaluate's table."""

from __future__ import annotations

from siamkit.cli._int8_check import describe

BASIS = "the model records no run's eval.ways or eval.shots"


def _check(fp32: tuple[float, float], int8: tuple[float, float]) -> dict[str, object]:
    f, q = ({"eer": e, "5way1shot": s} for e, s in (fp32, int8))
    return {
        "images": "240 images of 20 classes", "few_shot": [{"n_way": 5, "k_shot": 1}],
        "few_shot_basis": BASIS, "fp32": f, "int8": q, "change": {k: q[k] - f[k] for k in f},
    }  # fmt: skip


def test_each_change_is_that_of_the_figures_shown() -> None:
    # a synthetic parts folder's export said 'EER 0.045 -> 0.045 (+0.001)': EER 0.04474 -> 0.04526
    line = describe(_check((0.04474, 0.97651), (0.04526, 0.97649)))
    assert line == (
        "int8 vs fp32 on 240 images of 20 classes: EER 0.0447 -> 0.0453 (+0.0006), "
        f"5-way 1-shot 0.9765 -> 0.9765 (+0.0000) ({BASIS})"
    )


def test_a_drop_keeps_its_sign() -> None:
    line = describe(_check((0.2, 0.7), (0.19, 0.71234)))
    assert "EER 0.2000 -> 0.1900 (-0.0100), 5-way 1-shot 0.7000 -> 0.7123 (+0.0123) (" in line


def test_the_check_takes_the_runs_recorded_ways_and_shots() -> None:
    """A parts-folder run recorded eval.ways 20, and export --int8 measured 5-way 1-shot: a
    figure metrics.json has not. The check takes the run's ways and shots the images allow."""
    import numpy as np

    from siamkit.cli._int8_check import check_settings, run_protocol

    y = np.repeat(np.arange(40), 6)  # 40 test classes of 6 images
    doc = {"metadata": {"config": {"eval": {"shots": [1, 5], "ways": 20}}}}
    settings, basis = check_settings(y, run_protocol(doc))
    # one number of queries, what every setting allows, as the run lowered eval.queries
    assert [(s["n_way"], s["k_shot"], s["n_query"]) for s in settings] == [(20, 1, 1), (20, 5, 1)]
    assert basis == (
        "N-way K-shot as the model's run recorded it: eval.ways 20, eval.shots 1,5; the check's "
        "own episodes 300, queries 15, seed 0"
    )
    # eval.ways null: as the run took them (all classes up to 20, else 5 and 20)
    null = {"metadata": {"config": {"eval": {"shots": [1], "ways": None}}}}
    settings, basis = check_settings(y, run_protocol(null))
    assert [(s["n_way"], s["k_shot"]) for s in settings] == [(5, 1), (20, 1)]
    assert "eval.ways null, eval.shots 1; " in basis
    settings, basis = check_settings(y[:60], run_protocol(null))  # 10 classes: all 10
    assert [(s["n_way"], s["k_shot"]) for s in settings] == [(10, 1)]
    # what the images cannot give falls back to up to 5-way 1-shot, saying why
    big = {"metadata": {"config": {"eval": {"shots": [10], "ways": 20}}}}
    settings, basis = check_settings(y, run_protocol(big))
    assert [(s["n_way"], s["k_shot"]) for s in settings] == [(5, 1)]
    assert basis.startswith("the model's run recorded eval.ways 20, eval.shots 10, which these")
    settings, basis = check_settings(y, run_protocol({"metadata": {}}))
    assert [(s["n_way"], s["k_shot"]) for s in settings] == [(5, 1)] and basis == BASIS
