"""A model folder with a file cut short (a copy or download interrupted): transformers said only
"Expecting value: line 1 column 298318 (char 298317)" of a cut tokenizer.json, naming no file, a
cut config.json ended in an OSError traceback and a cut model.safetensors in safetensors' one.
Each, and a saved model's cut tokenizer/tokenizer.json, is refused in one sentence naming the
file and what to do."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli


def _cut(f: Path) -> str:
    """Cut ``f`` to half its bytes; json's own complaint about what is left (the reference)."""
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.raises(ValueError) as err:
        json.loads(f.read_bytes())
    return str(err.value)


@pytest.mark.parametrize("name", ["tokenizer.json", "config.json"])
def test_a_cut_json_file_of_a_hugging_face_folder_is_named(
    tiny_hf: Path, tmp_path: Path, name: str
) -> None:
    from siamkit.applications.text import load_text_model

    folder = Path(shutil.copytree(tiny_hf, tmp_path / "m"))
    said = _cut(folder / name)
    want = (
        f"{folder / name} is not valid JSON ({said}), so the model in {folder} cannot be loaded: "
        "the file is cut short or damaged; copy it again from where the model came from"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(want)}$"):
        load_text_model(folder)
    res = CliRunner().invoke(cli, ["text", "similarity", "a b", "c d", "--model", str(folder)])
    assert res.exit_code == 1 and res.output == f"Error: {want}\n", res.output


def test_a_saved_models_cut_tokenizer_file_is_named(tiny_hf: Path, tmp_path: Path) -> None:
    from siamkit.applications.text import load_text_model
    from siamkit.export.bundle import save_model

    bundle = Path(save_model(load_text_model(tiny_hf), tmp_path / "model"))
    cut = bundle / "tokenizer" / "tokenizer.json"
    said = _cut(cut)
    with pytest.raises(ValueError, match=re.escape(f"{cut} is not valid JSON ({said}), so the")):
        load_text_model(bundle)


def test_a_cut_weights_file_of_a_hugging_face_folder_is_named(
    tiny_hf: Path, tmp_path: Path
) -> None:
    from safetensors import SafetensorError, safe_open

    from siamkit.applications.text import load_text_model

    folder = Path(shutil.copytree(tiny_hf, tmp_path / "m"))
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(SafetensorError) as err:  # the reference: safetensors' own reader
        safe_open(str(weights), framework="pt")
    want = (
        f"{weights} cannot be read as weights ({err.value}), so the model in {folder} cannot be "
        "loaded: the file is cut short or damaged; copy it again from where the model came from"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(want)}$"):
        load_text_model(folder)


def test_a_cut_json_file_loading_does_not_read_is_not_blamed(tiny_hf: Path, tmp_path: Path) -> None:
    """A Trainer output folder without weights, with a checkpoint still being written: every
    JSON file one folder deep was checked on any load error, so the half-written
    checkpoint-500/trainer_state.json was blamed and hid the sentence naming what the folder
    lacks. Only the files loading reads are checked now; a cut one of those is still named."""
    from siamkit.applications.text import load_text_model

    folder = Path(shutil.copytree(tiny_hf, tmp_path / "m"))
    (folder / "model.safetensors").unlink()
    (folder / "checkpoint-500").mkdir()
    (folder / "checkpoint-500" / "trainer_state.json").write_text('{"log_history": [')
    (folder / "notes.json").write_text("{")  # the folder's own file, not the model's
    with pytest.raises(ValueError, match=f"^{re.escape(str(folder))} has no weights, "):
        load_text_model(folder)
    said = _cut(folder / "tokenizer_config.json")
    with pytest.raises(
        ValueError, match=re.escape(f"tokenizer_config.json is not valid JSON ({said})")
    ):
        load_text_model(folder)
