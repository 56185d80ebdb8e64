"""siamkit demo: the quick-run options, outputs, summary table; the real recipe's target (slow)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import siamkit
from siamkit.cli.demo import PEER_BEST
from siamkit.cli.main import cli
from siamkit.data.fashion_mnist import fashion_mnist_dir

ROOT = Path(__file__).resolve().parents[2]
needs_fmnist = pytest.mark.skipif(
    fashion_mnist_dir() is None, reason="Fashion-MNIST files not installed"
)


def test_demo_with_a_tiny_config_writes_report_metrics_and_model(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = CliRunner().invoke(
        cli,
        [
            "demo",
            "--config",
            str(ROOT / "configs" / "digits-tiny.yaml"),
            "--out",
            str(out),
            "--episodes",
            "20",
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    for name in ("report.html", "metrics.json", "model/model.safetensors"):
        assert (out / name).is_file(), name
    assert str(out / "report.html") in res.output and str(out / "metrics.json") in res.output
    assert (
        "4-way 1-shot" in res.output and "best PML peer" not in res.output
    )  # not the default split
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["few_shot"]["4way1shot"]["episodes"] == 20
    assert siamkit.load_model(out / "model").threshold is not None
    # the summary's ranking rows are evaluate's (it stopped at MAP@R)
    ev = CliRunner().invoke(
        cli, ["evaluate", str(out / "model"), "--data", "digits", "--episodes", "5", "--json"]
    )
    assert ev.exit_code == 0, ev.output
    evaluated = json.loads(ev.stdout)["retrieval"]
    for name, key in (
        ("R-precision", "r_precision"),
        ("MAP (all ranks)", "mean_average_precision"),
        ("MRR", "mean_reciprocal_rank"),
    ):
        assert re.search(rf"^{re.escape(name)} +{evaluated[key]:.3f}$", res.output, re.M), name


def test_demo_with_appearance_features_reports_each_part_alone(tmp_path: Path) -> None:
    """The ablation in metrics.json, report.html and the printed summary; the appearance part is
    checked against HOG features computed and evaluated independently of the run."""
    import yaml

    from siamkit.data.builtin import load_digits_dataset
    from siamkit.evaluation import evaluate_embeddings
    from siamkit.heads.appearance import hog_features

    cfg = yaml.safe_load((ROOT / "configs" / "digits-tiny.yaml").read_text())
    cfg["model"]["appearance"] = {"weight": 1.0, "pool": 4, "features": "hog", "bins": 8}
    path = tmp_path / "skip.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "demo"
    res = CliRunner().invoke(
        cli, ["demo", "--config", str(path), "--out", str(out), "--episodes", "30", "--no-progress"]
    )
    assert res.exit_code == 0, res.output
    assert "appearance features alone (no training)" in res.output
    assert "learned embedding alone" in res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["ablation"]) == {"learned", "appearance"}
    html = (out / "report.html").read_text()
    assert "id='ablation'" in html and "appearance features alone" in html

    images, labels = load_digits_dataset()
    test = torch.isin(labels, torch.tensor([6, 7, 8, 9]))
    x, y = images[test], labels[test]
    ref = evaluate_embeddings(
        hog_features(x, bins=8, cell=4), y, "euclidean", few_shot=((4, 1), (4, 5)), episodes=30
    ).to_dict()
    got = metrics["ablation"]["appearance"]
    assert got["data"]["n_items"] == len(y)
    assert got["verification"]["eer"] == pytest.approx(ref["verification"]["eer"], abs=1e-6)
    assert got["few_shot"]["4way1shot"]["accuracy"] == pytest.approx(
        ref["few_shot"]["4way1shot"]["accuracy"], abs=1e-6
    )


def test_demo_cohort_option_turns_on_snorm_against_that_cohort() -> None:
    from siamkit.cli.demo import demo_config

    plain = demo_config(None, None, None, None, "cpu", None, None)
    assert plain.eval.score_norm == "none"
    for cohort in ("train", "unlabeled"):
        cfg = demo_config(None, None, None, None, "cpu", None, None, cohort)
        assert (cfg.eval.score_norm, cfg.eval.cohort) == ("snorm", cohort)
    res = CliRunner().invoke(cli, ["demo", "--cohort", "test"])
    assert res.exit_code == 2 and "'test' is not one of" in res.output


def test_demo_cohort_none_overrides_a_config_that_normalises(tmp_path: Path) -> None:
    # the help says 'none' keeps the raw distance; with a --config setting eval.score_norm it
    # was ignored, and left out the config's scoring stays
    from siamkit.cli.demo import demo_config

    cfg = tmp_path / "snorm.yaml"
    cfg.write_text("eval:\n  score_norm: snorm\n  cohort: train\n")
    assert demo_config(None, None, None, None, "cpu", None, str(cfg)).eval.score_norm == "snorm"
    raw = demo_config(None, None, None, None, "cpu", None, str(cfg), "none")
    assert raw.eval.score_norm == "none"


def test_bad_train_classes_are_clear_errors(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["demo", "--train-classes", "0,x", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "comma-separated" in res.output
    cfg = str(ROOT / "configs" / "digits-tiny.yaml")
    res = CliRunner().invoke(
        cli,
        ["demo", "--config", cfg, "--train-classes", "0,1,2,3,4,5,6,7,8,9", "--out", str(tmp_path)],
    )
    assert res.exit_code == 1 and "leave at least one class out" in res.output


@needs_fmnist
@pytest.mark.slow
def test_quick_fashion_mnist_demo(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = CliRunner().invoke(
        cli,
        [
            "demo",
            "--epochs",
            "1",
            "--limit",
            "1500",
            "--episodes",
            "50",
            "--train-classes",
            "0,1,2,3,4,5",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["n_items"] == 4000 and metrics["run"]["test_classes"] == [6, 7, 8, 9]
    assert metrics["few_shot"]["4way1shot"]["accuracy"] > 0.4  # well above chance (0.25)


def metrics_calibrated_on_training_images(out: Path) -> bool:
    norm = json.loads((out / "metrics.json").read_text())["score_norm"]
    return norm["calibration_cohort"] == "training images"


@needs_fmnist
@pytest.mark.slow
def test_quick_demo_with_an_unlabeled_cohort(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    args = ["demo", "--epochs", "1", "--limit", "1500", "--episodes", "50", "--out", str(out)]
    res = CliRunner().invoke(cli, [*args, "--cohort", "unlabeled", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "scored with snorm (k = 300) against 2000 unlabeled images of the test" in res.output
    assert metrics_calibrated_on_training_images(out)
    assert "same embedding, raw distance" in res.output  # the protocol as written, alongside
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["distance"] == "euclidean+snorm"
    assert metrics["ablation"]["raw"]["data"]["distance"] == "euclidean"
    net = siamkit.load_model(out / "model")
    assert net.score_norm is not None and net.score_norm.cohort.shape[0] == 2000


@needs_fmnist
@pytest.mark.slow
def test_default_demo_beats_the_peers_and_aims_at_the_target(tmp_path: Path) -> None:
    """The full default recipe on unseen classes 6-9: clearly better than the best PML recipe;
    the issue's target is 4-way 1-shot >= 0.80 and EER <= 0.15."""
    out = tmp_path / "demo"
    res = CliRunner().invoke(cli, ["demo", "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "best PML peer" in res.output and f"{PEER_BEST['1-shot']:.3f}" in res.output
    metrics = json.loads((out / "metrics.json").read_text())
    one_shot, eer = metrics["few_shot"]["4way1shot"]["accuracy"], metrics["verification"]["eer"]
    assert one_shot >= PEER_BEST["1-shot"] + 0.05 and eer <= PEER_BEST["EER"] - 0.03
    # The target (1-shot >= 0.80, EER <= 0.15) is tracked by benchmarks/bench_fmnist.py and
    # BENCHMARKS.md, not asserted here (seeds 0-2 gave 0.824-0.828 / 0.140-0.142).


@pytest.mark.parametrize("option", ["--epochs", "--limit", "--episodes"])
def test_counts_under_1_are_named_by_their_option_before_anything_runs(
    tmp_path: Path, option: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--episodes 0 trained for minutes then evaluated 1000 episodes (0 meant "the default");
    --epochs 0 / --limit 0 were blamed on train.epochs / data.limit."""
    import siamkit.experiment

    def no_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the demo ran")

    monkeypatch.setattr(siamkit.experiment, "run_experiment", no_run)
    out = tmp_path / "demo"
    res = CliRunner().invoke(cli, ["demo", option, "0", "--out", str(out)])
    assert res.exit_code == 2 and option in res.output, res.output
    assert not out.exists()


def test_peer_rows_without_a_figure_say_they_compare_nothing() -> None:
    """A split whose peers.json entry has no peer figure for TAR@FAR, R-precision, MAP (all ranks)
    or MRR (those transcribed before bench_fmnist.py measured them) showed "-" there with nothing
    saying why: the line under the table says the peer was
    not measured on them, so siamkit's value there is not a comparison."""
    from siamkit.cli.demo import summary

    metrics = {
        "few_shot": {"4way1shot": {"accuracy": 0.7}},
        "verification": {"eer": 0.1, "roc_auc": 0.9},
        "retrieval": {
            "precision_at_1": 0.9,
            "map_at_r": 0.5,
            "r_precision": 0.6,
            "mean_average_precision": 0.55,
            "mean_reciprocal_rank": 0.93,
        },
    }
    peers = {
        k: v for k, v in PEER_BEST.items() if k in ("1-shot", "EER", "ROC AUC", "P@1", "MAP@R")
    }
    lines = summary(metrics, peers).splitlines()
    assert re.fullmatch(r"MRR +0\.930 +-", lines[-2])
    assert lines[-1] == (
        '"-" under best PML peer: the benchmark did not measure the peer on TAR@FAR=1e-3, '
        "R-precision, MAP (all ranks), MRR; those rows are siamkit's alone, not a comparison."
    )
    # every row measured: no such line; no peer at all: no peer column and no line
    full = {**peers, "TAR@FAR=1e-3": 0.1, "R-precision": 0.5, "MAP (all ranks)": 0.5, "MRR": 0.9}
    assert not summary(metrics, full).splitlines()[-1].startswith('"-"')
    assert "best PML peer" not in summary(metrics, {})


@pytest.mark.parametrize("peers", [{}, PEER_BEST])
def test_an_unmeasured_tar_at_far_is_explained_under_the_summary(peers: dict) -> None:
    """With too few impostor pairs (a small run) the demo's TAR@FAR row showed "-" with nothing
    saying why, where evaluate and train print unresolved_far_note under their table: the demo
    prints the same line under its own, peer column or not."""
    from siamkit.cli.demo import summary

    metrics = {
        "few_shot": {"4way1shot": {"accuracy": 0.7}},
        "verification": {
            "eer": 0.1,
            "roc_auc": 0.9,
            "n_impostor": 500,
            "tar_at_far": {"0.01": 0.2, "0.001": 0.05},
        },
        "retrieval": {"precision_at_1": 0.9, "map_at_r": 0.5, "mean_reciprocal_rank": 0.93},
    }
    lines = summary(metrics, peers).splitlines()
    assert re.fullmatch(r"TAR@FAR=1e-3 +-( +.*)?", next(x for x in lines if "TAR@FAR" in x))
    at = next(i for i, x in enumerate(lines) if x.startswith("MRR "))
    assert lines[at + 1] == (
        "TAR@FAR=1e-3: not measured. A false-accept rate of f needs at least 1/f impostor pairs "
        "(1,000 for 1e-3), and these are 500; the JSON keeps the value."
    )
    # enough impostor pairs: no such line
    metrics["verification"]["n_impostor"] = 5000
    assert "not measured." not in summary(metrics, peers)
