"""Comparing two images on a device with only numpy and onnxruntime: the runtime's distances and
``verify`` decide as siamkit's torch path does, with the threshold the ONNX file carries."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import siamkit
from siamkit.distances import get_distance
from siamkit.export.runtime import OnnxEmbedder, pairwise_distance
from siamkit.index.verify import verify_pair


@pytest.mark.parametrize("name", ["euclidean", "sqeuclidean", "manhattan", "cosine"])
def test_distances_are_siamkits(name):
    """A device user had embed() only, and had to re-implement the model's distance (is
    'cosine' 1 - cos? is a pair the same under or over the threshold?)."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 5)), rng.normal(size=(7, 5))
    a[0] = b[0]  # identical rows: 0 in every distance
    want = get_distance(name).pairwise(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(pairwise_distance(name, a, b), want, atol=1e-9)


def test_verify_decides_as_siamkit_verify(bundle, exported, fmnist_images):
    """Pairs across the threshold: the same distances and verdicts as the torch model's."""
    emb = OnnxEmbedder(exported)
    x = fmnist_images[:40]
    a, b = x[:20], x[20:]
    net = siamkit.load_model(bundle)
    with torch.no_grad():
        d_torch = net(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    emb.threshold = float(np.median(d_torch))  # half the pairs on each side
    d, same = emb.verify(a, b)
    np.testing.assert_allclose(d, d_torch, atol=1e-4)
    assert same.dtype == bool and 0 < same.sum() < len(same)
    far = np.abs(d_torch - emb.threshold) > 1e-4  # verdicts agree off the boundary
    for i in np.flatnonzero(far):
        res = verify_pair(net, torch.from_numpy(a[i : i + 1]), torch.from_numpy(b[i : i + 1]),
                          threshold=emb.threshold)  # fmt: skip
        assert res.same == bool(same[i])
    np.testing.assert_allclose(emb.distance(emb.embed(a), emb.embed(b)), d)


def test_verify_without_a_threshold_says_how_to_get_one(exported, fmnist_images):
    emb = OnnxEmbedder(exported)
    emb.threshold = None
    with pytest.raises(ValueError, match="siamkit calibrate"):
        emb.verify(fmnist_images[:2], fmnist_images[2:4])
    with pytest.raises(ValueError, match="same shape"):
        emb.distance(np.zeros((2, 3)), np.zeros((3, 3)))


def test_readmes_device_block_runs_with_the_runtime_file_alone(exported, fmnist_images, tmp_path):
    """README's "Edge deployment" block, run as a device runs it: runtime.py copied beside the
    images, torch and siamkit unimportable; its distance and verdict are the torch model's."""
    import os
    import re
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from PIL import Image

    root = Path(__file__).resolve().parents[2]
    section = (root / "README.md").read_text().split("## Edge deployment", 1)[1].split("\n## ")[0]
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", section, re.S) if "OnnxEmbedder" in b]
    shutil.copy(root / "src" / "siamkit" / "export" / "runtime.py", tmp_path / "runtime.py")
    shutil.copy(exported, tmp_path / "model.int8.onnx")  # the file name the block opens
    for name, img in (("a.png", fmnist_images[0]), ("b.png", fmnist_images[1])):
        Image.fromarray((img[0] * 255).round().astype(np.uint8)).save(tmp_path / name)
    code = "import sys\nsys.modules['torch'] = sys.modules['siamkit'] = None\n" + block
    code += "\nprint(float(d[0]), float(distances[0]), bool(same[0]), emb.threshold)\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    d, d_verify, same, threshold = res.stdout.split()
    net = siamkit.load_model(exported.parent)
    x = torch.from_numpy(fmnist_images[:2])
    with torch.no_grad():
        want = float(net(x[:1], x[1:])[0])
    assert abs(float(d) - want) <= 1e-4 and float(d_verify) == float(d)
    assert same == str(want <= float(threshold)) and float(threshold) == net.threshold


@pytest.mark.parametrize(
    ("scale", "shift", "match"),
    [(255.0, 0.0, "divide 0-255 pixels by 255"), (1.0, -0.5, "do not subtract a mean")],
)
def test_images_outside_0_1_are_refused(exported, fmnist_images, scale, shift, match):
    """np.asarray(img, np.float32) without / 255 (or a batch normalised by hand) embedded
    silently into meaningless vectors: only uint8 arrays were refused."""
    emb = OnnxEmbedder(exported)
    with pytest.raises(ValueError, match=match):
        emb.embed(fmnist_images[:2] * scale + shift)
    emb.embed(np.clip(fmnist_images[:2] + 5e-4, 0, 1 + 5e-4))  # rounding around 1 is fine
