"""SignatureBank reads a writer's references through Gallery.items: what it enrolled, and the
verdict's distances against a numpy loop over them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siamkit.applications.signatures import build_signature_model
from siamkit.applications.signatures.bank import SignatureBank
from siamkit.data.signature_preprocess import preprocess_batch
from siamkit.data.synthetic_signatures import generate_signatures
from siamkit.index.results import UnknownLabelError


def test_references_are_the_enrolled_embeddings_and_verify_scores_them(tmp_path) -> None:
    torch.manual_seed(0)
    model = build_signature_model(
        (1, 40, 56), 16, {"widths": [4, 8, 8, 8], "fc": 16, "stem_stride": 1}
    ).eval()
    sigs = generate_signatures(2, n_genuine=4, n_forged=1, seed=0, size=(60, 90))
    a, b = list(sigs.images[:3]), list(sigs.images[5:8])  # writer 0's and writer 1's genuine
    with torch.no_grad():
        want_a = model.embed(preprocess_batch(a, (40, 56))).numpy()
    bank = SignatureBank.open(tmp_path / "bank.db", model, reduce="min", threshold=0.5)
    try:
        ids = bank.enroll("0001", a)
        bank.enroll("0002", b)
        refs = bank.references("0001")
        assert refs.shape == (3, 16) and len(ids) == 3
        np.testing.assert_allclose(refs, want_a, rtol=1e-5, atol=1e-6)
        assert not np.allclose(bank.references("0002"), refs[:3])
        question = sigs.images[3]  # writer 0's fourth genuine signature
        with torch.no_grad():
            q = model.embed(preprocess_batch([question], (40, 56))).numpy()[0]
        decision = bank.verify("0001", question)
        naive = [float(np.sqrt(((q.astype(float) - r) ** 2).sum())) for r in refs]
        assert decision.distances == pytest.approx(naive, abs=1e-4)
        assert decision.score == pytest.approx(min(naive), abs=1e-4)
        assert decision.genuine is (decision.score <= 0.5)
        with pytest.raises(UnknownLabelError, match="writer '0003' is not enrolled"):
            bank.references("0003")
    finally:
        bank.close()


def test_embed_signatures_equals_each_scan_embedded_alone_and_restores_the_mode() -> None:
    from siamkit.applications.signatures.train import embed_signatures

    torch.manual_seed(1)
    model = build_signature_model((1, 40, 56), 8, {"widths": [4, 4, 8, 8], "fc": 8}).train()
    images = torch.rand(7, 1, 40, 56)
    z = embed_signatures(model, images, batch_size=3)
    assert model.training and z.dtype == torch.float32 and z.device.type == "cpu"
    model.eval()
    with torch.no_grad():
        alone = torch.cat([model.embed(images[i : i + 1]) for i in range(7)])
    torch.testing.assert_close(z, alone, rtol=1e-5, atol=1e-5)
    assert embed_signatures(model, images[:0]).shape == (0, 8)
    with pytest.raises(ValueError):  # the model's own input check stays on
        embed_signatures(model, torch.rand(2, 3, 40, 56))


def test_the_package_names_the_bank_as_the_readme_does() -> None:
    # README: "In Python: siamkit.applications.signatures (SignatureBank, evaluate_signatures,
    # build_signature_model)"; the bank was only importable from its module
    import siamkit.applications.signatures as signatures
    from siamkit.applications.signatures import bank

    assert signatures.SignatureBank is bank.SignatureBank
    assert signatures.SignatureDecision is bank.SignatureDecision
    assert {"SignatureBank", "SignatureDecision"} <= set(signatures.__all__)


def test_the_model_folder_s_reduce_decides_and_an_object_without_one_warns(tmp_path) -> None:
    """SignatureBank.open(path, load_model(folder)) decided on the mean distance whatever reduce
    the model's threshold was chosen for: a model validated on min called its own writer's
    genuine signature forged where `siamkit signature verify` said genuine."""
    import warnings

    from siamkit import load_model, save_model
    from siamkit.index.results import GalleryMismatchError

    torch.manual_seed(0)
    net = build_signature_model((1, 40, 56), 8, {"widths": [4, 4, 8, 8], "fc": 8, "stem_stride": 1})
    folder = tmp_path / "model"
    save_model(net.eval(), folder, threshold=0.5, metadata={"signatures": {"reduce": "min"}})
    sigs = generate_signatures(1, n_genuine=4, n_forged=0, seed=0, size=(60, 90))
    refs, question = list(sigs.images[:3]), sigs.images[3]
    db = tmp_path / "bank.db"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the folder's reduce: no warning
        bank = SignatureBank.open(db, str(folder))
        bank.enroll("0001", refs)
        decision = bank.verify("0001", question)
        bank.close()
    assert decision.reduce == "min" and decision.threshold == pytest.approx(0.5)
    assert decision.score == pytest.approx(min(decision.distances))
    bank = SignatureBank.open(db, str(folder), reduce="max")  # given: it decides
    assert bank.verify("0001", question).reduce == "max"
    bank.close()
    bank = SignatureBank.open(db, load_model(folder))  # an object carries no reduce
    with pytest.warns(UserWarning, match=r"open the bank with the model folder"):
        assert bank.verify("0001", question).reduce == "mean"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per bank
        bank.verify("0001", question)
    bank.close()
    other = tmp_path / "other"  # another model is refused, as every gallery refuses one
    save_model(build_signature_model((1, 40, 56), 8, {"widths": [4, 4, 8, 8], "fc": 8}), other)
    with pytest.raises(GalleryMismatchError, match="was built by a different model"):
        SignatureBank.open(db, str(other))


def test_a_model_of_colour_images_creates_no_bank(tmp_path) -> None:
    """The shape was checked after Gallery.open had created the file (and left it open)."""
    from siamkit import SiameseNetwork
    from siamkit.encoders import create_encoder
    from siamkit.models.preprocess import Preprocess

    encoder = create_encoder("signet", in_channels=3, widths=[4, 4, 8, 8], fc=8, stem_stride=1)
    prep = Preprocess(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), input_shape=(3, 40, 56))
    model = SiameseNetwork(encoder, embedding_dim=8, preprocess=prep).eval()
    with pytest.raises(ValueError, match=r"not one of input shape \(3, 40, 56\); use a signature"):
        SignatureBank.open(tmp_path / "bank.db", model)
    assert not (tmp_path / "bank.db").exists()


def test_a_verdict_names_each_reference_and_the_scan_it_came_from(tmp_path) -> None:
    """``enroll(..., sources=)`` keeps each scan's file; the verdict's ``item_ids`` and
    ``sources`` follow its ``distances`` (None for a reference enrolled without one)."""
    torch.manual_seed(0)
    model = build_signature_model(
        (1, 40, 56), 16, {"widths": [4, 8, 8, 8], "fc": 16, "stem_stride": 1}
    ).eval()
    sigs = generate_signatures(1, n_genuine=4, n_forged=0, seed=0, size=(60, 90))
    scans = list(sigs.images)
    bank = SignatureBank.open(tmp_path / "bank.db", model, reduce="min", threshold=0.5)
    try:
        with pytest.raises(ValueError, match="got 1 sources for 2 reference scans"):
            bank.enroll("0001", scans[:2], sources=["r1.png"])
        assert len(bank.gallery) == 0  # nothing half-written
        old = bank.enroll("0001", scans[:1])  # from Python, naming no file
        new = bank.enroll("0001", scans[1:3], sources=["r2.png", "r3.png"])
        decision = bank.verify("0001", scans[3])
        assert decision.item_ids == [*old, *new] and len(decision.distances) == 3
        assert decision.sources == [None, "r2.png", "r3.png"]
        assert decision.to_dict()["sources"] == decision.sources
    finally:
        bank.close()
