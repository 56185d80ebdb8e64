"""A tiny tracker trained for a few steps follows a square; resume is exact; the train task runs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import siamkit
from siamkit.applications.tracking.metrics import iou
from siamkit.applications.tracking.model import SiamFCNet
from siamkit.applications.tracking.pairs import SequencePairs
from siamkit.applications.tracking.tracker import SiamFCTracker, check_box
from siamkit.applications.tracking.train import SiamFCPairBatches, TrainSettings, train_siamfc
from siamkit.cli.main import cli
from siamkit.data.synthetic_tracking import linear_square_sequence
from siamkit.training.batch_source import epoch_steps

FAST = TrainSettings(steps=30, batch_size=4, lr=3e-3, final_lr=1e-3, threads=1, checkpoint_every=10)


def test_tiny_tracker_follows_a_square_in_a_straight_line() -> None:
    torch.manual_seed(0)
    synthetic = linear_square_sequence(n_frames=20, velocity=(5.0, 2.0))
    net = SiamFCNet("tiny")
    result = train_siamfc(net, SequencePairs([synthetic], max_gap=19), FAST)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    seq = synthetic.to_sequence()
    boxes = np.stack([r.box for r in SiamFCTracker(net).track(seq.frames, seq.boxes[0])])  # type: ignore[arg-type]
    overlaps = iou(boxes, seq.boxes)
    assert overlaps.min() > 0.5, overlaps.round(2)
    # it really moved with the square (95 px), rather than staying where it started
    assert np.linalg.norm(boxes[-1, :2] - boxes[0, :2]) > 50


def test_resume_continues_exactly(tmp_path: Path) -> None:
    source = SequencePairs([linear_square_sequence(n_frames=10)], max_gap=5)
    s4 = TrainSettings(steps=4, batch_size=2, threads=1, checkpoint_every=2)
    torch.manual_seed(0)
    a = SiamFCNet("tiny")
    ra = train_siamfc(a, source, s4)
    torch.manual_seed(0)
    b = SiamFCNet("tiny")
    stopped = train_siamfc(b, source, replace(s4, max_minutes=1e-9), tmp_path / "ck.pt")
    assert len(stopped.history) == 1 and stopped.stopped_early  # stopped after the first epoch
    c = SiamFCNet("tiny")
    rc = train_siamfc(c, source, s4, tmp_path / "ck.pt", resume=True)
    assert [h["loss"] for h in rc.history] == pytest.approx([h["loss"] for h in ra.history])
    for (k, va), vc in zip(a.state_dict().items(), c.state_dict().values()):
        torch.testing.assert_close(va, vc, msg=k)


def test_a_time_limited_stop_names_the_step_not_the_epoch(tmp_path: Path) -> None:
    """train.steps counts steps, so the max_minutes stop says which step it stopped after (an
    epoch is checkpoint_every steps), also when a resumed run stops again."""
    source = SequencePairs([linear_square_sequence(n_frames=10)], max_gap=5)
    s = TrainSettings(
        steps=5, batch_size=2, threads=1, checkpoint_every=2, max_minutes=1e-9, device="cpu"
    )
    logs: list[str] = []
    train_siamfc(SiamFCNet("tiny"), source, s, tmp_path / "ck.pt", log=logs.append)
    train_siamfc(SiamFCNet("tiny"), source, s, tmp_path / "ck.pt", resume=True, log=logs.append)
    stops = [line for line in logs if line.startswith("stopped")]
    assert stops == [
        "stopped after step 2 of 5 (train.max_minutes=1e-09); --resume continues",
        "stopped after step 4 of 5 (train.max_minutes=1e-09); --resume continues",
    ]


def test_a_time_limited_stop_is_logged_after_its_epochs_loss(tmp_path: Path) -> None:
    """The stop line came before the loss line of the epoch it stopped after."""
    cfg = tmp_path / "siamfc.yaml"
    cfg.write_text(
        "task: siamfc\nmodel: {backbone: tiny}\n"
        "data: {frame_size: [160, 120], n_frames: 20}\n"
        "train: {steps: 2, batch_size: 2, threads: 1, checkpoint_every: 1, max_minutes: 1.0e-9}\n"
        "eval: {n_sequences: 1, n_frames: 5, frame_size: [160, 120]}\n"
    )
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    lines = [line for line in res.output.splitlines() if line.startswith(("step ", "stopped"))]
    assert lines[0].startswith("step 1: loss ")
    assert lines[1].startswith("stopped after step 1 of 2 ")
    assert len(lines) == 2


@pytest.mark.parametrize(
    ("box", "match"),
    [
        ((10, 10, 0, 5), "zero area"),
        ((400, 10, 5, 5), "outside"),
        ((1, 2, 3), "four finite numbers"),
    ],
)
def test_bad_boxes(box: tuple[float, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_box(box, (240, 320, 3))


def test_train_task_writes_a_loadable_tracker(tmp_path: Path) -> None:
    cfg = tmp_path / "siamfc.yaml"
    cfg.write_text(
        "task: siamfc\nmodel: {backbone: tiny}\n"
        "data: {frame_size: [160, 120], n_frames: 20}\n"
        "train: {steps: 2, batch_size: 2, threads: 1}\n"
        "eval: {n_sequences: 1, n_frames: 5, frame_size: [160, 120]}\n"
    )
    res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    model = siamkit.load_model(tmp_path / "run" / "model")
    assert isinstance(model, SiamFCNet) and model.backbone_name == "tiny"
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["train.steps"] == 2  # train.steps, not rounded up to train.checkpoint_every
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: siamfc\ndata: {frames: 3}\n")
    res = CliRunner().invoke(cli, ["train", str(bad), "--out", str(tmp_path / "r2")])
    assert res.exit_code != 0 and "unknown key 'frames' in section 'data'" in res.output


def test_the_written_config_trains_the_task_again(tmp_path: Path) -> None:
    """OUT/config.yaml holds task: siamfc (and the run's plug-ins), as every task's does, so
    `siamkit train OUT/config.yaml` trains a tracker again; without the line it was read as an
    image run's config and refused."""
    import yaml

    cfg = tmp_path / "siamfc.yaml"
    cfg.write_text(
        "task: siamfc\nmodel: {backbone: tiny}\n"
        "data: {frame_size: [160, 120], n_frames: 20}\n"
        "train: {steps: 1, batch_size: 2, threads: 1}\n"
        "eval: {n_sequences: 1, n_frames: 5, frame_size: [160, 120]}\n"
    )
    args = ["--plugin", "json", "train", str(cfg), "--out", str(tmp_path / "run")]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    written = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert list(written)[:2] == ["plugins", "task"]
    assert written["task"] == "siamfc" and written["plugins"] == ["json"]
    again = ["train", str(tmp_path / "run" / "config.yaml"), "--out", str(tmp_path / "again")]
    res = CliRunner().invoke(cli, again)
    assert res.exit_code == 0, res.output
    assert isinstance(siamkit.load_model(tmp_path / "again" / "model"), SiamFCNet)
    assert yaml.safe_load((tmp_path / "again" / "config.yaml").read_text()) == written


def test_pair_batches_say_each_epochs_length_without_changing() -> None:
    """train.steps=5 in epochs of 2: the trainer is told 2, 2, 1 and the source stays as it was."""
    settings = replace(FAST, steps=5, checkpoint_every=2, batch_size=2)
    pairs = SequencePairs([linear_square_sequence(n_frames=10)], max_gap=5)
    batches = SiamFCPairBatches(pairs, SiamFCNet("tiny"), settings)
    assert [epoch_steps(batches, e) for e in range(3)] == [2, 2, 1]
    assert len(list(batches.epoch(2))) == 1
    assert batches.steps == 2  # a full epoch's, whichever epoch was asked for last
    assert [epoch_steps(batches, e) for e in range(3)] == [2, 2, 1]


def test_shipped_siamfc_config_resolves() -> None:
    import yaml

    from siamkit.applications.tracking.model import TrackerParams
    from siamkit.applications.tracking.task import resolve_config

    doc = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "configs" / "siamfc.yaml").read_text()
    )
    assert doc.pop("task") == "siamfc"
    cfg = resolve_config(doc)
    assert cfg["model"]["backbone"] == "small"
    assert TrackerParams.from_dict(cfg["tracker"]).window_influence == 0.40
    assert TrainSettings(**cfg["train"]).steps == 1200


