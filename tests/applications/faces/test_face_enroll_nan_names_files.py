"""``siamkit face enroll`` refused a model's NaN embedding by its row among the photos given,
"(rows 1)", where ``siamkit enroll`` and ``siamkit identify`` name the file (final35 "NaN
wording"); it names the photo's file now, by the helper those commands use
(:func:`~siamkit.cli._enroll.checked_chunk`), and enrolls nothing."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner
from PIL import Image

from siamkit.applications.faces.descriptor import DlibDescriptor
from siamkit.cli.main import cli


def test_face_enroll_names_the_photo_whose_embedding_holds_nan(
    tmp_path, monkeypatch, astronaut, megamind
):
    photos = [tmp_path / "astronaut.png", tmp_path / "mega110.png", tmp_path / "mega120.png"]
    for path, rgb in zip(photos, (astronaut, megamind[110], megamind[120])):
        Image.fromarray(rgb).save(path)
    real = DlibDescriptor.embed_chips
    calls: list[int] = []

    def embed_chips(self, chips):  # the second photo's faces embed as NaN
        z = np.array(real(self, chips), dtype=np.float32)
        calls.append(len(chips))
        if len(calls) == 2:
            z[:] = np.nan
        return z

    monkeypatch.setattr(DlibDescriptor, "embed_chips", embed_chips)
    db = tmp_path / "staff.db"
    res = CliRunner().invoke(
        cli, ["face", "enroll", "--gallery", str(db), "--label", "x", *map(str, photos)]
    )
    assert len(calls) == 3 and res.exit_code == 1, res.output
    assert res.output.strip().splitlines()[-1] == (  # after any progress lines
        "Error: 1 of the 3 embeddings the model made of the photos' largest faces hold NaN or "
        f"infinite values ({str(photos[1])!r}), which no search can rank; nothing was enrolled"
    )
    assert not db.exists()
