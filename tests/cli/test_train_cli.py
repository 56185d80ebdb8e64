"""siamkit train / evaluate / embed on a tiny digits run: outputs, JSON keys, clear errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import siamkit
from siamkit.cli.main import cli
from siamkit.data.builtin import load_digits_dataset
from siamkit.data.fashion_mnist import fashion_mnist_dir

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "digits-tiny.yaml"


@pytest.fixture(scope="module")
def train_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The tiny run's folder and what `siamkit train` printed."""
    out = tmp_path_factory.mktemp("run")
    res = CliRunner().invoke(
        cli,
        [
            "train",
            str(TINY),
            "--out",
            str(out),
            "--no-progress",
            "--episodes",
            "30",
            "--set",
            "train.epochs=2",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "model:" in res.output and "4-way 1-shot" in res.output
    return out, res.output


@pytest.fixture(scope="module")
def run_dir(train_run: tuple[Path, str]) -> Path:
    return train_run[0]


def test_train_writes_every_output(run_dir: Path) -> None:
    for name in (
        "config.yaml",
        "checkpoint.pt",
        "metrics.json",
        "history.json",
        "model/siamkit.json",
    ):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"roc_auc", "eer", "threshold", "tar_at_far"} <= set(metrics["verification"])
    assert {"accuracy", "ci95"} <= set(metrics["few_shot"]["4way1shot"])
    assert {"precision_at_1", "map_at_r"} <= set(metrics["retrieval"])
    assert metrics["run"]["test_classes"] == [6, 7, 8, 9]
    history = json.loads((run_dir / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert (
        "epochs: 2" in (run_dir / "config.yaml").read_text()
    )  # the resolved config, override applied


def test_report_shows_what_ran_and_the_operating_point(run_dir: Path) -> None:
    page = (run_dir / "report.html").read_text()
    config = re.search(r"<section id='config'>.*?<pre>(.*?)</pre>", page, re.S)
    assert config is not None
    assert "episodes: 30" in config.group(1)  # --episodes 30, not the config's 100
    assert "cohort_size" not in config.group(1) and "momentum" not in config.group(1)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert "Operating point the model ships with" in page
    assert f"{metrics['calibration']['threshold']:.4f}" in page
    assert f"{metrics['calibration']['test']['far']:.4f}" in page
    assert re.search(r"trained on [\d,]+ images", page) and "CPU cores" in page
    assert "<section id='per-class'>" in page and "<section id='failures'>" in page
    assert "never on these" in page  # trained on 0-5, tested on 6-9


def test_evaluate_report_on_trained_classes_does_not_call_them_unseen(
    run_dir: Path, tmp_path: Path
) -> None:
    """The operating point said 'never on these' of classes 0-3 the model trained on."""
    model = str(run_dir / "model")
    base = ["evaluate", model, "--data", "digits", "--episodes", "5", "--shots", "1"]
    for classes, trained in (("0,1,2,3", True), ("6,7,8", False)):
        page_path = tmp_path / f"{classes}.html"
        res = CliRunner().invoke(cli, [*base, "--classes", classes, "--report", str(page_path)])
        assert res.exit_code == 0, res.output
        page = page_path.read_text()
        assert "Operating point the model ships with" in page
        assert ("never on these" in page) is not trained, classes
        assert ("not those of unseen classes" in page) is trained, classes


def test_saved_threshold_is_the_validation_calibration(run_dir: Path) -> None:
    net = siamkit.load_model(run_dir / "model")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert net.threshold == pytest.approx(metrics["calibration"]["threshold"])
    assert net.threshold != pytest.approx(metrics["verification"]["threshold"])  # not fit on test


def test_evaluate_json_reproduces_the_run_metrics(run_dir: Path) -> None:
    res = CliRunner().invoke(
        cli, ["evaluate", str(run_dir / "model"), "--data", "digits", "--episodes", "30", "--json"]
    )
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    want = json.loads((run_dir / "metrics.json").read_text())
    assert (
        got["data"]["n_items"] == want["data"]["n_items"]
    )  # the model's unseen classes by default
    for section, key in [
        ("verification", "roc_auc"),
        ("verification", "eer"),
        ("retrieval", "map_at_r"),
    ]:
        assert got[section][key] == pytest.approx(want[section][key], abs=1e-6)
    assert got["few_shot"]["4way1shot"]["accuracy"] == pytest.approx(
        want["few_shot"]["4way1shot"]["accuracy"]
    )
    assert 0.0 <= got["calibration"]["test"]["far"] <= 1.0


def test_train_summary_shows_the_ranking_metrics_evaluate_prints(
    train_run: tuple[Path, str],
) -> None:
    """The summary table stopped at MAP@R while evaluate printed R-precision, MAP and MRR too."""
    out, printed = train_run
    base = ["evaluate", str(out / "model"), "--data", "digits", "--episodes", "5", "--shots", "1"]
    table = CliRunner().invoke(cli, base)
    as_json = CliRunner().invoke(cli, [*base, "--json"])
    assert table.exit_code == 0 and as_json.exit_code == 0, table.output + as_json.output
    evaluated = json.loads(as_json.stdout)["retrieval"]
    saved = json.loads((out / "metrics.json").read_text())["retrieval"]
    for name, key in (
        ("R-precision", "r_precision"),
        ("MAP (all ranks)", "mean_average_precision"),
        ("MRR", "mean_reciprocal_rank"),
    ):
        row = rf"^{re.escape(name)} +(\d\.\d{{4}})$"
        mine, theirs = re.search(row, printed, re.M), re.search(row, table.output, re.M)
        assert mine is not None, (name, printed)
        assert theirs is not None and mine.group(1) == theirs.group(1), name
        assert mine.group(1) == f"{evaluated[key]:.4f}", name
        assert saved[key] == pytest.approx(evaluated[key], abs=1e-6), name


def test_evaluate_clustering_adds_nmi_and_ami_only_when_asked(run_dir: Path) -> None:
    base = ["evaluate", str(run_dir / "model"), "--data", "digits", "--episodes", "5"]
    plain = CliRunner().invoke(cli, [*base, "--shots", "1", "--json"])
    asked = CliRunner().invoke(cli, [*base, "--shots", "1", "--json", "--clustering"])
    assert plain.exit_code == 0 and asked.exit_code == 0, plain.output + asked.output
    without, with_ = json.loads(plain.stdout)["retrieval"], json.loads(asked.stdout)["retrieval"]
    assert "nmi" not in without and "ami" not in without and "r_precision" in without
    assert 0.0 <= with_["nmi"] <= 1.0 and with_["ami"] <= 1.0
    table = CliRunner().invoke(cli, [*base, "--shots", "1", "--clustering"])
    assert table.exit_code == 0, table.output
    for line in ("P@1 ", "MAP@R ", "R-precision ", "MAP (all ranks) ", "MRR ", "NMI (k-means) "):
        assert line in table.output, line
    assert re.search(rf"AMI \(k-means\) +{with_['ami']:.4f}\n", table.output)


def test_evaluate_other_classes_and_table_output(run_dir: Path) -> None:
    res = CliRunner().invoke(
        cli,
        [
            "evaluate",
            str(run_dir / "model"),
            "--data",
            "digits",
            "--classes",
            "0,1,2",
            "--episodes",
            "10",
            "--shots",
            "1",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "3 classes (0, 1, 2) from digits" in res.output and "3-way 1-shot" in res.output


def test_embed_npy_and_parquet_match_the_model(run_dir: Path, tmp_path: Path) -> None:
    net = siamkit.load_model(run_dir / "model")
    x, _ = load_digits_dataset()
    with torch.no_grad():
        want = net.embed(x).numpy()
    out = tmp_path / "z.npy"
    # --device cpu: the reference is the CPU's; on a GPU cuDNN's TF32 convolutions move an
    # embedding by up to 2e-4 (BENCHMARKS.md, "The first GPU"), past this tolerance
    res = CliRunner().invoke(
        cli,
        ["embed", str(run_dir / "model"), "--data", "digits", "--out", str(out), "--device", "cpu"],
    )
    assert res.exit_code == 0, res.output
    assert np.allclose(np.load(out), want, atol=1e-5)
    assert len((tmp_path / "z.ids.txt").read_text().splitlines()) == len(x)
    pq = pytest.importorskip("pyarrow.parquet")
    pq_out = tmp_path / "z.parquet"
    res = CliRunner().invoke(
        cli,
        [
            "embed",
            str(run_dir / "model"),
            "--data",
            "digits",
            "--device",
            "cpu",
            "--out",
            str(pq_out),
        ],
    )
    assert res.exit_code == 0, res.output
    table = pq.read_table(tmp_path / "z.parquet")
    assert np.allclose(
        np.stack(table.column("embedding").to_numpy(zero_copy_only=False)), want, atol=1e-5
    )


def test_embed_image_files(run_dir: Path, tmp_path: Path) -> None:
    from PIL import Image

    for cls in ("a", "b"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(2):
            Image.fromarray((np.random.rand(8, 8) * 255).astype("uint8")).save(
                tmp_path / "imgs" / cls / f"{i}.png"
            )
    res = CliRunner().invoke(
        cli,
        ["embed", str(run_dir / "model"), str(tmp_path / "imgs"), "--out", str(tmp_path / "e.npy")],
    )
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "e.npy").shape == (4, 16)


def test_embed_writes_the_file_it_names(run_dir: Path, tmp_path: Path) -> None:
    """--out z.NPY was written as z.NPY.npy (numpy adds ".npy" to a name without it) while
    the command said "wrote z.NPY"; an --out of another kind leaves no new folder behind."""
    from PIL import Image

    Image.new("L", (8, 8)).save(tmp_path / "a.png")
    model, image = str(run_dir / "model"), str(tmp_path / "a.png")
    res = CliRunner().invoke(cli, ["embed", model, image, "--out", str(tmp_path / "z.NPY")])
    assert res.exit_code == 0, res.output
    assert np.load(tmp_path / "z.NPY").shape == (1, 16)
    assert not (tmp_path / "z.NPY.npy").exists() and (tmp_path / "z.ids.txt").is_file()
    res = CliRunner().invoke(cli, ["embed", model, image, "--out", str(tmp_path / "new" / "z.csv")])
    assert res.exit_code == 1 and ".npy or .parquet" in res.output
    assert not (tmp_path / "new").exists()


def test_embed_refuses_an_out_below_a_file_or_an_ids_file_that_is_a_folder(
    run_dir: Path, tmp_path: Path
) -> None:
    from PIL import Image

    model, image = str(run_dir / "model"), str(tmp_path / "a.png")
    Image.new("L", (8, 8)).save(image)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "z.ids.txt").mkdir()
    for out, named in (
        (tmp_path / "notes.txt" / "z.npy", "notes.txt is a file, not a folder; give a path"),
        (tmp_path / "z.npy", "z.ids.txt (the row ids of --out"),
    ):
        res = CliRunner().invoke(cli, ["embed", model, image, "--out", str(out)])
        assert res.exit_code == 1 and "Traceback" not in res.output, res.output
        assert named in res.output and not (tmp_path / "z.npy").exists()
    assert (tmp_path / "notes.txt").read_text() == "x"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--data", "digits"], "not both"),  # the images given were silently ignored
        (["--batch-size", "0"], "--batch-size"),  # was "batch_size must be positive"
    ],
)
def test_embed_refuses_inputs_it_would_ignore_and_a_batch_size_under_1(
    run_dir: Path, tmp_path: Path, extra: list[str], named: str
) -> None:
    from PIL import Image

    Image.new("L", (8, 8)).save(tmp_path / "a.png")
    out = tmp_path / "z.npy"
    res = CliRunner().invoke(
        cli, ["embed", str(run_dir / "model"), str(tmp_path / "a.png"), "--out", str(out), *extra]
    )
    assert res.exit_code == 2 and named in res.output, res.output
    assert not out.exists()


def test_bad_config_key_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("train:\n  epochz: 2\n")
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1
    assert "Error:" in res.output and "'epochz'" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("part", "named"),
    [
        ("model:\n  encoder: {kind: vgg}\n", ["model.encoder = 'vgg'", "convnet, mlp, resnet"]),
        (
            "optim:\n  optimizer: {kind: sgd, params: {lr: 0.1, betas: [0.9, 0.9]}}\n",
            ["optim.optimizer.params", "betas", "lr, weight_decay, momentum"],
        ),
        ("loss:\n  kind: triplet\n  miner: {kind: semihard, params: {margn: 1}}\n", ["margn"]),
    ],
)
def test_a_bad_kind_or_param_is_named_before_anything_is_written(
    tmp_path: Path, part: str, named: list[str]
) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(part)
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert all(n in res.output for n in named), res.output
    assert not (tmp_path / "o").exists()


def test_train_help_lists_every_registry_and_the_kind_params_form() -> None:
    from siamkit.index.factory import INDEXES
    from siamkit.miners.registry import MINERS

    out = " ".join(CliRunner().invoke(cli, ["train", "--help"]).output.split())
    assert "{kind: NAME, params: {...}}" in out
    for key in ("data.dataset", "model.encoder", "model.distance", "loss.kind", "loss.miner",
                "optim.optimizer", "optim.schedule", "index"):  # fmt: skip
        assert re.search(rf"\b{re.escape(key)}\b", out), key
    assert all(name in out for name in [*MINERS.names(), *INDEXES.names()])


def _own_folder_examples(lines: list[str]) -> set[str]:
    """The configs of the ``siamkit train ...`` lines that set data.root, each line's --set
    applied to its config: they must give an image folder (else the config's data set is read)."""
    import shlex

    import yaml

    from siamkit.applications.ssl.config import apply_ssl_overrides, ssl_config_from_dict
    from siamkit.training.config_io import load_config
    from siamkit.training.config_overrides import apply_overrides

    configs = set()
    for line in lines:
        if "siamkit train" not in line or "data.root=" not in line:
            continue
        tokens = shlex.split(line.split("siamkit train", 1)[1])
        config = ROOT / tokens[0]
        sets = [tokens[i + 1] for i, t in enumerate(tokens) if t == "--set"]
        doc = yaml.safe_load(config.read_text())
        if doc.pop("task", None) == "ssl":
            cfg = ssl_config_from_dict(apply_ssl_overrides(doc, sets))
            assert cfg.data.dataset == "image-folder", line
        else:
            assert apply_overrides(load_config(config), sets).data.dataset == "image-folder", line
        configs.add(tokens[0])
    return configs


def test_train_help_shows_how_to_train_on_a_folder_of_ones_own_images() -> None:
    """A user with a folder of photos guessed --set data.path=... from --help, which named no
    key for it (nor that data.dataset must change too, else configs/simclr.yaml read
    Fashion-MNIST); the help now says it, and its examples for a folder of classes and for
    task: ssl set keys each config takes."""
    text = CliRunner().invoke(cli, ["train", "--help"], terminal_width=200).output
    assert "--set data.dataset=image-folder --set data.root=FOLDER" in text
    assert _own_folder_examples(text.splitlines()) == {"configs/demo.yaml", "configs/simclr.yaml"}


@pytest.mark.parametrize("name", ["simclr.yaml", "finetune.yaml"])
def test_the_ssl_configs_show_how_to_use_ones_own_folder(name: str) -> None:
    """simclr.yaml's comment said only 'or image-folder with root: ...' and finetune.yaml's
    nothing: each now has a command for one's own folder, whose --set keys the config takes."""
    lines = (ROOT / "configs" / name).read_text().splitlines()
    assert _own_folder_examples([ln for ln in lines if ln.startswith("#")]) == {f"configs/{name}"}


@pytest.mark.parametrize("head", [b"", b"task: ssl\n"])
def test_a_config_not_in_utf8_is_one_sentence_naming_its_line(tmp_path: Path, head: bytes) -> None:
    cfg = tmp_path / "latin1.yaml"
    cfg.write_bytes(head + b"# caf\xe9\ntrain: {epochs: 1}\n")
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "o")])
    line = 2 if head else 1
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    at = f"offset {len(head) + 5}"
    assert f"{cfg} line {line}: byte 0xe9 at {at} is not UTF-8 text; save the file as UTF-8" in (
        res.output
    )
    assert "codec" not in res.output and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["train", "{configs}/digits-tiny.yaml", "--out", "{out}"],
        ["train", "{configs}/simclr.yaml", "--out", "{out}"],  # an application's task
        ["tune", "{configs}/digits-tiny.yaml", "--set", "data.val_classes=2", "--out", "{out}"],
        ["signature", "synth", "{out}", "--writers", "1"],
        ["face", "crop", "{src}", "{out}"],
    ],
)
def test_an_output_folder_below_a_file_is_one_sentence_before_any_work(
    tmp_path: Path, command: list[str]
) -> None:
    # each made its folder with mkdir and died in a NotADirectoryError traceback
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "src").mkdir()
    out = tmp_path / "notes.txt" / "run"
    configs = Path(__file__).resolve().parents[2] / "configs"
    args = [a.format(out=out, src=tmp_path / "src", configs=configs) for a in command]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code in (1, 2) and "Traceback" not in res.output, res.output
    assert f"{out} cannot be made because {tmp_path / 'notes.txt'} is a file" in res.output
    assert (tmp_path / "notes.txt").read_text() == "x"


