"""A text gallery that holds no item (every label removed, or its first enrollment stopped
before its commit) whose recorded text model folder no longer exists was refused by the text
commands without --model ("was enrolled with the model in ..., which no longer exists"),
though it holds nothing that model made and one that recorded an image model takes the default
model (2c5227f): it now takes the default model too, saying why. One that holds items is still
refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner
from test_text_identify_cli import TICKETS, enroll, tiny_model, write_corpus

from siamkit.cli.main import cli


def _text(args: list[object]):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_an_emptied_gallery_of_a_gone_model_takes_the_default_model(tiny_hf, tmp_path) -> None:
    model = tiny_model(tiny_hf, tmp_path / "text")
    gallery = enroll(tmp_path, model, {"T-1": TICKETS["T-1"]})
    shutil.rmtree(model)
    corpus = write_corpus(tmp_path / "t.jsonl", {"T-2": TICKETS["T-2"]})
    args = ["text", "enroll", corpus, "--gallery", gallery, "--device", "cpu", "--no-progress"]
    res = _text([*args, "--json"])  # holding T-1: still that model's gallery
    assert res.exit_code != 0 and "which no longer exists" in res.output, res.output
    assert _text(["gallery", gallery, "remove", "T-1"]).exit_code == 0
    res = _text([*args, "--json"])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [
        f"model: all-MiniLM-L6-v2, the default ({gallery} holds no item of the model "
        f"{Path(model).resolve()} it recorded, which no longer exists)"
    ]
    assert json.loads(res.stdout)["num_items"] == 1
    stats = json.loads(_text(["gallery", gallery, "stats", "--json"]).stdout)
    assert stats["model_path"] == "" and stats["num_items"] == 1  # the default's, recorded none
