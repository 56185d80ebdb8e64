"""An edge device as README's "Edge deployment" section sets one up: numpy, onnxruntime and
Pillow, ``runtime.py`` copied beside the exported ``.onnx`` files, no torch and no siamkit. What it
runs there is checked against the full siamkit on the same image files."""

from __future__ import annotations

import ast
import io
import os
import re
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

import siamkit
from siamkit.data.image_io import load_images

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


def test_readmes_load_reads_files_of_other_sizes_as_siamkit_does(exported, fmnist_images, tmp_path):
    """README's load() resized the 8-bit pixels with Pillow and divided by 255 after, where
    siamkit resizes the [0, 1] floats: images not at the model's size embedded up to 2.4e-3 away
    from siamkit's (a trained demo model), where the export itself holds 1e-4."""
    shutil.copy(RUNTIME_FILE, tmp_path / "runtime.py")
    shutil.copy(exported, tmp_path / "model.int8.onnx")  # the fp32 file, under the block's name
    grey = Image.fromarray((fmnist_images[0, 0] * 255).round().astype(np.uint8))
    grey.resize((64, 64), Image.Resampling.BICUBIC).save(tmp_path / "a.png")  # larger
    colour = Image.fromarray((fmnist_images[1, 0] * 255).round().astype(np.uint8)).convert("RGB")
    colour.resize((50, 21), Image.Resampling.BICUBIC).save(tmp_path / "b.png")  # another aspect
    code = (
        _device_block()
        + "\nnp.save('z.npy', z)\nnp.save('x.npy', np.stack([load('a.png'), load('b.png')]))\nprint(float(d[0]), float(distances[0]))\n"
    )
    res = _run_on_device(tmp_path, code)
    assert res.returncode == 0, res.stderr
    d, d_verify = map(float, res.stdout.split())
    net = siamkit.load_model(exported.parent)
    x = load_images([tmp_path / "a.png", tmp_path / "b.png"], net.input_shape)
    with torch.no_grad():
        want, want_d = net.embed(x).numpy(), float(net(x[:1], x[1:])[0])
    pixels = float(np.abs(np.load(tmp_path / "x.npy") - x.numpy()).max())
    assert pixels <= 1e-5, f"load() reads pixels {pixels:.1e} away from siamkit's"
    gap = float(np.abs(np.load(tmp_path / "z.npy") - want).max())
    assert gap <= 1e-4, f"the device embeds {gap:.1e} away from siamkit"
    assert abs(d - want_d) <= 1e-4 and d_verify == d, (d, want_d)


def test_readmes_load_reads_a_16_bit_png_as_siamkit_does(exported, fmnist_images, tmp_path):
    """A 16-bit grey PNG (a scanner's, a medical image's) came out of README's load() all white:
    Pillow's convert("L") clips 16-bit values, where siamkit scales them to 8 bits (value >> 8).
    The block's load() reads it (and a big-endian 16-bit TIFF) as siamkit does."""
    shutil.copy(RUNTIME_FILE, tmp_path / "runtime.py")
    shutil.copy(exported, tmp_path / "model.int8.onnx")  # the fp32 file, under the block's name
    wide = (fmnist_images[0, 0] * 65535).round().astype(np.uint16)
    Image.fromarray(wide).save(tmp_path / "a.png")  # mode I;16
    flipped = wide[::-1].astype(">u2").tobytes()
    Image.frombytes("I;16B", wide.shape[::-1], flipped).save(tmp_path / "c.tif")
    Image.fromarray((fmnist_images[1, 0] * 255).round().astype(np.uint8)).save(tmp_path / "b.png")
    assert Image.open(tmp_path / "a.png").mode.startswith("I")  # Pillow reads it as 16-bit
    code = _device_block() + "\nnp.save('x.npy', np.stack([load('a.png'), load('c.tif')]))\n"
    res = _run_on_device(tmp_path, code)
    assert res.returncode == 0, res.stderr
    net = siamkit.load_model(exported.parent)
    want = load_images([tmp_path / "a.png", tmp_path / "c.tif"], net.input_shape).numpy()
    got = np.load(tmp_path / "x.npy")
    assert 0.05 < float(want.mean()) < 0.5  # grey levels, not a white or a black image
    assert float(np.abs(got - want).max()) <= 1e-5, float(np.abs(got - want).max())


def _readmes_load(channels: int, size: tuple[int, int]) -> Callable[[str], np.ndarray]:
    """The device block's ``load``, with the functions it calls, for a model of ``channels``
    and input ``size``: its ``def`` statements and imports run here, without its model."""
    tree = ast.parse(_device_block())
    keep = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.Import))]
    keep += [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module != "runtime"]
    namespace: dict[str, Any] = {"c": channels, "h": size[0], "w": size[1]}
    exec(compile(ast.Module(body=keep, type_ignores=[]), "README.md", "exec"), namespace)
    return namespace["load"]