@pytest.mark.parametrize(
    ("doc", "overrides", "match"),
    [
        (
            {"train": {"steps": "ten"}},
            (),
            r"train\.steps must be int, got 'ten'",
        ),  # was a TypeError
        ({"train": {"lr": True}}, (), r"train\.lr must be float, got True"),  # was trained on
        ({"train": {"lr": 0}}, (), r"train\.lr and train\.final_lr must be positive"),
        ({}, ("train.lr=.nan",), r"train\.lr must be a number, got NaN"),
        ({"eval": {"split": "vall"}}, (), r"eval\.split must be one of train, val, test"),
        ({}, ("trian.steps=3",), r"unknown section 'trian' in --set"),  # was ignored
    ],
)
def test_config_mistakes_are_refused_naming_the_key(
    doc: dict, overrides: tuple[str, ...], match: str
) -> None:
    from siamkit.applications.tracking.task import resolve_config

    with pytest.raises(ValueError, match=match):
        resolve_config(doc, overrides)


@pytest.mark.parametrize(
    ("doc", "overrides", "match"),
    [
        ({"data": {"n_frames": "ten"}}, (), r"^data\.n_frames must be int, got 'ten'$"),
        ({}, ("eval.n_sequences=true",), r"^eval\.n_sequences must be int, got True$"),
        ({"eval": {"seed": 1.5}}, (), r"^eval\.seed must be int, got 1\.5$"),
        ({"eval": {"frame_size": [160, "x"]}}, (), r"^eval\.frame_size\[1\] must be int"),
        ({"data": {"frame_size": 160}}, (), r"^data\.frame_size must be a list of int, got 160$"),
        ({"data": {"root": 7}}, (), r"^data\.root must be str, got 7$"),
        ({"model": {"backbone": ["tiny"]}}, (), r"^model\.backbone must be str, got \['tiny'\]$"),
        ({"model": {"backbone_kwargs": 3}}, (), r"^model\.backbone_kwargs must be a mapping"),
    ],
)
def test_model_data_eval_values_of_the_wrong_type_are_refused(
    doc: dict, overrides: tuple[str, ...], match: str, tmp_path: Path
) -> None:
    """They were passed on unchecked, to crash later (eval's after the whole training) or, as
    true, be read as 1; the one sentence names section.key, the value and the type, and nothing
    is written."""
    from siamkit.applications.tracking.task import resolve_config
    from siamkit.training.tasks import TaskOptions, get_task

    tiny = {k: {**RUN[k], **doc.get(k, {})} for k in RUN}  # were it trained: a tiny run
    with pytest.raises(ValueError, match=match):
        resolve_config(tiny, overrides)
    with pytest.raises(ValueError, match=match):
        get_task("siamfc")(tiny, tmp_path / "run", TaskOptions(progress=False, overrides=overrides))
    assert not (tmp_path / "run").exists()


