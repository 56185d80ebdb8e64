"""A notebook user's evaluate_embeddings on a small set (10 items a class) met few_shot_episodes'
'lower n_way, k_shot or n_query', names evaluate_embeddings does not take (it takes few_shot and
n_query), and only after the verification section had run. It is now refused first, naming
few_shot and n_query and how to skip few-shot."""

from __future__ import annotations

import pytest
import torch

from siamkit.evaluation import evaluate_embeddings


def _small() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(40, 8, generator=g), torch.arange(40) % 4  # 10 items a class


def test_a_setting_the_labels_cannot_fill_names_few_shot_and_n_query() -> None:
    z, y = _small()
    with pytest.raises(
        ValueError,
        match=r"^few_shot setting \(4, 1\) with n_query=15 needs 4 classes with at least 16 items "
        r"each, but 0 have that many; give smaller few_shot=\(\(n_way, k_shot\), \.\.\.\) or "
        r"n_query, or few_shot=\(\) to skip few-shot$",
    ):
        evaluate_embeddings(z, y)


def test_it_is_refused_before_the_verification_section_runs(monkeypatch) -> None:
    import siamkit.evaluation.evaluate as ev

    ran = []
    monkeypatch.setattr(ev, "verification_from_embeddings", lambda *a, **k: ran.append(1))
    z, y = _small()
    with pytest.raises(ValueError, match="few_shot setting"):
        evaluate_embeddings(z, y, few_shot=((4, 1), (5, 1)), n_query=5)
    assert ran == []


def test_settings_that_fit_and_no_few_shot_run() -> None:
    z, y = _small()
    rep = evaluate_embeddings(z, y, few_shot=((4, 1),), n_query=5, episodes=10)
    assert set(rep.few_shot) == {"4way1shot"}
    assert not evaluate_embeddings(z, y, few_shot=()).few_shot


def test_one_class_that_fills_it_has_that_many_and_thousands_are_grouped() -> None:
    from siamkit.evaluation.evaluate import _check_few_shot_fits

    with pytest.raises(ValueError) as one:  # class 0 alone has 1 shot + 1 query
        _check_few_shot_fits(((3, 1),), 1, torch.tensor([0, 0, 1, 2]))
    assert "needs 3 classes with at least 2 items each, but 1 has that many; " in str(one.value)
    codes = torch.arange(1000).repeat_interleave(2)  # 1,000 classes of 2 items
    with pytest.raises(ValueError) as many:
        _check_few_shot_fits(((1001, 1),), 1, codes)
    assert "needs 1,001 classes with at least 2 items each, but 1,000 have that many; " in str(
        many.value
    )
