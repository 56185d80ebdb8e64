"""A user runs ``pip install siamkit``: the wheel, not this checkout. Every file the package reads
beside its modules must be in it: the web page's static files, ``py.typed``, ``peers.json``, the
built-in tracker's weights, and the example configs that ``siamkit configs`` writes out (the
repository's ``configs/``, shipped as ``siamkit/configs``). The wheel is built from a clean copy
of the sources, as a release is, so a stale ``build/`` folder in the checkout plays no part."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from setuptools.config.pyprojecttoml import read_configuration

ROOT = Path(__file__).resolve().parents[1]


def _data_files() -> dict[str, Path]:
    """``{"siamkit/service/static/app.js": path, ...}``: the package's files that are not Python
    modules, symlinked folders (siamkit/configs) followed, as the wheel should hold them."""
    src = ROOT / "src"
    found = {}
    for folder, dirs, names in os.walk(src / "siamkit", followlinks=True):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in names:
            path = Path(folder) / name
            if path.suffix not in (".py", ".pyc"):
                found[path.relative_to(src).as_posix()] = path
    return found


def _shipped_by(package_data: dict[str, list[str]], file: str) -> bool:
    """Whether a ``package-data`` entry (``"siamkit.service" = ["static/*"]``) ships ``file``
    (``"siamkit/service/static/app.js"``): a glob's ``*`` stays within one folder, as in
    setuptools."""
    for package, patterns in package_data.items():
        prefix = package.replace(".", "/") + "/"
        if not file.startswith(prefix):
            continue
        parts = file.removeprefix(prefix).split("/")
        for pattern in patterns:
            globs = pattern.split("/")
            if len(globs) == len(parts) and all(map(fnmatch.fnmatchcase, parts, globs)):
                return True
    return False


def test_pyproject_ships_every_file_the_package_reads() -> None:
    """The fast check (the slow tests below build the wheel): a package-data glob for each."""
    settings = read_configuration(ROOT / "pyproject.toml")["tool"]["setuptools"]
    package_data = settings["package-data"]
    files = _data_files()
    assert "siamkit/configs/data/text-pairs-example.csv" in files
    assert [f for f in sorted(files) if not _shipped_by(package_data, f)] == []
    assert _shipped_by({"siamkit.service": ["static/*"]}, "siamkit/service/static/a.js")
    assert not _shipped_by({"siamkit.service": ["static/*"]}, "siamkit/service/static/x/a.js")
    assert not _shipped_by({"siamkit": ["*.json"]}, "siamkit/evaluation/peers.json")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel built from a copy of src/, configs/, pyproject.toml and README.md (5-15 s)."""
    tmp = tmp_path_factory.mktemp("wheel")
    tree = tmp / "tree"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "src", tree / "src", symlinks=True, ignore=skip)
    shutil.copytree(ROOT / "configs", tree / "configs", ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, tree / name)
    out = tmp / "dist"
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    done = subprocess.run([*pip, "-w", str(out), str(tree)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = out.glob("siamkit-*.whl")
    return zipfile.ZipFile(path)


@pytest.mark.slow
def test_the_wheel_holds_every_file_the_package_reads(wheel: zipfile.ZipFile) -> None:
    expected = _data_files()
    assert {"siamkit/py.typed", "siamkit/service/static/index.html"} <= set(expected)
    assert "siamkit/configs/demo.yaml" in expected  # src/siamkit/configs -> ../../configs
    assert sorted(set(expected) - set(wheel.namelist())) == []


@pytest.mark.slow
def test_the_wheels_configs_are_the_repositorys(wheel: zipfile.ZipFile) -> None:
    shipped = {
        n.removeprefix("siamkit/configs/"): wheel.read(n)
        for n in wheel.namelist()
        if n.startswith("siamkit/configs/") and not n.endswith("/")
    }
    base = ROOT / "configs"
    repo = {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*") if p.is_file()}
    assert shipped == repo


@pytest.mark.slow
def test_the_wheel_holds_the_modules_and_no_others(wheel: zipfile.ZipFile) -> None:
    src = ROOT / "src"
    modules = {p.relative_to(src).as_posix() for p in (src / "siamkit").rglob("*.py")}
    in_wheel = {n for n in wheel.namelist() if n.endswith(".py")}
    assert in_wheel == modules
    entry = wheel.read(next(n for n in wheel.namelist() if n.endswith("entry_points.txt")))
    assert b"siamkit = siamkit.cli.main:main" in entry


def test_readme_installs_the_wheel_this_version_builds_and_writes_the_configs_out() -> None:
    """README's Install section, for a siamkit installed from its wheel: the file name it gives
    is the one `pip wheel` makes of this version, and `siamkit configs` comes before the first
    `siamkit train configs/...` line, which would otherwise find no configs/ folder."""
    import re

    import siamkit

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    install = readme.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    names = re.findall(r"dist/siamkit-([^-\s]+)-py3-none-any\.whl", install)
    assert names and set(names) == {siamkit.__version__}
    assert "rm -rf build" in install  # a stale build/ puts deleted modules in the wheel
    lines = [line.split("#")[0].strip() for line in install.splitlines()]
    writes = lines.index("siamkit configs")
    trains = next(i for i, line in enumerate(lines) if line.startswith("siamkit train configs/"))
    assert writes < trains
