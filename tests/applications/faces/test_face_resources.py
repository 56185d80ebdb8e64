"""Locating dlib's .dat files without importing face_recognition_models (it needs pkg_resources)."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys

import pytest

from siamkit.applications.faces import resources
from siamkit.applications.faces.resources import MODEL_FILES, file_sha256, model_file, models_dir


def test_found_without_importing_the_package():
    # load resources.py on its own (stdlib only) so the subprocess stays fast: no torch import
    code = (
        "import importlib.util, sys; "
        f"spec = importlib.util.spec_from_file_location('res', {resources.__file__!r}); "
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod); "
        "print(mod.model_file('recognition')); "
        "assert 'face_recognition_models' not in sys.modules"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(MODEL_FILES["recognition"])


def test_record_fallback_finds_the_same_folder(monkeypatch):
    expected = models_dir()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert resources.models_dir() == expected


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(resources, "_package_dir", lambda: None)
    with pytest.raises(ImportError, match=r"pip install 'siamkit\[face\]'"):
        model_file("recognition")


def test_env_override_and_bad_role(monkeypatch, tmp_path):
    monkeypatch.setenv(resources.ENV_DIR, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        models_dir()
    monkeypatch.setenv(resources.ENV_DIR, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="is missing"):
        model_file("landmarks5")
    with pytest.raises(ValueError, match="unknown face model file"):
        model_file("landmarks68")


def test_sha256_matches_hashlib():
    path = model_file("cnn_detector")
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_missing_dlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # `import dlib` now raises ImportError
    with pytest.raises(ImportError, match=r"needs dlib: pip install 'siamkit\[face\]'"):
        resources.import_dlib()
