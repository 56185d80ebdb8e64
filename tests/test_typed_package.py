"""siamkit's public API has type hints, but without a ``py.typed`` marker (PEP 561) a user's
mypy skips the installed package ('module is installed, but missing library stubs or py.typed
marker') and every siamkit name is ``Any`` in their notebook or script. The marker is in the
package, and ``pyproject.toml`` ships it in the wheel."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from setuptools.config.pyprojecttoml import read_configuration

import siamkit

ROOT = Path(__file__).resolve().parents[1]

USER_SCRIPT = """\
import torch
import siamkit
from siamkit.applications.signatures.config import SignatureRunConfig
from siamkit.applications.signatures.task import run_signatures
from siamkit.evaluation import calibrate_threshold, evaluate_embeddings
from siamkit.index import Gallery
from siamkit.losses import triplet_margin_loss
from siamkit.miners import mine_triplets
from siamkit.training import TaskOptions, TaskSummary, get_task

net = siamkit.SiameseNetwork(siamkit.encoders.create_encoder("convnet", in_channels=1), 64)
z = net.embed(torch.rand(8, 1, 28, 28))
labels = torch.arange(8) % 2
a, p, n = mine_triplets(z, labels, "semihard")
d = siamkit.distances.get_distance("euclidean")
loss: torch.Tensor = triplet_margin_loss(d.pairwise(z[a], z[p]), d.pairwise(z[a], z[n]))
threshold: float = calibrate_threshold(z, labels)
verification = evaluate_embeddings(z, labels).verification  # None when verification=False
eer: float = verification.eer if verification is not None else 1.0
model = siamkit.load_model("out/model")
reveal_type(model)
twin = siamkit.load_model("out/model", expect=siamkit.HalfTwinNetwork)
reveal_type(twin)
gallery = Gallery.open("g.db", model)
same: bool | None = gallery.verify(z[:1], "a").same  # None without a threshold


def train_signatures(cfg: SignatureRunConfig) -> dict[str, object]:
    return run_signatures(cfg, "runs/signatures")  # a str folder, as the runners take


def train_ssl(doc: dict[str, object]) -> TaskSummary:
    return get_task("ssl")(doc, "runs/ssl", TaskOptions())  # get_task's runners take a str too
"""


def test_the_package_holds_py_typed_and_pyproject_ships_it() -> None:
    assert (Path(siamkit.__file__).parent / "py.typed").is_file()
    package_data = read_configuration(ROOT / "pyproject.toml")["tool"]["setuptools"]
    assert "py.typed" in package_data["package-data"].get("siamkit", [])


@pytest.mark.slow
def test_a_users_script_type_checks_strictly_against_siamkit(tmp_path: Path) -> None:
    """mypy --strict, run where a user runs it (outside the repository, so none of siamkit's own
    mypy settings apply), reads siamkit's hints: no import-untyped error, and load_model's type
    is siamkit's model classes, not Any. About 30 s without a cache."""
    (tmp_path / "walk.py").write_text(textwrap.dedent(USER_SCRIPT))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / "cache"),
            "walk.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert "py.typed" not in out.stdout, out.stdout
    assert 'Revealed type is "siamkit.models.siamese.SiameseNetwork |' in out.stdout, out.stdout
    # expect= types the result as the class asked for, no isinstance needed
    assert 'Revealed type is "siamkit.models.half_twin.HalfTwinNetwork"' in out.stdout, out.stdout
    assert out.returncode == 0, out.stdout
