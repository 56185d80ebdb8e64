"""Guard: a text half-twin (two towers, ``share_weights=False``) keeps its former fingerprints
once saved and loaded, so the galleries it enrolled under the formulas before stop 55 keep
opening with its folder (final35 'Text' asked whether they could be refused: they are not, as
its former fingerprints are hashed from its description, which the folder keeps whole). A
generic ``HalfTwinNetwork`` over ``create_encoder("text")`` embeds no texts, so it has none."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import siamkit
from _tiny_bert import save_tiny_bert
from siamkit.applications.text import TextSiameseNetwork
from siamkit.index import Gallery, GalleryStore
from siamkit.index.results import GalleryMismatchError

pytest.importorskip("transformers")


def test_a_saved_text_half_twin_opens_its_former_formulas_galleries(tmp_path: Path) -> None:
    bert = save_tiny_bert(tmp_path / "bert", layers=1)
    net = TextSiameseNetwork.pretrained(bert, share_weights=False, max_length=16, overlap=4)
    with torch.no_grad():  # the towers differ, as after fine-tuning
        for p in net.doc_encoder.parameters():
            p.add_(0.01)
    formers = net.eval().former_fingerprints()
    assert len(formers) == 2 and siamkit.model_fingerprint(net) not in formers
    reloaded = siamkit.load_model(siamkit.save_model(net, tmp_path / "model"))
    assert reloaded.former_fingerprints() == formers
    other = TextSiameseNetwork.pretrained(save_tiny_bert(tmp_path / "o", layers=1, seed=1))
    for recorded, opens in (
        (formers[0], True),
        (formers[1], True),
        (other.former_fingerprints()[1], False),
    ):
        db = tmp_path / f"{recorded[:8]}.db"
        with Gallery.open(db, net) as g:
            g.enroll("a", ["the sink is leaking"])
        with GalleryStore(db, create=False) as store:
            store.set_meta("model_fingerprint", recorded)
        if opens:
            with Gallery.open(db, reloaded, threshold=2.0) as g:
                assert g.identify(["a leaking sink"]).label == "a"
        else:
            with pytest.raises(GalleryMismatchError, match="different model"):
                Gallery.open(db, reloaded)
