"""A single item where the config takes a list is a list of one, in YAML and in --set: the
refusal of too many shots advises "lower eval.shots (at most 3 ...)", and ``eval.shots=3`` must
then work; a key that also takes the item itself (a count of classes) keeps that meaning."""

from __future__ import annotations

import pytest

from siamkit.training.config import RunConfig
from siamkit.training.config_io import config_from_dict, load_config
from siamkit.training.config_overrides import apply_overrides
from siamkit.training.config_sections import ConfigError


def test_one_shot_count_is_a_list_of_one_in_set_and_yaml(tmp_path) -> None:
    assert apply_overrides(RunConfig(), ["eval.shots=3"]).eval.shots == (3,)
    assert config_from_dict({"eval": {"shots": 3}}).eval.shots == (3,)
    path = tmp_path / "run.yaml"
    path.write_text("eval:\n  shots: 3\nmodel:\n  head_hidden: 64\n", encoding="utf-8")
    cfg = load_config(path)
    assert cfg.eval.shots == (3,)
    assert cfg.model.head_hidden == (64,)


def test_a_key_that_takes_a_count_keeps_the_count() -> None:
    cfg = apply_overrides(RunConfig(), ["data.train_classes=3", "eval.ways=5"])
    assert cfg.data.train_classes == 3
    assert cfg.eval.ways == 5


@pytest.mark.parametrize(
    ("item", "said"),
    [
        ("eval.shots=abc", "eval.shots must be a list of int, got 'abc'"),
        ("eval.shots=true", "eval.shots must be a list of int, got True"),
        ("eval.shots=[1, x]", "eval.shots[1] must be int, got 'x'"),
    ],
)
def test_a_wrong_item_is_still_refused(item: str, said: str) -> None:
    with pytest.raises(ConfigError) as err:
        apply_overrides(RunConfig(), [item])
    assert str(err.value) == said


def test_a_fixed_length_value_is_not_read_as_a_list_of_one() -> None:
    """A pair (a signature run's image_size, height and width) given one number is refused as
    before: a list of one would only fail later, further from the key."""
    from siamkit.applications.signatures.config import _SECTIONS
    from siamkit.training.config_sections import _section

    with pytest.raises(ConfigError, match=r"^data\.image_size must be a list of int, got 78$"):
        _section(_SECTIONS["data"], {"image_size": 78}, "data")