def test_missing_files_are_clear_errors(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["train", str(tmp_path / "nope.yaml")])
    assert res.exit_code == 1 and "does not exist" in res.output
    res = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "no-model"), "--data", "digits"])
    assert res.exit_code == 1 and "no-model does not exist: give a model folder" in res.output
    res = CliRunner().invoke(cli, ["evaluate", str(tmp_path), "--data", "digits"])
    assert res.exit_code == 1 and "Error:" in res.output


@pytest.mark.skipif(fashion_mnist_dir() is None, reason="Fashion-MNIST files not installed")
def test_wrong_image_size_is_a_clear_error(run_dir: Path, tmp_path: Path) -> None:
    # the digits model takes 1x8x8 images; an image folder of 1x28x28 gets resized, but the
    # Fashion-MNIST tensors cannot be
    res = CliRunner().invoke(
        cli, ["evaluate", str(run_dir / "model"), "--data", "fashion-mnist", "--episodes", "5"]
    )
    assert res.exit_code == 1
    assert "28x28 images and this model takes 8x8" in res.output and "Traceback" not in res.output


def test_help_explains_the_commands() -> None:
    for cmd in ("train", "evaluate", "embed", "demo"):
        res = CliRunner().invoke(cli, [cmd, "--help"])
        assert res.exit_code == 0 and "Usage:" in res.output
    assert "--resume" in CliRunner().invoke(cli, ["train", "--help"]).output