def test_readmes_load_reads_deep_integer_and_float_images_as_siamkit_does(tmp_path):
    """README's load() read every I* image as value >> 8: an int32 TIFF of 0-255 values came out
    black and one beyond 0..65535 white, and a float TIFF (mode F) went through convert(), which
    rounds 0..1 to black, where siamkit reads each by its own range (image_decode._to_8bit). A
    16-bit file read as I (a PGM, a signed 16-bit TIFF, turned by its EXIF tag) is 16-bit data
    by its file, whatever its values."""
    rng = np.random.default_rng(5)
    grey = rng.integers(0, 256, (20, 24))
    Image.fromarray((grey * 257).astype(np.uint16)).save(tmp_path / "wide.png")  # I;16
    for name, values in (("small", grey), ("mid", grey * 200), ("big", grey * 1000)):
        Image.fromarray(values.astype(np.int32), mode="I").save(tmp_path / f"{name}.tif")
    Image.fromarray((grey / 255).astype(np.float32), mode="F").save(tmp_path / "float.tif")
    Image.fromarray(grey.astype(np.float32) * 3, mode="F").save(tmp_path / "float16.tif")
    header = b"P5\n24 20\n65535\n"  # 16-bit data of values that all fit 0..255
    (tmp_path / "deep.pgm").write_bytes(header + grey.astype(">u2").tobytes())
    names = ["wide.png", "small.tif", "mid.tif", "big.tif", "float.tif", "float16.tif", "deep.pgm"]
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "turned.tif", grey.astype(np.int16), extratags=[(274, 3, 1, 6)])
    names.append("turned.tif")  # a signed 16-bit TIFF opens as I; orientation 6 turns it
    modes = {Image.open(tmp_path / n).mode for n in names}
    assert modes == {"I;16", "I", "F"}, modes
    for channels in (1, 3):
        for size in ((20, 24), (24, 20)):
            load = _readmes_load(channels, size)
            for name in names:
                got = load(str(tmp_path / name))
                want = load_images([tmp_path / name], (channels, *size))[0].numpy()
                gap = float(np.abs(got - want).max())
                assert gap <= 1e-5, (name, channels, size, gap)


