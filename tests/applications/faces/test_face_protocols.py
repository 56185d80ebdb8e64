"""LFW pairs.txt 10-fold accuracy and open-set 1:N, against naive loops, on generated fixtures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siamkit.applications.faces import FacePipeline
from siamkit.applications.faces.evaluate import evaluate_identities, evaluate_lfw
from siamkit.applications.faces.lfw import best_threshold, kfold_accuracy, read_lfw_pairs
from siamkit.applications.faces.open_set import open_set_identification, split_identities


def _naive_kfold(d, same, fold):
    accs = []
    for k in sorted(set(fold.tolist())):
        train = [i for i in range(len(d)) if fold[i] != k]
        best_t, best_correct = None, -1
        for t in sorted({-1e9, *(d[i] for i in train)}):  # accept d <= t
            correct = sum((d[i] <= t) == same[i] for i in train)
            if correct > best_correct:
                best_t, best_correct = t, correct
        test = [i for i in range(len(d)) if fold[i] == k]
        accs.append(np.mean([(d[i] <= best_t) == same[i] for i in test]))
    return np.asarray(accs)


def test_kfold_accuracy_matches_a_naive_loop():
    rng = np.random.default_rng(0)
    same = rng.random(200) < 0.5
    d = np.where(same, rng.normal(0.5, 0.2, 200), rng.normal(0.9, 0.2, 200)).round(2)  # ties
    fold = np.repeat(np.arange(10), 20)
    got = kfold_accuracy(d, same, fold)
    np.testing.assert_allclose(got.fold_accuracy, _naive_kfold(d, same, fold))
    assert 0.7 < got.mean < 0.95 and got.std > 0


def test_best_threshold_beats_every_other_threshold():
    rng = np.random.default_rng(1)
    same = rng.random(300) < 0.4
    d = np.where(same, rng.random(300), rng.random(300) + 0.3)
    t = best_threshold(d, same)
    acc = lambda th: ((d <= th) == same).mean()  # noqa: E731
    assert all(acc(t) >= acc(v) for v in np.linspace(-0.1, 1.4, 500))


def _write_pairs(tmp_path, lines):
    p = tmp_path / "pairs.txt"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_read_pairs_folds_and_paths(tmp_path):
    p = _write_pairs(
        tmp_path,
        ["2\t1", "Ann\t1\t2", "Ann\t1\tBob\t1", "Bob\t1\t2", "Bob\t2\tCid_X\t3"],
    )
    pairs = read_lfw_pairs(p, tmp_path / "lfw")
    assert pairs.same.tolist() == [True, False, True, False]
    assert pairs.fold.tolist() == [0, 0, 1, 1]
    assert pairs.a[0] == tmp_path / "lfw" / "Ann" / "Ann_0001.jpg"
    assert pairs.b[3] == tmp_path / "lfw" / "Cid_X" / "Cid_X_0003.jpg"
    single = read_lfw_pairs(_write_pairs(tmp_path, ["1", "Ann 1 2", "Ann 1 Bob 1"]), tmp_path)
    assert single.fold.tolist() == [0, 0]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["2 1", "Ann 1 2"], "announces 2 fold"),
        (["1 1", "Ann 1 Bob 1", "Ann 1 2"], r":2: expected 'name i j'"),
        (["1 1", "Ann 1 x", "Ann 1 Bob 1"], "is not an integer"),
        (["ten"], "first line"),
    ],
)
def test_bad_pairs_files_name_the_line(tmp_path, lines, message):
    with pytest.raises(ValueError, match=message):
        read_lfw_pairs(_write_pairs(tmp_path, lines), tmp_path)


def test_a_short_pairs_file_of_the_real_shape_groups_its_line_counts(tmp_path):
    # LFW's own shape (10 folds of 300) said "(6000 lines), the file has 5999" beside its
    # counted folds, without the separator every message writes
    body = ["Ann 1 2"] * 5999
    with pytest.raises(ValueError) as err:
        read_lfw_pairs(_write_pairs(tmp_path, ["10 300", *body]), tmp_path)
    assert str(err.value).endswith(
        ": the header announces 10 folds of 300 matched + 300 mismatched pairs (6,000 lines), "
        "the file has 5,999"
    )


def test_a_pairs_file_not_in_utf8_names_its_line(tmp_path):
    p = tmp_path / "pairs.txt"
    p.write_bytes(b"1\t1\nAnn\t1\t2\nJos\xe9\t1\tAnn\t1\n")
    with pytest.raises(
        ValueError, match=r"pairs\.txt line 3: byte 0xe9 at offset \d+ is not UTF-8 text"
    ):
        read_lfw_pairs(p, tmp_path)


def _naive_open_set(gz, gy, pz, py, far):
    best = []
    for z in pz:
        d = [np.linalg.norm(z - g) for g in gz]
        best.append((gy[int(np.argmin(d))], min(d)))
    known = [y in set(gy) for y in py]
    correct = [k and b[0] == y for k, b, y in zip(known, best, py)]
    rank1 = sum(correct) / sum(known)
    imp = sorted(b[1] for k, b in zip(known, best) if not k)
    # the largest threshold (among candidate distances) letting <= far of the unknowns through
    allowed = int(np.floor(far * len(imp)))
    cands = sorted({b[1] for b in best} | set(imp))
    t = max([c for c in cands if sum(v <= c for v in imp) <= allowed], default=-np.inf)
    dir_ = sum(c and b[1] <= t for c, b in zip(correct, best)) / sum(known)
    return rank1, dir_


def test_open_set_matches_naive_loops():
    rng = np.random.default_rng(2)
    centers = rng.normal(size=(12, 8))
    gy = [f"id{i}" for i in range(8)]  # ids 8..11 are unknown
    gz = centers[:8] + 0.3 * rng.normal(size=(8, 8))
    py = [f"id{i}" for i in rng.integers(0, 12, 300)]
    pz = centers[[int(y[2:]) for y in py]] + 0.6 * rng.normal(size=(300, 8))
    got = open_set_identification(gz, gy, pz, py, fars=(0.05, 0.2))
    for far in (0.05, 0.2):
        rank1, dir_ = _naive_open_set(gz, gy, pz, py, far)
        assert got.rank1 == pytest.approx(rank1)
        assert got.dir_at_far[far] == pytest.approx(dir_)
    assert got.num_known + got.num_unknown == 300
    assert got.dir_at_far[0.05] <= got.dir_at_far[0.2] <= got.rank1


class _RecordingEuclidean:
    """The Euclidean distance, noting the shape of every matrix it is asked for."""

    name = "euclidean"

    def __init__(self):
        self.shapes = []

    def pairwise(self, x, y):
        return (x - y).norm(dim=1)

    def matrix(self, x, y):
        self.shapes.append((len(x), len(y)))
        return torch.cdist(x, y)


def test_open_set_compares_probes_a_block_at_a_time_as_the_naive_loop_does(monkeypatch):
    """20,000 probes x 20,000 gallery faces, the sizes the identities protocol serves, held one
    (Q, G) matrix (1.6 GB, 4.6 GB with the distance's temporaries); probes now meet the gallery a
    block of rows at a time, with the naive loop's rank-1 and DIR."""
    import siamkit.applications.faces.open_set as open_set

    rng = np.random.default_rng(5)
    centers = rng.normal(size=(12, 8))
    gy = [f"id{i}" for i in range(8)]
    gz = centers[:8] + 0.3 * rng.normal(size=(8, 8))
    py = [f"id{i}" for i in rng.integers(0, 12, 203)]
    pz = centers[[int(y[2:]) for y in py]] + 0.6 * rng.normal(size=(203, 8))
    # blocks of 50 probes and one of 3 (raising=False: before the fix, no blocks)
    monkeypatch.setattr(open_set, "_BLOCK_DISTANCES", 8 * 50, raising=False)
    dist = _RecordingEuclidean()
    got = open_set_identification(gz, gy, pz, py, fars=(0.05, 0.2), distance=dist)
    assert dist.shapes == [(50, 8)] * 4 + [(3, 8)]
    for far in (0.05, 0.2):
        rank1, dir_ = _naive_open_set(gz, gy, pz, py, far)
        assert got.rank1 == pytest.approx(rank1)
        assert got.dir_at_far[far] == pytest.approx(dir_)


def test_a_probe_equally_near_two_identities_is_matched_to_the_first_in_gallery_order():
    """Ties go to the first gallery row (argmin's rule), whatever the labels' names or hashes:
    the same result on every run, and the reverse when the gallery order is reversed."""
    gallery = np.asarray([[1.0, 0.0], [-1.0, 0.0]], np.float32)
    probes = np.asarray([[0.0, 0.0], [0.0, 5.0], [1.0, 0.0]], np.float32)  # two tied, one known
    labels = ["b", "u", "b"]
    first = open_set_identification(gallery, ["b", "a"], probes, labels, fars=(0.5,))
    assert first.rank1 == 1.0  # the tied known probe goes to "b", the first row
    again = open_set_identification(gallery[::-1].copy(), ["a", "b"], probes, labels, fars=(0.5,))
    assert again.rank1 == 0.5  # now "a" comes first and takes the tie


def test_split_identities_is_seeded_and_disjoint():
    labels = [f"p{i // 3}" for i in range(30)]  # 10 identities x 3 images
    g, p = split_identities(labels, unknown_fraction=0.4, per_identity=1, seed=3)
    assert sorted([*g.tolist(), *p.tolist()]) == list(range(30))
    enrolled = {labels[i] for i in g}
    assert len(g) == len(enrolled) == 6
    g2, _ = split_identities(labels, unknown_fraction=0.4, per_identity=1, seed=3)
    assert g.tolist() == g2.tolist()


def test_lfw_evaluation_end_to_end(tmp_path, encoder, face_folder):
    lines = ["2 1", "Eileen_Collins 1 2", "Eileen_Collins 1 Lionel_Messi 2"]
    lines += ["Lionel_Messi 1 2", "Mega_Mind 2 Eileen_Collins 2"]
    pairs = read_lfw_pairs(_write_pairs(tmp_path, lines), face_folder)
    result = evaluate_lfw(FacePipeline(encoder), pairs)
    assert result.no_face == []
    assert result.distances[[0, 2]].max() < 0.6 < result.distances[[1, 3]].min()
    assert result.accuracy.mean == 1.0


def test_identities_evaluation_end_to_end(encoder, face_folder):
    result, no_face = evaluate_identities(
        FacePipeline(encoder), face_folder, unknown_fraction=0.34, fars=(0.5,)
    )
    assert no_face == [] and result.num_known == 2 and result.num_unknown == 2
    assert result.rank1 == 1.0


def test_a_file_that_is_not_an_image_stops_before_any_face_is_searched(
    tmp_path, monkeypatch, face_folder
):
    import siamkit.applications.faces.evaluate as ev
    from siamkit.image_decode import ImageReadError

    root = tmp_path / "people"
    root.mkdir()
    for person in sorted(p.name for p in face_folder.iterdir()):
        (root / person).symlink_to(face_folder / person)
    (root / "zz").mkdir()
    (root / "zz" / "notes.jpg").write_text("not an image")
    read = []
    monkeypatch.setattr(ev, "read_rgb", lambda path: read.append(path))
    with pytest.raises(ImageReadError, match=r"notes\.jpg' is not a readable image"):
        evaluate_identities(object(), root)  # type: ignore[arg-type]
    assert read == []  # not after embedding every other photo


def test_a_one_fold_pairs_file_is_refused_before_any_face_is_searched(
    tmp_path, monkeypatch, face_folder
):
    """A one-fold file (``pairsDevTest.txt``, which the reader takes) embedded every image and
    then failed with "k-fold accuracy needs at least two folds", naming neither the file's fault
    nor what to give. It is refused first now, saying so."""
    import siamkit.applications.faces.evaluate as ev

    pairs = read_lfw_pairs(
        _write_pairs(tmp_path, ["1", "Eileen_Collins 1 2", "Eileen_Collins 1 Lionel_Messi 2"]),
        face_folder,
    )
    read = []
    monkeypatch.setattr(ev, "read_rgb", lambda path: read.append(path))
    with pytest.raises(ValueError, match=r"has one fold.*give a pairs file of two or more folds"):
        evaluate_lfw(object(), pairs)  # type: ignore[arg-type]
    assert read == []


def test_an_identities_folder_of_loose_photos_is_refused_before_any_face_is_searched(
    tmp_path, monkeypatch
):
    """Photos straight in --identities each became an identity of one photo, and the run ended
    with "no probe belongs to an enrolled identity" after embedding them all."""
    from PIL import Image

    import siamkit.applications.faces.evaluate as ev

    root = tmp_path / "people"
    (root / "ann").mkdir(parents=True)
    for name in ("ann/1.png", "ann/2.png", "bob.png"):
        Image.new("RGB", (8, 8)).save(root / name)
    read = []
    monkeypatch.setattr(ev, "read_rgb", lambda path: read.append(path))
    with pytest.raises(
        ValueError,
        match=r"holds 1 photo directly \(e\.g\. bob\.png\); it needs a folder per identity",
    ):
        evaluate_identities(object(), root)  # type: ignore[arg-type]
    assert read == []
    (root / "bob.png").unlink()
    assert ev.read_identities(root)[1] == ["ann", "ann"]


@pytest.mark.parametrize(
    ("people", "fraction", "message"),
    [
        (
            {"ann": 1, "bob": 1},
            0.5,
            "no enrolled identity of {root} has a photo to probe with: each enrolls its first "
            "photo and probes with the rest, and bob has no more; give the identities 2 or more "
            "photos each",
        ),
        (
            {"ann": 2},
            0.9,
            "every identity of {root} is left out of the gallery as unknown (a fraction 0.9 of 1 "
            "identity), so no probe is of an enrolled one; give a lower --unknown-fraction or "
            "more identities",
        ),
    ],
)
def test_a_split_without_known_probes_is_refused_before_any_face_is_searched(
    tmp_path, monkeypatch, people, fraction, message
):
    """Two people of one photo each (one enrolled, one unknown), or every identity left out,
    embedded every photo and ended with "no probe belongs to an enrolled identity", saying
    neither why nor what to do."""
    from PIL import Image

    import siamkit.applications.faces.evaluate as ev

    root = tmp_path / "people"
    for person, count in people.items():
        (root / person).mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", (8, 8)).save(root / person / f"{i}.png")
    read = []
    monkeypatch.setattr(ev, "read_rgb", lambda path: read.append(path))
    with pytest.raises(ValueError) as err:
        evaluate_identities(object(), root, unknown_fraction=fraction)  # type: ignore[arg-type]
    assert str(err.value) == message.format(root=root)
    assert read == []


def test_dir_at_far_lets_through_as_many_unknowns_as_sklearns_roc_allows():
    """FAR 0.29 of 100 unknown probes allows 29 false alarms (29 / 100 == 0.29, sklearn's
    roc_curve says so); floor(0.29 * 100) is 28, as 0.29 * 100 is just below 29."""
    from sklearn.metrics import roc_curve

    gallery = np.zeros((1, 1), np.float32)
    probes = np.r_[[0.5, 29.5], np.arange(1, 101)].astype(np.float32)[:, None]
    labels = ["a", "a"] + [f"u{i}" for i in range(100)]  # two known probes, 100 unknown
    got = open_set_identification(gallery, ["a"], probes, labels, fars=(0.29, 0.57))
    d = probes[:, 0].astype(np.float64)
    fpr, tpr, _ = roc_curve([1, 1] + [0] * 100, -d, drop_intermediate=False)
    for far in (0.29, 0.57):
        ok = fpr <= far
        assert got.dir_at_far[far] == pytest.approx(tpr[ok].max())
        assert int((d[2:] <= got.thresholds[far]).sum()) == round(fpr[ok].max() * 100)
    assert got.dir_at_far[0.29] == 1.0  # the known probe at 29.5 is within 29 false alarms