def test_score_norm_run_saves_its_cohort_and_evaluate_reproduces_both_scorings(
    tmp_path: Path,
) -> None:
    out = tmp_path / "cohort-run"
    sets = ["eval.score_norm=csls", "eval.score_norm_k=10", "eval.cohort_size=150"]
    args = ["train", str(TINY), "--out", str(out), "--no-progress", "--episodes", "30"]
    res = CliRunner().invoke(cli, args + [a for s in sets for a in ("--set", s)])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["score_norm"] == {
        "method": "csls", "k": 10, "cohort": 150, "cohort_source": "training images",
        "calibration_cohort": "training images",
    }  # fmt: skip
    assert metrics["data"]["distance"] == "euclidean+csls"
    raw = metrics["ablation"]["raw"]
    assert raw["data"]["distance"] == "euclidean"
    assert raw["verification"]["eer"] != pytest.approx(metrics["verification"]["eer"])
    net = siamkit.load_model(out / "model")
    assert net.score_norm is not None and net.score_norm.cohort.shape == (150, 16)
    assert net.threshold == pytest.approx(metrics["calibration"]["threshold"])
    ev = ["evaluate", str(out / "model"), "--data", "digits", "--episodes", "30", "--json"]
    got = json.loads(CliRunner().invoke(cli, ev).output)
    assert got["verification"]["eer"] == pytest.approx(metrics["verification"]["eer"], abs=1e-6)
    assert got["calibration"]["threshold"] == pytest.approx(net.threshold)
    res = CliRunner().invoke(cli, [*ev, "--raw-distance"])
    got = json.loads(res.stdout)
    assert got["verification"]["eer"] == pytest.approx(raw["verification"]["eer"], abs=1e-6)
    assert "calibration" not in got  # the saved threshold belongs to the normalised scores


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["eval.score_norm=snorm", "eval.cohort=unlabeled"], "'digits' has none"),
        (["eval.score_norm=snorm", "eval.score_norm_k=1"], "eval.score_norm_k must be from 2"),
        (["eval.score_norm=zscore"], "eval.score_norm = 'zscore' is not valid"),
    ],
)
def test_bad_score_norm_settings_are_named(tmp_path: Path, sets: list[str], message: str) -> None:
    args = ["train", str(TINY), "--out", str(tmp_path / "o"), "--no-progress", "--episodes", "5"]
    res = CliRunner().invoke(cli, args + [a for s in sets for a in ("--set", s)])
    assert res.exit_code != 0 and message in res.output, res.output


