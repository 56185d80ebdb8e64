"""``siamkit evaluate`` and ``siamkit calibrate`` of an image model on a pairs CSV
(``path_a,path_b,same``): the metrics against independent references (scikit-learn's ROC AUC,
naive loops over the pairs' distances computed pair by pair with the model), the saved threshold
against a naive sweep, and bad input."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import siamkit
from siamkit.cli.main import cli
from siamkit.data import load_images

SHAPE = (1, 16, 16)
#: (a, b, same): 8 distinct images, some used in several pairs; genuine pairs are an image and
#: a lightly changed copy of it, impostor pairs two different noise images.
PAIRS = [
    ("n0.png", "n0b.png", 1), ("n1.png", "n1b.png", 1), ("n2.png", "n2b.png", 1),
    ("n3.png", "n3b.png", 1), ("n0.png", "n1.png", 0), ("n1.png", "n2.png", 0),
    ("n2.png", "n3.png", 0), ("n0.png", "n3b.png", 0), ("n1b.png", "n2b.png", 0),
    ("n0b.png", "n2.png", 0), ("n3.png", "n1b.png", 1),  # a genuine label on unlike images
]  # fmt: skip


def run(args: list[object], code: int = 0) -> object:
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    return res


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """root/pairs.csv naming root/img/*.png by paths relative to the CSV's folder."""
    root = tmp_path_factory.mktemp("pairs")
    (root / "img").mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        noise = rng.integers(0, 256, (20, 20))
        near = np.clip(noise + rng.integers(-40, 41, noise.shape), 0, 255)
        Image.fromarray(noise.astype(np.uint8)).save(root / "img" / f"n{i}.png")
        Image.fromarray(near.astype(np.uint8)).save(root / "img" / f"n{i}b.png")
    body = "".join(f"img/{a},img/{b},{s}\n" for a, b, s in PAIRS)
    (root / "pairs.csv").write_text("path_a,path_b,same\n" + body)
    return root


def _model(folder: Path, threshold: float | None = None) -> Path:
    torch.manual_seed(0)
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1, widths=[4, 8])
    pre = siamkit.Preprocess(mean=(0.5,), std=(0.25,), input_shape=SHAPE)
    net = siamkit.SiameseNetwork(enc, embedding_dim=8, preprocess=pre)
    return siamkit.save_model(net, folder, threshold=threshold)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return _model(tmp_path / "model")


def reference_distances(model: Path, root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Each pair's distance from the model's own forward pass on that pair, and the labels."""
    net = siamkit.load_model(model)
    d = []
    with torch.no_grad():
        for a, b, _ in PAIRS:
            xa = load_images([root / "img" / a], SHAPE)
            xb = load_images([root / "img" / b], SHAPE)
            d.append(float(net(xa, xb)[0]))
    return np.array(d), np.array([s for _, _, s in PAIRS])


def naive_eer(d: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """(EER, threshold): walk the thresholds up from "accept nothing" to the first one with
    FAR >= FRR and interpolate linearly with the point before it."""
    gen, imp = d[same == 1], d[same == 0]
    points: list[tuple[float | None, float, float]] = [(None, 0.0, 1.0)]
    for t in sorted(set(d.tolist())):
        points.append((t, float(np.mean(imp <= t)), float(np.mean(gen > t))))
    for k in range(1, len(points)):
        t, far, frr = points[k]
        if far >= frr:
            tp, far_p, frr_p = points[k - 1]
            tp = t if tp is None else tp
            gap_p, gap_k = frr_p - far_p, frr - far
            alpha = gap_p / (gap_p - gap_k) if gap_p > gap_k else 1.0
            return far_p + alpha * (far - far_p), tp + alpha * (t - tp)  # type: ignore[operator]
    raise AssertionError("FAR reaches 1 at the largest distance")


def naive_tar_at_far(d: np.ndarray, same: np.ndarray, far: float) -> tuple[float, float]:
    """(TAR, threshold): the best TAR over observed thresholds whose FAR is at most ``far``."""
    gen, imp = d[same == 1], d[same == 0]
    best, best_t = 0.0, -np.inf
    for t in sorted(d.tolist()):
        if np.mean(imp <= t) <= far and np.mean(gen <= t) >= best:
            best, best_t = float(np.mean(gen <= t)), t
    return best, best_t


def balanced_accuracy(d: np.ndarray, same: np.ndarray, t: float) -> float:
    tar, far = np.mean(d[same == 1] <= t), np.mean(d[same == 0] <= t)
    return float((tar + 1 - far) / 2)


def test_evaluate_matches_independent_references(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.metrics import roc_auc_score

    d, same = reference_distances(_model(tmp_path / "m0"), data)
    sd = np.sort(d)
    threshold = float(sd[5] + sd[6]) / 2  # between two distances: no pair sits on it
    model = _model(tmp_path / "model", threshold=threshold)
    embedded: list[int] = []
    import siamkit.encode

    real = siamkit.encode.encode
    monkeypatch.setattr(
        siamkit.encode,
        "encode",
        lambda net, x, *a, **k: embedded.append(len(x)) or real(net, x, *a, **k),
    )
    doc = json.loads(run(["evaluate", model, "--data", data / "pairs.csv", "--json"]).stdout)
    assert sum(embedded) == 8  # each distinct image once, not once per pair side (22)
    ver = doc["verification"]
    assert (ver["n_genuine"], ver["n_impostor"]) == (5, 6)
    assert ver["roc_auc"] == pytest.approx(roc_auc_score(same, -d))
    eer, eer_t = naive_eer(d, same)
    assert ver["eer"] == pytest.approx(eer) and ver["threshold"] == pytest.approx(eer_t, rel=1e-5)
    for far in ("0.01", "0.001"):  # the FARs `siamkit evaluate` reports
        assert ver["tar_at_far"][far] == pytest.approx(naive_tar_at_far(d, same, float(far))[0])
    assert doc["data"] == {
        "kind": "pairs", "source": str(data / "pairs.csv"), "pairs": 11, "genuine": 5,
        "impostor": 6, "images": 8, "distance": "euclidean",
    }  # fmt: skip
    assert set(doc["not_computed"]) == {"few_shot", "retrieval"}
    assert "few_shot" not in doc and "retrieval" not in doc
    test = doc["calibration"]["test"]
    correct = sum(int((di <= threshold) == bool(s)) for di, s in zip(d, same))
    assert test["accuracy"] == pytest.approx(correct / len(PAIRS))
    assert test["tar"] == pytest.approx(np.mean(d[same == 1] <= threshold))
    assert test["far"] == pytest.approx(np.mean(d[same == 0] <= threshold))
    assert 0 < test["accuracy"] < 1


def test_evaluate_prints_the_table_says_what_is_not_computed_and_writes_the_report(
    data: Path, model: Path, tmp_path: Path
) -> None:
    report = tmp_path / "r.html"
    out = run(["evaluate", model, "--data", data / "pairs.csv", "--report", report]).output
    assert out.startswith(
        f"11 pairs (5 genuine, 6 impostor) of 8 images from the pairs file {data / 'pairs.csv'}"
    )
    for row in ("EER", "ROC AUC", "TAR@FAR=1e-2", "TAR@FAR=1e-3"):
        assert f"\n{row} " in out
    # 6 impostor pairs cannot measure a FAR of 1e-2 or 1e-3: "-", and why (the JSON keeps them)
    assert re.search(r"^TAR@FAR=1e-2 +-$", out, re.M) and re.search(r"^TAR@FAR=1e-3 +-$", out, re.M)
    assert "TAR@FAR=1e-2 and TAR@FAR=1e-3: not measured" in out
    assert "at least 1/f impostor pairs (100 for 1e-2 and 1,000 for 1e-3), and these are 6;" in out
    doc = json.loads(run(["evaluate", model, "--data", data / "pairs.csv", "--json"]).output)
    assert set(doc["verification"]["tar_at_far"]) == {"0.01", "0.001"}
    assert "N-way K-shot and retrieval are not computed: they need classes" in out
    assert "model's threshold" not in out  # this model has none
    html = report.read_text()
    for part in ("id='verification'", "id='fig-roc'", "id='fig-hist'", "not computed"):
        assert part in html
    assert "not measured (needs 100 impostor pairs or more)" in html  # TAR@FAR=0.01, 6 of them
    assert "not measured (needs 1,000 impostor pairs or more)" in html
    assert "id='embedding-map'" not in html and "0 classes" not in html


def test_evaluate_refuses_class_options_on_a_pairs_file(data: Path, model: Path) -> None:
    out = run(["evaluate", model, "--data", data / "pairs.csv", "--shots", "1"], code=2)
    assert "--shots is for data with classes" in out.output
    out = run(["evaluate", model, "--data", data / "pairs.csv", "--clustering"], code=2)
    assert "--clustering is for data with classes" in out.output  # else ignored: no NMI/AMI
    out = run(["evaluate", model, "--data", data / "pairs.csv", "--queries", "3"], code=2)
    assert "--queries is for data with classes" in out.output
    out = run(["evaluate", model, "--data", data / "pairs.csv", "--seed", "3"], code=2)
    assert "--seed is for data with classes" in out.output


@pytest.mark.parametrize("target", ["eer", "accuracy", "far"])
def test_calibrate_saves_the_threshold_of_a_naive_sweep(
    data: Path, model: Path, target: str
) -> None:
    d, same = reference_distances(model, data)
    before = json.loads((model / "siamkit.json").read_text())
    args = ["calibrate", model, "--data", data / "pairs.csv", "--target", target, "--json"]
    info = json.loads(run([*args, *(["--far", "0.2"] if target == "far" else [])]).stdout)
    saved = json.loads((model / "siamkit.json").read_text())
    assert saved["threshold"] == pytest.approx(info["threshold"])
    assert saved["weights_sha256"] == before["weights_sha256"]
    assert saved["metadata"]["calibration"]["data"] == str(data / "pairs.csv")
    assert siamkit.load_model(model).threshold == pytest.approx(info["threshold"])
    assert (info["genuine_pairs"], info["impostor_pairs"]) == (5, 6)
    t = info["threshold"]
    if target == "eer":
        assert t == pytest.approx(naive_eer(d, same)[1], rel=1e-5)
    elif target == "far":
        tar, naive_t = naive_tar_at_far(d, same, 0.2)
        assert t == pytest.approx(naive_t, rel=1e-5) and info["tar"] == pytest.approx(tar)
    else:
        best = max(balanced_accuracy(d, same, c) for c in d)
        assert balanced_accuracy(d, same, t) == pytest.approx(best)
    assert info["tar"] == pytest.approx(np.mean(d[same == 1] <= t))
    assert info["far"] == pytest.approx(np.mean(d[same == 0] <= t))


BAD = {
    "missing column": ("path_a,same\nimg/n0.png,1\n", r"'.*bad\.csv' line 1: .*missing path_b"),
    "missing image": ("path_a,path_b,same\nimg/n0.png,img/n1.png,0\nimg/n0.png,img/zz.png,1\n",
                      r"'.*bad\.csv' line 3: path_b file '.*zz\.png' does not exist"),
    "not an image": ("path_a,path_b,same\nimg/n0.png,img/n1.png,0\nimg/n0.png,notes.png,1\n",
                     r"'.*bad\.csv' line 3, path_b: '.*notes\.png' is not a readable image"),
    "truncated image": ("path_a,path_b,same\nimg/n0.png,img/n1.png,0\nimg/n0.png,cut.png,1\n",
                        r"'.*bad\.csv' line 3, path_b: Image '.*cut\.png' is corrupt or truncated"),
    "same not 0/1": ("path_a,path_b,same\nimg/n0.png,img/n1.png,yes\n",
                     r"line 2: 'same' must be 0 or 1, got 'yes'"),
    "all genuine": ("path_a,path_b,same\nimg/n0.png,img/n0b.png,1\nimg/n1.png,img/n1b.png,1\n",
                    "holds only genuine pairs; verification needs impostor"),
    "all impostor": ("path_a,path_b,same\nimg/n0.png,img/n1.png,0\n",
                     "holds only impostor pairs; verification needs genuine"),
    "empty file": ("", r"line 1: the header must contain path_a,path_b,same; got nothing"),
    "header only": ("path_a,path_b,same\n", "has a header but no pairs"),
    "text pairs": ("a,b,label\nhello,hi,1\nhello,bye,0\n",
                   "holds pairs of texts .* an image model takes a CSV with the header "
                   "path_a,path_b,same"),
    # a spreadsheet's header, which text training and calibrate take (column_named)
    "text pairs, any case": ("A,B,Label\nhello,hi,1\nhello,bye,0\n",
                             "holds pairs of texts .* an image model takes a CSV with the header "
                             "path_a,path_b,same"),
    # Excel's where the comma is the decimal mark, which the text readers take too
    "text pairs, semicolons": ("A;B;Label\nhello;hi;1\nhello;bye;0\n",
                               "holds pairs of texts .* an image model takes a CSV with the "
                               "header path_a,path_b,same"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
@pytest.mark.parametrize("command", ["evaluate", "calibrate"])
def test_bad_pairs_file_is_one_sentence_and_writes_nothing(
    data: Path, model: Path, tmp_path: Path, case: str, command: str
) -> None:
    content, match = BAD[case]
    root = tmp_path / "d"
    shutil.copytree(data / "img", root / "img")
    (root / "notes.png").write_text("not an image\n")
    (root / "cut.png").write_bytes((data / "img" / "n0.png").read_bytes()[:80])  # header intact
    (root / "bad.csv").write_text(content)
    before = (model / "siamkit.json").read_bytes()
    args = [command, model, "--data", root / "bad.csv"]
    report = tmp_path / "r.html"
    out = run([*args, "--report", report] if command == "evaluate" else args, code=1).output
    assert len(out.strip().splitlines()) == 1, out
    import re

    assert re.search(match, out), out
    assert not report.exists() and (model / "siamkit.json").read_bytes() == before


def test_a_text_model_is_told_the_format_of_its_pairs(data: Path, tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from _tiny_bert import save_tiny_bert

    bert = save_tiny_bert(tmp_path / "bert")
    out_dir = tmp_path / "calibrated"
    args = ["calibrate", bert, "--data", data / "pairs.csv", "--out", out_dir]
    out = run(args, code=1).output
    assert "lists pairs of image files (path_a,path_b,same), which image models take" in out
    assert (
        "a text model calibrates on pairs of texts: a CSV or JSONL with columns a, b and label, "
        "any case (label 1, true or yes = the same; 0, false or no = not), or other names "
        "given with --columns a=COL,b=COL,label=COL" in out
    )
    assert not out_dir.exists()


def test_a_file_that_is_not_an_image_is_named_before_any_image_is_read(
    data: Path, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import siamkit.data.image_io

    (tmp_path / "notes.png").write_text("not an image\n")
    csv = tmp_path / "p.csv"
    csv.write_text(
        f"path_a,path_b,same\n{data}/img/n0.png,{data}/img/n1.png,0\n"
        f"{data}/img/n2.png,notes.png,1\n"
    )
    read: list[object] = []
    real = siamkit.data.image_io.read_image
    monkeypatch.setattr(
        siamkit.data.image_io, "read_image", lambda p, *a, **k: read.append(p) or real(p, *a, **k)
    )
    out = run(["evaluate", model, "--data", csv], code=1).output
    assert "line 3, path_b: '" in out and "notes.png' is not a readable image" in out
    assert read == []  # every file's header is checked first: no time lost reading the others


def test_calibrate_max_pairs_fits_on_a_seeded_sample(data: Path, model: Path) -> None:
    d, same = reference_distances(model, data)
    args = ["calibrate", model, "--data", data / "pairs.csv", "--max-pairs", "6", "--json"]
    info = json.loads(run(args).stdout)
    keep = np.sort(np.random.default_rng(0).choice(len(PAIRS), 6, replace=False))
    assert info["pairs"] == 6 and info["genuine_pairs"] == int(same[keep].sum())
    assert info["threshold"] == pytest.approx(naive_eer(d[keep], same[keep])[1], rel=1e-5)


def test_a_pairs_files_default_sample_is_the_threshold_fits_one_name(
    data: Path, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --max-pairs a pairs file is sampled to the threshold fit's sample,
    evaluation.verification.CALIBRATION_PAIRS, not to a copy of its value (calibrate_cmd's own
    MAX_PAIRS = 300_000 until s62): with that name at 6, the 11 listed pairs give the
    --max-pairs 6 fit."""
    import siamkit.evaluation.verification as verification

    monkeypatch.setattr(verification, "CALIBRATION_PAIRS", 6)
    d, same = reference_distances(model, data)
    info = json.loads(run(["calibrate", model, "--data", data / "pairs.csv", "--json"]).stdout)
    keep = np.sort(np.random.default_rng(0).choice(len(PAIRS), 6, replace=False))
    assert info["pairs"] == 6 and info["genuine_pairs"] == int(same[keep].sum())
    assert info["threshold"] == pytest.approx(naive_eer(d[keep], same[keep])[1], rel=1e-5)


def test_calibrate_help_states_the_threshold_fits_sample() -> None:
    """--help writes the sample out (it imports no torch): it is CALIBRATION_PAIRS's value."""
    from siamkit.evaluation.verification import CALIBRATION_PAIRS

    text = " ".join(run(["calibrate", "--help"]).output.split())
    assert text.count(f"a sample of {CALIBRATION_PAIRS:,}") == 2
    assert f"for a pairs file, {CALIBRATION_PAIRS:,}]" in text


def test_a_max_pairs_too_small_for_both_labels_is_named_as_the_cause(
    data: Path, model: Path
) -> None:
    out = run(["calibrate", model, "--data", data / "pairs.csv", "--max-pairs", "1"], code=1)
    assert out.output.strip() == (
        "Error: --max-pairs 1 is too small a sample for both genuine and impostor pairs (it drew "
        "0 genuine and 1 impostor of the 11 pairs here): raise it, e.g. --max-pairs 11"
    )


def test_the_report_says_the_operating_point_is_measured_on_the_listed_pairs(
    data: Path, model: Path, tmp_path: Path
) -> None:
    run(["calibrate", model, "--data", data / "pairs.csv"])
    report = tmp_path / "r.html"
    run(["evaluate", model, "--data", data / "pairs.csv", "--report", report])
    html = report.read_text()
    assert "TAR on these pairs" in html and "on the listed pairs" in html
    assert "these classes" not in html


@pytest.mark.parametrize("where", ["notes.txt/r.html", "notes.txt"])
def test_a_report_path_that_cannot_be_written_is_refused_before_the_pairs_are_scored(
    data: Path, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """--report below an existing file failed with a traceback after the whole evaluation,
    and an existing file that is not a report was replaced: both are refused first."""
    import siamkit.cli._image_pairs as image_pairs

    (tmp_path / "notes.txt").write_text("keep me")

    def scored(*args: object, **kwargs: object) -> None:
        raise AssertionError("the pairs were scored before the report path was checked")

    monkeypatch.setattr(image_pairs, "pair_scores", scored)
    report = tmp_path / where
    out = run(["evaluate", model, "--data", data / "pairs.csv", "--report", report], code=1)
    text = " ".join(out.output.split())  # type: ignore[attr-defined]
    assert f"Error: --report {report} " in text
    assert ("is a file, not a folder" if "/" in where else "not an HTML page") in text
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_a_report_name_that_is_not_html_is_refused_before_the_pairs_are_scored(
    data: Path, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--report r.pdf wrote the HTML page to r.pdf, then the same command refused r.pdf as
    "not an HTML page": now the first run refuses it, before any work, and writes nothing."""
    import siamkit.cli._image_pairs as image_pairs

    def scored(*args: object, **kwargs: object) -> None:
        raise AssertionError("the pairs were scored before the report path was checked")

    monkeypatch.setattr(image_pairs, "pair_scores", scored)
    report = tmp_path / "r.pdf"
    out = run(["evaluate", model, "--data", data / "pairs.csv", "--report", report], code=1)
    text = " ".join(out.output.split())  # type: ignore[attr-defined]
    assert f"Error: --report {report} does not end in .html" in text
    assert f"e.g. {tmp_path / 'r.html'}" in text
    assert not report.exists()


@pytest.mark.parametrize("where", ["notes.txt/r.html", "notes.txt"])
def test_a_report_path_that_cannot_be_written_is_refused_before_a_folder_is_evaluated(
    data: Path, model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """The same for ``evaluate --data FOLDER`` (classes): it ran the whole evaluation first."""
    import siamkit.experiment as experiment

    folder = tmp_path / "classes"
    for c, name in enumerate(["a", "b"]):
        (folder / name).mkdir(parents=True)
        for k in range(3):
            pixels = np.full((20, 20), 40 * c + 10 * k, dtype=np.uint8)
            Image.fromarray(pixels).save(folder / name / f"{k}.png")
    (tmp_path / "notes.txt").write_text("keep me")

    def evaluated(*args: object, **kwargs: object) -> None:
        raise AssertionError("the folder was evaluated before the report path was checked")

    monkeypatch.setattr(experiment, "evaluate_model", evaluated)
    report = tmp_path / where
    out = run(["evaluate", model, "--data", folder, "--report", report], code=1)
    text = " ".join(out.output.split())  # type: ignore[attr-defined]
    assert f"Error: --report {report} " in text
    assert ("is a file, not a folder" if "/" in where else "not an HTML page") in text
    assert (tmp_path / "notes.txt").read_text() == "keep me"
