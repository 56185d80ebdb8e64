"""``siamkit evaluate`` of a text model on held-out pairs of texts: 0/1 labelled pairs give the
image pairs path's verification metrics, graded pairs (``--score-range``) Pearson and Spearman,
both checked against scikit-learn / scipy on cosines computed here with plain numpy; a
half-twin's a texts go through its query tower and b texts through its document tower; each
distinct text is embedded once; and the options a pairs file cannot use are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result

from siamkit.cli.main import cli


def _write(path: Path, rows: list[tuple[str, str, float]], column: str) -> Path:
    path.write_text(f"a,b,{column}\n" + "".join(f"{a},{b},{y:g}\n" for a, b, y in rows))
    return path


def _cosines(model: Path, rows: list[tuple[str, str, float]], doc_role: str) -> np.ndarray:
    """The reference: a with the query tower, b with the tower ``doc_role`` names, then the
    cosine of the two unit vectors, row by row."""
    from siamkit.applications.text import load_text_model

    m = load_text_model(model)
    with torch.inference_mode():
        za = m.embed([a for a, _, _ in rows], role="query").numpy().astype(np.float64)
        zb = m.embed([b for _, b, _ in rows], role=doc_role).numpy().astype(np.float64)
    return np.array([float(np.dot(x, y)) for x, y in zip(za, zb)])


def _run(args: list[str], code: int = 0) -> Result:
    res = CliRunner().invoke(cli, ["evaluate", *map(str, args), "--no-progress"])
    assert res.exit_code == code, res.output
    return res


def test_labelled_pairs_give_roc_auc_and_the_thresholds_rates_as_references_do(
    half_twin: Path, tmp_path: Path, graded_pairs
) -> None:
    from sklearn.metrics import roc_auc_score

    from siamkit.export.threshold_file import write_threshold

    rows = [(a, b, float(s > 2.5)) for a, b, s in graded_pairs]
    data = _write(tmp_path / "test.csv", rows, "label")
    cos = _cosines(half_twin, rows, "document")
    threshold = float(np.median(1 - cos))  # as if calibrated: it splits these pairs
    write_threshold(half_twin, threshold, {"target": "eer"})
    doc = json.loads(_run([half_twin, "--data", data, "--json"]).output)
    texts = len({t for a, b, _ in rows for t in (a, b)})
    y = np.array([r[2] for r in rows])
    ver = doc["verification"]
    assert ver["roc_auc"] == pytest.approx(roc_auc_score(y, cos), abs=1e-9)
    assert (ver["n_genuine"], ver["n_impostor"]) == (6, 6)
    assert doc["data"] == {
        "kind": "pairs", "source": str(data), "pairs": 12, "texts": texts, "distance": "cosine",
        "chunked_texts": 0, "genuine": 6, "impostor": 6,
    }  # fmt: skip
    d = 1 - cos
    same = d <= threshold
    tar, far = same[y == 1].mean(), same[y == 0].mean()
    assert tar > 0 and far < 1  # the threshold splits these pairs, so the rates say something
    test = doc["calibration"]["test"]
    assert doc["calibration"]["threshold"] == pytest.approx(threshold)
    assert test["tar"] == pytest.approx(tar) and test["far"] == pytest.approx(far)
    assert test["accuracy"] == pytest.approx(np.mean(same == (y == 1)))
    # the same table and lines as the image pairs path
    out = _run([half_twin, "--data", data]).output
    assert out.startswith(f"12 pairs (6 genuine, 6 impostor) of {texts} texts from the pairs file")
    assert f"similarity >= {1 - threshold:.4f} is the same" in out
    assert "ROC AUC" in out and "EER" in out and "TAR@FAR=1e-2" in out
    assert f"accuracy {test['accuracy']:.3f}, TAR {tar:.3f}, FAR {far:.3f} on these pairs" in out


def test_graded_pairs_give_pearson_and_spearman_with_the_document_tower_for_b(
    half_twin: Path, tmp_path: Path, graded_pairs
) -> None:
    from scipy.stats import pearsonr, spearmanr

    data = _write(tmp_path / "sts.csv", graded_pairs, "score")
    doc = json.loads(_run([half_twin, "--data", data, "--score-range", "0,5", "--json"]).stdout)
    scores = np.array([s for _, _, s in graded_pairs])
    cos = _cosines(half_twin, graded_pairs, "document")
    assert doc["similarity"]["pearson"] == pytest.approx(pearsonr(cos, scores)[0], abs=1e-5)
    assert doc["similarity"]["spearman"] == pytest.approx(spearmanr(cos, scores)[0], abs=1e-9)
    assert "verification" not in doc and "verification" in doc["not_computed"]
    # the query tower for both sides gives another Pearson r: the tower split is what is checked
    one_tower = pearsonr(_cosines(half_twin, graded_pairs, "query"), scores)[0]
    assert abs(one_tower - doc["similarity"]["pearson"]) > 1e-3
    # a file whose graded scores are in its label column, as a training file's are
    labels = tmp_path / "sts_label.jsonl"
    labels.write_text(
        "".join(json.dumps({"A": a, "B": b, "Label": s}) + "\n" for a, b, s in graded_pairs)
    )
    again = json.loads(_run([half_twin, "--data", labels, "--score-range", "0,5", "--json"]).stdout)
    assert again["similarity"] == doc["similarity"]
    out = _run([half_twin, "--data", data, "--score-range", "0,5"]).output
    assert "Pearson r" in out and "Spearman rho" in out and "not computed" in out


def test_each_distinct_text_is_embedded_once_per_tower(
    half_twin: Path, tmp_path: Path, graded_pairs, monkeypatch: pytest.MonkeyPatch
) -> None:
    from siamkit.applications.text.model import TextSiameseNetwork

    seen: list[tuple[str, str]] = []
    embed = TextSiameseNetwork.embed

    def counting(self, texts, role="query"):  # type: ignore[no-untyped-def]
        seen.extend((role, t) for t in ([texts] if isinstance(texts, str) else texts))
        return embed(self, texts, role=role)

    monkeypatch.setattr(TextSiameseNetwork, "embed", counting)
    data = _write(tmp_path / "sts.csv", graded_pairs, "score")
    _run([half_twin, "--data", data, "--score-range", "0,5", "--json"])
    a = {("query", a) for a, _, _ in graded_pairs}
    b = {("document", b) for _, b, _ in graded_pairs}
    assert sorted(seen) == sorted(a | b)  # each once, a texts by the query tower, b by the other


def test_a_pretrained_folder_embeds_shared_texts_once_and_says_what_was_chunked(
    tiny_hf: Path, tmp_path: Path, graded_pairs, monkeypatch: pytest.MonkeyPatch
) -> None:
    from siamkit.applications.text.model import TextSiameseNetwork

    seen: list[str] = []
    embed = TextSiameseNetwork.embed

    def counting(self, texts, role="query"):  # type: ignore[no-untyped-def]
        seen.extend([texts] if isinstance(texts, str) else texts)
        return embed(self, texts, role=role)

    monkeypatch.setattr(TextSiameseNetwork, "embed", counting)
    long = " ".join(["the printer is out of toner again"] * 80)  # past the 256-token window
    rows = [(a, b, float(s > 2.5)) for a, b, s in graded_pairs] + [(long, "printer toner", 1.0)]
    data = _write(tmp_path / "test.csv", rows, "label")
    doc = json.loads(_run([tiny_hf, "--data", data, "--json"]).output)
    assert sorted(seen) == sorted({t for a, b, _ in rows for t in (a, b)})
    assert doc["data"]["chunked_texts"] == 1 and doc["data"]["texts"] == len(set(seen))
    assert "calibration" not in doc  # a pretrained folder has no threshold
    out = _run([tiny_hf, "--data", data]).output
    assert "1 text was longer than the model's window and was embedded" in out


def test_the_report_holds_the_verification_parts(
    half_twin: Path, tmp_path: Path, graded_pairs
) -> None:
    rows = [(a, b, float(s > 2.5)) for a, b, s in graded_pairs]
    data = tmp_path / "test.jsonl"
    data.write_text(
        "".join(json.dumps({"a": a, "b": b, "label": int(y)}) + "\n" for a, b, y in rows)
    )
    report = tmp_path / "pairs.html"
    out = _run([half_twin, "--data", data, "--report", report]).output
    page = report.read_text()
    assert f"report: {report}" in out
    assert "fig-roc" in page and "fig-hist" in page
    assert "12 pairs (6 genuine, 6 impostor) of 12 texts" in page


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--classes", "a,b"], "--classes is for data with classes; a pairs file names its"),
        (["--shots", "1", "--seed", "2"], "--shots and --seed are for data with classes"),
        (["--raw-distance"], "--raw-distance is for image models with cohort score"),
        (["--score-range", "0,5", "--report", "r.html"], "graded pairs (--score-range) have"),
        (["--score-range", "5,0"], "LO must be below HI"),
    ],
)
def test_options_a_text_pairs_file_cannot_use_are_refused(
    half_twin: Path, tmp_path: Path, graded_pairs, args: list[str], needle: str
) -> None:
    data = _write(tmp_path / "sts.csv", graded_pairs, "score")
    out = _run([half_twin, "--data", data, *args], code=2).output
    assert needle in " ".join(out.split()), out
    assert not (tmp_path / "r.html").exists()


def test_bad_text_pairs_are_refused_in_one_sentence(
    half_twin: Path, tmp_path: Path, graded_pairs
) -> None:
    scores = _write(tmp_path / "sts.csv", graded_pairs, "score")
    out = _run([half_twin, "--data", scores], code=2).output
    assert "holds graded scores (column score): give --score-range LO,HI" in out
    labels = _write(tmp_path / "l.csv", graded_pairs, "label")
    out = _run([half_twin, "--data", labels], code=1).output
    assert "is not 0 or 1; evaluate needs pairs labelled 1 (same) and 0" in out
    assert "or graded scores with --score-range LO,HI" in out
    out = _run([half_twin, "--data", scores, "--score-range", "0,4"], code=1).output
    assert "outside the score range [0, 4]" in out
    out = _run([half_twin], code=2).output  # --data's default is an image data set
    assert "--data fashion-mnist: a text model is evaluated on pairs of texts" in out
    images = tmp_path / "img.csv"
    images.write_text("path_a,path_b,same\nx.png,y.png,1\n")
    out = _run([half_twin, "--data", images], code=1).output
    assert "a text model is evaluated on pairs of texts" in out
    one = _write(tmp_path / "one.csv", [("a b", "c d", 1.0)], "label")
    assert "has only label 1; evaluate needs" in _run([half_twin, "--data", one], code=1).output


def test_score_range_is_refused_for_an_image_model(tmp_path: Path) -> None:
    out = _run([tmp_path / "none", "--data", "x.csv", "--score-range", "0,5"], code=2).output
    assert "--score-range is for a text model's graded pairs of texts: leave it out" in out


def test_whole_0_1_labels_among_graded_scores_get_the_reader_s_line_on_stderr(
    half_twin: Path, tmp_path: Path, graded_pairs
) -> None:
    # a 0/1 file joined to a graded one: its 1s would be scored as 1 of 5
    rows = [(a, b, s * 0.9 + 0.25) for a, b, s in graded_pairs]  # fractions alone
    rows += [("printer jams again", "printer keeps jamming", 1), ("reset password", "vpn down", 0)]
    data = _write(tmp_path / "mixed.csv", rows, "score")
    res = _run([half_twin, "--data", data, "--score-range", "0,5", "--json"])
    assert "holds 2 whole 0s and 1s (line 14: 1) beside fractional scores" in res.stderr
    # the line says what the 1 does here: nothing trains in an evaluation
    assert "a 1 meant as a duplicate is evaluated as a score of 1 on that scale" in res.stderr
    assert "trains" not in res.stderr
    assert "write each 0/1 label as a score on it (a duplicate as 5)" in res.stderr
    assert "pearson" in json.loads(res.stdout)["similarity"]  # the JSON on stdout is left whole
    # a graded file of fractions alone says nothing
    plain = _write(tmp_path / "graded.csv", rows[:-2], "score")
    assert _run([half_twin, "--data", plain, "--score-range", "0,5", "--json"]).stderr == ""