def test_unusable_cohort_is_refused_before_training(tmp_path: Path) -> None:
    out = tmp_path / "o"
    sets = ["--set", "eval.score_norm=snorm", "--set", "eval.cohort=unlabeled"]
    res = CliRunner().invoke(cli, ["train", str(TINY), "--out", str(out), *sets])
    assert res.exit_code != 0 and "eval.cohort = unlabeled" in res.output
    assert not out.exists()  # refused by the config check: nothing trained, nothing written


def test_cohort_from_a_folder_of_unlabeled_images(tmp_path: Path) -> None:
    from PIL import Image

    images, labels = load_digits_dataset()
    folder = tmp_path / "cohort"
    unseen = torch.nonzero(labels >= 6).flatten()[:30]
    for n, i in enumerate(unseen.tolist()):
        sub = folder / ("a" if n % 2 else "b")  # sub-folder names are not labels here
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray((images[i, 0] * 255).round().byte().numpy()).save(sub / f"{n:03d}.png")
    out = tmp_path / "run"
    sets = [
        "eval.score_norm=snorm", "eval.cohort=unlabeled", f"eval.cohort_root={folder}",
        "eval.score_norm_k=5", "eval.cohort_size=100", "train.epochs=1",
    ]  # fmt: skip
    # --device cpu: the threshold is recomputed below on the CPU to 1e-5; trained on a GPU it
    # moved by 0.006 (TF32, amplified by the cohort normalisation)
    args = ["train", str(TINY), "--out", str(out), "--no-progress", "--episodes", "20"]
    args += ["--device", "cpu"]
    res = CliRunner().invoke(cli, args + [a for s in sets for a in ("--set", s)])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert (
        metrics["score_norm"]["cohort"] == 30
        and str(folder) in metrics["score_norm"]["cohort_source"]
    )
    net = siamkit.load_model(out / "model")
    files = sorted(folder.rglob("*.png"))
    x = torch.stack(
        [torch.from_numpy(np.array(Image.open(f), dtype=np.float32) / 255) for f in files]
    )
    with torch.no_grad():
        want = net.embed(x.unsqueeze(1))
    torch.testing.assert_close(net.score_norm.cohort, want, atol=1e-5, rtol=1e-4)

    # The threshold is fit on validation pairs scored against training images (their own kind),
    # not against the folder's images of other classes.
    from siamkit.distances import CohortNormalized
    from siamkit.evaluation.pairs import pair_distances
    from siamkit.evaluation.threshold import ThresholdCalibrator
    from siamkit.training import apply_overrides, load_config, load_run_data

    data = load_run_data(apply_overrides(load_config(TINY), sets).data)
    pick = torch.randperm(len(data.train_y), generator=torch.Generator().manual_seed(0))[:100]
    with torch.no_grad():
        zv, own = net.embed(data.val_x), net.embed(data.train_x[pick.sort().values])
    thresholds = [
        ThresholdCalibrator("eer").fit(*pair_distances(zv, data.val_y, dist)).threshold_
        for dist in (CohortNormalized("euclidean", own, k=5), net.score_norm)
    ]
    assert net.threshold == pytest.approx(thresholds[0], abs=1e-5)
    assert net.threshold != pytest.approx(thresholds[1], abs=1e-3)

    missing = ["--set", "eval.score_norm=snorm", "--set", "eval.cohort=unlabeled"]
    missing += ["--set", f"eval.cohort_root={tmp_path / 'nope'}"]
    res = CliRunner().invoke(cli, ["train", str(TINY), "--out", str(tmp_path / "o2"), *missing])
    assert res.exit_code != 0 and "is not a folder of images" in res.output
    assert not (tmp_path / "o2" / "checkpoint.pt").exists()  # refused before training


