"""export --int8 of a signature model calibrates and checks on signatures: by default its run's own
(the data.root its run recorded in the model, else its config.yaml's, read and preprocessed as
the signature task reads it, or its synthetic writers made again), or a corpus given as
--calib-data / --check-data signatures:DIR. It calibrated on Fashion-MNIST and measured nothing,
and refused signatures:DIR; a model copied out of its run folder needed signatures:DIR."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

import siamkit
from siamkit.applications.signatures.model import build_signature_model
from siamkit.cli._int8_check import describe
from siamkit.cli.export_cmd import export
from siamkit.cli.main import cli
from siamkit.data.signature_set import load_signature_set, writer_disjoint_split
from siamkit.data.synthetic_signatures import write_signature_folders

pytest.importorskip("onnxruntime")

SIZE = (40, 56)
SPLIT = [0.5, 0.25, 0.25]


def _run(tmp_path: Path, root: Path | None) -> Path:
    """A tiny signature model saved as ``siamkit train configs/signatures.yaml`` saves it, with
    its run's config.yaml beside it (``data.root``: ``root``; ``None``: synthetic writers)."""
    torch.manual_seed(0)
    kwargs = {"widths": [4, 8, 8, 8], "fc": 16, "stem_stride": 1}
    net = build_signature_model((1, *SIZE), 16, kwargs).eval()
    run = tmp_path / "run"
    run.mkdir()
    config = {
        "task": "signatures",
        "data": {"root": None if root is None else str(root), "synthetic_writers": 12,
                 "genuine": 7, "forged": 4, "seed": 0, "image_size": list(SIZE), "split": SPLIT},
        "model": {"embedding_dim": 16, "encoder_kwargs": kwargs},
    }  # fmt: skip
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    meta = {"signatures": {"reduce": "mean", "references": 3, "image_size": list(SIZE)}}
    siamkit.save_model(net, run / "model", metadata=meta)
    return run / "model"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 synthetic writers in the writer/genuine|forged layout (7 genuine, 4 forged each)."""
    root = tmp_path_factory.mktemp("sigs") / "sigs"
    return write_signature_folders(root, 12, 7, 4, seed=0, size=SIZE)


def _export(model: Path, *args: str):
    return CliRunner().invoke(export, [str(model), "--int8", "--json", "--no-progress", *args])


def test_default_export_calibrates_and_checks_on_the_runs_own_signatures(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import siamkit.export.quantize as quantize

    seen = {}
    real = quantize.quantize_onnx

    def spy(path, **kwargs):
        seen.update(kwargs)
        return real(path, **kwargs)

    monkeypatch.setattr(quantize, "quantize_onnx", spy)
    res = _export(_run(tmp_path, corpus))
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output[res.output.index("{") :])
    int8 = doc["files"][1]
    assert "fashion-mnist" not in res.output
    assert int8["calibration"] == (
        f"66 signatures of its 6 training writers (its run's signatures {corpus})"
    )
    # the calibration images are the training writers' signatures as the signature task reads
    # them (ink bright, preprocessed at the model's size), not an image folder's pixels
    sigs = load_signature_set(corpus, "auto", SIZE)
    train = writer_disjoint_split(12, SPLIT, 0)[0]
    want = sigs.images[torch.isin(sigs.writer, torch.tensor(train))].numpy()
    got = seen["calibration"]
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.array_equal(np.sort(got.reshape(len(got), -1), 0), np.sort(want.reshape(66, -1), 0))
    check = doc["int8_check"]
    assert isinstance(check, dict), check
    assert check["images"] == (
        f"21 genuine signatures of 3 writers (its 3 test writers) of its run's signatures "
        f"{corpus}, skilled forgeries left out"
    )
    assert "--check-data signatures:DIR with 100 genuine pairs" in check["too_few_images"]
    assert set(check["change"]) == {"eer", "3way1shot"}
    # and verification against its test writers' forgeries, as `signature evaluate` scores it
    sig = check["signatures"]
    assert sig["data"] == (
        f"33 signatures (genuine and skilled forgeries) of its 3 test writers of its run's "
        f"signatures {corpus}, 3 references a writer, mean distance"
    )
    assert set(sig["fp32"]) == set(sig["int8"]) == {"skilled", "random"}
    assert "skilled-forgery EER" in describe(check)


def test_check_data_and_calib_data_take_a_signature_corpus(tmp_path: Path, corpus: Path) -> None:
    other = write_signature_folders(tmp_path / "held", 6, 5, 2, seed=1000, size=SIZE)
    model = _run(tmp_path, corpus)
    res = _export(
        model, "--check-data", f"signatures:{other}", "--calib-data", f"signatures:{corpus}"
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output[res.output.index("{") :])
    assert doc["files"][1]["calibration"] == f"132 signatures (the signatures in {corpus})"
    check = doc["int8_check"]
    assert isinstance(check, dict), check
    assert check["images"] == (
        f"30 genuine signatures of 6 writers (every writer) of the signatures in {other}, "
        "skilled forgeries left out"
    )
    # a signature corpus given as a plain folder names the form that reads it
    res = _export(model, "--force", "--check-data", str(other))
    assert res.exit_code != 0
    assert f"pass --check-data signatures:{other}" in res.output
    res = _export(model, "--force", "--check-data", f"signatures:{tmp_path / 'nowhere'}")
    assert res.exit_code != 0 and "no such folder" in res.output


def test_a_run_on_synthetic_writers_makes_them_again(tmp_path: Path) -> None:
    res = _export(_run(tmp_path, None))
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output[res.output.index("{") :])
    where = "its run's synthetic signatures (data.root null: 12 writers, seed 0, made again)"
    assert doc["files"][1]["calibration"] == f"66 signatures of its 6 training writers ({where})"
    assert doc["int8_check"]["images"].endswith(f"of {where}, skilled forgeries left out")


def test_when_the_runs_signatures_are_gone_it_says_so_and_what_to_pass(
    tmp_path: Path, corpus: Path
) -> None:
    gone = shutil.copytree(corpus, tmp_path / "gone")
    model = _run(tmp_path, gone)
    shutil.rmtree(gone)
    res = _export(model)  # static: refused before anything is written
    assert res.exit_code != 0
    assert f"its run's signatures (data.root {gone}) are not there" in res.output
    assert "--calib-data signatures:DIR" in res.output
    assert not (model / "model.onnx").exists()
    res = _export(model, "--int8-mode", "dynamic")
    assert res.exit_code == 0, res.output
    check = json.loads(res.output[res.output.index("{") :])["int8_check"]
    assert check == (
        f"accuracy change not measured: its run's signatures (data.root {gone}) are not there; "
        "pass --check-data signatures:DIR (signatures of writers it did not train on)"
    )


def test_a_signature_corpus_as_a_plain_calibration_folder_names_signatures_dir(
    tmp_path: Path, corpus: Path
) -> None:
    """A plain folder would calibrate on scans read as photos (ink dark, uncropped)."""
    model = _run(tmp_path, corpus)
    res = _export(model, "--calib-data", str(corpus))
    assert res.exit_code != 0
    assert f"pass --calib-data signatures:{corpus}" in res.output
    assert not (model / "model.onnx").exists()


def _train(tmp_path: Path, root: str, steps: int) -> None:
    """``siamkit train`` of a tiny signature run on the corpus ``root`` (as the config names it)
    for ``steps`` steps, validated at the last, eval.references 3 and eval.seed 3, into
    ``tmp_path/run`` (its config ``tmp_path/sig.yaml``)."""
    config = {
        "task": "signatures",
        "data": {"root": root, "image_size": list(SIZE), "split": SPLIT, "seed": 0},
        "model": {"embedding_dim": 16,
                  "encoder_kwargs": {"widths": [4, 8, 8, 8], "fc": 16, "stem_stride": 1}},
        "train": {"steps": steps, "writers_per_batch": 4, "genuine_per_writer": 3,
                  "forged_per_writer": 2, "eval_every": steps},
        "eval": {"references": 3, "seed": 3},
    }  # fmt: skip
    (tmp_path / "sig.yaml").write_text(yaml.safe_dump(config))
    res = CliRunner().invoke(
        cli, ["train", str(tmp_path / "sig.yaml"), "--out", str(tmp_path / "run")]
    )
    assert res.exit_code == 0, res.output


def test_on_its_runs_test_writers_the_fp32_figures_are_its_metrics(
    tmp_path: Path, corpus: Path
) -> None:
    """A 4-step run on the corpus: the check's fp32 forgery EERs are metrics.json's test ones
    (the same writers, references, reduction and seed), so the change is int8's alone."""
    _train(tmp_path, str(corpus), steps=4)
    res = _export(tmp_path / "run" / "model")
    assert res.exit_code == 0, res.output
    sig = json.loads(res.output[res.output.index("{") :])["int8_check"]["signatures"]
    test = json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]
    assert sig["fp32"] == pytest.approx(
        {k: test[k]["eer"] for k in ("skilled", "random")}, abs=1e-6
    )


