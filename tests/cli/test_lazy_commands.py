"""The `siamkit` group imports a command's module only when that command runs."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from siamkit.cli.main import _COMMANDS, cli, command_name

SRC = Path(__file__).resolve().parents[2] / "src"


def test_every_listed_command_is_found_under_its_name() -> None:
    for module, attr in _COMMANDS:
        command = getattr(importlib.import_module(f"siamkit.cli.{module}"), attr)
        assert command.name == command_name(attr), (module, attr)
        assert cli.get_command(None, command.name) is command  # type: ignore[arg-type]
    names = {command_name(a) for _, a in _COMMANDS}
    assert set(cli.list_commands(None)) == names  # type: ignore[arg-type]
    res = CliRunner().invoke(cli, ["--help"])
    assert res.exit_code == 0 and all(f"  {n} " in res.output for n in names)
    res = CliRunner().invoke(cli, ["no-such-command"])
    assert res.exit_code == 2 and "No such command" in res.output


def test_starting_the_group_imports_no_command_module() -> None:
    script = (
        "import sys; import siamkit.cli.main\n"
        "print(sorted(m for m in sys.modules if m.startswith('siamkit.cli.') or m == 'torch'))"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "['siamkit.cli.main']"
