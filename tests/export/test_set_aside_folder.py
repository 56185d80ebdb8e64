"""The name of the folder a replacement sets aside (``.M.old``) has one definition,
:func:`siamkit.export.runtime.set_aside_folder`, which every module that writes or looks for it
calls; and the two ONNX runtimes look for an export an interrupted save left there with one
function, so a text model's export is found where an image model's is (s63 c2)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

import siamkit
from siamkit.export.bundle import CONFIG_FILE, save_model
from siamkit.export.runtime import set_aside_folder
from siamkit.models import Preprocess, SiameseNetwork

SRC = Path(__file__).resolve().parents[2] / "src" / "siamkit"


def test_the_name_is_spelt_only_in_its_definition() -> None:
    """A second spelling of ``.M.old`` (a hard-coded ``".model.old"``, a ``with_name`` of its
    own) drifts from the one the save writes; every module calls the helper instead."""
    spelt = [
        f"{path.relative_to(SRC)}:{n}"
        for path in sorted(SRC.rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\.old['\"]", line)
    ]
    assert [where.split(":")[0] for where in spelt] == ["export/runtime.py"]
    assert set_aside_folder(Path("runs/a/model")) == Path("runs/a/.model.old")


def test_the_text_runtime_finds_the_export_left_beside_where_a_linked_model_folder_leads(
    tmp_path: Path,
) -> None:
    """A model folder given through a link is saved where it leads (``.REAL.old`` beside the
    target): the image runtime looked there, the text runtime's own lookup only beside the
    link, and so told the user to copy or export again an export that the next load puts
    back."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tokenizers")
    from siamkit.applications.text.onnx import TextOnnxEmbedder

    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16])
    net = SiameseNetwork(enc, 16, preprocess=Preprocess((0.5,), (0.25,), (1, 28, 28))).eval()
    net.threshold = 0.5
    real = save_model(net, tmp_path / "real")
    link = tmp_path / "M"
    link.symlink_to(real)
    left = tmp_path.resolve() / ".real.old" / "onnx"  # what a kill after the renames leaves
    (left / "tokenizer").mkdir(parents=True)
    (left / "tokenizer" / "tokenizer.json").write_text("{}")
    (left / "text.onnx").write_bytes(b"graph")
    made = {"fingerprint": json.loads((real / CONFIG_FILE).read_text())["fingerprint"]}
    (left / "text_onnx.json").write_text(json.dumps(made | {"threshold": 0.5}))
    with pytest.raises(ValueError) as err:
        TextOnnxEmbedder(link / "onnx")
    assert str(err.value) == (
        f"{link / 'onnx'} does not exist: an interrupted save of the model left it in {left}; "
        f"load the model once with siamkit (`siamkit serve {link}`, or "
        "siamkit.export.load_model) to finish that save"
    )