def test_a_model_copied_out_of_its_run_folder_finds_its_runs_signatures(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model records its run's data (data.root made absolute) and eval.seed: copied out of
    its run folder, and exported from another folder, it calibrates and checks on its run's
    writers as in place (it asked for --calib-data signatures:DIR: its config.yaml was gone)."""
    monkeypatch.chdir(corpus.parent)  # data.root relative to where the run started
    _train(tmp_path, corpus.name, steps=2)
    test = json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]
    model = shutil.copytree(tmp_path / "run" / "model", tmp_path / "elsewhere" / "model")
    shutil.rmtree(tmp_path / "run")
    monkeypatch.chdir(tmp_path / "elsewhere")
    res = _export(model)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output[res.output.index("{") :])
    assert doc["files"][1]["calibration"] == (
        f"66 signatures of its 6 training writers (its run's signatures {corpus})"
    )
    sig = doc["int8_check"]["signatures"]
    assert sig["data"].startswith("33 signatures (genuine and skilled forgeries) of its 3 test")
    assert sig["fp32"] == pytest.approx(  # the same writers and references (eval.seed 3)
        {k: test[k]["eer"] for k in ("skilled", "random")}, abs=1e-6
    )


def test_a_copied_model_of_a_synthetic_run_makes_its_writers_again(tmp_path: Path) -> None:
    from siamkit.applications.signatures.config import SignatureDataConfig, SignatureRunConfig
    from siamkit.applications.signatures.run_record import run_record

    data = SignatureDataConfig(
        synthetic_writers=12, genuine=7, forged=4, image_size=SIZE, split=tuple(SPLIT)
    )
    torch.manual_seed(0)
    kwargs = {"widths": [4, 8, 8, 8], "fc": 16, "stem_stride": 1}
    net = build_signature_model((1, *SIZE), 16, kwargs).eval()
    meta = {"signatures": {"reduce": "mean", "references": 3, "image_size": list(SIZE),
                           **run_record(SignatureRunConfig(data=data))}}  # fmt: skip
    model = siamkit.save_model(net, tmp_path / "copied" / "model", metadata=meta)
    res = _export(model)  # no config.yaml beside it
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output[res.output.index("{") :])
    where = "its run's synthetic signatures (data.root null: 12 writers, seed 0, made again)"
    assert doc["files"][1]["calibration"] == f"66 signatures of its 6 training writers ({where})"


def test_a_copied_model_that_records_no_run_says_what_is_missing(tmp_path: Path) -> None:
    """A model saved before models recorded their run's data, copied out of its run folder."""
    model = shutil.copytree(_run(tmp_path, None), tmp_path / "copied" / "model")
    res = _export(model)
    assert res.exit_code != 0
    assert (
        f"{model} does not record its run's signatures (it was saved before models recorded "
        f"them) and its run's config {model.parent / 'config.yaml'} is not there"
    ) in " ".join(res.output.split())
    assert "pass --calib-data signatures:DIR" in res.output
    assert not (model / "model.onnx").exists()


def _fake_onnx(power: int):
    """A stand-in for an :class:`~siamkit.export.OnnxModel`: 8 means of stripes of pixels**power."""
    from types import SimpleNamespace

    embed = lambda x: (x.reshape(len(x), 8, -1) ** power).mean(-1)  # noqa: E731
    return SimpleNamespace(embedder=SimpleNamespace(embed=embed, distance_name="euclidean"))


@pytest.mark.parametrize(("writers", "forged"), [(1, 3), (3, 0), (1, 0)])
def test_the_signature_check_needs_no_threshold_and_says_when_there_is_no_forgery(
    writers: int, forged: int
) -> None:
    """Without skilled forgeries and with one writer, the check reported evaluate_signatures'
    'give a threshold', which export has no option for (reviewer s52_R2): it needs the EERs
    only. It says now there is no forgery to measure an EER against; else the EERs are
    evaluate_signatures' own, skilled and random, where there are forgeries of the kind."""
    from siamkit.applications.signatures.evaluate import evaluate_signatures
    from siamkit.cli._int8_check import SignatureCheck, signature_change
    from siamkit.data.signature_set import synthetic_signature_set

    sigs = synthetic_signature_set(writers, n_genuine=6, n_forged=forged, seed=0, size=SIZE)
    check = SignatureCheck(sigs, 3, "mean", "the given writers", 0)
    models = (_fake_onnx(1), _fake_onnx(2))
    got = signature_change(models, check)["signatures"]
    if writers == 1 and forged == 0:
        assert isinstance(got, str) and "threshold" not in got
        assert got.startswith("there is no forgery to measure an EER against")
        return
    for name, model in zip(("fp32", "int8"), models):
        z = torch.from_numpy(model.embedder.embed(sigs.images.numpy()))
        ev = evaluate_signatures(z, sigs.writer, sigs.forged, 3, "mean", seed=0)
        want = {
            k: None if v != v else v
            for k, v in (("skilled", ev.skilled.eer), ("random", ev.random.eer))
        }
        assert got[name] == want
        assert (want["skilled"] is None) == (forged == 0)
        assert (want["random"] is None) == (writers == 1)


def test_writers_of_too_few_genuine_signatures_are_named_in_exports_own_words() -> None:
    """The check reported evaluate_signatures' 'use fewer references (--references)', an option
    export does not have: the references are the model's. It names --check-data now."""
    from siamkit.cli._int8_check import SignatureCheck, signature_change
    from siamkit.data.signature_set import synthetic_signature_set

    sigs = synthetic_signature_set(4, n_genuine=3, n_forged=2, seed=0, size=SIZE)
    check = SignatureCheck(sigs, 3, "mean", "the given writers", 0)
    got = signature_change((_fake_onnx(1), _fake_onnx(2)), check)["signatures"]
    assert isinstance(got, str) and "--references" not in got
    assert got.startswith("no writer has more than 3 genuine signatures, the references a writer")
    assert got.endswith("(--check-data signatures:DIR)")


@pytest.mark.parametrize(
    ("signatures", "references"), [({}, 5), ({"references": 3}, 3), ({"references": 9}, 9)]
)
def test_the_too_few_genuines_sentence_says_5_is_the_default_where_the_model_records_none(
    signatures: dict, references: int
) -> None:
    """It said the references were those 'a writer the model records', false for a model that
    records none (an image model given --check-data signatures:DIR), which is checked with 5
    (reviewer s52_R11). It names where they come from, and the default."""
    from types import SimpleNamespace

    from siamkit.cli._int8_check import signature_change, signature_check
    from siamkit.data.signature_set import synthetic_signature_set

    sigs = synthetic_signature_set(4, n_genuine=references, n_forged=2, seed=0, size=SIZE)
    data = SimpleNamespace(sigs=sigs, test=None, where="signatures:DIR", seed=0)
    meta = {"task": "image", **({"signatures": signatures} if signatures else {})}
    check = signature_check(data, {"metadata": meta})  # type: ignore[arg-type]
    assert check.references == references
    got = signature_change((_fake_onnx(1), _fake_onnx(2)), check)["signatures"]
    assert got.startswith(
        f"no writer has more than {references} genuine signatures, the references a writer the "
        "check uses (the model's metadata.signatures.references; 5 where it records none)"
    )
    assert "the model records" not in got


def test_an_older_models_run_config_is_read_for_its_data_alone(tmp_path: Path) -> None:
    """A model saved before models recorded their run's data, whose run's config.yaml has a
    train.margin of 0 (accepted until 2b282886): its data and eval.seed are still read, since the
    margin has nothing to do with finding them (reviewer s52_R16 finding 1)."""
    from siamkit.applications.signatures.run_record import RecordedRun, recorded_run

    model = _run(tmp_path, None)
    config = yaml.safe_load((model.parent / "config.yaml").read_text())
    config["train"] = {"margin": 0.0}
    config["eval"] = {"seed": 3}
    (model.parent / "config.yaml").write_text(yaml.safe_dump(config))
    run = recorded_run(model)
    assert isinstance(run, RecordedRun), run
    assert (run.data.synthetic_writers, run.data.genuine, run.data.forged) == (12, 7, 4)
    assert run.eval_seed == 3
    assert run.source == str(model.parent.resolve() / "config.yaml")
