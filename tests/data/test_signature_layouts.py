"""CEDAR, GPDS, BHSig and writer/genuine|forged layouts on small generated fixtures; pairs and
the writer-disjoint split against naive enumerations."""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from siamkit.data.folders import EmptyFoldersWarning
from siamkit.data.image_io import read_image, resize_images
from siamkit.data.signature_layouts import detect_layout, scan_signature_layout
from siamkit.data.signature_preprocess import BlankSignatureError
from siamkit.data.signature_set import load_signature_set, signature_pairs, writer_disjoint_split
from siamkit.data.signatures import SignatureDataset
from siamkit.data.synthetic_signatures import write_signature_folders


def _png(path: Path, value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.full((30, 50), 240, np.uint8)
    img[10:20, 5 + value % 20 : 30 + value % 20] = 10
    Image.fromarray(img).save(path)


@pytest.fixture
def cedar(tmp_path: Path) -> Path:
    for w in (1, 2, 10):
        for n in (1, 2, 3):
            _png(tmp_path / "full_org" / f"original_{w}_{n}.png", n)
        for n in (1, 2):
            _png(tmp_path / "full_forg" / f"forgeries_{w}_{n}.png", n)
    (tmp_path / "full_org" / "Thumbs.db").write_text("not an image")
    return tmp_path


@pytest.fixture
def gpds(tmp_path: Path) -> Path:
    for w in ("001", "002"):
        for n in (1, 2, 3):
            _png(tmp_path / w / f"c-{w}-{n:02d}.jpg", n)
        _png(tmp_path / w / f"cf-{w}-01.jpg")
    return tmp_path


@pytest.fixture
def bhsig(tmp_path: Path) -> Path:
    for lang, prefix in (("Bengali", "B"), ("Hindi", "H")):
        for w in (1, 2):
            for n in (1, 2):
                _png(tmp_path / lang / str(w) / f"{prefix}-S-{w}-G-{n:02d}.tif", n)
            _png(tmp_path / lang / str(w) / f"{prefix}-S-{w}-F-01.tif")
    return tmp_path


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    for w in ("alice", "bob"):
        for n in (1, 2, 3):
            _png(tmp_path / w / "genuine" / f"{n}.png", n)
        _png(tmp_path / w / "forged" / "1.png")
    return tmp_path


def test_cedar(cedar: Path) -> None:
    writers = scan_signature_layout(cedar)
    assert detect_layout(cedar) == "cedar"
    assert [w.writer for w in writers] == ["1", "2", "10"]  # numeric order
    assert [p.name for p in writers[2].genuine] == [f"original_10_{n}.png" for n in (1, 2, 3)]
    assert [p.name for p in writers[2].forged] == ["forgeries_10_1.png", "forgeries_10_2.png"]


def test_gpds(gpds: Path) -> None:
    writers = scan_signature_layout(gpds)
    assert detect_layout(gpds) == "gpds"
    assert [(w.writer, len(w.genuine), len(w.forged)) for w in writers] == [
        ("001", 3, 1),
        ("002", 3, 1),
    ]
    assert all(p.name.startswith("cf-") for w in writers for p in w.forged)


def test_bhsig_with_language_folders(bhsig: Path) -> None:
    writers = scan_signature_layout(bhsig)
    assert detect_layout(bhsig) == "bhsig"
    assert [w.writer for w in writers] == ["Bengali/1", "Bengali/2", "Hindi/1", "Hindi/2"]
    assert all(len(w.genuine) == 2 and len(w.forged) == 1 for w in writers)
    assert all("-F-" in p.name for w in writers for p in w.forged)


def test_folders_layout(folders: Path) -> None:
    assert detect_layout(folders) == "folders"
    assert [w.writer for w in scan_signature_layout(folders)] == ["alice", "bob"]


EXTS = ".png, .jpg, .jpeg, .bmp, .gif, .tif, .tiff, .webp"


@pytest.mark.parametrize("layout", ["cedar", "gpds", "bhsig", "folders"])
def test_the_layouts_say_nothing_when_every_writer_folder_holds_signatures(
    layout: str, request: pytest.FixtureRequest
) -> None:
    root = request.getfixturevalue(layout)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert scan_signature_layout(root) and detect_layout(root) == layout


def test_folders_layout_names_the_writer_folders_it_leaves_out(folders: Path) -> None:
    """A writer folder without genuine signatures was skipped without a word: a writer lost."""
    (folders / "carol" / "genuine").mkdir(parents=True)  # empty
    _png(folders / "dave" / "genuines" / "1.png")  # misspelt: no genuine/ folder
    (folders / ".ipynb_checkpoints").mkdir()  # hidden: not a writer
    with pytest.warns(EmptyFoldersWarning) as caught:
        writers = scan_signature_layout(folders)  # detects the layout, then reads it
    assert [w.writer for w in writers] == ["alice", "bob"]
    assert [str(w.message) for w in caught] == [
        f"2 writer folders of {folders} hold no genuine signature images ({EXTS}) and are left "
        "out (carol, dave): add their genuine signature images, or remove the folders"
    ]
    with pytest.warns(EmptyFoldersWarning, match=r"\(carol, dave\)"):
        ds = SignatureDataset(folders, input_shape=(1, 8, 8), layout="folders")
    assert {p.writer for p in ds.pairs} == {"alice", "bob"}


def test_gpds_names_an_empty_writer_folder(gpds: Path) -> None:
    (gpds / "003").mkdir()
    with pytest.warns(EmptyFoldersWarning) as caught:
        writers = scan_signature_layout(gpds, "gpds")
    assert [w.writer for w in writers] == ["001", "002"]
    assert [str(w.message) for w in caught] == [
        f"the writer folder {gpds / '003'} holds no genuine signature images ({EXTS}) and is "
        "left out: add its genuine signature images, or remove the folder"
    ]


def test_bhsig_names_an_empty_writer_folder_in_a_language_folder(bhsig: Path) -> None:
    (bhsig / "Hindi" / "3").mkdir()
    _png(bhsig / "Hindi" / "4" / "H-S-4-F-01.tif")  # forgeries alone: no genuine signature
    with pytest.warns(EmptyFoldersWarning, match=r"2 writer folders .* \(Hindi/3, Hindi/4\)"):
        writers = scan_signature_layout(bhsig)
    assert [w.writer for w in writers] == ["Bengali/1", "Bengali/2", "Hindi/1", "Hindi/2"]


def test_balanced_dataset_on_cedar(cedar: Path) -> None:
    ds = SignatureDataset(cedar, input_shape=(1, 8, 8), balanced=True)
    per_writer = {(p.writer, p.same) for p in ds.pairs}
    assert len(per_writer) == 6
    for w in ("1", "2", "10"):  # C(3,2) = 3 genuine pairs, 3 of the 6 genuine x forged pairs
        assert sum(p.writer == w and p.same == 1 for p in ds.pairs) == 3
        assert sum(p.writer == w and p.same == 0 for p in ds.pairs) == 3


def test_load_signature_set(gpds: Path) -> None:
    s = load_signature_set(gpds, size=(20, 30))
    assert s.images.shape == (8, 1, 20, 30)
    assert s.names == ["001", "002"]
    assert s.writer.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert s.forged.tolist() == [False, False, False, True] * 2
    assert float(s.images[:, :, 0, 0].abs().max()) == 0.0  # paper is 0 after inversion


def test_reading_a_signature_set_reports_progress(
    gpds: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reading and preprocessing takes ~20 ms a scan (a minute for CEDAR): it shows progress."""
    from functools import partial

    from siamkit import progress as prog

    monkeypatch.setattr(prog, "Progress", partial(prog.Progress, delay=0.0, tty=False))
    prog.set_enabled(True)
    try:
        load_signature_set(gpds, size=(20, 30))
    finally:
        prog.set_enabled(False)
    assert "reading signatures: 100% (8/8 images)" in capsys.readouterr().err


def test_blank_file_is_named_with_what_to_do(folders: Path) -> None:
    """'the signature image X is blank.' said nothing of what to do about it."""
    blank = folders / "bob" / "genuine" / "4.png"
    Image.fromarray(np.full((30, 50), 240, np.uint8)).save(blank)
    with pytest.raises(BlankSignatureError) as err:
        load_signature_set(folders, size=(20, 30))
    assert str(err.value) == (
        f"Signature image '{blank}' is blank (no ink on the page); check the scan, or leave it "
        f"out of '{folders}'."
    )


def _as_signature_pad_pngs(folders: Path, pads: Path) -> Path:
    """``folders`` again under ``pads`` as signature-pad PNGs: black everywhere, ink in alpha."""
    for scan in sorted(folders.rglob("*.png")):
        paper = np.asarray(Image.open(scan).convert("L"))
        pad = np.zeros((*paper.shape, 4), np.uint8)  # black everywhere, ink where opaque
        pad[..., 3] = 255 - paper
        (pads / scan.relative_to(folders)).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pad, "RGBA").save(pads / scan.relative_to(folders))
    return pads


def test_a_corpus_of_transparent_pngs_reads_as_the_opaque_scans(
    folders: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A corpus of signature-pad PNGs (ink in the alpha channel over black pixels) read as
    blank pages for training and evaluation: load_signature_set dropped the alpha, as only
    enroll and verify no longer did. It reads them as the opaque scans now."""
    pads = _as_signature_pad_pngs(folders, tmp_path_factory.mktemp("pads"))
    want, got = load_signature_set(folders, size=(20, 30)), load_signature_set(pads, size=(20, 30))
    assert got.names == want.names and torch.equal(got.writer, want.writer)
    torch.testing.assert_close(got.images, want.images, atol=1e-6, rtol=0)


@pytest.mark.parametrize("channels", [1, 3])
def test_the_pair_dataset_reads_transparent_pngs_as_the_opaque_scans(
    folders: Path, tmp_path_factory: pytest.TempPathFactory, channels: int
) -> None:
    """SignatureDataset read with load_images, which drops the alpha: a signature pad's PNG
    (ink in the alpha channel over black pixels) became an all-black page. It reads as
    read_signature does now, the transparent background laid on white paper."""
    pads = _as_signature_pad_pngs(folders, tmp_path_factory.mktemp("pads"))
    want = SignatureDataset(folders, input_shape=(channels, 20, 30))
    got = SignatureDataset(pads, input_shape=(channels, 20, 30))
    assert [p.same for p in got.pairs] == [p.same for p in want.pairs]
    for k in range(len(want)):
        (wa, wb, wsame), (ga, gb, gsame) = want[k], got[k]
        assert gsame == wsame and ga.shape == (channels, 20, 30)
        torch.testing.assert_close(ga, wa, atol=1e-6, rtol=0)
        torch.testing.assert_close(gb, wb, atol=1e-6, rtol=0)
    a, _, _ = want[0]  # an opaque scan reads as any image does
    reference = read_image(want.pairs[0].reference, channels)[None]
    torch.testing.assert_close(a, resize_images(reference, (20, 30))[0], atol=0, rtol=0)
    assert float(a.min()) < 0.2 and float(a.max()) > 0.9  # ink on paper


def test_the_pair_dataset_says_whether_the_folder_is_synthetic(
    folders: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A folder `siamkit signature synth` wrote carries the SYNTHETIC marker, which training and
    evaluation report; SignatureDataset ignored it. It says so in `synthetic` now."""
    synth = write_signature_folders(
        tmp_path_factory.mktemp("synth") / "sigs", 2, n_genuine=2, n_forged=1, size=(40, 56)
    )
    assert SignatureDataset(synth, input_shape=(1, 8, 8)).synthetic is True
    (synth / "part").mkdir()
    for writer in ("w0000", "w0001"):  # the writers in a folder below the marker
        (synth / writer).rename(synth / "part" / writer)
    assert SignatureDataset(synth / "part", input_shape=(1, 8, 8)).synthetic is True
    assert SignatureDataset(folders, input_shape=(1, 8, 8)).synthetic is False


@pytest.mark.parametrize("shape", [(2, 8, 8), (8, 8), (1, 0, 8)])
def test_the_pair_dataset_refuses_a_bad_input_shape_when_built(folders: Path, shape) -> None:
    with pytest.raises(ValueError, match=r"input_shape must be \(C, H, W\) with C = 1"):
        SignatureDataset(folders, input_shape=shape)


def test_unknown_layouts_are_refused(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    with pytest.raises(ValueError, match="no known signature layout"):
        scan_signature_layout(tmp_path)
    with pytest.raises(ValueError, match="unknown signature layout"):
        scan_signature_layout(tmp_path, layout="nope")
    with pytest.raises(FileNotFoundError):
        scan_signature_layout(tmp_path / "missing")


def test_an_empty_layout_names_the_others_and_how_to_pick_one(gpds: Path) -> None:
    with pytest.raises(ValueError, match="No signatures in the cedar layout") as err:
        scan_signature_layout(gpds, layout="cedar")
    msg = str(err.value)
    for name in ("auto", "cedar", "gpds", "bhsig", "folders", "--layout", "data.layout"):
        assert name in msg.split(";", 1)[1], name


def test_pairs_are_balanced_subsets_of_the_naive_enumeration() -> None:
    writer = torch.tensor([0] * 7 + [1] * 4 + [2] * 3)
    forged = torch.tensor([0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0]).bool()
    i, j, same = signature_pairs(writer, forged, seed=1)
    naive_pos, naive_neg = set(), set()
    for w in range(3):
        idx = [k for k in range(len(writer)) if writer[k] == w]
        gen = [k for k in idx if not forged[k]]
        naive_pos |= set(itertools.combinations(gen, 2))
        naive_neg |= {(g, f) for g in gen for f in idx if forged[f]}
    got = list(zip(i.tolist(), j.tolist(), same.tolist()))
    assert {(a, b) for a, b, s in got if s == 1} <= naive_pos
    assert {(a, b) for a, b, s in got if s == 0} <= naive_neg
    for w, n in ((0, 10), (1, 1), (2, 0)):  # writer 0: C(5,2)=10 pos, 5*2=10 neg; writer 2: none
        rows = [r for r in got if writer[r[0]] == w]
        assert sum(r[2] for r in rows) == n and len(rows) == 2 * n
    assert signature_pairs(writer, forged, seed=1)[0].tolist() == i.tolist()
    i2, _, s2 = signature_pairs(writer, forged, max_pairs_per_writer=2)
    assert int(s2.sum()) == 3 and len(i2) == 6


def test_writer_disjoint_split() -> None:
    groups = writer_disjoint_split(25, (0.6, 0.2, 0.2), seed=3)
    assert [len(g) for g in groups] == [15, 5, 5]
    assert sorted(itertools.chain(*groups)) == list(range(25))
    assert groups == writer_disjoint_split(25, (0.6, 0.2, 0.2), seed=3)
    assert groups != writer_disjoint_split(25, (0.6, 0.2, 0.2), seed=4)
    with pytest.raises(ValueError, match="empty"):
        writer_disjoint_split(2, (0.6, 0.2, 0.2))
    with pytest.raises(ValueError, match="sum to 1"):
        writer_disjoint_split(10, (0.5, 0.2))
