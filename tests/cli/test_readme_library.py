"""README's "library in a few lines", run as written, then every command on the model it saves.

The README trains on Fashion-MNIST; here ``load_fashion_mnist`` returns 40 images per class of
the real files (60 of the train split; the code under test runs unchanged), so the run takes seconds.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import siamkit
import siamkit.data
import siamkit.data.fashion_mnist as fm
import siamkit.training
from siamkit.cli.main import cli

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## The library in a few lines"
LIBRARY_RUN = "## A run as a library call, and the Trainer"
PER_CLASS = 40  # test split; the train split gets 60 (a cohort of 300 needs 300 images)


def readme_blocks(section: str = SECTION) -> list[tuple[str, str]]:
    """``(language, code)`` of the fenced blocks of the README section, in order."""
    text = README.read_text()
    start = text.index(section)
    end = text.index("\n## ", start + len(section))
    return re.findall(r"```(\w+)\n(.*?)```", text[start:end], flags=re.S)


def small_fashion_mnist(real):
    def load(split="train", root=None, download=False, verify=True):
        x, y = real(split, root=root)
        n = PER_CLASS if split == "test" else 60
        keep = np.concatenate([np.flatnonzero(y.numpy() == c)[:n] for c in range(10)])
        keep.sort()
        return x[keep], y[keep]

    return load


def run(args, code=0):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    return res


def short_config(real):
    """``load_config`` of the repository's file, for 1 epoch and 20 episodes (the demo's 10 and
    1,000 take minutes); everything else as the file says."""

    def load(path):
        cfg = real(README.parent / path)
        return dataclasses.replace(
            cfg,
            train=dataclasses.replace(cfg.train, epochs=1),
            eval=dataclasses.replace(cfg.eval, episodes=20),
        )

    return load


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory):
    """Runs the README's Python and shell blocks in a fresh folder, then the Python of "A run as
    a library call, and the Trainer" (which goes on with the first section's ``x``, ``y``);
    yields that folder."""
    root = tmp_path_factory.mktemp("readme")
    with pytest.MonkeyPatch.context() as mp:
        small = small_fashion_mnist(fm.load_fashion_mnist)
        mp.setattr(siamkit.data, "load_fashion_mnist", small)
        mp.setattr(fm, "load_fashion_mnist", small)
        mp.setattr(siamkit.training, "load_config", short_config(siamkit.training.load_config))
        mp.chdir(root)
        namespace: dict[str, object] = {}
        shell = []
        for lang, code in readme_blocks():
            if lang == "python":
                exec(compile(code, str(README), "exec"), namespace)
            else:
                shell += [line.split("#")[0].strip() for line in code.splitlines()]
        outputs = [run(shlex.split(line)[1:]) for line in shell if line.startswith("siamkit ")]
        for lang, code in readme_blocks(LIBRARY_RUN):
            if lang == "python":
                exec(compile(code, str(README), "exec"), namespace)
        yield root, namespace, outputs


def write_folder(root: Path, classes, per_class=12, split="test") -> Path:
    """PNG files of Fashion-MNIST ``classes``, one sub-folder per class name."""
    x, y = fm.load_fashion_mnist(split)
    for c in classes:
        sub = root / fm.FASHION_MNIST_CLASSES[c].replace("/", "-")
        sub.mkdir(parents=True)
        for j, row in enumerate(np.flatnonzero(y.numpy() == c)[:per_class]):
            Image.fromarray(x[row].numpy()).save(sub / f"{j}.png")
    return root


def test_readme_blocks_run_and_the_model_records_its_input_shape(readme_run):
    root, ns, outputs = readme_run
    assert len(outputs) == 2  # calibrate, then evaluate, as the README shows
    net = siamkit.load_model(root / "out" / "model")
    assert net.input_shape == (1, 28, 28)
    doc = json.loads((root / "out" / "model" / "siamkit.json").read_text())
    assert doc["model"]["preprocess"]["input_shape"] == [1, 28, 28]
    assert doc["threshold"] is not None and doc["metadata"]["calibration"]["classes"][0] == (
        "T-shirt/top"
    )
    assert "shirt, sneaker, bag, ankle boot" in outputs[1].output.lower()
    assert ns["z"].shape == (4 * PER_CLASS, 64)  # type: ignore[attr-defined]
    # a loaded model's weights require grad: the block embeds without keeping an autograd graph
    # (embedding 10,000 images with one kept ~2 GB in a notebook)
    assert next(ns["model"].parameters()).requires_grad  # type: ignore[attr-defined]
    for name in ("z", "d", "cohort"):
        assert ns[name].grad_fn is None, name  # type: ignore[attr-defined]


def test_the_run_and_trainer_block_runs_and_trains_its_network(readme_run):
    root, ns, _ = readme_run
    result, trainer, net = ns["result"], ns["trainer"], ns["net"]
    assert 0 <= result.evaluation.verification.eer <= 1 and result.calibration.threshold > 0
    assert (root / "runs" / "demo" / "model" / "siamkit.json").is_file()
    assert len(trainer.history) == 10 and (root / "runs" / "x" / "checkpoint.pt").is_file()
    assert trainer.net is net  # trained with its own optimizer (another network's is refused)
    assert {id(p) for g in ns["opt"].param_groups for p in g["params"]} == {  # type: ignore[attr-defined]
        id(p) for p in net.parameters()
    }


def test_every_command_works_on_the_readme_model(readme_run, tmp_path):
    root, _, _ = readme_run
    model = root / "out" / "model"
    val = write_folder(tmp_path / "val", range(6))  # held-out images of the training classes
    unseen = write_folder(tmp_path / "unseen", range(6, 10), per_class=20)
    db = tmp_path / "g.db"

    out = run(["calibrate", model, "--data", val, "--json"])
    cal = json.loads(out.stdout)
    assert cal["images"] == 72 and 0 <= cal["far"] <= 1
    assert siamkit.load_model(model).threshold == pytest.approx(cal["threshold"])

    run(["embed", model, unseen, "--out", tmp_path / "z.npy"])
    assert np.load(tmp_path / "z.npy").shape == (80, 64)

    out = run(["enroll", model, "--gallery", db, unseen])
    assert "enrolled 80 images of 4 labels" in out.output and "[" not in out.output
    out = run(["gallery", db, "list", "--json"])
    names = ["Ankle boot", "Bag", "Shirt", "Sneaker"]
    assert sorted(d["label"] for d in json.loads(out.stdout)["labels"]) == names
    query = unseen / "Bag" / "0.png"
    out = run(["identify", model, "--gallery", db, query, "--json"])
    assert json.loads(out.stdout)["queries"][0]["matches"][0]["label"] == "Bag"
    out = run(["verify", model, query, unseen / "Bag" / "1.png", "--json"])
    assert json.loads(out.stdout)["threshold"] == pytest.approx(cal["threshold"])
    run(["verify", model, query, "--gallery", db, "--label", "Bag"])

    run(["export", model, "--format", "onnx", "--out", tmp_path / "m.onnx"])
    assert (tmp_path / "m.onnx").stat().st_size > 0

    # serve: the web service built for the same model answers /verify on image files
    from fastapi.testclient import TestClient

    from siamkit.service import create_app

    with TestClient(create_app(siamkit.load_model(model), tmp_path / "s.db")) as client:
        files = [
            ("file_a", query.read_bytes()),
            ("file_b", (unseen / "Bag" / "1.png").read_bytes()),
        ]
        r = client.post("/verify", files=[(k, (f"{k}.png", v, "image/png")) for k, v in files])
        assert r.status_code == 200, r.text
        assert r.json()["threshold"] == pytest.approx(cal["threshold"])

    out = run(["evaluate", model, "--data", unseen, "--episodes", "20", "--shots", "1", "--json"])
    metrics = json.loads(out.stdout)
    assert metrics["data"]["classes"] == names
    assert 0 <= metrics["verification"]["eer"] <= 1


def test_a_model_saved_before_it_saw_an_image_says_which_line_to_write(tmp_path):
    enc = siamkit.encoders.create_encoder("convnet", in_channels=1)
    siamkit.save_model(siamkit.SiameseNetwork(enc, embedding_dim=8), tmp_path / "m")
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "a.png")
    for args in (
        ["verify", tmp_path / "m", tmp_path / "a.png", tmp_path / "a.png"],
        [
            "enroll",
            tmp_path / "m",
            "--gallery",
            tmp_path / "g.db",
            "--label",
            "x",
            tmp_path / "a.png",
        ],
        ["embed", tmp_path / "m", tmp_path / "a.png", "--out", tmp_path / "z.npy"],
    ):
        out = run(args, code=1)
        assert "preprocess=siamkit.Preprocess(input_shape=(1, 28, 28))" in out.output
        assert "net.embed(images)" in out.output
    assert not (tmp_path / "g.db").exists()


def test_preprocess_learns_the_shape_of_the_first_batch_only():
    pre = siamkit.Preprocess()
    pre(torch.rand(2, 3, 8, 8))
    pre(torch.rand(2, 3, 9, 9))
    assert pre.input_shape == (3, 8, 8)
    with pytest.raises(ValueError, match=r"\(3, 8, 8\)"):
        pre.check(torch.rand(2, 3, 9, 9))


def test_the_python_evaluation_and_gallery_block_runs(readme_run):
    """README showed evaluation and galleries only as commands (and Gallery as a sentence); a
    notebook user now has the block, run here as written."""
    root, ns, _ = readme_run
    report, gallery = ns["report"], ns["gallery"]
    assert report.few_shot["4way1shot"].episodes == 100 and 0 <= report.verification.eer <= 1
    assert ns["threshold"] > 0 and gallery.threshold == ns["threshold"]
    assert sorted(info.label for info in gallery.labels()) == ["6", "7", "8"]
    assert (root / "shop.db").is_file()


def test_the_readme_model_exports_to_int8_and_its_runtime_decides_as_verify(readme_run, tmp_path):
    """The walk of stop 54: `siamkit export --int8` and `evaluate --report` on the model the
    README's Python makes, which the test above leaves out, and the torch-free runtime's
    verdicts against `siamkit verify`'s on the same image files."""
    import shutil

    from siamkit.data.image_io import load_images
    from siamkit.export.runtime import OnnxEmbedder

    pytest.importorskip("onnxruntime")
    root, _, _ = readme_run
    model = tmp_path / "model"
    shutil.copytree(root / "out" / "model", model)
    unseen = write_folder(tmp_path / "unseen", range(6, 10), per_class=4)
    out = run(["export", model, "--format", "onnx", "--int8"])
    assert "within 1e-04: the export embeds as the torch model" in out.output, out.output
    assert "EER" in out.output and (model / "model.int8.onnx").is_file()

    files = sorted(unseen.rglob("*.png"))
    x = load_images(files, (1, 28, 28)).numpy()
    fp32, int8 = (
        OnnxEmbedder(str(model / "model.onnx")),
        OnnxEmbedder(str(model / "model.int8.onnx")),
    )
    assert fp32.threshold == pytest.approx(siamkit.load_model(model).threshold)
    for i, j in ((0, 1), (0, 5), (4, 12), (9, 10), (15, 3)):
        said = json.loads(run(["verify", model, files[i], files[j], "--json"]).stdout)
        d, same = fp32.verify(x[i : i + 1], x[j : j + 1])
        assert bool(same[0]) == said["same"] and float(d[0]) == pytest.approx(
            said["distance"], abs=1e-5
        )
        assert float(int8.verify(x[i : i + 1], x[j : j + 1])[0][0]) == pytest.approx(
            said["distance"], abs=0.05
        )

    run(["evaluate", model, "--data", unseen, "--episodes", "5", "--report", tmp_path / "r.html"])
    assert "<html" in (tmp_path / "r.html").read_text()[:500].lower()
