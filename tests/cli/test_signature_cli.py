"""`siamkit signature synth / enroll / verify / evaluate` on synthetic folders and a small model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from PIL import Image

from siamkit import save_model
from siamkit.applications.signatures import build_signature_model
from siamkit.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sig")
    with torch.random.fork_rng():  # its own seed: see _model_without_signature_metadata
        torch.manual_seed(0)
        model = build_signature_model(
            (1, 40, 56), 16, {"widths": [4, 8, 8, 8], "fc": 16, "stem_stride": 1}
        )
    model.eval()
    save_model(model, root / "model", threshold=0.05, metadata={"signatures": {"reduce": "min"}})
    res = CliRunner().invoke(
        cli, ["signature", "synth", str(root / "sigs"), "--writers", "3", "--genuine", "6"]
    )
    assert res.exit_code == 0, res.output
    return root, root / "sigs"


def _run(*args: str) -> tuple[int, str]:
    """The exit code and output; with --json and success, stdout alone (the JSON), since the
    output also holds stderr, where progress lines go once a step passes 2 s (a loaded machine)."""
    res = CliRunner().invoke(cli, ["signature", *args])
    return res.exit_code, res.stdout if "--json" in args and res.exit_code == 0 else res.output


def test_enroll_then_verify(setup: tuple[Path, Path], tmp_path: Path) -> None:
    root, sigs = setup
    bank, model = str(tmp_path / "bank.db"), str(root / "model")
    refs = [str(sigs / "w0001" / "genuine" / f"00{n}.png") for n in (1, 2, 3)]
    code, out = _run(
        "enroll", "--model", model, "--gallery", bank, "--writer", "0042", *refs, "--json"
    )
    assert code == 0, out
    assert json.loads(out) == {
        "writer": "0042", "enrolled": 3, "references": 3, "skipped_already_enrolled": 0
    }  # fmt: skip
    # an enrolled reference itself: min distance 0 -> genuine under the model's reduce (min)
    code, out = _run(
        "verify", "--model", model, "--gallery", bank, "--writer", "0042", refs[1], "--json"
    )
    assert code == 0, out
    doc = json.loads(out)
    # (batch 3 vs batch 1 and the (N, M) distance's cancellation: about 1e-3, not 0)
    assert doc["reduce"] == "min" and doc["score"] == pytest.approx(0.0, abs=3e-3)
    assert doc["genuine"] is True and doc["threshold"] == pytest.approx(0.05)
    assert len(doc["distances"]) == 3 and doc["distances"][1] == pytest.approx(0.0, abs=3e-3)
    code, out = _run(
        "verify", "--model", model, "--gallery", bank, "--writer", "0042", refs[1],
        "--reduce", "max", "--json",
    )  # fmt: skip
    assert json.loads(out)["score"] == pytest.approx(max(doc["distances"]), rel=1e-5)
    code, out = _run(
        "verify", "--model", model, "--gallery", bank, "--writer", "0042", refs[1],
        "--threshold", "0.0123456789",
    )  # fmt: skip
    assert code == 0 and out.startswith("GENUINE: score 0.00")
    assert out.splitlines()[0].endswith("(min distance to 3 references), threshold 0.0123")


def test_a_signature_png_with_a_transparent_background_is_read_on_white_paper(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    """A signature pad's PNG (ink in the alpha channel over black pixels) was refused as 'blank
    (no ink on the page)': the alpha was dropped, leaving a black page."""
    from siamkit.applications.signatures.bank import read_signature
    from siamkit.data.image_io import read_image

    root, sigs = setup
    bank, model = str(tmp_path / "bank.db"), str(root / "model")
    refs = [str(sigs / "w0001" / "genuine" / f"00{n}.png") for n in (1, 2, 3)]
    assert _run("enroll", "--model", model, "--gallery", bank, "--writer", "a", *refs)[0] == 0
    paper = np.asarray(Image.open(refs[1]).convert("L"))
    pad = np.zeros((*paper.shape, 4), np.uint8)  # black everywhere, ink where opaque
    pad[..., 3] = 255 - paper
    Image.fromarray(pad, "RGBA").save(tmp_path / "pad.png")
    np.testing.assert_allclose(read_signature(tmp_path / "pad.png"), read_image(refs[1], 1))
    assert torch.equal(read_signature(refs[0]), read_image(refs[0], 1))  # opaque: as before
    answers = []
    for scan in (refs[1], str(tmp_path / "pad.png")):
        code, out = _run("verify", "--gallery", bank, "--writer", "a", scan, "--json")
        assert code == 0, out
        answers.append(json.loads(out))
    assert answers[1]["score"] == pytest.approx(answers[0]["score"], abs=1e-5)
    code, out = _run("enroll", "--gallery", bank, "--writer", "b", str(tmp_path / "pad.png"))
    assert code == 0 and "enrolled 1 reference for writer b" in out


