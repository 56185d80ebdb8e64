"""A first `siamkit text enroll` stopped before it stored a text (Ctrl-C, SIGTERM, an error in
the first label's transaction) left an empty gallery file that recorded its model: the next
enroll with another model was refused as that model's gallery. The file it created is removed,
with its previews side file and the folders made for it, as `siamkit enroll` does; a gallery
that was there before keeps exactly what it held."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import siamkit.index.gallery as gallery_module
from _first_stopped import STOPS, items_of, stopping
from siamkit.cli.main import cli


def corpus(path: Path, *rows: tuple[str, str]) -> Path:
    path.write_text("".join(f'{{"id": "{i}", "text": "{t}"}}\n' for i, t in rows))
    return path


def enroll(corpus: Path, db: Path, model: Path):
    args = ["text", "enroll", str(corpus), "--gallery", str(db), "--model", str(model)]
    return CliRunner().invoke(cli, [*args, "--device", "cpu", "--no-progress"])


@pytest.mark.parametrize(("stop", "code"), STOPS)
def test_a_first_text_enroll_stopped_in_its_transaction_leaves_no_file(
    tiny_hf, tmp_path, monkeypatch, stop, code
):
    from _tiny_bert import save_tiny_bert

    texts = corpus(tmp_path / "c.jsonl", ("cat", "a cat sleeps"), ("dog", "a dog barks"))
    db = tmp_path / "new" / "faq" / "faq.db"  # its folders too are made by the enroll
    # stopped with the first label's rows and previews written, before its commit: rolled back
    monkeypatch.setattr(gallery_module, "remove_thumbnails_from", stopping(stop))
    res = enroll(texts, db, tiny_hf)
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "new").exists()
    monkeypatch.undo()
    # the symptom: the next enroll, with another model, was refused as the first one's gallery
    res = enroll(texts, db, save_tiny_bert(tmp_path / "other", seed=1))
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in db.parent.iterdir()) == ["faq.db", "faq.db.thumbs"]
    assert [label for _, label, _ in items_of(db)] == ["cat", "dog"]


def test_an_existing_text_gallery_is_kept_whole_when_an_enroll_is_stopped(
    tiny_hf, tmp_path, monkeypatch
):
    db = tmp_path / "faq.db"
    assert enroll(corpus(tmp_path / "c.jsonl", ("cat", "a cat sleeps")), db, tiny_hf).exit_code == 0
    before = items_of(db)
    monkeypatch.setattr(gallery_module, "remove_thumbnails_from", stopping(KeyboardInterrupt))
    res = enroll(corpus(tmp_path / "d.jsonl", ("dog", "a dog barks")), db, tiny_hf)
    assert res.exit_code == 130, res.output
    assert items_of(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "c.jsonl",
        "d.jsonl",
        "faq.db",
        "faq.db.thumbs",
    ]