def test_model_data_eval_values_of_the_right_type_are_kept() -> None:
    from siamkit.applications.tracking.task import resolve_config

    cfg = resolve_config(
        {"data": {"root": "seqs", "n_frames": 20}, "model": {"backbone_kwargs": {"widths": [8]}}}
    )
    assert cfg["data"]["root"] == "seqs" and cfg["data"]["n_frames"] == 20
    assert cfg["data"]["frame_size"] == [384, 288] and cfg["model"]["init_from"] is None
    assert cfg["model"]["backbone_kwargs"] == {"widths": [8]}


@pytest.mark.parametrize(
    ("doc", "overrides", "message"),
    [
        (
            {"data": {"colour": 3}},
            (),
            "unknown key 'colour' in section 'data'; valid keys: root, split, n_frames, "
            "frame_size, max_gap",
        ),
        (
            {"eval": {"n_sequence": 3}},
            (),
            "unknown key 'n_sequence' in section 'eval' (did you mean 'n_sequences'?); valid "
            "keys: split, n_sequences, n_frames, frame_size, seed",
        ),
        (
            {},
            ("model.backbon=tiny",),
            "unknown key 'backbon' in section 'model' (did you mean 'backbone'?); valid keys: "
            "backbone, backbone_kwargs, init_from",
        ),
        (
            {"tracker": {"scale_nums": 3}},
            (),
            "unknown tracker parameter scale_nums (did you mean 'scale_num'?); valid keys: "
            "exemplar_size, instance_size, "
            "context, scale_num, scale_step, scale_penalty, scale_lr, window_influence, "
            "response_up, template_lr",
        ),
        (
            {"modle": {}},
            (),
            "unknown section 'modle' in a siamfc config (did you mean 'model'?); valid "
            "sections: model, tracker, data, train, eval",
        ),
        (
            {},
            ("trian.steps=3",),
            "unknown section 'trian' in --set 'trian.steps=3' (did you mean 'train'?); valid "
            "sections: model, tracker, data, train, eval",
        ),
    ],
)
def test_unknown_keys_and_sections_are_named_with_the_valid_ones(
    doc: dict, overrides: tuple[str, ...], message: str
) -> None:
    """In the image config's words ("valid keys:" / "valid sections:"), not "known:"."""
    from siamkit.applications.tracking.task import resolve_config

    with pytest.raises(ValueError) as caught:
        resolve_config(doc, overrides)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("tracker", "message"),
    [
        ({"scale_num": "3"}, "tracker.scale_num must be int, got '3'"),
        ({"scale_num": 3.0}, "tracker.scale_num must be int, got 3.0"),
        ({"context": "wide"}, "tracker.context must be float, got 'wide'"),
        ({"template_lr": True}, "tracker.template_lr must be float, got True"),
        ({"scale_penalty": 0}, "scale_penalty must be in (0, 1] and scale_lr in [0, 1]"),
        ({"response_up": 0}, "exemplar_size and response_up must be >= 1"),
    ],
)
def test_tracker_values_of_the_wrong_type_are_named_before_tracking(
    tracker: dict, message: str
) -> None:
    """A YAML "3" for scale_num crashed deep inside tracking, frames later; the other sections'
    values are checked when the config is read, and now the tracker's are too."""
    from siamkit.applications.tracking.task import resolve_config

    with pytest.raises(ValueError) as caught:
        resolve_config({"tracker": tracker}, ())
    assert str(caught.value) == message
    resolve_config({"tracker": {"context": 1, "scale_num": 5}}, ())  # an int where a float is