def test_a_face_gallery_is_named_as_one_not_as_another_models_bank(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    """`face enroll` (dlib, no folder recorded) made staff.db; given as a bank it was refused as
    'staff.db holds 128-d embeddings but this model makes 6220-d ones; use the model that built
    the gallery', which no signature command can use."""
    from siamkit.applications.faces import DlibFaceEncoder
    from siamkit.index import Gallery

    root, sigs = setup
    staff = tmp_path / "staff.db"
    with Gallery.open(staff, DlibFaceEncoder(), create=True) as gallery:
        gallery.enroll_embeddings("alice", np.ones((1, 128), np.float32))
    before = staff.read_bytes()
    ref = str(sigs / "w0000" / "genuine" / "001.png")
    for command in ("verify", "enroll"):
        args = ("--model", str(root / "model"), "--gallery", str(staff), "--writer", "alice")
        code, out = _run(command, *args, ref)
        assert code == 1 and out.strip() == (
            f"Error: {staff} is a face gallery (dlib's face encoder enrolled it), not a signature "
            "bank; give --gallery a bank that `siamkit signature enroll` made, or a new file to "
            "enroll the writer into"
        )
    assert staff.read_bytes() == before


def test_enrolling_a_reference_again_skips_it_and_says_how_many(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    root, sigs = setup
    bank, model = str(tmp_path / "bank.db"), str(root / "model")
    one, two = (str(sigs / "w0001" / "genuine" / f"00{n}.png") for n in (1, 2))
    copy = tmp_path / "copy.png"  # the same scan under another name, in another batch
    copy.write_bytes(Path(two).read_bytes())
    code, out = _run("enroll", "--model", model, "--gallery", bank, "--writer", "7", one, one)
    assert code == 0 and out.splitlines() == [
        "enrolled 1 reference for writer 7 (1 in all)",
        "skipped 1 reference already enrolled for this writer (the same signature image: the "
        "same embedding)",
    ]
    code, out = _run(
        "enroll", "--model", model, "--gallery", bank, "--writer", "7", one, two, str(copy),
        "--json",
    )  # fmt: skip
    assert code == 0, out
    assert json.loads(out) == {
        "writer": "7", "enrolled": 1, "references": 2, "skipped_already_enrolled": 2
    }  # fmt: skip
    code, out = _run("enroll", "--model", model, "--gallery", bank, "--writer", "8", one)
    assert out.strip() == "enrolled 1 reference for writer 8 (1 in all)"  # per writer


def test_bad_input_is_one_sentence(setup: tuple[Path, Path], tmp_path: Path) -> None:
    root, sigs = setup
    bank, model = str(tmp_path / "bank.db"), str(root / "model")
    ref = str(sigs / "w0000" / "genuine" / "001.png")
    assert _run("enroll", "--model", model, "--gallery", bank, "--writer", "a", ref)[0] == 0
    code, out = _run("verify", "--model", model, "--gallery", bank, "--writer", "zz", ref)
    assert code != 0 and "writer 'zz' is not enrolled" in out and "Traceback" not in out
    assert out.strip().endswith("enrolled writers include 'a'")  # said nothing of which
    code, out = _run("verify", "--model", model, "--gallery", bank, "--writer", "A", ref)
    assert code != 0 and out.strip().endswith("bank; did you mean 'a'?")
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((40, 60), 235, np.uint8)).save(blank)
    code, out = _run("verify", "--model", model, "--gallery", bank, "--writer", "a", str(blank))
    assert code != 0 and "blank.png is blank" in out
    text = tmp_path / "cheque.png"
    text.write_text("not an image")
    code, out = _run("verify", "--model", model, "--gallery", bank, "--writer", "a", str(text))
    assert code != 0 and "not a readable image" in out and "Traceback" not in out
    code, out = _run(
        "enroll", "--model", model, "--gallery", bank, "--writer", "b", ref, str(blank)
    )
    assert code != 0 and "is blank" in out
    code, out = _run("verify", "--model", model, "--gallery", bank, "--writer", "b", ref)
    assert code != 0 and "not enrolled" in out  # nothing half-written for b
    code, out = _run(
        "verify", "--model", str(tmp_path / "none"), "--gallery", bank, "--writer", "a", ref
    )
    assert code != 0 and "no signature model" in out


def test_a_missing_model_given_by_the_user_is_not_answered_with_pass_model(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    """A missing folder given as --model, or as evaluate's MODEL (which has no --model), was
    answered 'no signature model at X; train one ... or pass --model.'"""
    _, sigs = setup
    ref = str(sigs / "w0000" / "genuine" / "001.png")
    gone, bank = str(tmp_path / "none"), str(tmp_path / "bank.db")
    train = "`siamkit train configs/signatures.yaml --out runs/sig`"
    for args, named in [
        (("enroll", "--model", gone, "--gallery", bank, "--writer", "a", ref), "--model"),
        (("evaluate", gone, "--data", str(sigs)), "MODEL"),
    ]:
        code, out = _run(*args)
        assert code == 1 and out.strip() == (
            f"Error: no signature model at {gone}; give {named} a trained signature model's "
            f"folder (runs/sig/model after {train})."
        )
    res = CliRunner().invoke(cli, ["evaluate", gone, "--data", f"signatures:{sigs}"])
    assert res.exit_code == 1 and "; give MODEL a trained signature model's" in res.output
    assert not Path(bank).exists()


@pytest.mark.parametrize(
    "writer, message",
    [("", "a label must have 1 to 256 characters"), (" 0042", "starts or ends with whitespace")],
)
def test_enroll_refuses_a_bad_writer_before_creating_the_bank(
    setup: tuple[Path, Path], tmp_path: Path, writer: str, message: str
) -> None:
    root, sigs = setup
    bank = tmp_path / "bank.db"
    ref = str(sigs / "w0000" / "genuine" / "001.png")
    code, out = _run(
        "enroll", "--model", str(root / "model"), "--gallery", str(bank), "--writer", writer, ref
    )
    assert code == 2 and "Invalid value for --writer: " in out and message in out, out
    assert not bank.exists()  # no empty bank tied to the model left behind


def test_evaluate_writes_report(setup: tuple[Path, Path], tmp_path: Path) -> None:
    root, sigs = setup
    report = tmp_path / "r.html"
    code, out = _run(
        "evaluate", str(root / "model"), "--data", str(sigs), "--references", "3",
        "--report", str(report), "--json",
    )  # fmt: skip
    assert code == 0, out
    doc = json.loads(out)
    assert doc["synthetic"] is True and doc["n_writers"] == 3 and doc["reduce"] == "min"
    assert doc["skilled"]["n_genuine"] == 9 and doc["skilled"]["n_forged"] == 36
    assert doc["random"]["n_forged"] == 6 and 0.0 <= doc["random"]["eer"] <= 1.0
    assert "random forgeries" in report.read_text()
    assert doc["threshold"] == pytest.approx(0.05) and doc["threshold_source"] == "model"
    code, out = _run("evaluate", str(root / "model"), "--data", "synthetic:3", "--references", "3")
    assert code == 0 and "synthetic" in out and "threshold 0.0500 (model)" in out
    code, out = _run(
        "evaluate", str(root / "model"), "--data", str(sigs), "--references", "3",
        "--threshold", "0.125",
    )  # fmt: skip
    assert code == 0 and "threshold 0.1250 (given)" in out


def test_evaluating_a_synth_folder_says_synthetic_and_a_folder_of_scans_does_not(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    """A folder `signature synth` wrote was evaluated as real scans: "synthetic": false and no
    "(synthetic data)", a synthetic figure presented as real. Its SYNTHETIC file marks it now,
    in a copy that keeps the file too; the same images without it read as real."""
    import shutil

    root, sigs = setup
    assert (sigs / "SYNTHETIC").is_file()
    marked = shutil.copytree(sigs, tmp_path / "copy")
    unmarked = shutil.copytree(sigs, tmp_path / "scans", ignore=shutil.ignore_patterns("SYN*"))
    model, refs = str(root / "model"), ["--references", "3"]
    for data, synthetic in ((sigs, True), (marked, True), (unmarked, False)):
        code, out = _run("evaluate", model, "--data", str(data), *refs)
        assert code == 0 and ("(synthetic data)" in out.splitlines()[0]) is synthetic, out
        code, out = _run("evaluate", model, "--data", str(data), *refs, "--json")
        assert code == 0 and json.loads(out)["synthetic"] is synthetic, out
        res = CliRunner().invoke(cli, ["evaluate", model, "--data", f"signatures:{data}"])
        assert res.exit_code == 0 and ("(synthetic data)" in res.output) is synthetic
        report = tmp_path / f"{data.name}.html"
        code, out = _run("evaluate", model, "--data", str(data), *refs, "--report", str(report))
        assert code == 0 and ("SYNTHETIC" in report.read_text()) is synthetic, out


def test_evaluate_counts_the_writers_it_scored(setup: tuple[Path, Path], tmp_path: Path) -> None:
    """A writer with too few genuine signatures is left out of every rate; the first line said
    '3 writers' all the same."""
    import shutil

    root, sigs = setup
    data = tmp_path / "sigs"
    shutil.copytree(sigs, data)
    for scan in sorted((data / "w0000" / "genuine").iterdir())[3:]:
        scan.unlink()  # 3 genuines left: none to question with 3 references
    args = ("evaluate", str(root / "model"), "--data", str(data), "--references", "3")
    code, out = _run(*args)
    assert code == 0, out
    assert out.splitlines()[0] == (
        "2 of 3 writers (1 with at most 3 genuine signatures, none left to question: lower "
        "--references to include them), 3 references, min distance (synthetic data)"
    )  # a copy of a synth folder, its SYNTHETIC file kept
    doc = json.loads(_run(*args, "--json")[1])
    assert doc["n_writers"] == 3 and doc["n_writers_evaluated"] == 2
    code, out = _run(*args[:-1], "2")
    assert code == 0 and out.startswith("3 writers, 2 references")


def test_evaluate_without_a_kind_of_forgery_says_so_not_nan(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    """No skilled forgeries (synth --forged 0), or one writer (no random forgeries), printed
    'EER nan  FAR nan  FRR nan' and wrote NaN into the JSON, which is not JSON."""
    root, _ = setup
    model = str(root / "model")
    data = tmp_path / "genuine_only"
    assert _run("synth", str(data), "--writers", "2", "--genuine", "4", "--forged", "0")[0] == 0
    code, out = _run("evaluate", model, "--data", str(data), "--references", "2")
    assert code == 0 and "nan" not in out, out
    skilled = next(line for line in out.splitlines() if line.startswith("skilled"))
    assert skilled.startswith("skilled  EER -       FAR -       FRR ")
    assert skilled.endswith("(no skilled forgeries in --data)")
    report = tmp_path / "r.html"
    code, out = _run(
        "evaluate", model, "--data", str(data), "--references", "2", "--json",
        "--report", str(report),
    )  # fmt: skip
    assert code == 0 and "NaN" not in out
    assert "<td>skilled forgeries</td><td>–</td><td>–</td><td>0." in report.read_text()
    doc = json.loads(out)
    assert doc["skilled"]["eer"] is None and doc["skilled"]["far"] is None
    assert doc["skilled"]["n_forged"] == 0 and 0.0 <= doc["skilled"]["frr"] <= 1.0
    assert doc["random"]["eer"] is not None
    code, out = _run("evaluate", model, "--data", "synthetic:1", "--references", "3")
    assert code == 0 and "nan" not in out and out.startswith("1 writer, 3 references"), out
    assert out.splitlines()[-1].endswith(
        "(one writer evaluated: no other writer's signature to question)"
    )


@pytest.mark.parametrize("data", ["synthetic:0", "synthetic:-2:5"])
def test_evaluate_of_no_synthetic_writers_names_the_option(
    setup: tuple[Path, Path], data: str
) -> None:
    code, out = _run("evaluate", str(setup[0] / "model"), "--data", data)
    assert code == 1 and out.strip() == (
        f"Error: --data {data}: give at least one writer, e.g. synthetic:20 (two or more to "
        "score random forgeries)."
    )


def test_evaluate_with_too_many_references_says_what_to_do(setup: tuple[Path, Path]) -> None:
    root, sigs = setup
    code, out = _run("evaluate", str(root / "model"), "--data", str(sigs), "--references", "6")
    assert code == 1 and out.strip() == (
        "Error: no writer has more than 6 genuine signatures to evaluate with 6 references (one "
        "must be left to question); use fewer references (--references) or writers with more "
        "genuine signatures."
    )


@pytest.mark.parametrize("bad", ["nan", "-0.5", "inf"])
def test_threshold_must_be_a_finite_distance(
    setup: tuple[Path, Path], tmp_path: Path, bad: str
) -> None:
    root, sigs = setup
    ref = str(sigs / "w0000" / "genuine" / "001.png")
    model, bank = str(root / "model"), str(tmp_path / "bank.db")
    for args in (
        ["verify", "--model", model, "--gallery", bank, "--writer", "a", ref],
        ["evaluate", model, "--data", str(sigs)],
    ):
        code, out = _run(*args, f"--threshold={bad}")
        assert code == 2 and f"{bad} is not a distance threshold" in out, out


def test_verify_creates_no_bank_from_an_empty_file(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    root, sigs = setup
    empty = tmp_path / "bank.db"
    empty.touch()
    ref = str(sigs / "w0000" / "genuine" / "001.png")
    code, out = _run(
        "verify", "--model", str(root / "model"), "--gallery", str(empty), "--writer", "a", ref
    )
    assert code == 1 and f"{empty} is empty, not a signature bank; enroll a writer first." in out
    assert empty.stat().st_size == 0


def test_generic_evaluate_takes_signatures_data(setup: tuple[Path, Path]) -> None:
    root, sigs = setup
    res = CliRunner().invoke(
        cli, ["evaluate", str(root / "model"), "--data", f"signatures:{sigs}", "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["n_references"] == 5 and set(doc) >= {"skilled", "random", "threshold"}
    assert doc["threshold_source"] == "model"  # the saved model's, not the user's


@pytest.mark.parametrize(
    "option",
    [
        ["--device", "cpu"],
        ["--raw-distance"],
        ["--episodes", "3"],
        ["--classes", "a,b"],
        ["--columns", "a=x,b=y,label=z"],  # the text and image options are refused as well
        ["--score-range", "0,5"],
    ],
)
def test_generic_evaluate_of_signatures_refuses_options_it_would_ignore(
    setup: tuple[Path, Path], option: list[str]
) -> None:
    """--device (it ran on the CPU), --raw-distance (the model's threshold stayed), --episodes
    and --classes were silently ignored with --data signatures:DIR."""
    root, sigs = setup
    args = ["evaluate", str(root / "model"), "--data", f"signatures:{sigs}", *option]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2, res.output
    assert option[0] in res.output and "siamkit signature evaluate" in res.output
    assert "leave it out" in " ".join(res.output.split())  # one option: 'it', not 'them'
    res = CliRunner().invoke(cli, [*args, "--seed", "1"])
    assert res.exit_code == 2 and "leave them out" in " ".join(res.output.split()), res.output


@pytest.mark.parametrize("command", ["evaluate", "calibrate"])
def test_a_signature_corpus_as_a_class_folder_is_refused(
    setup: tuple[Path, Path], command: str
) -> None:
    """Without the signatures: prefix the corpus was read as one class per writer, each writer's
    forgeries counted as his own signatures: figures of the wrong question, with no warning."""
    root, sigs = setup
    res = CliRunner().invoke(cli, [command, str(root / "model"), "--data", str(sigs)])
    assert res.exit_code == 1, res.output
    (line,) = res.output.strip().splitlines()
    assert "signature corpus" in line and f"--data signatures:{sigs}" in line


def test_bank_remembers_its_model(setup: tuple[Path, Path], tmp_path: Path) -> None:
    """After `enroll --model M`, `verify` on the bank finds M without --model; if M moved away,
    the error names the recorded folder."""
    import shutil

    root, sigs = setup
    model = tmp_path / "elsewhere" / "model"
    shutil.copytree(root / "model", model)
    bank = str(tmp_path / "bank.db")
    ref = str(sigs / "w0001" / "genuine" / "001.png")
    assert _run("enroll", "--model", str(model), "--gallery", bank, "--writer", "w", ref)[0] == 0
    code, out = _run("verify", "--gallery", bank, "--writer", "w", ref, "--json")
    assert code == 0, out
    assert json.loads(out)["reduce"] == "min"  # the recorded model's metadata, not a default
    code, out = _run("enroll", "--gallery", bank, "--writer", "v", ref)  # enroll finds it too
    assert code == 0, out
    shutil.rmtree(model)
    code, out = _run("verify", "--gallery", bank, "--writer", "w", ref)
    assert code != 0 and "Traceback" not in out
    assert f"enrolled with {model.resolve()}, which no longer exists" in out


def test_a_bank_of_another_model_names_the_folder_that_enrolled_it(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    """Another model was refused with two fingerprints and 'Use the original model', also when
    the recorded folder itself had been retrained (no --model given: which original?)."""
    import shutil

    root, sigs = setup
    model, other = tmp_path / "sig" / "model", tmp_path / "other"
    shutil.copytree(root / "model", model)
    _model_without_signature_metadata(other)  # other weights
    bank = str(tmp_path / "bank.db")
    ref = str(sigs / "w0001" / "genuine" / "001.png")
    assert _run("enroll", "--model", str(model), "--gallery", bank, "--writer", "w", ref)[0] == 0
    for command in ("verify", "enroll"):
        code, out = _run(command, "--model", str(other), "--gallery", bank, "--writer", "w", ref)
        assert code == 1 and out.strip().splitlines()[-1] == (
            f"Error: {bank} was enrolled with the model in {model.resolve()}, not {other}, and "
            "its signatures cannot be compared with another model's: leave out --model to use "
            "it, or enroll into a new bank file."
        ), out
    shutil.rmtree(model)
    shutil.copytree(other, model)  # retrained in place
    code, out = _run("verify", "--gallery", bank, "--writer", "w", ref)
    assert code == 1 and out.strip().splitlines()[-1] == (
        f"Error: {bank} records a fingerprint that the model in {model.resolve()}, which "
        "enrolled it, does not give now: the model there was retrained or replaced since, or the "
        "bank was enrolled under an earlier siamkit that fingerprinted it otherwise; its "
        "signatures cannot be compared with another model's, so enroll them again into a new "
        "bank file with this model, or open it with the model that enrolled them (restored from "
        "a copy, or under the siamkit that enrolled them)."
    ), out


@pytest.mark.parametrize("generic", [False, True])
def test_a_report_path_below_a_file_is_refused_before_evaluating(
    setup: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, generic: bool
) -> None:
    """--report notes.txt/r.html failed only after the signatures were embedded and scored
    (signature evaluate, and evaluate --data signatures:DIR)."""
    import siamkit.applications.signatures.train as signature_train

    def embedded(*args: object, **kwargs: object) -> None:
        raise AssertionError("the signatures were embedded before the report path was checked")

    monkeypatch.setattr(signature_train, "embed_signatures", embedded)
    root, sigs = setup
    (tmp_path / "notes.txt").write_text("keep me")
    report = tmp_path / "notes.txt" / "r.html"
    data = f"signatures:{sigs}" if generic else str(sigs)
    args = ["evaluate", str(root / "model"), "--data", data, "--report", str(report)]
    res = CliRunner().invoke(cli, args if generic else ["signature", *args])
    assert res.exit_code == 1 and f"Error: --report {report} cannot be written" in res.output
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def _rgb_model(path: Path) -> None:
    """An image model of 3-channel inputs (as a face or colour-photo model)."""
    from siamkit import SiameseNetwork
    from siamkit.encoders import create_encoder
    from siamkit.models.preprocess import Preprocess

    encoder = create_encoder("signet", in_channels=3, widths=[4, 4, 8, 8], fc=8, stem_stride=1)
    prep = Preprocess(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), input_shape=(3, 40, 56))
    save_model(SiameseNetwork(encoder, embedding_dim=8, preprocess=prep).eval(), path)


@pytest.mark.parametrize("command", ["enroll", "verify", "evaluate"])
def test_a_model_of_colour_images_is_refused_before_anything_is_written(
    setup: tuple[Path, Path], tmp_path: Path, command: str
) -> None:
    """A face model's folder: enroll created the bank file, then said 'a signature bank needs a
    model of 1-channel (1, H, W) images.' after a warning about metadata; evaluate failed in the
    model's own words ('face images are an (N, 3, H, W) RGB batch')."""
    root, sigs = setup
    model = tmp_path / "rgb"
    _rgb_model(model)
    bank, ref = tmp_path / "bank.db", str(sigs / "w0001" / "genuine" / "001.png")
    if command == "verify":
        assert _run("enroll", "--model", str(root / "model"), "--gallery", str(bank),
                    "--writer", "w", ref)[0] == 0  # fmt: skip
    args = {
        "enroll": ["--model", str(model), "--gallery", str(bank), "--writer", "w", ref],
        "verify": ["--model", str(model), "--gallery", str(bank), "--writer", "w", ref],
        "evaluate": [str(model), "--data", str(sigs)],
    }[command]
    res = CliRunner().invoke(cli, ["signature", command, *args])
    assert res.exit_code == 1 and res.stderr.strip() == (
        f"Error: {model} is a model of input shape (3, 40, 56), not of 1-channel (1, H, W) "
        "signature images; train a signature model with `siamkit train configs/signatures.yaml "
        "--out runs/sig`."
    ), res.output
    assert bank.exists() is (command == "verify")


def test_synth_refuses_a_folder_that_holds_signatures_already(tmp_path: Path) -> None:
    """A second synth into the same folder overwrote the first writers' files it shared and
    kept the rest: '--writers 2' left six writers of two settings, as one set."""
    out = tmp_path / "sigs"
    assert _run("synth", str(out), "--writers", "3", "--genuine", "2", "--forged", "1")[0] == 0
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    code, text = _run("synth", str(out), "--writers", "2", "--genuine", "1")
    assert code == 2 and text.strip().splitlines()[-1] == (
        f"Error: OUT {out} is not empty; give a new or empty folder (writers written there "
        "before would stay beside the new ones and be read as part of the same set)"
    )
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    (tmp_path / "empty").mkdir()
    assert _run("synth", str(tmp_path / "empty"), "--writers", "1", "--genuine", "1")[0] == 0


def test_synth_by_default_makes_writers_the_shipped_config_never_trained_on(tmp_path: Path) -> None:
    """synth's default seed was 0, the seed configs/signatures.yaml makes its training writers
    with: the README's own evaluation then scored 28 training writers of 40 as unseen."""
    from siamkit.data.synthetic_signatures import write_signature_folders

    args = ["signature", "synth", str(tmp_path / "cli"), "--writers", "2", "--genuine", "2"]
    res = CliRunner().invoke(cli, [*args, "--forged", "1"])
    assert res.exit_code == 0, res.output

    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.png")}

    for seed in (0, 1000):
        write_signature_folders(tmp_path / str(seed), 2, 2, 1, seed)
    assert files(tmp_path / "cli") == files(tmp_path / "1000") != files(tmp_path / "0")
    assert yaml.safe_load((ROOT / "configs" / "signatures.yaml").read_text())["data"]["seed"] == 0


def test_making_many_synthetic_signatures_says_so_first(
    setup: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`signature synth --writers 40` (README's) wrote for 8 s, and `evaluate --data
    synthetic:60` made its writers for 12 s, without a line; a few stay quiet."""
    from siamkit.cli import signature_cmds

    root, _ = setup
    args = ["synth", "--writers", "2", "--genuine", "2", "--forged", "1"]
    code, out = _run(args[0], str(tmp_path / "few"), *args[1:])
    assert code == 0 and out.splitlines() == [f"wrote 2 synthetic writers to {tmp_path / 'few'}"]
    monkeypatch.setattr(signature_cmds, "MANY_SYNTHETIC", 6)  # as if 240, not 6, were made
    code, out = _run(args[0], str(tmp_path / "many"), *args[1:])
    assert code == 0 and out.splitlines() == [
        f"making 2 synthetic writers' 6 signatures in {tmp_path / 'many'} ...",
        f"wrote 2 synthetic writers to {tmp_path / 'many'}",
    ]
    code, out = _run(args[0], str(tmp_path / "quiet"), *args[1:], "--no-progress")
    assert code == 0 and out.splitlines() == [f"wrote 2 synthetic writers to {tmp_path / 'quiet'}"]
    code, out = _run("evaluate", str(root / "model"), "--data", "synthetic:1", "--references", "3")
    assert code == 0 and out.startswith("making 1 synthetic writers' 24 signatures ...\n"), out


def _model_without_signature_metadata(path: Path) -> None:
    """A signature-shaped model saved as another task would: no metadata.signatures. Its
    weights are drawn from their own seed, never the setup model's: the global generator's
    state depends on which tests ran before (a CLI run seeds it), and two models drawn from the
    same state are the same model to the bank's fingerprint."""
    with torch.random.fork_rng():
        torch.manual_seed(20261205)
        other = build_signature_model(
            (1, 40, 56), 16, {"widths": [4, 8, 8, 8], "fc": 16, "stem_stride": 1}
        )
    other.eval()
    save_model(other, path, threshold=0.05, metadata={"run": {"data": "digits"}})


def _assert_warned_once(res: Any, model: Path, warned: bool) -> None:
    """A --json run that succeeded, with valid JSON on stdout and, when ``warned``, exactly the
    one not-a-signature-model line on stderr (else nothing there)."""
    assert res.exit_code == 0, res.output
    json.loads(res.stdout)  # the warning is not in the JSON
    lines = res.stderr.splitlines()
    if not warned:
        assert lines == []
        return
    assert len(lines) == 1 and lines[0].startswith(
        f"warning: the model {model} has no signature metadata"
    )
    assert "`siamkit train configs/signatures.yaml --out runs/sig`" in lines[0]


def test_a_model_without_signature_metadata_is_warned_about(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    """enroll/verify with a model the signature task did not write (no metadata.signatures, as a
    digits model) warn once on stderr, naming the training command, and still run; a signature
    model gets no warning."""
    root, sigs = setup
    _model_without_signature_metadata(tmp_path / "other")
    ref = str(sigs / "w0001" / "genuine" / "001.png")
    runner = CliRunner()
    for model, warned in ((tmp_path / "other", True), (root / "model", False)):
        bank = str(tmp_path / f"{model.name}.db")
        common = ["--model", str(model), "--gallery", bank, "--writer", "w"]
        for args in (["enroll", *common, ref, "--json"], ["verify", *common, ref, "--json"]):
            _assert_warned_once(runner.invoke(cli, ["signature", *args]), model, warned)


def test_evaluating_a_model_without_signature_metadata_warns_as_verify_does(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    """signature evaluate and evaluate --data signatures:DIR scored a model the signature task
    did not write without a word, where enroll/verify warn (d898360): they print the same one
    line on stderr and still run; the signature model gets none."""
    root, sigs = setup
    _model_without_signature_metadata(tmp_path / "other")
    runner = CliRunner()
    for model, warned in ((tmp_path / "other", True), (root / "model", False)):
        for args in (
            ["signature", "evaluate", str(model), "--data", str(sigs), "--references", "3"],
            ["evaluate", str(model), "--data", f"signatures:{sigs}"],
        ):
            _assert_warned_once(runner.invoke(cli, [*args, "--json"]), model, warned)


def test_verify_names_the_scan_of_each_reference(setup: tuple[Path, Path], tmp_path: Path) -> None:
    """A clerk could not trace the bank's reference "item 2" back to the scan that enrolled
    it: enroll keeps each scan's file, verify lists the references with theirs."""
    from siamkit.index import Gallery

    root, sigs = setup
    bank, model = str(tmp_path / "bank.db"), str(root / "model")
    refs = [str(sigs / "w0001" / "genuine" / f"00{n}.png") for n in (1, 2, 3)]
    code, out = _run("enroll", "--model", model, "--gallery", bank, "--writer", "0042", *refs)
    assert code == 0, out
    with Gallery.open(bank) as g:
        ids = g.items("0042").ids.tolist()
        assert g.sources(ids) == dict(zip(ids, refs))
    args = ("verify", "--model", model, "--gallery", bank, "--writer", "0042", refs[1])
    code, out = _run(*args, "--json")
    doc = json.loads(out)
    assert doc["item_ids"] == ids and doc["sources"] == refs and len(doc["distances"]) == 3
    code, out = _run(*args)
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("GENUINE: score")
    assert lines[1:] == [
        f"  reference item {i}  distance {d:.4f}  (from {s})"
        for i, d, s in zip(ids, doc["distances"], refs)
    ]


def test_a_bank_from_before_sources_verifies_as_before(
    setup: tuple[Path, Path], tmp_path: Path
) -> None:
    """References enrolled before siamkit kept their scans (no source column): "sources" are
    null and the text is the verdict line alone, as it was."""
    import sqlite3

    root, sigs = setup
    bank, model = str(tmp_path / "bank.db"), str(root / "model")
    ref = str(sigs / "w0001" / "genuine" / "001.png")
    assert _run("enroll", "--model", model, "--gallery", bank, "--writer", "w", ref)[0] == 0
    with sqlite3.connect(bank) as conn:
        conn.execute("ALTER TABLE items DROP COLUMN source")
    args = ("verify", "--model", model, "--gallery", bank, "--writer", "w", ref)
    code, out = _run(*args, "--json")
    assert code == 0 and json.loads(out)["sources"] == [None]
    code, out = _run(*args)
    assert code == 0 and len(out.splitlines()) == 1 and "(from" not in out


def test_evaluate_counts_one_reference_as_one(setup: tuple[Path, Path]) -> None:
    """With --references 1, evaluate said "1 writer, 1 references"."""
    root, _ = setup
    code, out = _run("evaluate", str(root / "model"), "--data", "synthetic:1", "--references", "1")
    assert code == 0 and out.startswith("1 writer, 1 reference, min distance"), out