def test_readmes_load_reads_a_large_jpeg_as_siamkit_does(tmp_path):
    """siamkit reads a JPEG far larger than the model's input at a reduced scale (libjpeg's DCT
    scaling, image_decode.draft_jpeg), its part-block edge resampled to the photo's region;
    README's load() decoded it whole, 1.5e-3 off siamkit's pixels at 64x80 (a phone photo on
    the device embedded unlike the same photo enrolled with siamkit)."""
    yy, xx = np.mgrid[0:1203, 0:1601]  # sides no multiple of 8: a part-block at two edges
    photo = np.stack([xx // 7 * 13, yy // 5 * 11, (xx + yy) // 9 * 7], -1) % 256
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways
    Image.fromarray(photo.astype(np.uint8)).save(tmp_path / "a.jpg", quality=92)
    Image.fromarray(photo.astype(np.uint8)).save(tmp_path / "b.jpg", quality=92, exif=exif)
    for channels in (1, 3):
        for size in ((28, 28), (64, 80)):
            load = _readmes_load(channels, size)
            for name in ("a.jpg", "b.jpg"):
                got = load(str(tmp_path / name))
                want = load_images([tmp_path / name], (channels, *size))[0].numpy()
                gap = float(np.abs(got - want).max())
                assert gap <= 1e-5, (name, channels, size, gap)


def test_readmes_load_refuses_a_lab_image_as_siamkit_does(tmp_path):
    """siamkit refuses a CIELAB image by name (image_decode.UNCONVERTED_MODES); README's load()
    embedded Pillow's LAB-to-RGB conversion of it for an RGB model and failed for a grey one
    with Pillow's "conversion from LAB to RGB not supported"."""
    from siamkit.image_decode import ImageReadError

    rgb = np.random.default_rng(0).integers(0, 256, (20, 24, 3), np.uint8)
    Image.fromarray(rgb).convert("LAB").save(tmp_path / "lab.tif")
    assert Image.open(tmp_path / "lab.tif").mode == "LAB"
    for channels in (1, 3):
        with pytest.raises(ImageReadError, match=r"CIELAB \(LAB\) image"):
            load_images([tmp_path / "lab.tif"], (channels, 20, 24))
        with pytest.raises(ValueError, match=r"lab\.tif is a CIELAB \(LAB\) image; save it as"):
            _readmes_load(channels, (20, 24))(str(tmp_path / "lab.tif"))


def test_readmes_load_refuses_an_image_over_40_megapixels_as_siamkit_does(tmp_path):
    """siamkit refuses an image over 40,000,000 pixels (image_decode.DEFAULT_MAX_PIXELS, a
    decompression bomb's guard) by its size alone; README's load() decoded it, so the device
    embedded files the torch model refuses. One-bit files of blank pixels: a few kB each."""
    from siamkit.image_decode import DEFAULT_MAX_PIXELS, ImageReadError

    assert DEFAULT_MAX_PIXELS == 40_000_000  # the README's figure
    for name, size in (("wide.png", (8001, 5000)), ("tall.tif", (5000, 8001))):
        Image.new("1", size).save(tmp_path / name)
        with pytest.raises(ImageReadError, match=r"more than the limit of 40000000"):
            load_images([tmp_path / name], (1, 20, 24))
        with pytest.raises(ValueError, match=rf"{name} is {size[0]}x{size[1]} pixels, more than"):
            _readmes_load(1, (20, 24))(str(tmp_path / name))
    # at the limit both read it: the same pixels
    Image.new("1", (8000, 5000), 1).save(tmp_path / "edge.png")
    want = load_images([tmp_path / "edge.png"], (1, 20, 24))[0].numpy()
    np.testing.assert_allclose(
        _readmes_load(1, (20, 24))(str(tmp_path / "edge.png")), want, atol=1e-5
    )


def _jpeg_with_exif(path: Path, entries: list[tuple[int, int, bytes]]) -> None:
    """A JPEG whose EXIF block (little-endian, one IFD) holds ``(tag, type, value)`` entries,
    written byte by byte: Pillow's own Exif writer makes no damaged block."""
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in sorted(entries):
        ifd += struct.pack("<HHI", tag, kind, 1) + value
    payload = b"Exif\x00\x00II" + struct.pack("<HI", 42, 8) + ifd + struct.pack("<I", 0)
    rgb = np.random.default_rng(3).integers(0, 256, (20, 30, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=95)
    jpeg = buffer.getvalue()
    path.write_bytes(
        jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]
    )


def test_readmes_load_reads_a_damaged_exif_block_as_siamkit_does(tmp_path):
    """An EXIF IFD or GPS offset stored as a negative number: ImageOps.exif_transpose raises
    "negative seek value" rewriting the block after the turn. siamkit reads such a file's pixels
    as stored (image_decode.convert_image); README's load() raised, so the device refused a
    photo that siamkit enrolls."""
    turned = (0x0112, 3, struct.pack("<HH", 6, 0))  # orientation 6, a SHORT
    for name, pointer in (("exif", (0x8769, 9, struct.pack("<i", -1))),  # SLONG
                          ("gps", (0x8825, 8, struct.pack("<hh", -3, 0)))):  # SSHORT  # fmt: skip
        path = tmp_path / f"{name}.jpg"
        _jpeg_with_exif(path, [turned, pointer])
        with pytest.raises(ValueError, match="negative seek value"):
            ImageOps.exif_transpose(Image.open(path))  # the damage this test is about
        for channels in (1, 3):
            want = load_images([path], (channels, 20, 30))[0].numpy()
            got = _readmes_load(channels, (20, 30))(str(path))
            gap = float(np.abs(got - want).max())
            assert gap <= 1e-5, (name, channels, gap)


def _text_device_commands() -> tuple[str, str]:
    """The text section's build command (run in this checkout) and device install command."""
    section = _section("## Text: Siamese transformers (`pip install 'siamkit[text]'`)")
    spans = re.findall(r"`([^`]*pip (?:wheel|install)[^`]*)`", section.replace("\n", " "))
    builds = [s for s in spans if "pip wheel" in s]
    installs = [s for s in spans if "--no-deps" in s and s.startswith("pip install numpy")]
    assert len(installs) == 1, spans
    assert len(builds) == 1, spans
    return builds[0], installs[0]


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
    checkout = tmp_path / "checkout"  # a copy: the build writes build/ and *.egg-info beside it
    junk = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(ROOT / "src", checkout / "src", ignore=junk)  # configs/ as files, not a link
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, checkout / name)
    for step in build.split("&&"):
        words = shlex.split(step)
        if words[:2] == ["rm", "-rf"]:
            continue  # a fresh copy has no build/
        assert words[:2] == ["pip", "wheel"], build
        res = subprocess.run([*pip, "wheel", "--no-build-isolation", *words[2:]], cwd=checkout,
                             env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
        assert res.returncode == 0, res.stderr
    device = tmp_path / "device"  # numpy, onnxruntime and tokenizers: this environment's
    args = shlex.split(install.split("&&")[1])[2:]  # what follows the second `pip install`
    args = [w for a in args for w in (glob.glob(str(checkout / "dist" / a)) or [a])]
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


def test_readme_says_where_runtime_py_is_and_what_to_pip_install_on_the_device(tmp_path):
    """README named `siamkit/export/runtime.py`, a path neither a checkout (src/...) nor an
    installed siamkit has, and no install command: the path it names now exists in the checkout,
    its command for an installed siamkit prints the file, and the pip line names Pillow."""
    intro = " ".join(_section("## Edge deployment").split("```python")[0].split())
    paths = re.findall(r"`(\S*runtime\.py)`", intro)
    assert paths and all((ROOT / p).is_file() for p in paths), paths
    (command,) = re.findall(r'`(python -c "[^`]*runtime[^`]*")`', intro)
    import shlex

    res = subprocess.run([sys.executable, *shlex.split(command)[1:]], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0 and Path(res.stdout.strip()).samefile(RUNTIME_FILE), res
    assert "`pip install numpy onnxruntime pillow`" in intro
