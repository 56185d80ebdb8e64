"""User code outside the package: ``siamkit --plugin MODULE``, ``$SIAMKIT_PLUGINS`` and the
``siamkit.plugins`` entry points import the modules that register a user's parts, so a config
names them as it names the built-in ones."""

from __future__ import annotations

import importlib.metadata
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.encoders.registry import ENCODERS
from siamkit.registry import PLUGIN_GROUP, import_plugins

ENCODER_MODULE = """
from torch import nn
from siamkit.encoders import register_encoder


class TinyCNN(nn.Module):
    def __init__(self, in_channels: int = 1, width: int = 8):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.num_features = width

    def forward(self, x):
        return self.net(x)


register_encoder("{name}", TinyCNN)
"""


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """``(module name, encoder name)``: a user's file in ``tmp_path`` (the current folder) that
    registers an encoder; both unknown to this process until imported, and forgotten after."""
    tag = uuid.uuid4().hex[:8]
    module, encoder = f"my_parts_{tag}", f"tiny_cnn_{tag}"
    (tmp_path / f"{module}.py").write_text(ENCODER_MODULE.format(name=encoder))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delenv("SIAMKIT_PLUGINS", raising=False)
    yield module, encoder
    sys.modules.pop(module, None)
    if encoder in ENCODERS:
        ENCODERS.unregister(encoder)


def _help(args: list[str]) -> str:
    res = CliRunner().invoke(cli, [*args, "train", "--help"])
    assert res.exit_code == 0, res.output
    return res.output


def test_plugin_option_imports_a_module_of_the_current_folder(user_module) -> None:
    module, encoder = user_module
    assert encoder not in _help([])
    assert encoder in _help(["--plugin", module])  # train --help lists the registries' names


def test_plugins_from_the_environment(user_module, monkeypatch) -> None:
    module, encoder = user_module
    monkeypatch.setenv("SIAMKIT_PLUGINS", f"json, {module}")
    assert encoder in _help([])


def test_a_plugin_file_is_imported_from_its_own_folder(user_module, tmp_path, monkeypatch) -> None:
    module, encoder = user_module
    monkeypatch.chdir("/")
    assert encoder in _help(["--plugin", str(tmp_path / f"{module}.py")])


def test_an_installed_packages_entry_point_is_imported(user_module, monkeypatch) -> None:
    module, encoder = user_module
    ep = importlib.metadata.EntryPoint(name="mine", value=module, group=PLUGIN_GROUP)
    monkeypatch.syspath_prepend(str(Path.cwd()))

    def entry_points(**kw: str) -> list[importlib.metadata.EntryPoint]:
        return [ep] if kw.get("group") == PLUGIN_GROUP else []

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    assert import_plugins() == [module] and encoder in ENCODERS


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        ("no_such_mod", "cannot find the plug-in module 'no_such_mod'; run siamkit in the folder"),
        ("my-parts", "'my-parts' is not a module name"),
        ("missing.py", "plug-in file missing.py does not exist"),
    ],
)
def test_a_plugin_that_cannot_be_imported_is_one_sentence(
    user_module, plugin: str, message: str
) -> None:
    res = CliRunner().invoke(cli, ["--plugin", plugin, "train", "--help"])
    assert res.exit_code == 1 and res.output.startswith("Error: ") and message in res.output
    assert res.output.count("\n") == 1 and "Traceback" not in res.output


def test_a_plugin_whose_own_code_fails_is_named(user_module, tmp_path) -> None:
    (tmp_path / "broken_parts.py").write_text("import no_such_dependency_xyz\n")
    res = CliRunner().invoke(cli, ["--plugin", "broken_parts", "train", "--help"])
    sys.modules.pop("broken_parts", None)
    assert res.exit_code == 1
    assert "the plug-in module 'broken_parts' failed to import" in res.output
    assert "no_such_dependency_xyz" in res.output