def test_training_again_into_a_run_is_refused_unless_overwrite(tmp_path: Path) -> None:
    """A second `train` into the same OUT without --resume used to replace the model (and so
    orphan any gallery enrolled with it) without a word."""
    out = tmp_path / "run"
    args = ["train", str(TINY), "--out", str(out), "--no-progress", "--episodes", "5"]
    args += ["--set", "train.epochs=1"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    weights = out / "model" / "model.safetensors"
    before = weights.read_bytes()
    res = CliRunner().invoke(cli, [*args, "--set", "train.seed=7"])
    assert res.exit_code == 2 and "already holds a run (checkpoint.pt, model)" in res.output
    assert "--resume" in res.output and "--overwrite" in res.output
    assert weights.read_bytes() == before  # nothing replaced
    res = CliRunner().invoke(cli, [*args, "--resume", "--overwrite"])
    assert res.exit_code == 2 and "pick one" in res.output
    res = CliRunner().invoke(cli, [*args, "--set", "train.seed=7", "--overwrite"])
    assert res.exit_code == 0, res.output
    assert weights.read_bytes() != before  # started again, with another seed


def test_a_onecycle_run_refuses_more_epochs_on_resume_and_changes_nothing(
    tmp_path: Path,
) -> None:
    """OneCycleLR keeps its length in the checkpoint: a resume with another train.epochs is
    refused before anything in OUT is written."""
    out = tmp_path / "run"
    args = ["train", str(TINY), "--out", str(out), "--no-progress", "--episodes", "5"]
    args += ["--set", "optim.schedule=onecycle", "--set", "train.steps_per_epoch=2"]
    res = CliRunner().invoke(cli, [*args, "--set", "train.epochs=1"])
    assert res.exit_code == 0, res.output
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    checkpoint_mtime = (out / "checkpoint.pt").stat().st_mtime_ns
    res = CliRunner().invoke(cli, [*args, "--set", "train.epochs=2", "--resume"])
    assert res.exit_code == 1
    assert res.output.strip() == (
        "Error: train.epochs cannot change on resume with optim.schedule = onecycle (its length "
        "is fixed)"
    )
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert "config.yaml" in before and "checkpoint.pt" in before
    assert (out / "checkpoint.pt").stat().st_mtime_ns == checkpoint_mtime


def test_evaluate_names_the_kind_of_a_model_it_cannot_take() -> None:
    """A tracker or a text model given to evaluate/embed gets the command that takes it (it was
    told evaluate takes "Siamese (shared-weight) models", which a text model is)."""
    from siamkit.cli._image_model import _other_kind

    tracker = ROOT / "src" / "siamkit" / "applications" / "tracking" / "pretrained" / "siamfc-small"
    res = CliRunner().invoke(cli, ["evaluate", str(tracker), "--data", "digits"])
    assert res.exit_code != 0 and "is a tracker" in res.output
    assert "siamkit evaluate-tracking" in res.output and "Traceback" not in res.output

    class TextModel:
        input_kind = "text"

    assert _other_kind(TextModel(), "embed").startswith("is a text model; embed takes image")
    assert "siamkit text similarity" in _other_kind(TextModel(), "embed")


@pytest.mark.parametrize("command", ["calibrate", "evaluate", "embed"])
def test_dlibs_face_model_is_refused_with_the_face_commands_to_use(
    tmp_path: Path, command: str
) -> None:
    """embed (evaluate, calibrate) said "... is a DlibFaceEncoder; embed takes Siamese image
    models ..." without naming what to use for faces: `siamkit face` is named."""
    pytest.importorskip("dlib")
    from siamkit.applications.faces import DlibFaceEncoder

    model = siamkit.save_model(DlibFaceEncoder(), tmp_path / "face")
    out = ["--out", str(tmp_path / "z.npy")] if command == "embed" else []
    res = CliRunner().invoke(cli, [command, str(model), "--data", "digits", *out])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert f"{model} is dlib's face model, which {command} does not take" in res.output
    assert "`siamkit face enroll`, `face verify` or `face identify` with --model" in res.output
    assert ("siamkit face evaluate --model" in res.output) == (command != "embed")
    assert not (tmp_path / "z.npy").exists()


@pytest.mark.parametrize("command", ["calibrate", "evaluate", "embed"])
def test_a_half_twin_model_is_refused_by_the_command_given_it(tmp_path: Path, command: str) -> None:
    """calibrate refused a half-twin model saying "evaluate and embed take Siamese image models"."""
    from siamkit.models import HalfTwinNetwork, Preprocess

    f = siamkit.encoders.create_encoder("mlp", in_features=12, hidden=[16])
    g = siamkit.encoders.create_encoder("mlp", in_features=5, hidden=[16])
    net = HalfTwinNetwork(f, g, embedding_dim=8, preprocess_f=Preprocess(input_shape=(12,)),
                          preprocess_g=Preprocess(input_shape=(5,)))  # fmt: skip
    model = siamkit.save_model(net, tmp_path / "ht")
    out = ["--out", str(tmp_path / "z.npy")] if command == "embed" else []
    res = CliRunner().invoke(cli, [command, str(model), "--data", "digits", *out])
    assert res.exit_code == 1
    # one sentence that says what to do instead (it named the class, "is a HalfTwinNetwork");
    # saved in Python, it has no run's task (s57_r7 finding 4)
    assert res.output.startswith(
        f"Error: {model} is a half-twin (two towers, saved without a training run), which "
        f"{command} does not"
    )
    assert len(res.output.strip().splitlines()) == 1


def test_overwrite_never_mixes_runs_and_a_failed_one_loses_nothing(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--overwrite moves the earlier run aside: a new run that fails (here after writing its
    config and a checkpoint) leaves the earlier run exactly as it was, and no folder behind."""
    import shutil

    import siamkit.experiment
    from siamkit.atomic import atomic_write

    out = tmp_path / "run"
    shutil.copytree(run_dir, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def failing_run(cfg, out_dir, **kw):  # type: ignore[no-untyped-def]
        # written as a run writes them (atomic_write records them as this process's own, which
        # is what a failed --overwrite removes: a user's file of the same name stays, e6e5cc1)
        atomic_write(out_dir / "config.yaml", "new: run\n")
        atomic_write(out_dir / "checkpoint.pt", b"half")
        raise ValueError("the new run's data is refused")

    monkeypatch.setattr(siamkit.experiment, "run_experiment", failing_run)
    res = CliRunner().invoke(cli, ["train", str(TINY), "--out", str(out), "--overwrite"])
    assert res.exit_code != 0 and "the new run's data is refused" in res.output
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_a_study_folder_is_not_a_run_folder(tmp_path: Path) -> None:
    (tmp_path / "study.db").write_bytes(b"")
    res = CliRunner().invoke(cli, ["train", str(TINY), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "holds a tuning study (study.db)" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.db"]


def test_evaluate_refuses_a_repeated_class_and_an_impossible_shot_count(run_dir: Path) -> None:
    """`--classes 6,6,7` ran a 2-way evaluation without a word; `--shots` beyond the images is
    named by its option, before any embedding."""
    model = str(run_dir / "model")
    res = CliRunner().invoke(cli, ["evaluate", model, "--data", "digits", "--classes", "6,6,7"])
    assert res.exit_code != 0 and "--classes names class 6 twice" in res.output
    res = CliRunner().invoke(
        cli, ["evaluate", model, "--data", "digits", "--classes", "6,7", "--shots", "1000"]
    )
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert "2-way 1,000-shot evaluation cannot be met" in res.output and "--shots" in res.output


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("--ways", "2,x", "whole numbers (the N of N-way"),
        ("--shots", "one", "whole numbers (the K of N-way"),
        ("--shots", "0", "each K of N-way K-shot must be at least 1"),
        ("--ways", "1", "each N of N-way K-shot must be at least 2"),
    ],
)
def test_evaluate_names_a_bad_ways_or_shots_by_its_option(
    run_dir: Path, option: str, value: str, said: str
) -> None:
    """A bad --ways or --shots was called "not a comma-separated list of class numbers" without
    naming the option, and --shots 0 failed with the library's "k_shot must be an integer"."""
    res = CliRunner().invoke(cli, ["evaluate", str(run_dir / "model"), "--data", "digits",
                                   option, value])  # fmt: skip
    assert res.exit_code == 2, res.output
    assert f"Invalid value for {option}" in res.output and said in res.output, res.output
    assert "class numbers" not in res.output


def test_calibrate_refuses_digits_images_the_model_trained_on(run_dir: Path) -> None:
    """digits have no test split: `calibrate --data digits` fit the threshold on the training
    images of a digits model and called them "digits (test split)"."""
    model = run_dir / "model"
    before = (model / "siamkit.json").read_text()
    res = CliRunner().invoke(cli, ["calibrate", str(model), "--data", "digits"])
    assert res.exit_code == 1 and "no test split" in res.output, res.output
    assert "Traceback" not in res.output
    assert (model / "siamkit.json").read_text() == before


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_zero_episodes_is_refused_not_replaced_by_the_default(run_dir: Path, command: str) -> None:
    target = str(TINY) if command == "train" else str(run_dir / "model")
    res = CliRunner().invoke(cli, [command, target, "--episodes", "0"])
    assert (
        res.exit_code == 2 and "--episodes" in res.output and "0 is not in the range" in res.output
    )


def test_overwrite_refuses_what_it_would_strand(run_dir: Path, tmp_path: Path) -> None:
    """--init-from a model inside OUT would be set aside before it is read; a set-aside folder
    left by a killed process is named instead of being buried under a second one."""
    import shutil

    out = tmp_path / "run"
    shutil.copytree(run_dir, out)
    args = ["train", str(TINY), "--out", str(out), "--overwrite"]
    res = CliRunner().invoke(cli, [*args, "--init-from", str(out / "model")])
    assert res.exit_code == 2 and "is inside" in res.output and "copy that model" in res.output
    (out / ".earlier-run-abc").mkdir()
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 2 and ".earlier-run-abc" in res.output and "was killed" in res.output
    assert (out / "model" / "model.safetensors").exists()  # nothing moved


FOLDER_RUN = """\
data: {dataset: image-folder, root: data/x, image_size: 28, grayscale: true, train_classes: 5,
       augmentation: none}
model: {encoder: convnet, encoder_kwargs: {widths: [8]}, embedding_dim: 8}
optim: {schedule: cosine}
train: {epochs: 1, steps_per_epoch: 1, classes_per_batch: 4, samples_per_class: 4, device: cpu,
        threads: 1}
eval: {episodes: 2}
"""


def test_resume_compares_data_root_by_folder_and_from_another_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """data.root was compared as text (./data/x was 'a different config' than data/x), and a
    resume from another working folder with the run's own config.yaml looked for its relative
    data.root there; a folder with other data is still refused."""
    from siamkit.data.synthetic_glyphs import write_glyph_folder

    project = tmp_path / "project"
    write_glyph_folder(project / "data" / "x", 7, per_class=6)
    (project / "run.yaml").write_text(FOLDER_RUN)
    monkeypatch.chdir(project)
    args = ["--out", "runs/a", "--no-progress", "--episodes", "2"]
    assert CliRunner().invoke(cli, ["train", "run.yaml", *args]).exit_code == 0
    sets = ["--set", "data.root=./data/x", "--set", "train.epochs=2", "--resume"]
    res = CliRunner().invoke(cli, ["train", "run.yaml", *args, *sets])
    assert res.exit_code == 0, res.output
    monkeypatch.chdir(tmp_path)  # another working folder: the run's own config, then its folder
    args = ["--out", "project/runs/a", "--no-progress", "--episodes", "2", "--resume"]
    res = CliRunner().invoke(
        cli, ["train", "project/runs/a/config.yaml", *args, "--set", "train.epochs=3"]
    )
    assert res.exit_code == 0, res.output
    sets = ["--set", f"data.root={project / 'data' / 'x'}", "--set", "train.epochs=4"]
    res = CliRunner().invoke(cli, ["train", "project/run.yaml", *args, *sets])
    assert res.exit_code == 0, res.output
    assert len(json.loads((project / "runs" / "a" / "history.json").read_text())) == 4
    write_glyph_folder(project / "data" / "y", 7, per_class=6, seed=1)
    sets = ["--set", "data.root=project/data/y", "--set", "train.epochs=5"]
    res = CliRunner().invoke(cli, ["train", "project/run.yaml", *args, *sets])
    assert res.exit_code == 1
    assert "the checkpoint was made with a different config (data.root)" in res.output


@pytest.mark.parametrize(
    ("given", "named"),
    [
        (["--data", "digits"], "--data digits has one set of images"),
        (["a.png"], "image files / folders have none"),
    ],
)
def test_embed_refuses_a_split_it_would_ignore(
    tmp_path: Path, given: list[str], named: str
) -> None:
    """--split was silently ignored for digits (whose rows were still named digits:train:i)
    and for image files; refused before the model is loaded."""
    from PIL import Image

    Image.new("L", (8, 8)).save(tmp_path / "a.png")
    given = [str(tmp_path / g) if g.endswith(".png") else g for g in given]
    out = tmp_path / "z.npy"
    res = CliRunner().invoke(
        cli, ["embed", str(tmp_path / "model"), *given, "--split", "train", "--out", str(out)]
    )
    assert res.exit_code == 2, res.output
    assert (
        f"Error: --split picks a split of --data fashion-mnist, and {named}: leave --split out"
        in (res.output)
    )
    assert not out.exists()


@pytest.mark.parametrize("command", ["evaluate", "embed"])
def test_built_in_data_of_another_size_names_the_models_own(
    run_dir: Path, tmp_path: Path, command: str
) -> None:
    """A digits (8x8) model given the default --data fashion-mnist said "resize them first",
    which a built-in data set cannot be; it names the data set the model trained on."""
    args = [command, str(run_dir / "model"), "--data", "fashion-mnist"]
    if command == "embed":
        args += ["--out", str(tmp_path / "z.npy")]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output
    assert (
        "--data fashion-mnist holds 28x28 images and this model takes 8x8 ones; it trained on "
        "digits: use --data digits"
    ) in res.output
    assert not (tmp_path / "z.npy").exists()


def test_evaluate_on_the_folder_of_a_run_on_every_class_scores_its_held_out_images(
    tmp_path: Path,
) -> None:
    """A run with data.train_classes: null (configs/faces-chips.yaml) tests on a held-out share
    of each class's images; `siamkit evaluate MODEL --data THAT_FOLDER` scored every image,
    those it trained on too, as "the classes the model did not train on"."""
    from siamkit.data.synthetic_glyphs import write_glyph_folder

    root = tmp_path / "chips"
    write_glyph_folder(root, 3, per_class=10)
    (tmp_path / "run.yaml").write_text(
        FOLDER_RUN.replace("data/x", str(root)).replace("train_classes: 5", "train_classes: null")
    )
    out = tmp_path / "run"
    sets = ["--set", "eval.shots=[1]", "--set", "train.classes_per_batch=3"]
    args = ["train", str(tmp_path / "run.yaml"), "--out", str(out), "--no-progress", *sets]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    args = ["evaluate", str(out / "model"), "--data", str(root), "--shots", "1", "--json"]
    res = CliRunner().invoke(cli, [*args, "--episodes", "2"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    want = json.loads((out / "metrics.json").read_text())
    assert got["data"]["n_items"] == want["data"]["n_items"] == 9  # 3 of each class's 10
    assert got["data"]["source"] == f"the folder {root} (the images the model held out of training)"
    assert got["verification"]["roc_auc"] == pytest.approx(want["verification"]["roc_auc"])


def test_embed_help_names_the_ids_file_it_writes(run_dir: Path, tmp_path: Path) -> None:
    """--help said .npy writes "OUT.ids.txt" (z.npy.ids.txt), where embed writes z.ids.txt: a
    user looking for the row ids by the help's name did not find them."""
    help_text = " ".join(CliRunner().invoke(cli, ["embed", "--help"]).output.split())
    assert "OUT.ids.txt" not in help_text and "z.npy: z.ids.txt" in help_text
    assert "z.ids.txt for z.npy" in help_text  # --force's
    res = CliRunner().invoke(
        cli, ["embed", str(run_dir / "model"), "--data", "digits", "--out", str(tmp_path / "z.npy")]
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["z.ids.txt", "z.npy"]
