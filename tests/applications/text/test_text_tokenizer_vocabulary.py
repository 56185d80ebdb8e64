"""A model folder whose tokenizer has no vocabulary (tokenizer_config.json copied without
tokenizer.json and vocab.txt, or an empty vocab.txt): transformers loads it as a tokenizer of its
special tokens alone, which reads every word as [UNK], so any two texts scored 1.0 and were 'the
same'. It is refused in one sentence, as a Hugging Face folder, as a saved model's tokenizer/
and through the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from siamkit.cli.main import cli

VOCABULARY = ("tokenizer.json", "vocab.txt")
REFUSAL = r"has a tokenizer without a vocabulary \(its 5 tokens are all special tokens"


def _without_vocabulary(src: Path, dst: Path, empty_vocab: bool = False) -> Path:
    shutil.copytree(src, dst)
    for name in VOCABULARY:
        (dst / name).unlink()
    if empty_vocab:
        (dst / "vocab.txt").write_text("")
    return dst


def test_the_broken_tokenizer_reads_every_word_as_unknown(tiny_hf: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(_without_vocabulary(tiny_hf, tmp_path / "m")))
    ids = tok("the printer is out of toner", add_special_tokens=False)["input_ids"]
    assert ids and set(ids) == {tok.unk_token_id}  # what the model embedded: [UNK] [UNK] ...
    assert len(tok) == len(set(tok.all_special_ids))


@pytest.mark.parametrize("empty_vocab", [False, True])
def test_a_folder_without_a_vocabulary_is_refused(
    tiny_hf: Path, tmp_path: Path, empty_vocab: bool
) -> None:
    from siamkit.applications.text import load_text_model

    folder = _without_vocabulary(tiny_hf, tmp_path / "m", empty_vocab)
    with pytest.raises(ValueError, match=rf"^{folder} {REFUSAL}.*; copy the tokenizer's"):
        load_text_model(folder)
    res = CliRunner().invoke(cli, ["text", "similarity", "a b", "c d", "--model", str(folder)])
    assert res.exit_code == 1 and "has a tokenizer without a vocabulary" in res.output
    assert res.output.count("\n") == 1 and "similarity" not in res.output


def test_a_saved_models_tokenizer_without_a_vocabulary_is_refused(
    tiny_hf: Path, tmp_path: Path
) -> None:
    from siamkit.applications.text import load_text_model
    from siamkit.export.bundle import save_model

    bundle = Path(save_model(load_text_model(tiny_hf), tmp_path / "model"))
    assert load_text_model(bundle).embed(["a b", "c d"]).shape[0] == 2  # whole, it loads
    for name in VOCABULARY:
        (bundle / "tokenizer" / name).unlink(missing_ok=True)
    with pytest.raises(ValueError, match=rf"cannot be rebuilt: {bundle / 'tokenizer'} {REFUSAL}"):
        load_text_model(bundle)


@pytest.mark.parametrize(
    "given", ["./all-MiniLM-L6-v2", Path("./all-MiniLM-L6-v2")], ids=["str", "Path"]
)
def test_a_folder_named_as_the_model_without_a_vocabulary_is_named_as_typed(
    tiny_hf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str | Path
) -> None:
    """check_vocabulary wrote a Path as Path does: ``Path("./all-MiniLM-L6-v2")`` was refused
    as ``all-MiniLM-L6-v2``, the bundled model's name, which has a vocabulary (s59 c5 item 3)."""
    from siamkit.applications.text import TextSiameseNetwork, load_text_model

    monkeypatch.chdir(tmp_path)
    _without_vocabulary(tiny_hf, tmp_path / "all-MiniLM-L6-v2")
    for load in (load_text_model, TextSiameseNetwork.pretrained):
        with pytest.raises(ValueError, match=rf"^\./all-MiniLM-L6-v2 {REFUSAL}"):
            load(given)