class _Counting:
    def __init__(self, source: SequencePairs) -> None:
        self.source, self.calls = source, 0

    def sample(self, rng: np.random.Generator) -> object:
        self.calls += 1
        return self.source.sample(rng)


def test_trains_exactly_train_steps_when_not_a_multiple_of_checkpoint_every() -> None:
    from siamkit.applications.tracking.train import steps_done

    source = _Counting(SequencePairs([linear_square_sequence(n_frames=6)], max_gap=3))
    s = TrainSettings(steps=5, batch_size=1, threads=1, checkpoint_every=3)
    logged: list[str] = []
    result = train_siamfc(SiamFCNet("tiny"), source, s, log=logged.append)  # type: ignore[arg-type]
    assert source.calls == 5  # one pair per step: 3 + 2, not 3 + 3
    assert len(result.history) == 2 and steps_done(s, len(result.history)) == 5
    assert logged[-1].startswith("step 5:")


def test_a_corrupt_training_frame_is_one_sentence_and_leaves_no_run_folder(tmp_path: Path) -> None:
    seq = tmp_path / "data" / "seq"
    seq.mkdir(parents=True)
    for i in range(1, 4):  # every frame corrupt: the first pair fails
        (seq / f"{i:08d}.jpg").write_bytes(b"garbage")
    (seq / "groundtruth.txt").write_text("10,10,20,20\n" * 3)
    cfg = tmp_path / "siamfc.yaml"
    cfg.write_text(
        "task: siamfc\nmodel: {backbone: tiny}\ntrain: {steps: 2, batch_size: 1, threads: 1}\n"
    )
    out = tmp_path / "runs" / "x"
    res = CliRunner().invoke(
        cli, ["train", str(cfg), "--out", str(out), "--set", f"data.root={tmp_path / 'data'}"]
    )
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "Error: cannot read the frame " in res.output and f"{seq}/0000000" in res.output
    assert not out.exists()  # no config.yaml of a run that trained nothing


