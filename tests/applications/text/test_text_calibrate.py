"""``siamkit calibrate`` on a text model: the threshold from labelled pairs of texts, checked
against a naive sweep over every candidate threshold, and its bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from siamkit.cli.main import cli


def _pairs_csv(path: Path, graded: list[tuple[str, str, float]]) -> list[tuple[str, str, int]]:
    pairs = [(a, b, int(s > 2.5)) for a, b, s in graded]
    path.write_text("a,b,label\n" + "".join(f"{a},{b},{y}\n" for a, b, y in pairs))
    return pairs


def test_text_calibration_reaches_the_best_balanced_accuracy_of_a_naive_sweep(
    half_twin: Path, tmp_path: Path, graded_pairs
) -> None:
    from siamkit.applications.text import load_text_model

    pairs = _pairs_csv(tmp_path / "val.csv", graded_pairs)
    res = CliRunner().invoke(
        cli, ["calibrate", str(half_twin), "--data", str(tmp_path / "val.csv"),
              "--target", "accuracy", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert (info["genuine_pairs"], info["impostor_pairs"]) == (6, 6)
    m = load_text_model(half_twin)
    assert m.threshold == pytest.approx(info["threshold"])
    # the reference: distances with the query tower for a and the document tower for b, and
    # every distance tried as the threshold
    with torch.inference_mode():
        za = m.embed([a for a, _, _ in pairs], role="query").numpy()
        zb = m.embed([b for _, b, _ in pairs], role="document").numpy()
    d = 1 - (za * zb).sum(1)
    y = np.array([p[2] for p in pairs])

    def balanced(t: float) -> float:
        return 0.5 * (np.mean(d[y == 1] <= t) + np.mean(d[y == 0] > t))

    best = max(balanced(t) for t in d)
    assert balanced(m.threshold) == pytest.approx(best)
    assert info["tar"] == pytest.approx(np.mean(d[y == 1] <= m.threshold))
    assert info["far"] == pytest.approx(np.mean(d[y == 0] <= m.threshold))
    # one tower for both sides gives other distances: the roles above matter
    with torch.inference_mode():
        zq = m.embed([b for _, b, _ in pairs], role="query").numpy()
    assert not np.allclose(zq, zb, atol=1e-3)
    res = CliRunner().invoke(cli, ["text", "similarity", "a b", "a c", "--model", str(half_twin)])
    assert res.exit_code == 0 and "calibrated threshold" in res.output, res.output


@pytest.mark.parametrize(
    ("rows", "args", "needle"),
    [
        ("x y,y z,1\nx y,q r,0.5\n", [], "is not 0 or 1; calibration needs pairs labelled"),
        ("x y,y z,1\nx y,q r,1\n", [], "has only label 1"),
        ("x y,y z,1\nx y,q r,0\n", ["--classes", "0,1"], "are for image models"),
        (
            "x y,y z,1\nx y,q r,0\n",
            ["--max-pairs", "1"],
            "--max-pairs 1 is too small a sample for both genuine and impostor pairs",
        ),
        # --device was not read for a text model: any value, a GPU or a typo, ran on the CPU
        ("x y,y z,1\nx y,q r,0\n", ["--device", "bogus"], "unknown device 'bogus'"),
        ("x y,y z,1\nx y,q r,0\n", ["--far", "0.1"], "add --target far, or leave --far out"),
    ],
)
def test_text_calibration_refuses_bad_input_and_leaves_the_model_alone(
    half_twin: Path, tmp_path: Path, rows: str, args: list[str], needle: str
) -> None:
    before = (half_twin / "siamkit.json").read_bytes()
    data = tmp_path / "bad.csv"
    data.write_text("a,b,label\n" + rows)
    res = CliRunner().invoke(cli, ["calibrate", str(half_twin), "--data", str(data), *args])
    assert res.exit_code != 0
    assert needle in res.output, res.output
    assert "Traceback" not in res.output
    assert (half_twin / "siamkit.json").read_bytes() == before


def test_text_calibration_on_a_folder_names_what_a_text_model_takes(
    half_twin: Path, tmp_path: Path
) -> None:
    """It said "<folder>: training data is a .csv or .jsonl file" (this is no training)."""
    (tmp_path / "val" / "cat").mkdir(parents=True)
    res = CliRunner().invoke(cli, ["calibrate", str(half_twin), "--data", str(tmp_path / "val")])
    assert res.exit_code == 2, res.output
    assert "a text model calibrates on labelled pairs of texts, a CSV or JSONL" in res.output
    assert "training data" not in res.output


def test_a_pretrained_folder_is_calibrated_into_a_new_siamkit_model(
    tiny_hf: Path, tmp_path: Path, graded_pairs
) -> None:
    """MODEL a Hugging Face folder: refused without --out (nothing written), saved at --out with
    the threshold of a naive sweep over its own distances, the folder itself untouched."""
    from siamkit.applications.text import load_text_model

    pairs = _pairs_csv(tmp_path / "val.csv", graded_pairs)
    before = sorted(p.name for p in tiny_hf.iterdir())
    args = ["calibrate", str(tiny_hf), "--data", str(tmp_path / "val.csv"), "--target", "accuracy"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2 and "give --out DIR" in res.output, res.output
    out = tmp_path / "calibrated"
    res = CliRunner().invoke(cli, [*args, "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tiny_hf.iterdir()) == before
    m, ref = load_text_model(out), load_text_model(tiny_hf)
    assert m.threshold == pytest.approx(json.loads(res.stdout)["threshold"])
    with torch.inference_mode():
        za = ref.embed([a for a, _, _ in pairs]).numpy()
        zb = ref.embed([b for _, b, _ in pairs]).numpy()
        assert np.allclose(m.embed([a for a, _, _ in pairs]).numpy(), za, atol=1e-5)
    d = 1 - (za * zb).sum(1)
    y = np.array([p[2] for p in pairs])

    def balanced(t: float) -> float:
        return 0.5 * (np.mean(d[y == 1] <= t) + np.mean(d[y == 0] > t))

    assert balanced(m.threshold) == pytest.approx(max(balanced(t) for t in d))
    res = CliRunner().invoke(cli, [*args, "--out", str(out)])  # an existing --out is refused
    assert res.exit_code == 2 and "already exists" in res.output, res.output


def test_validate_decides_graded_or_labelled_from_the_targets_unless_told(text_model, tmp_path):
    """validate() called without ``graded`` (a library caller) reads 0/1 targets as labels and
    others as scores, as it always did; a run that decided on all its data can say so."""
    from siamkit.applications.text.pairs import read_examples
    from siamkit.applications.text.validate import validate

    path = tmp_path / "p.csv"
    path.write_text(
        "a,b,label\nA man plays guitar.,Someone plays a guitar.,4.5\n"
        "A cat sleeps.,Stocks fell sharply.,0.5\nA dog runs.,A dog is running.,4\n"
    )
    graded = read_examples(path, score_range=(0, 5))
    assert "pearson" in " ".join(validate(text_model, graded))
    path.write_text(
        "a,b,label\nA man plays guitar.,Someone plays a guitar.,1\n"
        "A cat sleeps.,Stocks fell sharply.,0\nA dog runs.,A dog is running.,1\n"
    )
    labelled = read_examples(path)
    assert "verification.threshold" in validate(text_model, labelled)
    assert "pearson" in " ".join(validate(text_model, labelled, graded=True))


def test_a_calibrated_copy_is_written_once_with_its_threshold(
    tiny_hf: Path, tmp_path: Path, graded_pairs, monkeypatch
) -> None:
    """--out was saved without a threshold, then given one by a second write: a kill -9 between
    the two left a model folder with no threshold. Now the one atomic save carries it and its
    record."""
    from siamkit.export import bundle

    _pairs_csv(tmp_path / "val.csv", graded_pairs)
    saves: list[float | None] = []
    real = bundle.save_model

    def save_model(model, path, **kw):  # type: ignore[no-untyped-def]
        saves.append(kw.get("threshold"))
        return real(model, path, **kw)

    monkeypatch.setattr(bundle, "save_model", save_model)
    out = tmp_path / "calibrated"
    args = ["calibrate", str(tiny_hf), "--data", str(tmp_path / "val.csv"), "--out", str(out)]
    res = CliRunner().invoke(cli, [*args, "--json"])
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)
    assert saves == [pytest.approx(record["threshold"])]
    doc = json.loads((out / "siamkit.json").read_text())
    assert doc["threshold"] == pytest.approx(record["threshold"])
    calibration = doc["metadata"]["calibration"]
    assert calibration == {k: v for k, v in record.items() if k != "model"}
    assert doc["metadata"]["pretrained_from"] == str(tiny_hf)


def test_text_calibration_removes_and_names_the_export_made_with_the_old_threshold(
    tiny_hf: Path, tmp_path: Path, graded_pairs
) -> None:
    """Calibrating a text model kept its export MODEL/onnx/, whose text_onnx.json records the
    old threshold, with a hint to export again, while a save over the model folder removes such
    an export (s62 final reader FB 8). It is removed now, and the text line and the JSON "hint"
    name it and the command that writes it again; a refit giving the same threshold keeps it."""
    pytest.importorskip("onnxruntime")
    from siamkit.applications.text.model import TextSiameseNetwork
    from siamkit.export.bundle import save_model

    model = save_model(
        TextSiameseNetwork.pretrained(tiny_hf, max_length=32, overlap=8), tmp_path / "m"
    )
    _pairs_csv(tmp_path / "val.csv", graded_pairs)
    args = ["calibrate", str(model), "--data", str(tmp_path / "val.csv")]
    res = CliRunner().invoke(cli, [*args, "--json"])
    assert res.exit_code == 0, res.output
    assert "hint" not in json.loads(res.stdout)  # no export yet
    res = CliRunner().invoke(cli, ["export", str(model), "--int8"])
    assert res.exit_code == 0, res.output
    removed = (
        f"Removed {model}/onnx: the ONNX export of another model or threshold, which would no "
        f"longer match the model (`siamkit export {model} --int8` writes it again with the new "
        "one)"
    )
    far = ["--target", "far", "--far", "0.2"]
    res = CliRunner().invoke(cli, [*args, *far, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["hint"] == removed
    assert not (Path(model) / "onnx").exists()
    threshold = json.loads(res.stdout)["threshold"]
    # the command it names writes the export again, int8 graph included, with the new threshold
    res = CliRunner().invoke(cli, ["export", str(model), "--int8"])
    assert res.exit_code == 0, res.output
    meta = json.loads((Path(model) / "onnx" / "text_onnx.json").read_text())
    assert meta["threshold"] == pytest.approx(threshold)
    assert (Path(model) / "onnx" / "text.int8.onnx").is_file()
    res = CliRunner().invoke(cli, [*args, *far])  # the same fit: the export made with it stays
    assert res.exit_code == 0, res.output
    assert "Removed" not in res.output and (Path(model) / "onnx" / "text.int8.onnx").is_file()
    res = CliRunner().invoke(cli, args)  # another threshold: the text line names it too
    assert res.exit_code == 0, res.output
    assert removed in res.output


def test_a_half_twins_stale_export_names_its_document_towers_graphs_too(
    half_twin: Path, tmp_path: Path, graded_pairs
) -> None:
    """A half-twin's export holds its document tower's graphs (text.document.onnx, and
    text.document.int8.onnx with --int8) beside the query tower's; calibrate's list of what the
    new threshold makes stale left them out. Removed now with the rest of the export, each
    named where a file of the user's in MODEL/onnx keeps the folder."""
    pytest.importorskip("onnxruntime")
    res = CliRunner().invoke(cli, ["export", str(half_twin), "--int8"])
    assert res.exit_code == 0, res.output
    (half_twin / "onnx" / "readme.txt").write_text("how I serve it")
    _pairs_csv(tmp_path / "val.csv", graded_pairs)
    args = ["calibrate", str(half_twin), "--data", str(tmp_path / "val.csv"), "--json"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    out = half_twin / "onnx"
    assert json.loads(res.stdout)["hint"] == (
        f"Removed {out}/text.document.int8.onnx, {out}/text.document.onnx, {out}/text.int8.onnx, "
        f"{out}/text.onnx, {out}/tokenizer and {out}/text_onnx.json: the ONNX export of another "
        "model or threshold, which would no longer match the model (`siamkit export "
        f"{half_twin} --int8` writes it again with the new one once you move {out} elsewhere)"
    )
    assert sorted(p.name for p in out.iterdir()) == ["readme.txt"]
