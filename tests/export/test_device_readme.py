"""An edge device as README's "Edge deployment" section sets one up: numpy, onnxruntime and
Pillow, ``runtime.py`` copied beside the exported ``.onnx`` files, no torch and no siamkit. What it
runs there is checked against the full siamkit on the same image files."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

import siamkit

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_FILE = ROOT / "src" / "siamkit" / "export" / "runtime.py"


def _section(heading: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split(heading + "\n", 1)[1].split("\n## ")[0]


def _device_block() -> str:
    blocks = re.findall(r"```python\n(.*?)```", _section("## Edge deployment"), re.S)
    (block,) = [b for b in blocks if "OnnxEmbedder" in b]
    return block


def _run_on_device(folder: Path, code: str) -> subprocess.CompletedProcess[str]:
    """``code`` run in ``folder`` as on the device: torch and siamkit cannot be imported."""
    prelude = "import sys\nsys.modules['torch'] = sys.modules['siamkit'] = None\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _text_device_commands() -> tuple[str, str]:
    """The text section's build command (run in this checkout) and device install command."""
    section = _section("## Text: Siamese transformers (`pip install 'siamkit[text]'`)")
    spans = re.findall(r"`([^`]*pip (?:wheel|install)[^`]*)`", section.replace("\n", " "))
    builds = [s for s in spans if s.startswith("pip wheel")]
    installs = [s for s in spans if "--no-deps" in s and s.startswith("pip install numpy")]
    assert len(installs) == 1, spans
    return (builds[0] if builds else ""), installs[0]


def test_readmes_text_device_install_gives_a_torch_free_runtime(tmp_path):
    """README said `pip install --no-deps siamkit` on the device, but siamkit is not on PyPI
    ("No matching distribution found for siamkit"): the device had no runtime. Its commands, run
    offline here (the wheel built from this checkout, the install into a folder of its own),
    must give a TextOnnxEmbedder that imports without torch."""
    import glob
    import shlex

    build, install = _text_device_commands()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": ""}
    if build:  # in the checkout, with the build backend installed here (no download)
        args = shlex.split(build)[2:]
        args = [
            str(tmp_path / "dist") if a == "dist" else str(ROOT) if a == "." else a for a in args
        ]
        res = subprocess.run([*pip, "wheel", "--no-build-isolation", *args], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
        assert res.returncode == 0, res.stderr
    device = tmp_path / "device"  # numpy, onnxruntime and tokenizers: this environment's
    args = shlex.split(install.split("&&")[1])[2:]  # what follows the second `pip install`
    args = [w for a in args for w in (glob.glob(str(tmp_path / "dist" / a)) or [a])]
    res = subprocess.run([*pip, "install", "--target", str(device), *args], env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr
    code = (
        "import sys\nsys.modules['torch'] = None\n"
        "from siamkit.applications.text.onnx import TextOnnxEmbedder\n"
        "import siamkit\nprint(siamkit.__file__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(device)}
    res = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(str(device)), res.stdout  # the wheel's, not this checkout's


def test_readmes_half_twin_device_paragraph_names_the_files_a_device_needs(tmp_path):
    """README said nothing of a half-twin on a device: which of its graphs to copy, that each
    kind is read at its own graph's size, and that there is no threshold to verify with. The
    files it names, copied alone with runtime.py, embed and compare as the torch half-twin."""
    from click.testing import CliRunner

    from siamkit.cli.main import cli
    from siamkit.models import HalfTwinNetwork, Preprocess

    paragraph = next(
        p for p in _section("## Edge deployment").split("\n\n") if p.startswith("A half-twin")
    )
    names = sorted(set(re.findall(r"`(model[.\w]*\.onnx)`", paragraph)))
    assert names == sorted(
        ["model.onnx", "model.document.onnx", "model.int8.onnx", "model.document.int8.onnx"]
    ), names
    torch.manual_seed(0)
    conv = lambda: siamkit.encoders.create_encoder("convnet", in_channels=1, widths=(4, 8))  # noqa: E731
    pre_f, pre_g = Preprocess(input_shape=(1, 12, 12)), Preprocess(input_shape=(1, 8, 8))
    net = HalfTwinNetwork(conv(), conv(), 4, preprocess_f=pre_f, preprocess_g=pre_g).eval()
    folder = siamkit.save_model(net, tmp_path / "model")
    res = CliRunner().invoke(cli, ["export", str(folder), "--int8-mode", "dynamic"])
    assert res.exit_code == 0, res.output
    device = tmp_path / "device"
    device.mkdir()
    shutil.copy(RUNTIME_FILE, device / "runtime.py")
    for name in names:
        shutil.copy(folder / name, device / name)
    rng = np.random.default_rng(0)
    x, y = rng.random((3, 1, 12, 12), np.float32), rng.random((3, 1, 8, 8), np.float32)
    np.save(device / "x.npy", x)
    np.save(device / "y.npy", y)
    code = (
        "import numpy as np\nfrom runtime import OnnxEmbedder\n"
        "f, g = OnnxEmbedder('model.onnx'), OnnxEmbedder('model.document.onnx')\n"
        "x, y = np.load('x.npy'), np.load('y.npy')\n"
        "assert (f.input_shape, g.input_shape) == (x.shape[1:], y.shape[1:])\n"
        "print(*f.distance(f.embed(x), g.embed(y)))\n"
        "try:\n    f.verify(x, y)\nexcept ValueError as err:\n    print(err)\n"
    )
    res = _run_on_device(device, code)
    assert res.returncode == 0, res.stderr
    distances, refusal = res.stdout.strip().split("\n")
    with torch.no_grad():
        want = net(torch.from_numpy(x), torch.from_numpy(y)).numpy()
    np.testing.assert_allclose(np.array(distances.split(), float), want, atol=1e-4)
    assert "embed the second images with model.document.onnx" in refusal, refusal