@pytest.mark.parametrize("root", ["missing", "a-file.txt"])
def test_a_data_root_that_is_no_folder_names_data_root(tmp_path: Path, root: str) -> None:
    """data.root naming no folder said 'no sequence folder at X', not which setting was wrong."""
    (tmp_path / "a-file.txt").write_text("not sequences\n")
    cfg = tmp_path / "siamfc.yaml"
    cfg.write_text("task: siamfc\nmodel: {backbone: tiny}\ntrain: {steps: 2, threads: 1}\n")
    out = tmp_path / "runs" / "x"
    where = tmp_path / root
    res = CliRunner().invoke(
        cli, ["train", str(cfg), "--out", str(out), "--set", f"data.root={where}"]
    )
    assert res.exit_code == 1 and res.output.strip() == (
        f"Error: data.root {where} is not a folder; set it to a folder of GOT-10k or OTB "
        "sequences, or to null for synthetic pairs"
    )
    assert not out.exists()


def test_box_errors_show_plain_numbers() -> None:
    with pytest.raises(ValueError) as err:
        check_box((10.0, 10.0, 50.0, float("nan")), (240, 320, 3))
    assert "[10.0, 10.0, 50.0, nan]" in str(err.value) and "np.float64" not in str(err.value)
    with pytest.raises(ValueError, match="negative width or height"):
        check_box((10, 10, -5, 5), (240, 320, 3))


