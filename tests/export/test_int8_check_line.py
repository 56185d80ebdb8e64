"""export --int8's check line: its figures add up and read like evaluate's table."""

from __future__ import annotations

from siamkit.cli._int8_check import describe


def _check(fp32: tuple[float, float], int8: tuple[float, float]) -> dict[str, object]:
    f, q = ({"eer": e, "one_shot": s} for e, s in (fp32, int8))
    return {
        "images": "240 images of 20 classes", "n_way": 5, "fp32": f, "int8": q,
        "change": {k: q[k] - f[k] for k in f},
    }  # fmt: skip


def test_each_change_is_that_of_the_figures_shown() -> None:
    # a synthetic parts folder's export said 'EER 0.045 -> 0.045 (+0.001)': EER 0.04474 -> 0.04526
    line = describe(_check((0.04474, 0.97651), (0.04526, 0.97649)))
    assert line == (
        "int8 vs fp32 on 240 images of 20 classes: EER 0.0447 -> 0.0453 (+0.0006), "
        "5-way 1-shot 0.9765 -> 0.9765 (+0.0000)"
    )


def test_a_drop_keeps_its_sign() -> None:
    line = describe(_check((0.2, 0.7), (0.19, 0.71234)))
    assert line.endswith("EER 0.2000 -> 0.1900 (-0.0100), 5-way 1-shot 0.7000 -> 0.7123 (+0.0123)")
