"""The ``siamkit.applications.tracking`` package: an ``__all__`` like its siblings', whose names
are those of its modules, imported only when first used."""

from __future__ import annotations

import importlib
import subprocess
import sys


def test_every_name_in_all_resolves_to_its_module() -> None:
    tracking = importlib.import_module("siamkit.applications.tracking")
    assert sorted(tracking.__all__) == sorted(set(tracking.__all__)) == sorted(dir(tracking))
    for name in tracking.__all__:
        obj = getattr(tracking, name)
        if hasattr(obj, "__module__") and not isinstance(obj, (int, str)):
            assert obj.__module__.startswith("siamkit.applications.tracking."), name
            assert getattr(importlib.import_module(obj.__module__), name) is obj, name
    from siamkit.applications.tracking.model import SiamFCNet
    from siamkit.applications.tracking.task import run

    assert tracking.run is run and tracking.SiamFCNet is SiamFCNet


def test_star_import_gives_every_public_name() -> None:
    namespace: dict[str, object] = {}
    exec("from siamkit.applications.tracking import *", namespace)
    tracking = importlib.import_module("siamkit.applications.tracking")
    assert set(tracking.__all__) <= set(namespace)
    assert namespace["SiamFCTracker"] is tracking.SiamFCTracker


def test_importing_the_package_loads_none_of_its_modules() -> None:
    """The docstring's promise: importing the package loads nothing more, and the ONNX runtime
    tracker comes without torch."""
    code = (
        "import sys, siamkit.applications.tracking as t; "
        "print(sorted(m for m in sys.modules if m.startswith(t.__name__ + '.'))); "
        "t.OnnxSiamFC; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "False"]


def test_the_tracker_parameters_load_without_torch() -> None:
    """params.py is read by the ONNX runtime tracker too: its messages (the unknown key's "did you
    mean") use difflib directly, not siamkit.training.config_io, which loads torch."""
    code = (
        "import sys; from siamkit.applications.tracking.params import TrackerParams as P\n"
        "try: P.from_dict({'scale_nums': 3})\n"
        "except ValueError as e: print(repr(str(e).split(';')[0]))\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        "\"unknown tracker parameter scale_nums (did you mean 'scale_num'?)\"",
        "False",
    ]