@pytest.mark.parametrize(
    ("box", "match"),
    [
        ((10, 10, 1e30, 80), r"larger than the 320x240 frame: .* w at most 320 and h at most 240$"),
        (
            (300, 200, 100, 70),
            r"mostly outside the 320x240 frame: .* \(x from 0 to 320, y from 0 to 240\)$",
        ),
    ],
)
def test_absurd_first_boxes_are_refused(box: tuple[float, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_box(box, (240, 320, 3))
    check_box((0, 0, 320, 240), (240, 320, 3))  # the whole frame is a box


class _Scaling:
    """A stand-in network whose response always peaks at scale ``best`` (0: smallest)."""

    def __init__(self, best: int) -> None:
        from siamkit.applications.tracking.params import TrackerParams

        self.params, self.total_stride, self.best = TrackerParams(), 8, best

    def embed_numpy(self, crops: np.ndarray) -> np.ndarray:
        return np.zeros((len(crops), 1, 1, 1), np.float32)

    def response_numpy(self, kernel: np.ndarray, feats: np.ndarray) -> np.ndarray:
        out = np.zeros((len(feats), 17, 17), np.float32)
        out[self.best, 8, 8] = 10.0
        return out


@pytest.mark.parametrize(
    ("best", "box"), [(2, (100, 100, 40, 20)), (2, (0, 0, 320, 240)), (0, (100, 100, 40, 20))]
)
def test_tracked_box_size_stays_within_the_scale_limits_and_the_frame(
    best: int, box: tuple[float, ...]
) -> None:
    tracker = SiamFCTracker(_Scaling(best))  # type: ignore[arg-type]
    frame = np.zeros((240, 320, 3), np.uint8)
    tracker.init(frame, box)
    for _ in range(200):
        result = tracker.update(frame)
    w, h = result.box[2:]
    want = min(5.0, 320 / box[2], 240 / box[3]) if best == 2 else 0.2
    assert w == pytest.approx(box[2] * want) and h == pytest.approx(box[3] * want)
    assert tracker.x_side == pytest.approx(tracker.x_side0 * want)  # the search area follows


RUN: dict = {
    "model": {"backbone": "tiny"},
    "data": {"frame_size": [160, 120], "n_frames": 20},
    "train": {"steps": 2, "batch_size": 2, "threads": 1, "checkpoint_every": 1},
    "eval": {"n_sequences": 1, "n_frames": 5, "frame_size": [160, 120]},
}


def test_a_resume_refuses_another_config_naming_the_key(tmp_path: Path) -> None:
    """It was accepted silently (another backbone, learning rate, data ...). What only the
    validation after training, tracking or the session reads may change; a checkpoint from
    before the config was recorded resumes without a check."""
    from siamkit.training.checkpoint import load_checkpoint, save_checkpoint
    from siamkit.training.tasks import TaskOptions, get_task

    run = get_task("siamfc")
    cut = {**RUN, "train": {**RUN["train"], "max_minutes": 1e-9}}  # stops after step 1 of 2
    out = tmp_path / "run"
    run(cut, out, TaskOptions(progress=False))
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    resume = TaskOptions(progress=False, resume=True)
    for change, key in [
        ("model.backbone=small", "model.backbone"),
        ("train.lr=0.01", "train.lr"),
        ("train.steps=4", "train.steps"),  # the learning rate decays over them
        ("data.max_gap=10", "data.max_gap"),
        ("tracker.context=0.4", "tracker.context"),  # training crops with it
    ]:
        with pytest.raises(ValueError, match=rf"different config \({key}\); resume with the same"):
            run(RUN, out, replace(resume, overrides=(change,)))
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    may = ("eval.seed=3", "tracker.window_influence=0.3")  # and train.max_minutes (cut's)
    assert run(RUN, out, replace(resume, overrides=may)).metrics["train.steps"] == 2
    old = tmp_path / "old"
    run(cut, old, TaskOptions(progress=False))
    state = load_checkpoint(old / "checkpoint.pt")
    del state["config"]  # as written before the tracker's checkpoint recorded its config
    save_checkpoint(state, old / "checkpoint.pt")
    assert run(RUN, old, replace(resume, overrides=("train.lr=0.01",))).metrics["train.steps"] == 2


def test_the_train_task_is_reproducible_by_train_seed(tmp_path: Path) -> None:
    """Two `siamkit train` runs of one tracker config (train.seed 0) end with the same weights,
    whatever the process's torch RNG was before; the network's initial weights were drawn
    unseeded, so no two runs (and no resume against an uninterrupted run) could be compared."""
    cfg = tmp_path / "siamfc.yaml"
    cfg.write_text(
        "task: siamfc\nmodel: {backbone: tiny}\n"
        "data: {frame_size: [160, 120], n_frames: 20}\n"
        "train: {steps: 1, batch_size: 2, threads: 1, seed: 0}\n"
        "eval: {n_sequences: 1, n_frames: 5, frame_size: [160, 120]}\n"
    )
    weights = []
    for run, rng_before in (("a", 1), ("b", 2)):
        torch.manual_seed(rng_before)  # another state of the global RNG, as another process has
        res = CliRunner().invoke(cli, ["train", str(cfg), "--out", str(tmp_path / run)])
        assert res.exit_code == 0, res.output
        weights.append(siamkit.load_model(tmp_path / run / "model").state_dict())
    assert weights[0].keys() == weights[1].keys()
    for name, value in weights[0].items():
        assert torch.equal(value, weights[1][name]), name
