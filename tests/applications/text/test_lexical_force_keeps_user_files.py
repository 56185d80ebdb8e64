"""`siamkit text lexical --force --out M` replaced M whole: M/onnx (the export of the model it
replaced) and the user's files in M went with it, unsaid. It now keeps the user's files, and
removes and names the stale export."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from siamkit.cli.main import cli

TEXTS = [
    "the printer is out of toner",
    "printer needs new toner again",
    "vpn login fails at home",
    "cannot connect to the vpn from home",
    "battery drains quickly on the laptop",
    "the laptop battery runs out fast",
    "please reset my password",
    "i forgot my password again",
]


def test_lexical_force_keeps_a_users_files_and_names_the_export_it_removes(
    tiny_hf: Path, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TEXTS) + "\n")
    out = tmp_path / "hybrid"
    args = ["text", "lexical", "--corpus", str(corpus), "--model", str(tiny_hf), "--out", str(out)]
    res = CliRunner().invoke(cli, [*args, "--components", "3"])
    assert res.exit_code == 0, res.output
    (out / "notes.txt").write_text("mine")
    export = out / "onnx"  # what `siamkit export M --format onnx` leaves, made from this model
    export.mkdir()
    fingerprint = json.loads((out / "siamkit.json").read_text())["fingerprint"]
    (export / "text_onnx.json").write_text(json.dumps({"fingerprint": fingerprint}))
    (export / "text.onnx").write_bytes(b"graph")
    res = CliRunner().invoke(cli, [*args, "--components", "4", "--force"])
    assert res.exit_code == 0, res.output
    assert (out / "notes.txt").read_text() == "mine"
    assert not export.exists()
    assert f"Removed {export}: the replaced model's" in res.stderr
    assert json.loads((out / "siamkit.json").read_text())["fingerprint"] != fingerprint

    other = tmp_path / "documents"  # --force into a folder that holds no model: refused
    other.mkdir()
    (other / "letter.txt").write_text("dear")
    args[-1] = str(other)
    res = CliRunner().invoke(cli, [*args, "--components", "3", "--force"])
    assert res.exit_code == 2 and "not a siamkit model folder" in res.output
    assert [p.name for p in other.iterdir()] == ["letter.txt"]


def test_the_bundle_knows_a_text_export_by_the_names_it_writes() -> None:
    """save_model (below the applications) tells a text export's files from a user's in
    MODEL/onnx by sidecar.TEXT_EXPORT_NAMES: the text export's own list."""
    from siamkit.applications.text.onnx_export import EXPORT_NAMES
    from siamkit.export.sidecar import TEXT_EXPORT_NAMES

    assert TEXT_EXPORT_NAMES == EXPORT_NAMES


def test_lexical_force_into_a_folder_of_hidden_files_only_writes_the_model(
    tiny_hf: Path, tmp_path: Path
) -> None:
    """A folder that `ls` shows empty (only .DS_Store) was refused as "a folder of other files"
    (s62_r6 finding 4): it is written into, the hidden file kept."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TEXTS) + "\n")
    out = tmp_path / "hybrid"
    out.mkdir()
    (out / ".DS_Store").write_bytes(b"finder")
    args = ["text", "lexical", "--corpus", str(corpus), "--model", str(tiny_hf), "--out", str(out)]
    res = CliRunner().invoke(cli, [*args, "--components", "3", "--force"])
    assert res.exit_code == 0, res.output
    assert (out / "siamkit.json").is_file()
    assert (out / ".DS_Store").read_bytes() == b"finder"


def test_a_users_entry_at_a_name_the_text_model_writes_is_named_as_replaced(
    tiny_hf: Path, tmp_path: Path
) -> None:
    """An image model's folder holding the user's tokenizer/ (not the image model's), replaced by
    a text model that writes tokenizer/: the user's folder was deleted unsaid (s62_r6 finding 3).
    It is still replaced (the name is the model's), but said."""
    import torch

    import siamkit
    from siamkit.export.bundle import save_model
    from siamkit.models import SiameseNetwork

    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[8, 16])
    out = save_model(SiameseNetwork(enc, 16).eval(), tmp_path / "model")
    (out / "tokenizer").mkdir()
    (out / "tokenizer" / "my-vocab-notes.txt").write_text("mine")
    (out / "notes.txt").write_text("mine")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TEXTS) + "\n")
    args = ["text", "lexical", "--corpus", str(corpus), "--model", str(tiny_hf), "--out", str(out)]
    res = CliRunner().invoke(cli, [*args, "--components", "3", "--force"])
    assert res.exit_code == 0, res.output
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "tokenizer" / "my-vocab-notes.txt").exists()
    assert (
        f"Replaced {out}/tokenizer, which the replaced model had not written, with this model's "
        "own of the same name: the earlier one is deleted"
    ) in res.stderr.splitlines()


def test_lexical_force_into_a_link_to_a_folder_of_other_files_is_refused_as_save_model_refuses(
    tmp_path: Path,
) -> None:
    """s63_r2 finding 2: the command's early refusal (before anything is fitted) was its own copy
    of save_model's, and still said "LINK is a folder of other files" where save_model names the
    link and where it leads. It is save_model's refusal now, word for word."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(TEXTS) + "\n")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "letter.txt").write_text("dear")
    link = tmp_path / "hybrid"
    link.symlink_to(docs)
    args = ["text", "lexical", "--corpus", str(corpus), "--out", str(link), "--force"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2, res.output
    assert res.output.endswith(
        f"Error: {link} is a link to {docs}, a folder of other files, not a siamkit model "
        "folder (no siamkit.json): save the model to a new or empty folder, or to a model "
        "folder to replace that model\n"
    )
    assert [p.name for p in docs.iterdir()] == ["letter.txt"] and link.is_symlink()
