"""After a save killed past its renames, the ONNX runtimes find the kept export, or say where it
is (s62_FB finding 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tests.export.test_save_model_keeps_what_it_does_not_own import add_image_export, small_net

from siamkit.export import bundle
from siamkit.export.bundle import save_model
from siamkit.export.runtime import resolve_onnx_path


def kill_after_the_renames(dest: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Save the same model again (its export is one to keep), killed after both renames."""

    def killed(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(bundle, "_carry_over", killed)
    with pytest.raises(KeyboardInterrupt):
        save_model(small_net(0), dest)
    monkeypatch.undo()
    assert not (dest / "model.onnx").exists()  # the kill point: the export is in .model.old
    assert (dest.parent / ".model.old" / "model.onnx").is_file()


def test_the_torch_free_runtime_names_where_an_interrupted_save_left_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = save_model(small_net(0), tmp_path / "model")
    add_image_export(dest)
    kill_after_the_renames(dest, monkeypatch)
    with pytest.raises(FileNotFoundError) as err:
        resolve_onnx_path(dest)
    assert str(err.value) == (
        f"{dest} has no model.onnx: an interrupted save of the model left it in "
        f"{tmp_path / '.model.old'}; load the model once with siamkit (`siamkit serve {dest}`, "
        "or siamkit.export.load_model) to finish that save"
    )


def test_serving_with_an_onnx_runtime_finishes_the_interrupted_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("onnxruntime")
    from siamkit.export.onnx import export_onnx
    from siamkit.export.serving import load_for_serving

    dest = save_model(small_net(0), tmp_path / "model")
    export_onnx(dest)
    (dest / "notes.txt").write_text("mine")
    kill_after_the_renames(dest, monkeypatch)
    model = load_for_serving(dest, "onnx")
    assert (dest / "model.onnx").is_file() and (dest / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    x = torch.rand(2, 1, 28, 28)
    assert tuple(model.embed(x).shape) == (2, 16)


def test_the_runtime_does_not_send_to_a_load_for_the_replaced_models_stale_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """s62_LR2 Q3: after a killed save of ANOTHER model, .model.old/model.onnx is the replaced
    model's stale export, which the load the runtime asked for deletes (and then the runtime
    said "create it"). Only an export of the model now in the folder is "left" there."""
    dest = save_model(small_net(0), tmp_path / "model")
    add_image_export(dest)

    def killed(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(bundle, "_carry_over", killed)
    with pytest.raises(KeyboardInterrupt):
        save_model(small_net(1), dest)  # another model
    monkeypatch.undo()
    assert (tmp_path / ".model.old" / "model.onnx").is_file()
    with pytest.raises(FileNotFoundError) as err:
        resolve_onnx_path(dest)
    assert str(err.value).startswith(f"{dest} has no model.onnx; create it with `siamkit export ")
