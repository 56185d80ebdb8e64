"""A key put in the wrong section of a ``task: ssl`` config is refused in a sentence saying where
it belongs: the generic unknown-key sentence offered ``train_classes`` for ``data.val_classes``,
and said nothing of the top-level ``method`` for ``ssl.method``, or of ``optim.lr`` for
``train.lr``. The hint is true for the config's method: a method's own ssl key is sent to section
ssl only if the method uses it (checked by training each method with the key changed), and a key
task: ssl refuses anywhere (loss_lr_factor, freeze_encoder_epochs) is to be removed, not moved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from click.testing import CliRunner

from siamkit.applications.ssl.config import apply_ssl_overrides, ssl_config_from_dict
from siamkit.applications.ssl.methods import METHODS, SelfSupervised, SSLHeadConfig
from siamkit.cli.main import cli
from siamkit.encoders import create_encoder
from siamkit.models import SiameseNetwork
from siamkit.training.config_sections import ConfigError

BASE: dict[str, Any] = {"method": "simclr", "data": {"dataset": "digits"}}


def _refusal(*overrides: str) -> str:
    with pytest.raises(ConfigError) as err:
        ssl_config_from_dict(apply_ssl_overrides(BASE, overrides))
    return str(err.value)


@pytest.mark.parametrize("section", ["ssl", "train", "views"])
def test_a_method_inside_a_section_names_the_top_level_key(section: str) -> None:
    said = _refusal(f"{section}.method=byol")
    assert said.startswith(f"{section}.method is not a key"), said
    assert "method: byol, or --set method=byol" in said
    assert ", ".join(METHODS) in said


@pytest.mark.parametrize(
    ("override", "home"),
    [("train.lr=0.1", "optim.lr"), ("optim.batch_size=8", "train.batch_size"),
     ("train.temperature=0.1", "ssl.temperature"), ("ssl.crop_scale=[0.2,1]", "views.crop_scale")],
)  # fmt: skip
def test_a_key_of_another_section_names_its_section(override: str, home: str) -> None:
    said = _refusal(override)
    assert f"it is {home} (move it to section {home.split('.')[0]}, or --set {home}=...)" in said


def test_supervised_data_keys_say_what_a_self_supervised_run_uses() -> None:
    said = _refusal("data.val_classes=[4,5]")
    assert said.startswith("data.val_classes is not a key of task: ssl"), said
    assert "did you mean 'train_classes'" not in said
    assert "data.val_fraction" in said and "data.val_root" in said
    said = _refusal("data.augmentation=none")
    assert said.startswith("data.augmentation is not a key of task: ssl"), said
    assert "section views" in said


def test_a_plain_misspelling_keeps_the_generic_sentence() -> None:
    said = _refusal("train.epoch=3")
    assert "unknown key 'epoch' in section 'train' (did you mean 'epochs'?)" in said


def test_the_command_line_refuses_it_in_one_sentence_and_writes_nothing(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"task": "ssl", **BASE, "ssl": {"method": "byol"}}))
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(out), "--no-progress"])
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ssl.method is not a key"), res.output
    assert not out.exists()


def test_a_method_override_with_a_key_says_method_is_a_name() -> None:
    said = _refusal("method.name=byol")
    assert said == (
        "override 'method.name=byol': method is a name, not a section: --set method=NAME, one "
        f"of {', '.join(METHODS)}"
    )


#: A value other than the default of each method's ssl key, to see which methods it changes.
_CHANGED = {"temperature": 0.7, "momentum": 0.5, "barlow_lambda": 0.5, "queue_size": 16,
            "pred_hidden": 4}  # fmt: skip


def _losses(method: str, **ssl: Any) -> list[float]:
    """Two SGD steps of ``method`` on fixed random views (seeded alike), with ``ssl`` changed."""
    torch.manual_seed(0)
    net = SiameseNetwork(create_encoder("convnet", in_channels=1, widths=[4]), 8)
    cfg = SSLHeadConfig(**{"proj_dim": 8, "proj_hidden": 16, "pred_hidden": 8, **ssl})
    model = SelfSupervised(net, method, cfg)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(8, 1, 8, 8, generator=gen)
    views = torch.cat([x, x + 0.1 * torch.rand(8, 1, 8, 8, generator=gen)])
    out = []
    for step in range(2):
        loss = model.objective(model(views))
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.after_step(step=step, total=10)
        out.append(loss.item())
    return out


@pytest.fixture(scope="module")
def used() -> dict[str, set[str]]:
    """Each method's ssl keys among _CHANGED, found by training it with the key changed (the
    reference the hints are checked against, not their table)."""
    return {
        method: {k for k, v in _CHANGED.items() if _losses(method, **{k: v}) != _losses(method)}
        for method in METHODS
    }


def test_the_reference_finds_each_methods_keys(used: dict[str, set[str]]) -> None:
    assert used["simclr"] == {"temperature"} and used["vicreg"] == set()
    assert used["byol"] == {"momentum", "pred_hidden"}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("key", sorted(_CHANGED))
def test_a_methods_key_elsewhere_is_sent_to_ssl_only_if_the_method_uses_it(
    used: dict[str, set[str]], method: str, key: str
) -> None:
    """It was "it is ssl.KEY" under every method: ssl.temperature under byol is taken and unused."""
    said = _refusal(f"method={method}", f"train.{key}={_CHANGED[key]}")
    if key in used[method]:
        assert f"it is ssl.{key} (move it to section ssl, or --set ssl.{key}=...)" in said, said
        # moved there, it is taken
        ssl_config_from_dict(
            apply_ssl_overrides(BASE, [f"method={method}", f"ssl.{key}={_CHANGED[key]}"])
        )
        return
    assert f"it is ssl.{key}" not in said and f"ssl.{key} is " in said, said
    if key == "momentum":  # the optimiser's is optim.momentum: sent there, for SGD
        assert said.endswith(f"which method: {method} does not use"), said
    else:
        assert f"and method: {method} does not use it" in said, said
        own = sorted(f"ssl.{k}" for k in used[method])
        named = sorted(k for k in said.replace(",", " ").replace(")", " ").split() if
                       k.startswith("ssl.") and k != f"ssl.{key}")  # fmt: skip
        assert named == own, said
        assert said.endswith(f": remove train.{key}"), said


def test_a_byol_momentum_names_the_target_and_the_optimisers() -> None:
    """BYOL's train.momentum got the generic sentence (momentum is in ssl and in optim)."""
    said = _refusal("method=byol", "train.momentum=0.996")
    assert said == (
        "unknown key 'momentum' in section 'train': it is ssl.momentum (move it to section ssl, "
        "or --set ssl.momentum=...), BYOL's target momentum; the optimiser's is optim.momentum, "
        "which only optim.optimizer: sgd uses"
    )
    said = _refusal("method=vicreg", "train.momentum=0.9")
    assert "the optimiser's momentum is optim.momentum" in said, said
    assert "--set optim.momentum=...)" in said


@pytest.mark.parametrize(("key", "home"), [("loss_lr_factor", "optim"), ("freeze_encoder_epochs", "model")])  # fmt: skip
@pytest.mark.parametrize("section", ["train", "ssl"])
def test_a_supervised_key_elsewhere_says_remove_it_not_move_it(
    key: str, home: str, section: str
) -> None:
    """It said "it is optim.loss_lr_factor (move it ...)", and there it is refused."""
    said = _refusal(f"{section}.{key}=2")
    assert f"it is {home}.{key}" not in said, said
    assert f"{home}.{key} is for supervised " in said
    assert "not task: ssl" in said and said.endswith(f"remove {section}.{key}"), said
    at_home = _refusal(f"{home}.{key}=2")  # where the old hint sent it: refused
    assert "not task: ssl" in at_home, at_home
