"""A corpus folder holding a link to another folder (sources linked in rather than copied): the
walk does not go into it (os.walk without followlinks), and the commands said nothing, so an
editor's or a teacher's linked sources were silently left out while hidden folders and other
suffixes were listed. It is now listed among the skipped, with what to do; a linked file is read
as before."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from siamkit.applications.text.corpus import load_corpus


def test_a_linked_folder_is_listed_as_skipped_and_a_linked_file_is_read(tmp_path: Path) -> None:
    outside, root = tmp_path / "sources", tmp_path / "corpus"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "x.txt").write_text("The printer is out of toner.")
    (outside / "y.txt").write_text("Printer out of toner.")
    (root / "own").mkdir(parents=True)
    (root / "own" / "a.txt").write_text("The VPN fails from home.")
    try:
        (root / "linked").symlink_to(outside, target_is_directory=True)
        (root / "one.txt").symlink_to(outside / "y.txt")
    except OSError:
        pytest.skip("this file system takes no symbolic links")
    corpus = load_corpus(root)
    # the reference: what os.walk (which the reader uses) enters, and which entries are links
    entered = {Path(d).relative_to(root) for d, _, _ in os.walk(root)}
    assert Path("linked") not in entered and (root / "linked").is_symlink()
    assert sorted(d.id for d in corpus.docs) == ["one.txt", os.path.join("own", "a.txt")]
    ((name, why),) = corpus.skipped
    assert name == f"linked{os.sep}" and why.startswith("a link to a folder, not followed: copy")
    assert f"linked{os.sep} (a link to a folder, not followed" in corpus.left_out()[0]
