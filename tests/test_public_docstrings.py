"""What ``help()`` shows a notebook user: every public function and class of the packages a
training loop of one's own uses (with the distances, augmentations, callback hooks, heads, ONNX
runtime and galleries it may pass around) has a docstring, and so has each public method and
property of those classes (one inherited from a documented base counts)."""

from __future__ import annotations

import importlib
import inspect

import pytest

PACKAGES = [
    "siamkit",
    "siamkit.models",
    "siamkit.losses",
    "siamkit.miners",
    "siamkit.evaluation",
    "siamkit.types",
    "siamkit.distances",
    "siamkit.data.transforms",
    "siamkit.training.callbacks",  # the hooks a callback of one's own overrides
    "siamkit.export",
    "siamkit.training",  # config, batch sources, Trainer
    "siamkit.heads",
    "siamkit.index",  # galleries and search
    "siamkit.experiment",
    "siamkit.tuning",
    "siamkit.encoders",
    "siamkit.data",
    "siamkit.encode",
    "siamkit.service",
    "siamkit.applications.text",
    "siamkit.applications.ssl",
    "siamkit.applications.faces",
    "siamkit.applications.signatures",
    "siamkit.applications.tracking",
    "siamkit.applications.half_twin",
]
SKIP = {"forward", "extra_repr"}  # nn.Module's: documented by the class and torch


def undocumented(package: str) -> list[str]:
    module = importlib.import_module(package)
    missing = []
    # a module without __all__: the public names it defines itself
    names = getattr(module, "__all__", None) or [
        n
        for n, v in vars(module).items()
        if not n.startswith("_") and getattr(v, "__module__", None) == package
    ]
    for name in names:
        obj = getattr(module, name)
        if inspect.ismodule(obj) or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if not inspect.getdoc(obj):
            missing.append(name)
        if not inspect.isclass(obj):
            continue
        for attr, value in vars(obj).items():
            if attr.startswith("_") or attr in SKIP:
                continue
            if not (
                inspect.isfunction(value)
                or isinstance(value, (property, classmethod, staticmethod))
            ):
                continue
            if not inspect.getdoc(getattr(obj, attr)) and not (
                isinstance(value, property) and inspect.getdoc(value)
            ):
                missing.append(f"{name}.{attr}")
    return missing


@pytest.mark.parametrize("package", PACKAGES)
def test_public_names_and_their_members_have_docstrings(package: str) -> None:
    missing = undocumented(package)
    assert not missing, f"{package}: no docstring on {missing}"


def test_siamkit_types_lists_its_public_types() -> None:
    types = importlib.import_module("siamkit.types")
    assert sorted(types.__all__) == ["Pairs", "Triplets"]
