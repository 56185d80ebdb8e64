"""A grey 28x28 model saved as a supervised run on an image folder records it (as ``siamkit
train`` does), and a fixture that fails a test reading Fashion-MNIST: shared by the tests of the
commands that read that folder without --data (evaluate, calibrate, export --int8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import siamkit
import siamkit.data.fashion_mnist as fashion_mnist
from siamkit.data.synthetic_glyphs import write_glyph_folder
from siamkit.models import Preprocess

TRAIN, VAL, TEST = [0, 2, 4], [1, 6], [3, 5]  # of 7 glyph classes


@pytest.fixture(autouse=True)
def no_fashion_mnist(monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder's model must never be measured on Fashion-MNIST (nor are its test classes read
    here): reading it fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("read Fashion-MNIST for a model trained on an image folder")

    monkeypatch.setattr(fashion_mnist, "load_fashion_mnist", refuse)


def folder_model(tmp_path: Path, every_class: bool = False) -> tuple[Path, Path]:
    """A grey 28x28 model (Fashion-MNIST's shape, which the old default read) saved as a
    supervised run on 3 of a 7-class glyph folder (2 held out for validation) records it, as ``siamkit train`` does."""
    glyphs = write_glyph_folder(tmp_path / "glyphs", 7, per_class=6)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8])
    net = siamkit.SiameseNetwork(
        enc, embedding_dim=4, preprocess=Preprocess(input_shape=(1, 28, 28))
    )
    train = None if every_class else TRAIN
    run = {"dataset": "image-folder", "data_root": str(glyphs),
           "train_classes": train or list(range(7)), "val_classes": [] if every_class else VAL,
           "val_held_out": "images" if every_class else "classes",
           "test_classes": list(range(7)) if every_class else TEST}  # fmt: skip
    if every_class:  # the images each class held, which its seeded test share is drawn from
        run["class_images"] = [6] * 7
    data = {"dataset": "image-folder", "root": str(glyphs), "train_classes": train,
            "val_classes": None if every_class else 2}  # fmt: skip
    names = [p.name for p in sorted(glyphs.iterdir())]
    meta = {"run": run, "config": {"data": data}, "class_names": names}
    return siamkit.save_model(net.eval(), tmp_path / "model", metadata=meta), glyphs
