"""siamkit tune: an Optuna study scored on validation classes, pruned per epoch, resumable."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
import yaml
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.losses.registry import LOSSES
from siamkit.training import apply_overrides, load_config
from siamkit.training.objectives import build_objective
from siamkit.tuning import SearchSpace, load_space, run_study
from siamkit.tuning import results as results_mod
from siamkit.tuning import search as search_mod
from siamkit.tuning import study as study_mod

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"
SPACE = {
    "optim.lr": {"float": [1e-3, 1e-2], "log": True},
    "model.embedding_dim": {"choice": [8, 16]},
}


@pytest.fixture
def base():
    return apply_overrides(
        load_config(TINY), ["data.val_classes=[4, 5]", "train.epochs=2", "train.steps_per_epoch=2"]
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_study_trains_scores_on_val_classes_and_resumes(base, tmp_path: Path) -> None:
    space = SearchSpace.from_dict(SPACE)
    first = run_study(base, space, tmp_path, n_trials=2, progress=False)
    assert first.complete == 2 and first.best_config is not None
    best = load_config(first.best_config)
    assert best.data.val_classes == (4, 5)
    assert best.optim.lr == pytest.approx(first.best_params["optim.lr"])
    assert best.model.embedding_dim == first.best_params["model.embedding_dim"]
    rows = _rows(tmp_path / "trials.csv")
    assert [r["epochs"] for r in rows] == ["2", "2"]  # every epoch reported to the pruner
    values = [float(r["value"]) for r in rows]
    assert first.best_value == max(values) and all(0.0 <= v <= 1.0 for v in values)
    # a second call with more trials continues the same study
    again = run_study(base, space, tmp_path, n_trials=3, progress=False)
    assert again.complete == 3 and len(_rows(tmp_path / "trials.csv")) == 3


def test_a_different_config_does_not_continue_a_study(base, tmp_path: Path) -> None:
    space = SearchSpace.from_dict(SPACE)
    run_study(base, space, tmp_path, n_trials=1, progress=False)
    other = apply_overrides(base, ["loss.margin=0.3"])
    with pytest.raises(ValueError) as err:
        run_study(other, space, tmp_path, n_trials=2, progress=False)
    assert str(err.value) == (
        f"{tmp_path / 'study.db'} holds a study of a different config (loss.margin): give a new "
        "--out to start a fresh study, or the config, --set values and --space it was started "
        "with to continue it"
    )
    # named as --resume names them (config_diff): to any depth, in the config's order
    several = apply_overrides(
        base, ["optim.lr=0.01", "loss.margin=0.3", "model.encoder_kwargs.widths=[8, 32]"]
    )
    with pytest.raises(ValueError, match=r"study of a different config \(model.encoder_kwargs."
                       r"widths, loss.margin, optim.lr\): give a new --out"):  # fmt: skip
        run_study(several, space, tmp_path, n_trials=2, progress=False)
    # both differ: both named, each with its keys
    wider = SearchSpace.from_dict({**SPACE, "model.embedding_dim": {"choice": [8, 32]}})
    with pytest.raises(ValueError, match=r"study of a different config \(loss.margin\) and a "
                       r"different space \(model.embedding_dim\): give a new --out"):  # fmt: skip
        run_study(other, wider, tmp_path, n_trials=2, progress=False)


class Outcome:
    def __init__(self, history: list[dict[str, Any]]) -> None:
        self.history, self.best_metric = history, None


class FakeTrainer:
    """Reports a metric equal to the trial's learning rate each epoch (no training)."""

    def __init__(self, net: Any, cfg: Any, validate: Any) -> None:
        self.cfg, self.validate, self.net = cfg, validate, net

    @classmethod
    def from_config(cls, net: Any, cfg: Any, data: Any, validate: Any, **_: Any) -> FakeTrainer:
        return cls(net, cfg, validate)

    def fit(self) -> Any:
        history = []
        for epoch in range(self.cfg.train.epochs):
            self.validate(self.net)
            history.append({"epoch": epoch + 1, "val_metric": self.cfg.optim.lr})
        return Outcome(history)


def test_median_pruning_stops_bad_trials(base, tmp_path: Path, monkeypatch) -> None:
    calls: list[float] = []

    def fake_validator(cfg, data, on_epoch):
        epoch = 0

        def validate(net):
            nonlocal epoch
            epoch += 1
            calls.append(cfg.optim.lr)
            on_epoch(epoch, cfg.optim.lr)  # may raise TrialPruned
            return cfg.optim.lr

        return validate

    monkeypatch.setattr(search_mod, "_validator", fake_validator)
    monkeypatch.setattr(search_mod, "Trainer", FakeTrainer)
    cfg = apply_overrides(base, ["train.epochs=4"])
    space = SearchSpace.from_dict({"optim.lr": {"float": [1e-4, 1.0], "log": True}})
    result = run_study(cfg, space, tmp_path, n_trials=16, progress=False)
    assert result.pruned >= 1  # below-median learning rates stop before epoch 4
    assert result.complete + result.pruned == 16
    pruned = [r for r in _rows(tmp_path / "trials.csv") if r["state"] == "pruned"]
    assert all(int(r["epochs"]) < 4 for r in pruned)
    assert result.best_params["optim.lr"] == pytest.approx(result.best_value)


def _instant_trials(monkeypatch) -> None:
    """FakeTrainer trials (scored by their learning rate), and progress shown from the start
    (no 2 s delay)."""
    import functools

    from siamkit.progress import Progress

    monkeypatch.setattr(search_mod, "_validator", lambda cfg, data, on_epoch: lambda net: 0.0)
    monkeypatch.setattr(search_mod, "Trainer", FakeTrainer)
    monkeypatch.setattr(search_mod, "Progress", functools.partial(Progress, delay=0), raising=False)


def test_trial_progress_in_a_log_is_plain_lines(base, tmp_path: Path, monkeypatch) -> None:
    """The trials' tqdm bar wrote carriage returns into a log: stderr that is not a terminal
    gets a few plain lines, as training's bars write."""
    import io

    _instant_trials(monkeypatch)
    log = io.StringIO()
    monkeypatch.setattr("sys.stderr", log)
    space = SearchSpace.from_dict({"optim.lr": {"float": [1e-3, 1e-2]}})
    best = run_study(base, space, tmp_path, n_trials=4, progress=True).best_value
    assert "\r" not in log.getvalue()
    lines = log.getvalue().splitlines()
    assert 1 <= len(lines) <= 4 and lines[-1].startswith("trials: 100% (4/4 trials)"), lines
    assert lines[-1].endswith(f", best {best:.4f}"), lines


def test_trial_progress_on_a_terminal_is_a_bar(base, tmp_path: Path, monkeypatch) -> None:
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    _instant_trials(monkeypatch)
    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    space = SearchSpace.from_dict({"optim.lr": {"float": [1e-3, 1e-2]}})
    best = run_study(base, space, tmp_path, n_trials=2, progress=True).best_value
    assert "\r" in term.getvalue() and f"best={best:.4f}" in term.getvalue()


def _shown(text: str) -> list[str]:
    """The rows a terminal shows for ``text``: a carriage return writes over its row."""
    rows = []
    for raw in text.split("\n"):
        row: list[str] = []
        at = 0
        for part in raw.split("\r"):
            row[at : at + len(part)] = part
            at = 0
        rows.append("".join(row).rstrip())
    return rows


def test_trial_lines_on_a_terminal_are_written_beside_the_bar(
    base, tmp_path: Path, monkeypatch
) -> None:
    """A trial's line (stdout) was written with the bar (stderr) still on the terminal's row,
    so the row read ``trials:  0%|...| 0/3 [..., best=-]trial 0: complete, ...``: the bar is
    now cleared before the line and drawn again after it."""
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    _instant_trials(monkeypatch)
    term = Terminal()  # stdout and stderr: one terminal
    monkeypatch.setattr("sys.stderr", term)
    space = SearchSpace.from_dict({"optim.lr": {"float": [1e-3, 1e-2]}})
    run_study(base, space, tmp_path, n_trials=3, progress=True, log=lambda s: term.write(s + "\n"))
    rows = [r for r in _shown(term.getvalue()) if "trial " in r]
    assert len(rows) == 3 and all(r.startswith("trial ") for r in rows), rows
    assert term.getvalue().count("\n\rtrials: ") == 3, term.getvalue()  # drawn again after each


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"loss.nope": {"choice": [1]}}, "loss.nope"),
        ({"optim.lr": {"float": [0.1, 0.01]}}, "low < high"),
        ({"optim.lr": {"uniform": [0.1, 1]}}, "exactly one of"),
        # a misspelt key is named, not only listed beside the right ones
        (
            {"optim.lr": {"float": [1e-4, 1e-2], "logg": True}},
            "unknown key 'logg' (did you mean 'log'?)",
        ),
        ({"loss.kind": {"choice": ["triplet", "bogus"]}}, "loss.kind = 'bogus'"),
        ({"lr": {"float": [0.1, 1]}}, "section.key"),
        # not "is a whole section": the key names no section at all (bad-input pass)
        ({"lr": {"choice": [0.1, 1.0]}}, "space.yaml: unknown section 'lr' in the search space"),
        ({"trian": {"choice": [{"epochs": 2}]}}, "(did you mean 'train'?)"),
        ({}, "space.yaml: a search space must be a non-empty map"),
        ({"optim.lr.x": {"float": [0.1, 1]}}, "section.key"),
        ({"model.appearance.pol": {"int": [2, 4]}}, "unknown key 'pol'"),
        ({"model.appearance.weight": {"float": [-1, 1]}}, "refused"),
        ({"loss": {"choice": ["triplet"]}}, "must be maps"),
        # a pair miner cannot feed the triplet loss (any registered miner feeds multi_similarity)
        ({"loss": {"choice": [{"kind": "triplet", "mining": "pairs"}]}}, "refused"),
    ],
)
def test_bad_space_is_named_before_anything_is_written(
    space: dict[str, Any], message: str, tmp_path: Path
) -> None:
    path = tmp_path / "space.yaml"
    import yaml

    path.write_text(yaml.safe_dump(space))
    out = tmp_path / "study"
    res = CliRunner().invoke(
        cli,
        ["tune", str(TINY), "--space", str(path), "--out", str(out), "--set", "data.val_classes=2"],
    )
    assert res.exit_code != 0
    assert message in res.output
    assert not out.exists()


def test_tune_refuses_a_config_without_val_classes(tmp_path: Path) -> None:
    out = tmp_path / "study"
    res = CliRunner().invoke(cli, ["tune", str(TINY), "--out", str(out)])
    assert res.exit_code != 0 and "data.val_classes" in res.output
    assert not out.exists()


def test_a_key_of_the_appearance_section_is_searched_as_that_key(base) -> None:
    """``model.appearance.<key>`` (nested) and the flat ``model.appearance_skip_<key>`` of older
    spaces set the same value."""
    demo = apply_overrides(base, ["model.appearance={weight: 0.5, pool: 4}"])
    nested = SearchSpace.from_dict({"model.appearance.weight": {"float": [0.25, 1.0]}})
    nested.check(demo)
    got = apply_overrides(demo, nested.params[0].overrides(0.75)).model.appearance
    flat = SearchSpace.from_dict({"model.appearance_skip_weight": {"float": [0.25, 1.0]}})
    with pytest.warns(DeprecationWarning):
        old = apply_overrides(demo, flat.params[0].overrides(0.75)).model.appearance
    assert got == old and got is not None and (got.weight, got.pool) == (0.75, 4)


@pytest.mark.parametrize("name", ["demo.yaml", "hypercolumn.yaml"])
def test_default_space_fits_the_shipped_recipes(name: str) -> None:
    """Every default value is accepted by the demo config, and by configs/hypercolumn.yaml,
    whose loss.params (tuplet margin's scale) the triplet choice kept and was refused for."""
    path = Path(__file__).resolve().parents[2] / "configs" / name
    cfg = apply_overrides(load_config(path), ["data.val_classes=2"])
    load_space(None).check(cfg)


# Losses the shipped loss space leaves out: bce (and pair_head, its registered name) scores pairs
# with a learned MLP metric (model.distance: mlp), which a loss-section choice cannot switch to,
# and it learns no embedding for the demo's embedding distance to compare.
_NOT_IN_LOSS_SPACE = {"bce", "pair_head"}


def test_loss_space_fits_the_demo_config_and_names_every_label_loss() -> None:
    """configs/space-losses.yaml loads, the demo config accepts every choice, and every built-in
    loss that trains on class labels is one of them (a loss added later must be added there)."""
    root = Path(__file__).resolve().parents[2]
    cfg = apply_overrides(load_config(root / "configs" / "demo.yaml"), ["data.val_classes=2"])
    space = load_space(root / "configs" / "space-losses.yaml")
    space.check(cfg)
    (loss,) = [p for p in space.params if p.key == "loss"]
    kinds = {c["kind"] for c in loss.choices}
    # built-in ones only: another test's (or a plugin's) registered loss is not shipped
    builtin = {n for n in LOSSES.names() if LOSSES.get(n).__module__.startswith("siamkit.")}
    assert builtin - _NOT_IN_LOSS_SPACE - kinds == set()
    assert builtin >= _NOT_IN_LOSS_SPACE  # the exclusions still name registered losses
    assert {p.key for p in space.params} == {"loss", "optim.lr", "optim.loss_lr_factor"}


def test_loss_space_searches_the_rate_of_what_the_loss_learns() -> None:
    """configs/space-losses.yaml left optim.loss_lr_factor at 1, so a proxy loss was never tried
    with its proxies at Proxy-Anchor's 100x the network's rate."""
    from siamkit.training.builders import build_optimizer

    root = Path(__file__).resolve().parents[2]
    space = load_space(root / "configs" / "space-losses.yaml")
    (factor,) = [p for p in space.params if p.key == "optim.loss_lr_factor"]
    assert factor.kind == "choice" and factor.choices == (1.0, 100.0)
    (loss,) = [p for p in space.params if p.key == "loss"]
    proxy = next(c for c in loss.choices if c["kind"] == "proxy_anchor")
    cfg = apply_overrides(
        load_config(root / "configs" / "demo.yaml"),
        [*loss.overrides(proxy), *factor.overrides(100.0)],
    )
    objective = build_objective(cfg.loss, "euclidean", classes=[0, 1, 2], embedding_dim=8)
    net = torch.nn.Linear(4, 8)
    optimizer = build_optimizer(cfg.optim, list(net.parameters()), list(objective.parameters()))
    rates = [g["lr"] for g in optimizer.param_groups]
    assert rates == [pytest.approx(cfg.optim.lr), pytest.approx(100 * cfg.optim.lr)]


def test_every_loss_space_choice_builds_and_gives_a_gradient() -> None:
    root = Path(__file__).resolve().parents[2]
    cfg = load_config(root / "configs" / "demo.yaml")
    (loss,) = [
        p for p in load_space(root / "configs" / "space-losses.yaml").params if p.key == "loss"
    ]
    gen = torch.Generator().manual_seed(0)
    z = F.normalize(torch.randn(24, 16, generator=gen), dim=1).requires_grad_()
    labels = torch.arange(4).repeat_interleave(6)
    for choice in loss.choices:
        lc = apply_overrides(cfg, loss.overrides(choice)).loss
        objective = build_objective(lc, "euclidean", classes=[0, 1, 2, 3], embedding_dim=16)
        (grad,) = torch.autograd.grad(objective(z, labels), z)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0, choice


def test_cli_runs_a_study(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("optim.lr: {float: [0.001, 0.01], log: true}\n")
    out = tmp_path / "study"
    res = CliRunner().invoke(
        cli,
        ["tune", str(TINY), "--trials", "1", "--space", str(space), "--out", str(out),
         "--set", "data.val_classes=[4, 5]", "--set", "train.epochs=1",
         "--set", "train.steps_per_epoch=2", "--no-progress"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (out / "best.yaml").is_file() and (out / "study.db").is_file()
    assert "siamkit train" in res.output


def test_set_fixes_a_searched_key_instead_of_being_overwritten() -> None:
    """--set KEY pins KEY: the parameter setting it (alone, inside a section choice, or around
    it) leaves the space; the others stay."""
    space = load_space(None)
    kept, dropped = space.without({"train.epochs", "loss.kind", "model.encoder_kwargs.widths"})
    assert dropped == ["loss", "model", "train.epochs"]
    assert [p.key for p in kept.params] == [
        p.key for p in space.params if p.key not in {"loss", "model", "train.epochs"}
    ]
    assert space.without({"optim"})[1] == ["optim.lr"]
    assert space.without({"optim.lr_schedule"})[1] == []  # a longer name is another key


def test_cli_does_not_search_a_key_fixed_by_set(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("optim.lr: {float: [0.001, 0.01], log: true}\ntrain.epochs: {int: [2, 10]}\n")
    args = ["tune", str(TINY), "--trials", "1", "--space", str(space), "--no-progress",
            "--set", "data.val_classes=[4, 5]", "--set", "train.steps_per_epoch=2"]  # fmt: skip
    out = tmp_path / "study"
    res = CliRunner().invoke(cli, [*args, "--out", str(out), "--set", "train.epochs=1"])
    assert res.exit_code == 0, res.output
    assert "not searched, fixed by --set: train.epochs" in res.output
    assert yaml.safe_load((out / "best.yaml").read_text())["train"]["epochs"] == 1
    res = CliRunner().invoke(
        cli,
        [*args, "--out", str(tmp_path / "s2"), "--set", "train.epochs=1", "--set", "optim.lr=0.01"],
    )
    assert res.exit_code == 2 and "nothing is left to search" in res.output
    assert not (tmp_path / "s2").exists()


def _fake_training(
    monkeypatch, interrupt_at: int | None = None, stop: type[BaseException] = KeyboardInterrupt
) -> list[int]:
    """Trials "train" without training (metric = lr); trial ``interrupt_at`` gets Ctrl-C (or
    ``stop`` raised, as the SIGTERM handler raises Terminated)."""
    started: list[int] = []

    class Interrupting(FakeTrainer):
        def fit(self) -> Any:
            started.append(len(started))
            if interrupt_at is not None and len(started) - 1 == interrupt_at:
                raise stop()
            return super().fit()

    def fake_validator(cfg, data, on_epoch):
        return lambda net: cfg.optim.lr

    monkeypatch.setattr(search_mod, "_validator", fake_validator)
    monkeypatch.setattr(search_mod, "Trainer", Interrupting)
    return started


def test_a_study_killed_mid_trial_resumes(base, tmp_path: Path, monkeypatch) -> None:
    """SIGKILL / SIGTERM leave the running trial RUNNING in study.db: the next run marks it
    failed, as interrupted (not a failure of its values), and runs trials until the wanted
    number have finished."""
    import optuna

    _fake_training(monkeypatch)
    space = SearchSpace.from_dict({"optim.lr": {"float": [1e-4, 1.0], "log": True}})
    run_study(base, space, tmp_path, n_trials=2, progress=False)
    # what a killed process leaves: a trial that started and never ended
    storage = f"sqlite:///{tmp_path / study_mod.STUDY_FILE}"
    study = optuna.load_study(study_name=study_mod.STUDY_NAME, storage=storage)
    killed = study.ask()
    killed.suggest_float("optim.lr", 1e-4, 1.0, log=True)
    assert [t.state.name for t in study.get_trials()] == ["COMPLETE", "COMPLETE", "RUNNING"]
    resumed = run_study(base, space, tmp_path, n_trials=4, progress=False)
    assert (resumed.complete, resumed.failed, resumed.interrupted) == (4, 0, 1)
    # the resumed process does not draw the first trials' values again (a seeded sampler would)
    lrs = [t.params["optim.lr"] for t in study.get_trials() if t.state.name == "COMPLETE"]
    assert len(set(lrs)) == 4
    states = [r["state"] for r in _rows(tmp_path / "trials.csv")]
    assert states == ["complete", "complete", "interrupted", "complete", "complete"]
    assert resumed.best_value == max(
        float(r["value"]) for r in _rows(tmp_path / "trials.csv") if r["state"] == "complete"
    )


def test_a_study_interrupted_by_ctrl_c_resumes(base, tmp_path: Path, monkeypatch) -> None:
    started = _fake_training(monkeypatch, interrupt_at=1)
    space = SearchSpace.from_dict({"optim.lr": {"float": [1e-4, 1.0], "log": True}})
    with pytest.raises(KeyboardInterrupt) as err:
        run_study(base, space, tmp_path, n_trials=3, progress=False)
    assert len(started) == 2  # the first trial finished, the second was interrupted
    # best.yaml from the finished trial, written before the interrupt goes on
    assert err.value.best_config == tmp_path / "best.yaml"  # type: ignore[attr-defined]
    assert load_config(tmp_path / "best.yaml").optim.lr == pytest.approx(
        _completed_lrs(tmp_path)[0]
    )
    started.append(-1)  # no more interrupts
    resumed = run_study(base, space, tmp_path, n_trials=3, progress=False)
    assert len(started) == 5
    assert (resumed.complete, resumed.failed, resumed.interrupted) == (3, 0, 1)
    states = [r["state"] for r in _rows(tmp_path / "trials.csv")]
    assert states == ["complete", "interrupted", "complete", "complete"]
    assert resumed.best_config is not None and resumed.best_config.is_file()


def test_a_trial_stopped_while_its_model_is_built_is_interrupted(
    base, tmp_path: Path, monkeypatch
) -> None:
    """Ctrl-C outside the trial's training (here while its model is built) left the trial
    'fail' with no reason in trials.csv, as if its values had failed."""
    _fake_training(monkeypatch)
    built: list[int] = []
    real = search_mod.build_model

    def build(*args: Any, **kwargs: Any) -> Any:
        built.append(1)
        if len(built) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(search_mod, "build_model", build)
    space = SearchSpace.from_dict({"optim.lr": {"float": [1e-4, 1.0], "log": True}})
    with pytest.raises(KeyboardInterrupt):
        run_study(base, space, tmp_path, n_trials=3, progress=False)
    rows = _rows(tmp_path / "trials.csv")
    assert [(r["state"], r["reason"]) for r in rows] == [
        ("complete", ""),
        ("interrupted", "stopped by Ctrl-C or a kill"),
    ]


def _refusing_lrs_above(monkeypatch, most: float) -> None:
    """Trials "train" without training (metric = lr); a trial of lr above ``most`` fails as a
    combination the config refuses."""
    _fake_training(monkeypatch)

    class Refusing(FakeTrainer):
        def fit(self) -> Any:
            if self.cfg.optim.lr > most:
                raise search_mod.RefusedCombination(f"optim.lr {self.cfg.optim.lr} is refused")
            return super().fit()

    monkeypatch.setattr(search_mod, "Trainer", Refusing)


def test_trials_counts_finished_trials_not_failed_ones(tmp_path: Path, monkeypatch) -> None:
    """--trials 8 ran 8 trials of which 4 failed, though its help says finished trials wanted:
    a failed trial does not count, and the summary says how many finished, were pruned and
    failed."""
    _refusing_lrs_above(monkeypatch, 0.01)
    space = _space_file(tmp_path, "optim.lr: {float: [1.0e-4, 1.0], log: true}\n")
    out = tmp_path / "study"
    res = CliRunner().invoke(
        cli,
        ["tune", str(TINY), "--trials", "8", "--no-progress", "--space", str(space),
         "--set", "data.val_classes=[4, 5]", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    states = [r["state"] for r in _rows(out / "trials.csv")]
    failed = states.count("fail")
    assert failed > 0 and states.count("complete") + states.count("pruned") == 8, states
    assert f"8 trials finished ({states.count('complete')} complete, " in res.output
    assert f"{states.count('pruned')} pruned), {failed} failed in " in res.output
    assert "stopped after" not in res.output
    help_text = " ".join(CliRunner().invoke(cli, ["tune", "--help"]).output.split())
    assert "Finished trials wanted (completed or pruned). A failed trial" in help_text


@pytest.mark.parametrize(("n_trials", "ran"), [(2, 10), (12, 12)])
def test_a_study_whose_every_trial_fails_stops(
    base, tmp_path: Path, monkeypatch, n_trials: int, ran: int
) -> None:
    """Failed trials do not count towards n_trials: a space whose every combination fails
    stops after n_trials (at least 10) failures in a row, saying so, instead of looping."""
    _refusing_lrs_above(monkeypatch, 0.0)
    space = SearchSpace.from_dict({"optim.lr": {"float": [1e-4, 1.0], "log": True}})
    result = run_study(base, space, tmp_path, n_trials=n_trials, progress=False)
    assert (result.finished, result.failed) == (0, ran)
    assert result.stopped == (
        f"the study stopped after {ran} trials in a row failed, with 0 of {n_trials} trials "
        "finished: the space's values keep failing with this config (each failed trial's "
        f"warning says why, as does {tmp_path / 'trials.csv'}); change the space or the config, "
        "and give a new --out"
    )
    assert result.stopped_by == "failures"
    assert result.best_config is None and len(_rows(tmp_path / "trials.csv")) == ran
    if n_trials == 2:  # the command's end says so, and fails: the search did not succeed
        res = CliRunner().invoke(
            cli,
            ["tune", str(TINY), "--trials", "2", "--no-progress", "--out", str(tmp_path / "c"),
             "--space", str(_space_file(tmp_path, "optim.lr: {float: [1.0e-4, 1.0]}\n")),
             "--set", "data.val_classes=[4, 5]"],
        )  # fmt: skip
        assert res.exit_code == 1, res.output
        assert res.output.splitlines()[-2:] == [
            "no trial completed; nothing to recommend",
            f"Error: {str(result.stopped).replace(str(tmp_path), str(tmp_path / 'c'))}",
        ]


def test_a_study_stopped_by_failures_exits_1_and_keeps_what_finished(
    tmp_path: Path, monkeypatch
) -> None:
    """siamkit tune that stopped after too many failed trials in a row exited with status 0, so
    a script checking $? took the search for a success. It exits 1 with the stop's sentence,
    after the table and best.yaml of the trials that did complete (written as before)."""
    _fake_training(monkeypatch)
    fits: list[float] = []

    class FailingAfterTwo(FakeTrainer):
        def fit(self) -> Any:
            fits.append(self.cfg.optim.lr)
            if len(fits) > 2:
                raise search_mod.RefusedCombination(f"optim.lr {self.cfg.optim.lr} is refused")
            return super().fit()

    monkeypatch.setattr(search_mod, "Trainer", FailingAfterTwo)
    out = tmp_path / "study"
    res = CliRunner().invoke(
        cli,
        ["tune", str(TINY), "--trials", "5", "--no-progress", "--space", str(_space_file(tmp_path)),
         "--set", "data.val_classes=[4, 5]", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 1, res.output
    stop = (
        "the study stopped after 10 trials in a row failed, with 2 of 5 trials finished: the "
        "space's values keep failing with this config (each failed trial's warning says why, as "
        f"does {out / 'trials.csv'}); change the space or the config, and give a new --out"
    )
    assert res.output.splitlines()[-1] == f"Error: {stop}", res.output
    assert f"warning: {stop}" not in res.output
    assert f"best config: {out / 'best.yaml'}" in res.output
    assert (out / "best.yaml").is_file()
    states = [r["state"] for r in _rows(out / "trials.csv")]
    assert states == ["complete"] * 2 + ["fail"] * 10, states


def _tiny_folder(root: Path, one_image_classes: tuple[int, ...]) -> Path:
    """8 classes of 8×8 noise, 6 images each, except one image in ``one_image_classes``."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(8):
        (root / str(c)).mkdir(parents=True)
        for i in range(1 if c in one_image_classes else 6):
            img = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(img, mode="L").save(root / str(c) / f"{i}.png")
    return root


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["data.val_classes=[]"], "data.val_classes is empty"),
        (["data.train_classes=[]"], "data.train_classes is empty"),
        (["data.val_classes=[6, 7]"], "data.val_classes = [6, 7] includes [6, 7]"),  # test classes
        (["data.val_classes=[4, 9]"], "which is not in data.train_classes"),
        (["data.val_classes=5"], "data.val_classes = 5 leaves fewer than 2"),
        (["data.val_classes=[4]"], "hold out at least 2 classes"),
        # the validation classes have one image each: no same-class pair, found when the data loads
        (["FOLDER", "data.val_classes=[4, 5]"], "data.val_classes = [4, 5] leaves no validation"),
    ],
)
def test_tune_refuses_a_bad_split_before_anything_is_written(
    sets: list[str], message: str, tmp_path: Path
) -> None:
    if sets[0] == "FOLDER":
        folder = _tiny_folder(tmp_path / "images", one_image_classes=(4, 5))
        sets = ["data.dataset=image-folder", f"data.root={folder}", "data.image_size=8",
                "data.grayscale=true", *sets[1:]]  # fmt: skip
    out = tmp_path / "study"
    args = ["tune", str(TINY), "--out", str(out), "--no-progress"]
    res = CliRunner().invoke(cli, args + [a for s in sets for a in ("--set", s)])
    assert res.exit_code != 0
    assert message in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1, res.output  # one sentence, no traceback
    assert not out.exists()


@pytest.mark.parametrize(
    "changed",
    [
        {"model.embedding_dim": {"choice": [8, 32]}},  # other choices: Optuna cannot mix them
        {"optim.lr": {"float": [1e-3, 1e-1], "log": True}},  # another range: silently mixed
        {"optim.lr": {"float": [1e-3, 1e-2]}},  # no longer log-uniform
    ],
)
def test_a_changed_space_does_not_continue_a_study(
    base, tmp_path: Path, monkeypatch, changed: dict[str, Any]
) -> None:
    _fake_training(monkeypatch)
    run_study(base, SearchSpace.from_dict(SPACE), tmp_path, n_trials=1, progress=False)
    other = SearchSpace.from_dict({**SPACE, **changed})
    (changed_key,) = changed
    with pytest.raises(
        ValueError, match=rf"holds a study of a different space \({changed_key}\): "
    ):
        run_study(base, other, tmp_path, n_trials=2, progress=False)
    assert [r["state"] for r in _rows(tmp_path / "trials.csv")] == ["complete"]
    again = run_study(base, SearchSpace.from_dict(SPACE), tmp_path, n_trials=2, progress=False)
    assert (again.complete, again.failed) == (2, 0)


def test_a_study_saved_with_the_key_names_alone_continues_with_its_own_space(
    base, tmp_path: Path, monkeypatch
) -> None:
    """Studies made before the signature held the whole space: the same space continues them
    (the trials' own distributions say so), another is refused."""
    import optuna

    _fake_training(monkeypatch)
    space = SearchSpace.from_dict(SPACE)
    run_study(base, space, tmp_path, n_trials=1, progress=False)
    storage = f"sqlite:///{tmp_path / study_mod.STUDY_FILE}"
    study = optuna.load_study(study_name=study_mod.STUDY_NAME, storage=storage)
    study.set_user_attr("signature", study_mod._signature(base, [p.key for p in space.params]))
    other = SearchSpace.from_dict({**SPACE, "optim.lr": {"float": [1e-3, 1e-1], "log": True}})
    with pytest.raises(ValueError, match=r"holds a study of a different space \(optim.lr\): "):
        run_study(base, other, tmp_path, n_trials=2, progress=False)
    assert run_study(base, space, tmp_path, n_trials=2, progress=False).complete == 2


@pytest.mark.parametrize("keys_only", [False, True])
def test_a_study_started_with_the_old_image_defaults_continues(
    base, tmp_path: Path, monkeypatch, keys_only: bool
) -> None:
    """A study started before data.image_size / data.grayscale could be unset stored their old
    defaults (64, false) in its config: they are read as unset, as a checkpoint's are on
    --resume, so the same config continues it; a key that does differ is still the only one
    named."""
    import optuna

    _fake_training(monkeypatch)
    space = SearchSpace.from_dict(SPACE)
    run_study(base, space, tmp_path, n_trials=1, progress=False)
    storage = f"sqlite:///{tmp_path / study_mod.STUDY_FILE}"
    study = optuna.load_study(study_name=study_mod.STUDY_NAME, storage=storage)
    old = json.loads(study_mod._signature(base, [p.key for p in space.params]))
    if not keys_only:
        old = json.loads(study.user_attrs["signature"])
    assert (
        old["config"]["data"]["image_size"] is None and old["config"]["data"]["grayscale"] is None
    )
    old["config"]["data"].update(image_size=64, grayscale=False)  # written the old way
    study.set_user_attr("signature", json.dumps(old, sort_keys=True, default=str))
    other = apply_overrides(base, ["loss.margin=0.3"])
    with pytest.raises(ValueError, match=r"study of a different config \(loss.margin\): give"):
        run_study(other, space, tmp_path, n_trials=2, progress=False)
    assert run_study(base, space, tmp_path, n_trials=2, progress=False).complete == 2


def test_a_continued_study_keeps_the_plugins_it_was_started_with(
    base, tmp_path: Path, monkeypatch
) -> None:
    """The plug-ins a study was started with are stored in study.db: continuing it without them
    imports them first and still names them in best.yaml."""
    _fake_training(monkeypatch)
    space = SearchSpace.from_dict(SPACE)
    run_study(base, space, tmp_path, n_trials=1, progress=False, plugins=["json"])
    (tmp_path / "best.yaml").unlink()
    assert run_study(base, space, tmp_path, n_trials=2, progress=False).complete == 2
    assert yaml.safe_load((tmp_path / "best.yaml").read_text())["plugins"] == ["json"]
    assert study_mod.import_study_plugins(tmp_path) == ["json"]
    assert study_mod.import_study_plugins(tmp_path / "no-study") == []


def test_tune_refuses_a_folder_holding_a_training_run(base, tmp_path: Path) -> None:
    (tmp_path / "checkpoint.pt").write_bytes(b"")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ValueError, match=r"holds a training run \(checkpoint.pt\); choose another"):
        run_study(base, SearchSpace.from_dict(SPACE), tmp_path, n_trials=1, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_ctrl_c_says_the_study_resumes_without_a_traceback(tmp_path: Path, monkeypatch) -> None:
    import logging

    started = _fake_training(monkeypatch, interrupt_at=1)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("optuna").addHandler(handler)
    out = tmp_path / "study"
    try:
        res = CliRunner().invoke(cli, _study(tmp_path, out, 3))
    finally:
        logging.getLogger("optuna").removeHandler(handler)
    assert res.exit_code == 130, res.output
    best = out / "best.yaml"
    assert res.output.strip().splitlines()[-2:] == [
        f"study interrupted; {out / 'study.db'} keeps its finished trials: run the same command "
        "again to continue it",
        f"best config of the 1 completed trial: {best}  (siamkit train {best})",
    ]
    # the completed trial's values, written before exiting
    assert load_config(best).optim.lr == pytest.approx(_completed_lrs(out)[0])
    assert "Traceback" not in res.output and "Aborted" not in res.output
    assert not [r for r in records if "failed" in r.getMessage()]  # Optuna's 19-frame warning
    # the stopped trial is not a failure of its values: named for what it was
    assert [r["state"] for r in _rows(out / "trials.csv")] == ["complete", "interrupted"]
    started.append(-1)  # no more interrupts
    res = CliRunner().invoke(cli, _study(tmp_path, out, 3))
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == (
        f"continuing the study in {out / 'study.db'}: 1 of 3 trials finished, 2 to go"
    )
    assert "3 trials finished (3 complete, 0 pruned), 0 failed, 1 interrupted in " in res.output
    res = CliRunner().invoke(cli, _study(tmp_path, out, 2))
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == (
        f"continuing the study in {out / 'study.db'}: 3 trials finished, 2 wanted: none to go "
        "(give a larger --trials to run more)"
    )


def test_the_best_values_table_shows_floats_to_four_digits(tmp_path: Path, monkeypatch) -> None:
    """The table printed a searched float as 0.00016283591083632567; best.yaml keeps it whole."""
    _fake_training(monkeypatch)
    out = tmp_path / "study"
    res = CliRunner().invoke(cli, _study(tmp_path, out, 1))
    assert res.exit_code == 0, res.output
    lr = _completed_lrs(out)[0]
    row = next(line for line in res.output.splitlines() if line.startswith("optim.lr "))
    assert row.split() == ["optim.lr", f"{lr:.4g}"] and len(f"{lr:.4g}") <= 9
    assert load_config(out / "best.yaml").optim.lr == pytest.approx(lr, rel=1e-12)


def test_the_best_values_table_shows_a_choice_as_config_keys(tmp_path: Path, monkeypatch) -> None:
    """A whole-section choice showed as a Python dict repr (``loss  {'kind': 'triplet', ...}``):
    it reads as the config's keys would (``loss.kind=triplet loss.mining=semihard``)."""
    _fake_training(monkeypatch)
    space = _space_file(
        tmp_path,
        "loss: {choice: [{kind: triplet, mining: semihard, margin: 0.25}]}\n"
        "model.encoder_kwargs: {choice: [{widths: [8, 16]}]}\n",
    )
    out = tmp_path / "study"
    res = CliRunner().invoke(
        cli,
        ["tune", str(TINY), "--trials", "1", "--out", str(out), "--no-progress",
         "--space", str(space), "--set", "data.val_classes=[4, 5]"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    table = res.output.split("best value (validation classes)\n")[1].split("\n\n")[0]
    rows = {r.split()[0]: r.split(None, 1)[1] for r in table.splitlines()[1:]}
    assert "{" not in rows["loss"] and "'" not in rows["loss"], rows
    assert sorted(rows["loss"].split()) == [
        "loss.kind=triplet", "loss.margin=0.25", "loss.mining=semihard"
    ]  # fmt: skip
    assert rows["model.encoder_kwargs"] == "model.encoder_kwargs.widths=[8, 16]"


def _completed_lrs(out: Path) -> list[float]:
    return [float(r["optim.lr"]) for r in _rows(out / "trials.csv") if r["state"] == "complete"]


def test_ctrl_c_before_any_trial_completes_writes_no_best_config(
    tmp_path: Path, monkeypatch
) -> None:
    _fake_training(monkeypatch, interrupt_at=0)
    out = tmp_path / "study"
    res = CliRunner().invoke(cli, _study(tmp_path, out, 3))
    assert res.exit_code == 130, res.output
    assert res.output.strip().splitlines()[-1].startswith("study interrupted; ")
    assert "best config" not in res.output and not (out / "best.yaml").exists()


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_a_stop_while_the_data_loads_says_nothing_was_written(
    tmp_path: Path, monkeypatch, stop: str
) -> None:
    """Ctrl-C before the study began (loading the data) said its study.db "keeps its finished
    trials: run the same command again to continue it", and there was no study.db. SIGTERM
    (siamkit's handler raises Terminated) says what Ctrl-C says, with its own status."""
    from siamkit.cli.main import Terminated

    error, status = (
        (KeyboardInterrupt, 130) if stop == "ctrl-c" else (Terminated, Terminated.STATUS)
    )

    def stopped(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(search_mod, "load_run_data", stopped)
    out = tmp_path / "study"
    res = CliRunner().invoke(cli, _study(tmp_path, out, 3))
    assert res.exit_code == status, res.output
    assert res.output.strip().splitlines() == [
        "study interrupted before it began; nothing was written"
    ]
    assert not out.exists()


def test_sigterm_says_what_ctrl_c_says_and_writes_the_study_so_far(
    tmp_path: Path, monkeypatch
) -> None:
    """SIGTERM (siamkit's handler raises Terminated, a SystemExit) went through Optuna, which
    catches KeyboardInterrupt only: the trial stayed RUNNING, trials.csv and best.yaml were not
    written, and the command said only 'run it again'. It now ends as Ctrl-C does, with 143."""
    from siamkit.cli.main import Terminated

    started = _fake_training(monkeypatch, interrupt_at=1, stop=Terminated)
    out = tmp_path / "study"
    args = _study(tmp_path, out, 3)
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == Terminated.STATUS, res.output
    best = out / "best.yaml"
    assert res.output.strip().splitlines()[-2:] == [
        f"study interrupted; {out / 'study.db'} keeps its finished trials: run the same command "
        "again to continue it",
        f"best config of the 1 completed trial: {best}  (siamkit train {best})",
    ]
    assert load_config(best).optim.lr == pytest.approx(_completed_lrs(out)[0])
    assert [r["state"] for r in _rows(out / "trials.csv")] == ["complete", "interrupted"]
    started.append(-1)  # no more signals: the study continues, the stopped trial not counted
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "3 trials finished (3 complete, 0 pruned), 0 failed, 1 interrupted in " in res.output


@pytest.mark.slow
def test_a_killed_study_writes_its_trials_and_best_config(tmp_path: Path) -> None:
    """A plain `kill PID` (what a scheduler sends) of `siamkit tune` mid-trial: the stopped trial
    is marked interrupted in the study, trials.csv and best.yaml are written from the finished
    trials and the command says how to continue, as on Ctrl-C, exiting with status 143."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    out = tmp_path / "study"
    cmd = [sys.executable, "-m", "siamkit", "tune", str(TINY), "--trials", "100", "--out",
           str(out), "--no-progress", "--space", str(_space_file(tmp_path)),
           "--set", "data.val_classes=[4, 5]", "--set", "train.epochs=1",
           "--set", "train.steps_per_epoch=5"]  # fmt: skip
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    run = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert run.stdout is not None
    try:
        for line in run.stdout:  # each trial's line is said when it ends
            if line.startswith("trial 0: complete"):
                break
        else:
            raise AssertionError(f"trial 0 did not complete: {run.communicate()[1]}")
        db = sqlite3.connect(out / "study.db")
        deadline = time.monotonic() + 60
        while not db.execute("SELECT 1 FROM trials WHERE state = 'RUNNING'").fetchall():
            assert time.monotonic() < deadline and run.poll() is None, "no trial started"
            time.sleep(0.01)
        db.close()
        run.send_signal(signal.SIGTERM)  # mid-trial (trial 1 takes a second or so)
        said, err = run.communicate(timeout=120)
    finally:
        run.kill()
    assert run.returncode == 143, said + err
    rows = _rows(out / "trials.csv")
    states = [r["state"] for r in rows]
    assert states[-1] == "interrupted" and set(states[:-1]) == {"complete"}, states
    done = len(states) - 1
    best = out / "best.yaml"
    said_last = err.strip().splitlines()[-3:]
    assert said_last[:2] == [
        f"study interrupted; {out / 'study.db'} keeps its finished trials: run the same command "
        "again to continue it",
        f"best config of the {done} completed trial{'' if done == 1 else 's'}: {best}  "
        f"(siamkit train {best})",
    ], err
    assert said_last[2].startswith(f"note: {best} keeps this study's --set train.epochs=1"), err
    top = max(rows[:-1], key=lambda r: float(r["value"]))
    assert load_config(best).optim.lr == pytest.approx(float(top["optim.lr"]))


def _space_file(
    tmp_path: Path, text: str = "optim.lr: {float: [0.001, 0.01], log: true}\n"
) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


def _study(tmp_path: Path, out: Path, trials: int) -> list[str]:
    """``siamkit tune`` of the tiny config for ``trials`` trials into ``out``, searching optim.lr
    (:func:`_space_file`) with validation classes 4 and 5, without progress bars."""
    return ["tune", str(TINY), "--trials", str(trials), "--out", str(out), "--no-progress",
            "--space", str(_space_file(tmp_path)), "--set", "data.val_classes=[4, 5]"]  # fmt: skip


def test_tune_names_the_task_of_an_application_config(tmp_path: Path) -> None:
    simclr = Path(__file__).resolve().parents[2] / "configs" / "simclr.yaml"
    res = CliRunner().invoke(cli, ["tune", str(simclr), "--out", str(tmp_path / "s")])
    assert res.exit_code != 0
    assert res.output.strip() == (
        f"Error: {simclr} is a `task: ssl` config, which only siamkit train runs; this needs a "
        "supervised embedding config (no task:, or task: embedding)"
    )


def test_a_yaml_error_in_the_space_is_one_line(tmp_path: Path) -> None:
    space = _space_file(
        tmp_path, "optim.lr: {float: [0.1, 0.2]\nloss.margin: {float: [0.1, 0.2]}\n"
    )
    res = CliRunner().invoke(
        cli, ["tune", str(TINY), "--space", str(space), "--out", str(tmp_path / "s"),
              "--set", "data.val_classes=2"],
    )  # fmt: skip
    assert res.exit_code != 0
    assert res.output.strip().splitlines() == [
        f"Error: {space} line 2: not valid YAML, expected ',' or '}}', but got '<scalar>' "
        "(while parsing a flow mapping that starts on line 1)"
    ]


def test_the_model_check_draws_no_random_numbers_the_trials_use(base) -> None:
    """The size check builds a model before the study; its weights must not come from the
    random stream the trials draw from, or the same seed would give another study."""
    import torch

    from siamkit.training import load_run_data
    from siamkit.tuning.preflight import _check_model

    data = load_run_data(base.data)
    torch.manual_seed(3)
    before = torch.random.get_rng_state()
    _check_model(base, data)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_trials_shows_its_range_in_help_and_click_refuses_zero(tmp_path: Path) -> None:
    """--trials was a plain INTEGER in --help, its minimum checked in the command's code."""
    res = CliRunner().invoke(cli, ["tune", "--help"])
    line = next(x for x in res.output.splitlines() if x.strip().startswith("--trials"))
    assert "INTEGER RANGE" in line and "x>=1" in res.output
    res = CliRunner().invoke(
        cli, ["tune", str(TINY), "--trials", "0", "--out", str(tmp_path / "s")]
    )
    assert res.exit_code == 2
    assert "Invalid value for '--trials': 0 is not in the range x>=1." in res.output
    assert not (tmp_path / "s").exists()


def test_a_loss_key_is_drawn_only_for_a_loss_that_reads_it(tmp_path: Path, monkeypatch) -> None:
    """The space drew loss.temperature for triplet trials (and loss.margin for supcon ones),
    and best.yaml and the table of best values carried it: define-by-run draws a loss's own
    key only in the trials whose loss reads it."""
    import optuna

    _fake_training(monkeypatch)
    space = _space_file(
        tmp_path,
        "loss: {choice: [{kind: triplet, mining: batch_hard}, {kind: supcon, mining: null}]}\n"
        "loss.margin: {float: [0.05, 0.5]}\n"
        "loss.temperature: {float: [0.03, 0.3], log: true}\n"
        "optim.lr: {float: [0.001, 0.01], log: true}\n",
    )
    out = tmp_path / "study"
    res = CliRunner().invoke(
        cli,
        ["tune", str(TINY), "--trials", "8", "--out", str(out), "--no-progress",
         "--space", str(space), "--set", "data.val_classes=[4, 5]"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    study = optuna.load_study(
        study_name=study_mod.STUDY_NAME, storage=f"sqlite:///{out / study_mod.STUDY_FILE}"
    )
    trials = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    reads = {"triplet": "loss.margin", "supcon": "loss.temperature"}
    kinds = [yaml.safe_load(t.params["loss"])["kind"] for t in trials]
    assert set(kinds) == {"triplet", "supcon"}, kinds  # both drawn, each with its own key
    for kind, trial in zip(kinds, trials, strict=True):
        assert set(trial.params) == {"loss", "optim.lr", reads[kind]}, (kind, trial.params)
    # the table and best.yaml carry what the best trial's loss reads, and nothing else
    best = study.best_trial
    table = res.output.split("best value (validation classes)\n")[1].split("\n\n")[0]
    order = ["loss", "loss.margin", "loss.temperature", "optim.lr"]  # the space's
    assert [r.split()[0] for r in table.splitlines()[1:]] == [k for k in order if k in best.params]
    (key,) = set(best.params) - {"loss", "optim.lr"}
    section, name = key.split(".")
    drawn = yaml.safe_load((out / "best.yaml").read_text())[section][name]
    assert drawn == pytest.approx(best.params[key], rel=1e-12)
    # trials.csv leaves the key a trial's loss does not read empty
    for row, kind in zip(_rows(out / "trials.csv"), kinds, strict=True):
        other = ({"loss.margin", "loss.temperature"} - {reads[kind]}).pop()
        assert row[other] == "" and row[reads[kind]] != "", row


def test_a_loss_key_no_loss_of_the_study_reads_is_not_searched(tmp_path: Path, monkeypatch) -> None:
    _fake_training(monkeypatch)
    space = _space_file(
        tmp_path, "loss.margin: {float: [0.05, 0.5]}\noptim.lr: {float: [0.001, 0.01]}\n"
    )
    args = ["tune", str(TINY), "--trials", "1", "--no-progress", "--space", str(space),
            "--set", "data.val_classes=[4, 5]", "--set", "loss.kind=supcon",
            "--set", "loss.mining=null"]  # fmt: skip
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == (
        "not searched, read by no loss of this study (supcon): loss.margin"
    )
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "s2"), "--set", "optim.lr=0.01"])
    assert res.exit_code == 2, res.output
    assert (
        "--set fixes optim.lr; no loss of this study reads loss.margin: nothing is left to search"
    ) in res.output
    assert not (tmp_path / "s2").exists()


def test_the_end_says_best_yaml_keeps_a_short_run_set(tmp_path: Path, monkeypatch) -> None:
    """A study's short runs (--set train.epochs=1) end up in best.yaml, and siamkit train
    OUT/best.yaml trained them without a word: the end names the keys and the --set back."""
    from siamkit.cli.tune_cmd import short_run_note

    _fake_training(monkeypatch)
    out = tmp_path / "study"
    args = ["tune", str(TINY), "--trials", "1", "--no-progress", "--space",
            str(_space_file(tmp_path)), "--set", "data.val_classes=[4, 5]"]  # fmt: skip
    res = CliRunner().invoke(
        cli,
        [*args, "--out", str(out), "--set", "train.epochs=1", "--set", "train.steps_per_epoch=2"],
    )
    assert res.exit_code == 0, res.output
    best = out / "best.yaml"
    assert res.output.splitlines()[-1] == (
        f"note: {best} keeps this study's --set train.epochs=1, train.steps_per_epoch=2, so "
        f"siamkit train trains that short run; to train with {TINY}'s values: siamkit train "
        f"{best} --set train.epochs=3 --set train.steps_per_epoch=6"
    )
    trained = apply_overrides(load_config(best), ["train.epochs=3", "train.steps_per_epoch=6"])
    assert trained.train == load_config(TINY).train
    # the config's own value, or none of these keys, is no short run
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "s2"), "--set", "train.epochs=3"])
    assert res.exit_code == 0, res.output
    assert "note:" not in res.output and "short run" not in res.output
    # a key the config leaves unset goes back to null
    written = load_config(TINY)
    limited = apply_overrides(written, ["data.limit=100"])
    note = short_run_note("c.yaml", written, limited, Path("best.yaml"))
    assert note is not None and note.endswith("siamkit train best.yaml --set data.limit=null")
    assert apply_overrides(limited, ["data.limit=null"]).data.limit is None


def test_tune_warns_when_the_trials_scores_are_all_alike(tmp_path: Path, monkeypatch) -> None:
    """P@1 on 2 validation classes of the HOG-joined demo scored every trial ~0.9998, and tune
    named a best config as if it were better: scores within FLAT_SCORES are said to be."""
    scored = {"by": lambda lr: 0.9998 + lr / 100}  # ~0.9998 whatever the lr: 0.99981 to 0.99990

    class Scored(FakeTrainer):
        def fit(self) -> Any:
            score = scored["by"](self.cfg.optim.lr)
            return Outcome([{"epoch": 1, "val_metric": score}])

    _fake_training(monkeypatch)
    monkeypatch.setattr(search_mod, "Trainer", Scored)
    args = ["tune", str(TINY), "--trials", "3", "--no-progress", "--space",
            str(_space_file(tmp_path)), "--set", "data.val_classes=[4, 5]"]  # fmt: skip
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    scores = [float(r["value"]) for r in _rows(tmp_path / "s" / "trials.csv")]
    summary = next(
        line for line in res.output.splitlines() if line.startswith("3 trials finished ")
    )
    assert summary.endswith("; their scores do not tell them apart (see the warning below)")
    assert res.output.splitlines()[-1] == (
        "warning: the 3 completed trials' validation precision_at_1 scores are all within 0.001 "
        f"of each other ({min(scores):.4f} to {max(scores):.4f}), so the best config is no "
        "better than the others: score the trials with --set train.val_metric=eer or --set "
        "train.val_metric=few_shot, or hold out more validation classes than 2 "
        "(data.val_classes), and run a new study"
    )
    scored["by"] = lambda lr: lr  # scores that differ (0.001 to 0.01): no warning
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "s2")])
    assert res.exit_code == 0, res.output
    scores = [float(r["value"]) for r in _rows(tmp_path / "s2" / "trials.csv")]
    assert max(scores) - min(scores) > 0.001
    assert "warning" not in res.output and "tell them apart" not in res.output
    # eer scored alike: the other metric and the validation-class count are named
    base = apply_overrides(load_config(TINY), ["data.val_classes=3", "train.val_metric=eer"])
    warning = results_mod.flat_scores([0.0, 0.0005], base)
    assert warning is not None
    assert "with --set train.val_metric=few_shot, or hold out more validation classes than 3 " in (
        warning
    )
    assert results_mod.flat_scores([0.2], base) is None  # one trial: nothing to compare


#: A hypercolumn-like ConvNet (configs/hypercolumn.yaml's tap keys) on the tiny digits config.
_TAPS = {"taps": [0], "tap_grids": [2], "tap_power": 0.5, "tap_train": False}


def _tapped_config(tmp_path: Path) -> Path:
    doc = yaml.safe_load(TINY.read_text())
    doc["model"]["encoder_kwargs"] = {"widths": [8, 16], **_TAPS}
    path = tmp_path / "tapped.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _recorded_trials(monkeypatch) -> list[Any]:
    """FakeTrainer trials whose configs are recorded; a ConvNet one scores above any other."""
    seen: list[Any] = []

    class Recorded(FakeTrainer):
        def fit(self) -> Any:
            seen.append(self.cfg)
            score = self.cfg.optim.lr + (self.cfg.model.encoder == "convnet")
            return Outcome([{"epoch": 1, "val_metric": score}])

    _fake_training(monkeypatch)
    monkeypatch.setattr(search_mod, "Trainer", Recorded)
    return seen


def test_the_default_space_keeps_the_configs_taps(tmp_path: Path, monkeypatch) -> None:
    """siamkit tune configs/hypercolumn.yaml: the default space's model choices replaced
    model.encoder_kwargs wholesale, so every trial and best.yaml dropped the config's taps (and
    tuned a plain ConvNet). A ConvNet choice's widths are now merged over the config's."""
    seen = _recorded_trials(monkeypatch)
    out = tmp_path / "study"
    res = CliRunner().invoke(
        cli,
        ["tune", str(_tapped_config(tmp_path)), "--trials", "6", "--out", str(out),
         "--no-progress", "--set", "data.val_classes=[4, 5]"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    (model,) = [p for p in load_space(None).params if p.key == "model"]
    widths = {json.dumps(c["encoder_kwargs"]["widths"]) for c in model.choices}
    convnets = [cfg for cfg in seen if cfg.model.encoder == "convnet"]
    assert len(seen) == 6 and convnets, [cfg.model.encoder for cfg in seen]
    for cfg in convnets:  # the config's taps, a choice's widths
        kwargs = cfg.model.encoder_kwargs
        assert {k: kwargs[k] for k in _TAPS} == _TAPS, kwargs
        assert json.dumps(kwargs["widths"]) in widths, kwargs
    best = load_config(out / "best.yaml").model
    assert best.encoder == "convnet" and {k: best.encoder_kwargs[k] for k in _TAPS} == _TAPS


def test_a_choice_of_another_encoder_replaces_the_configs_kwargs(
    tmp_path: Path, monkeypatch
) -> None:
    """The config's ConvNet taps would not fit a ResNet: a choice of another encoder takes its
    own encoder_kwargs alone, in the trial and in best.yaml."""
    seen = _recorded_trials(monkeypatch)
    (model,) = [p for p in load_space(None).params if p.key == "model"]
    (resnet,) = [c for c in model.choices if c["encoder"] == "resnet"]
    base = apply_overrides(
        load_config(_tapped_config(tmp_path)), ["data.val_classes=[4, 5]", "train.epochs=1"]
    )
    space = SearchSpace.from_dict({"model": {"choice": [resnet]}})
    assert space.kept_encoder_kwargs(base) == []
    result = run_study(base, space, tmp_path / "study", n_trials=1, progress=False)
    assert result.complete == 1 and result.best_config is not None
    (cfg,) = seen
    for got in (cfg.model, load_config(result.best_config).model):
        assert (got.encoder, got.encoder_kwargs) == ("resnet", resnet["encoder_kwargs"])


def test_a_study_that_dropped_the_configs_taps_is_not_continued(
    tmp_path: Path, monkeypatch
) -> None:
    """A study of the default space started before the merge trained its ConvNet trials
    without the config's taps: continuing it would mix them with trials that keep them, so it
    is refused in one sentence; a study whose config has no other entries continues."""
    _recorded_trials(monkeypatch)
    args = ["tune", "--trials", "2", "--no-progress", "--set", "data.val_classes=[4, 5]"]
    tapped, plain = tmp_path / "tapped", tmp_path / "plain"
    with monkeypatch.context() as old:  # an earlier tune: no record of the merge in study.db
        old.setattr(study_mod, "MERGED_KWARGS_ATTR", "not-this-version")
        for config, out in ((_tapped_config(tmp_path), tapped), (TINY, plain)):
            res = CliRunner().invoke(cli, [*args, str(config), "--out", str(out)])
            assert res.exit_code == 0, res.output
    more = [*args[:2], "3", *args[3:]]
    res = CliRunner().invoke(cli, [*more, str(_tapped_config(tmp_path)), "--out", str(tapped)])
    assert res.exit_code != 0
    assert res.output.strip().splitlines()[-1] == (
        f"Error: {tapped / 'study.db'} holds a study whose convnet trials trained without the "
        "config's model.encoder_kwargs taps, tap_grids, tap_power and tap_train (siamkit tune "
        "then replaced them with each choice's encoder_kwargs; it now keeps them), so new trials "
        "would not be alike: give a new --out to start a fresh study"
    )
    assert len(_rows(tapped / "trials.csv")) == 2  # untouched
    res = CliRunner().invoke(cli, [*more, str(TINY), "--out", str(plain)])
    assert res.exit_code == 0 and "continuing the study" in res.output, res.output
    assert len(_rows(plain / "trials.csv")) == 3
    # a study of this version continues
    new = tmp_path / "new"
    for trials in ("2", "3"):
        res = CliRunner().invoke(
            cli, [*args[:1], "--trials", trials, *args[3:], str(_tapped_config(tmp_path)),
                  "--out", str(new)],
        )  # fmt: skip
        assert res.exit_code == 0, res.output
    assert len(_rows(new / "trials.csv")) == 3


def test_a_width_choice_that_does_not_fit_the_configs_taps_is_refused_before_the_study(
    tmp_path: Path, monkeypatch
) -> None:
    """A ConvNet choice of fewer blocks than the config's taps name (taps [1], widths [8]) is
    merged with them and could not be built: a trial drawing it stopped the study with a
    traceback. It is refused before anything is written, naming the choice and what to change."""
    _recorded_trials(monkeypatch)
    config = _tapped_config(tmp_path)
    doc = yaml.safe_load(config.read_text())
    doc["model"]["encoder_kwargs"]["taps"] = [1]
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    space = _space_file(
        tmp_path,
        "model: {choice: [{encoder: convnet, encoder_kwargs: {widths: [8, 16]}},\n"
        "                 {encoder: convnet, encoder_kwargs: {widths: [8]}}]}\n",
    )
    out = tmp_path / "study"
    res = CliRunner().invoke(
        cli,
        ["tune", str(config), "--trials", "4", "--out", str(out), "--no-progress",
         "--space", str(space), "--set", "data.val_classes=[4, 5]"],
    )  # fmt: skip
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines() == [
        "Error: search space: model = {'encoder': 'convnet', 'encoder_kwargs': {'widths': [8]}} "
        "builds no model with this config (ConvNet taps must be distinct block indices in 0..0, "
        "got [1]): change that choice, or the config's model.encoder_kwargs taps, tap_grids, "
        "tap_power and tap_train, which every convnet trial keeps beside the choice's"
    ]
    assert not out.exists()


def test_a_set_of_one_encoder_kwarg_keeps_the_model_choices(tmp_path: Path, monkeypatch) -> None:
    """--set model.encoder_kwargs.taps=[1] dropped the space's model choices (their widths)
    from the search: an entry no choice sets is kept beside each ConvNet choice's instead, and
    a line says that a trial of another encoder takes its choice's kwargs alone."""
    seen = _recorded_trials(monkeypatch)
    (model,) = [p for p in load_space(None).params if p.key == "model"]
    (resnet,) = [c for c in model.choices if c["encoder"] == "resnet"]
    narrow, wide = (
        {"encoder": "convnet", "encoder_kwargs": {"widths": w}} for w in ([8, 16], [16, 32])
    )
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"model": {"choice": [narrow, wide, resnet]}}))
    out = tmp_path / "study"
    res = CliRunner().invoke(
        cli,
        ["tune", str(_tapped_config(tmp_path)), "--trials", "8", "--out", str(out),
         "--no-progress", "--space", str(space), "--set", "data.val_classes=[4, 5]",
         "--set", "model.encoder_kwargs.taps=[1]"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "fixed by --set" not in res.output
    assert res.output.splitlines()[0] == (
        "--set model.encoder_kwargs.taps goes in the convnet trials only: a trial of another "
        "encoder (resnet) takes its choice's encoder_kwargs alone"
    )
    convnets = [cfg.model.encoder_kwargs for cfg in seen if cfg.model.encoder == "convnet"]
    assert {json.dumps(k["widths"]) for k in convnets} == {"[8, 16]", "[16, 32]"}, convnets
    assert all(k["taps"] == [1] and k["tap_grids"] == [2] for k in convnets), convnets
    best = load_config(out / "best.yaml").model
    assert best.encoder == "convnet" and best.encoder_kwargs["taps"] == [1]
    # an entry the choices set is still pinned: the model choices leave the search
    assert load_space(None).without({"model.encoder_kwargs.taps"})[1] == []
    assert load_space(None).without({"model.encoder_kwargs.widths"})[1] == ["model"]


def test_trials_csv_and_the_table_show_the_encoder_kwargs_a_trial_trained(
    tmp_path: Path, monkeypatch
) -> None:
    """trials.csv and the table of best values showed a model choice as drawn ({widths: [8,
    16]}) while the trial trained it merged with the config's taps (best.yaml alone said so):
    both now show the merged encoder_kwargs, what the trial trained."""
    seen = _recorded_trials(monkeypatch)
    narrow, wide = (
        {"encoder": "convnet", "encoder_kwargs": {"widths": w}} for w in ([8, 16], [16, 32])
    )
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"model": {"choice": [narrow, wide]}, **SPACE}))
    out = tmp_path / "study"
    res = CliRunner().invoke(
        cli,
        ["tune", str(_tapped_config(tmp_path)), "--trials", "4", "--out", str(out),
         "--no-progress", "--space", str(space), "--set", "data.val_classes=[4, 5]"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = _rows(out / "trials.csv")
    assert len(rows) == len(seen) == 4
    for row, cfg in zip(rows, seen, strict=True):
        trained = json.loads(row["model"])
        assert trained == {"encoder": "convnet", "encoder_kwargs": cfg.model.encoder_kwargs}, row
        assert {k: trained["encoder_kwargs"][k] for k in _TAPS} == _TAPS
        assert int(row["model.embedding_dim"]) == cfg.model.embedding_dim  # others as drawn
    best = load_config(out / "best.yaml").model
    table = res.output.split("best value (validation classes)\n")[1].split("\n\n")[0]
    (line,) = [r for r in table.splitlines() if r.startswith("model ")]
    shown = {"encoder": "convnet", "encoder_kwargs": best.encoder_kwargs}
    # the table shows the choice as config keys (model.encoder=convnet model.encoder_kwargs.widths=
    # [8, 16] ...): read each key=value back (YAML values) into the map it stands for
    read: dict = {}
    for item in re.split(r" (?=model\.)", line.split(None, 1)[1]):
        key, value = item.split("=", 1)
        *path, leaf = key.split(".")[1:]
        node = read
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    assert read == shown, line


#: The shipped loss space's losses that learn parameters of their own (its comment's list).
_LEARNING_LOSSES = {
    "proxy_anchor", "proxy_nca", "soft_triple", "normalized_softmax", "sub_center_arcface", "margin"
}  # fmt: skip


def test_the_loss_lr_factor_is_drawn_only_for_a_loss_that_learns_parameters() -> None:
    """configs/space-losses.yaml drew optim.loss_lr_factor for every loss, though a triplet or
    SupCon trial has nothing of its own to train at it (the same run at 1 or 100): it is drawn,
    as a loss's own key is, only for a loss with parameters to learn."""
    root = Path(__file__).resolve().parents[2]
    cfg = apply_overrides(load_config(root / "configs" / "demo.yaml"), ["data.val_classes=2"])
    space = load_space(root / "configs" / "space-losses.yaml")
    (loss,) = [p for p in space.params if p.key == "loss"]
    drawn = {}
    for choice in loss.choices:
        pick = {"loss": choice, "optim.lr": 1e-3, "optim.loss_lr_factor": 100.0}
        values = space.draw(cfg, lambda p, pick=pick: pick[p.key])
        drawn.setdefault(choice["kind"], set()).add("optim.loss_lr_factor" in values)
        assert "loss" in values and "optim.lr" in values
    assert {k for k, v in drawn.items() if v == {True}} == _LEARNING_LOSSES, drawn
    assert {k for k, v in drawn.items() if v == {False}} == set(drawn) - _LEARNING_LOSSES
    # searched while a loss of the study learns: the space's loss choices, whatever the config's
    assert "optim.loss_lr_factor" not in space.unread(cfg)[1]
    # not searched when no loss of the study learns anything
    alone = SearchSpace.from_dict(
        {"optim.loss_lr_factor": {"choice": [1.0, 100.0]}, "optim.lr": {"float": [1e-3, 1e-2]}}
    )
    supcon = apply_overrides(cfg, ["loss.kind=supcon", "loss.mining=null"])
    kept, dropped, _ = alone.unread(supcon)
    assert dropped == ["optim.loss_lr_factor"] and [p.key for p in kept.params] == ["optim.lr"]


def test_cli_says_the_loss_lr_factor_is_not_searched_when_no_loss_learns(
    tmp_path: Path, monkeypatch
) -> None:
    _fake_training(monkeypatch)
    space = _space_file(
        tmp_path,
        "optim.loss_lr_factor: {choice: [1.0, 100.0]}\noptim.lr: {float: [0.001, 0.01]}\n",
    )
    res = CliRunner().invoke(
        cli,
        ["tune", str(TINY), "--trials", "1", "--no-progress", "--space", str(space),
         "--set", "data.val_classes=[4, 5]", "--out", str(tmp_path / "s")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == (
        "not searched, no loss of this study (triplet) learns parameters of its own: "
        "optim.loss_lr_factor"
    )
    assert list(_rows(tmp_path / "s" / "trials.csv")[0])[4:] == ["optim.lr", "reason"]


def test_a_space_searches_one_encoder_kwargs_entry(tmp_path: Path, monkeypatch) -> None:
    """The space's docs say ``model.encoder_kwargs.widths: {choice: [...]}`` sets that one entry,
    but the key was refused as not looking like section.key: it is searched as that entry, the
    config's other entries (taps) kept beside it, and a width its taps do not fit is refused."""
    seen = _recorded_trials(monkeypatch)
    space = _space_file(tmp_path, "model.encoder_kwargs.widths: {choice: [[8, 16], [16, 32]]}\n")
    out = tmp_path / "study"
    args = ["tune", str(_tapped_config(tmp_path)), "--trials", "6", "--no-progress",
            "--space", str(space), "--set", "data.val_classes=[4, 5]"]  # fmt: skip
    res = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert {json.dumps(cfg.model.encoder_kwargs["widths"]) for cfg in seen} == {
        "[8, 16]",
        "[16, 32]",
    }
    assert all({k: cfg.model.encoder_kwargs[k] for k in _TAPS} == _TAPS for cfg in seen)
    best = load_config(out / "best.yaml").model.encoder_kwargs
    assert {k: best[k] for k in _TAPS} == _TAPS
    narrow = _space_file(tmp_path, "model.encoder_kwargs.widths: {choice: [[8, 16], [8]]}\n")
    res = CliRunner().invoke(
        cli, [*args[:-4], "--space", str(narrow), "--set", "data.val_classes=[4, 5]",
              "--set", "model.encoder_kwargs.taps=[1]", "--out", str(tmp_path / "s2")],
    )  # fmt: skip
    assert res.exit_code == 1, res.output
    assert res.output.strip().splitlines()[-1] == (
        "Error: search space: model.encoder_kwargs.widths = [8] builds no model with this config "
        "(ConvNet taps must be distinct block indices in 0..0, got [1]): change that choice, or "
        "the config's model.encoder_kwargs taps, tap_grids, tap_power and tap_train, which every "
        "convnet trial keeps beside the choice's"
    )
    assert not (tmp_path / "s2").exists()


def test_a_combination_that_builds_no_model_fails_its_trial_not_the_study(
    tmp_path: Path, monkeypatch
) -> None:
    """Widths [8] and taps [1] each fit the config's other value, so the pre-study check passes
    them, but a trial drawing both built no model: its ValueError stopped the whole study with
    a traceback. It is a refused combination now: that trial fails, the study goes on."""
    _recorded_trials(monkeypatch)
    space = _space_file(
        tmp_path,
        "model.encoder_kwargs.widths: {choice: [[8, 16], [8]]}\n"
        "model.encoder_kwargs.taps: {choice: [[0], [1]]}\n",
    )
    out = tmp_path / "study"
    res = CliRunner().invoke(
        cli,
        ["tune", str(_tapped_config(tmp_path)), "--trials", "8", "--no-progress",
         "--space", str(space), "--set", "data.val_classes=[4, 5]", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    rows = _rows(out / "trials.csv")
    failed = [r for r in rows if r["state"] == "fail"]
    assert failed and all(
        (r["model.encoder_kwargs.widths"], r["model.encoder_kwargs.taps"]) == ("[8]", "[1]")
        for r in failed
    ), rows
    assert sum(r["state"] == "complete" for r in rows) == len(rows) - len(failed) > 0


def _assert_best_trial_reproduces(
    cfg: Any, space: SearchSpace, n_trials: int, tmp_path: Path
) -> None:
    """A study of ``n_trials`` on ``cfg``, then ``siamkit train``'s run of its best.yaml: the run's
    per-epoch validation figures are exactly those the study recorded for its best trial."""
    import optuna

    from siamkit.experiment import run_experiment

    result = run_study(cfg, space, tmp_path / "study", n_trials=n_trials, progress=False)
    assert result.best_config is not None
    study = optuna.load_study(
        study_name=study_mod.STUDY_NAME, storage=f"sqlite:///{tmp_path / 'study' / 'study.db'}"
    )
    recorded = [study.best_trial.intermediate_values[e] for e in (1, 2)]
    run_experiment(load_config(result.best_config), tmp_path / "train", progress=False,
                   log=lambda _s: None)  # fmt: skip
    history = json.loads((tmp_path / "train" / "history.json").read_text())
    assert [h["val_metric"] for h in history] == recorded


def test_the_best_trials_validation_figures_are_those_of_training_best_yaml(
    base, tmp_path: Path
) -> None:
    """Each trial built its model without seeding first (as ``siamkit train`` seeds), so its
    starting weights depended on the trials before it, and ``siamkit train best.yaml`` did not
    give the validation figures the study recorded for it."""

    cfg = apply_overrides(base, ["train.val_metric=eer"])
    space = SearchSpace.from_dict(SPACE)
    _assert_best_trial_reproduces(cfg, space, 3, tmp_path)


def test_a_trials_line_comes_before_the_progress_line_that_counts_it(
    base, tmp_path: Path, monkeypatch
) -> None:
    """The bar was updated before the trial's line was written: ``trials: 40% (2/5 ...)``
    came before ``trial 1: complete``."""
    import io

    _instant_trials(monkeypatch)
    both = io.StringIO()  # the trial lines and the progress lines, in the order written
    monkeypatch.setattr("sys.stderr", both)
    space = SearchSpace.from_dict({"optim.lr": {"float": [1e-3, 1e-2]}})
    run_study(base, space, tmp_path, n_trials=4, progress=True, log=lambda s: both.write(s + "\n"))
    lines = both.getvalue().splitlines()
    for i, line in enumerate(lines):
        if line.startswith("trials: "):
            counted = int(line.split("(")[1].split("/")[0])
            trial_lines = [x for x in lines[:i] if x.startswith("trial ")]
            assert len(trial_lines) == counted, lines
    assert any(x.startswith("trials: ") for x in lines), lines


def test_run_study_takes_a_space_mapping_or_yaml_path(base, tmp_path: Path, monkeypatch) -> None:
    """A mapping (as DEFAULT_SPACE) or a YAML path failed with AttributeError: 'dict' object
    has no attribute 'params' in check_tunable."""
    _instant_trials(monkeypatch)
    one = {"optim.lr": {"float": [1e-3, 1e-2]}}
    assert run_study(base, one, tmp_path / "a", n_trials=1, progress=False).complete == 1
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(one))
    for given in (path, str(path)):
        out = tmp_path / f"b-{type(given).__name__}"
        assert run_study(base, given, out, n_trials=1, progress=False).complete == 1
    with pytest.raises(TypeError, match=r"^run_study takes a SearchSpace, a mapping .* got list; "
                       r"make one with SearchSpace.from_dict\(mapping\) or load_space\(path\)$"):  # fmt: skip
        run_study(base, ["optim.lr"], tmp_path / "c", n_trials=1, progress=False)  # type: ignore[arg-type]
    assert not (tmp_path / "c").exists()


def test_run_study_refuses_zero_trials(base, tmp_path: Path) -> None:
    """n_trials=0 returned an empty result without a word."""
    space = SearchSpace.from_dict(SPACE)
    for n in (0, -2):
        with pytest.raises(ValueError, match=rf"^run_study needs at least one trial to run, got "
                           rf"n_trials={n}: give 1 or more$"):  # fmt: skip
            run_study(base, space, tmp_path / "s", n_trials=n, progress=False)
    assert not (tmp_path / "s").exists()


def test_a_timeout_that_ends_the_study_early_is_said(tmp_path: Path, monkeypatch) -> None:
    """--timeout ended a study before --trials finished without a word: the end read as if
    the study had run what was asked."""
    import time

    class Slow(FakeTrainer):
        def fit(self) -> Any:
            time.sleep(1.0)  # past the timeout, which the first trial starts well before
            return super().fit()

    _instant_trials(monkeypatch)
    monkeypatch.setattr(search_mod, "Trainer", Slow)
    space = _space_file(tmp_path)
    args = ["tune", str(TINY), "--trials", "5", "--space", str(space), "--no-progress",
            "--set", "data.val_classes=[4, 5]", "--set", "train.epochs=1"]  # fmt: skip
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "s"), "--timeout", "0.5"])
    assert res.exit_code == 0, res.output
    assert (
        "warning: the study stopped at its timeout of 0.5 s with 1 of 5 trials finished; run it "
        "again with the same arguments to continue it\n"
    ) in res.output
    # a timeout that leaves every trial time to finish says nothing
    monkeypatch.setattr(search_mod, "Trainer", FakeTrainer)
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "t"), "--timeout", "600"])
    assert res.exit_code == 0 and "its timeout" not in res.output, res.output


def test_a_continued_study_of_a_thousand_trials_groups_thousands(
    base, tmp_path: Path, monkeypatch
) -> None:
    """A continued study of --trials 1000 says "1 of 1,000 trials finished, 999 to go": its
    thousands separator had no test that failed without it (only small counts were pinned). A
    timeout ends the second run after one slow trial, and its stop sentence said "2 of 1000
    trials finished" two lines below: it is grouped too."""
    import time

    class Slow(FakeTrainer):
        def fit(self) -> Any:
            time.sleep(1.0)  # past the timeout, which the first trial starts well before
            return super().fit()

    _instant_trials(monkeypatch)
    space = SearchSpace.from_dict({"optim.lr": {"float": [1e-4, 1.0], "log": True}})
    run_study(base, space, tmp_path, n_trials=1, progress=False)
    monkeypatch.setattr(search_mod, "Trainer", Slow)
    lines: list[str] = []
    result = run_study(
        base, space, tmp_path, n_trials=1000, timeout=0.5, progress=False, log=lines.append
    )
    assert lines[0] == (
        f"continuing the study in {tmp_path / 'study.db'}: 1 of 1,000 trials finished, 999 to go"
    )
    assert result.stopped_by == "timeout"
    assert result.stopped == (  # grouped as the continue line is
        "the study stopped at its timeout of 0.5 s with 2 of 1,000 trials finished; run it again "
        "with the same arguments to continue it"
    )


def test_a_study_stopped_by_failures_groups_thousands(base, tmp_path: Path, monkeypatch) -> None:
    """The failures-in-a-row stop of a study of 1,000 trials wanted said "0 of 1000 trials"
    (the failure cap is made 3 here, so as not to run 1,000 failing trials)."""
    _refusing_lrs_above(monkeypatch, 0.0)
    monkeypatch.setattr(search_mod, "failure_cap", lambda n_trials: 3)
    space = SearchSpace.from_dict({"optim.lr": {"float": [1e-4, 1.0], "log": True}})
    result = run_study(base, space, tmp_path, n_trials=1000, progress=False)
    assert result.stopped_by == "failures"
    assert str(result.stopped).startswith(
        "the study stopped after 3 trials in a row failed, with 0 of 1,000 trials finished: "
    ), result.stopped


def test_a_timeout_with_no_trial_completed_and_some_failed_exits_1(
    tmp_path: Path, monkeypatch
) -> None:
    """--timeout that ended a study whose every trial had failed (none completed: every value
    refused, or every trial diverged) exited with status 0, so a script took the search that
    found nothing for a success (reviewer s52_R8); it exits 1 with one sentence."""
    import time

    _refusing_lrs_above(monkeypatch, 0.0)

    class SlowRefusing(search_mod.Trainer):  # type: ignore[misc,name-defined]
        def fit(self) -> Any:
            time.sleep(1.0)  # past the timeout: one failed trial, not 10 in a row
            return super().fit()

    monkeypatch.setattr(search_mod, "Trainer", SlowRefusing)
    out = tmp_path / "s"
    res = CliRunner().invoke(
        cli,
        ["tune", str(TINY), "--trials", "5", "--space", str(_space_file(tmp_path)),
         "--no-progress", "--set", "data.val_classes=[4, 5]", "--set", "train.epochs=1",
         "--out", str(out), "--timeout", "0.5"],
    )  # fmt: skip
    assert res.exit_code == 1, res.output
    assert res.output.splitlines()[-2:] == [
        "no trial completed; nothing to recommend",
        "Error: no trial completed before the timeout and 1 failed (each failed trial's warning "
        f"says why, as does {out / 'trials.csv'}); change the space or the config, or run the "
        "same command again to continue the study",
    ], res.output
    assert [r["state"] for r in _rows(out / "trials.csv")] == ["fail"]


def test_timeout_help_says_a_stopped_study_is_said_and_continues() -> None:
    """--timeout's help did not say what the end of a study it stopped says (1f6cb52)."""
    help_text = " ".join(CliRunner().invoke(cli, ["tune", "--help"]).output.split())
    assert (
        "--timeout FLOAT Stop starting trials after this many seconds (a running trial "
        "finishes). A study it stops before --trials finished says so at its end; run the same "
        "command again to continue it."
    ) in help_text, help_text


def test_a_trial_of_an_init_from_config_starts_from_the_saved_model(base, tmp_path: Path) -> None:
    """A config's model.init_from was not read by the trials (run.py copies the saved model's
    weights in after building the model; the objective did not), so every trial trained from
    scratch while siamkit train best.yaml starts from the saved model."""

    from siamkit import save_model
    from siamkit.training import build_model, load_run_data

    data = load_run_data(base.data)
    torch.manual_seed(123)
    saved = save_model(build_model(base.model, data.input_shape), tmp_path / "src")
    cfg = apply_overrides(base, ["train.val_metric=eer", f"model.init_from={saved}"])
    space = SearchSpace.from_dict({"optim.lr": {"float": [1e-3, 1e-2]}})
    _assert_best_trial_reproduces(cfg, space, 1, tmp_path)
    # a saved model that is not there is refused before the study folder is made
    gone = apply_overrides(base, [f"model.init_from={tmp_path / 'gone'}"])
    with pytest.raises(FileNotFoundError, match=r"^model\.init_from: no saved model at "):
        run_study(gone, space, tmp_path / "s2", n_trials=1, progress=False)
    assert not (tmp_path / "s2").exists()


def test_a_models_note_is_said_once_not_warned_every_trial(base, tmp_path: Path) -> None:
    """configs/demo.yaml's one-value input_mean on a colour folder: every trial's model warned
    'UserWarning: model.input_mean / ...' with a source line; the study now says it once."""
    import warnings

    rgb_stats = apply_overrides(
        base, ["model.input_mean=[0.5, 0.5, 0.5]", "model.input_std=[0.2, 0.2, 0.2]"]
    )
    lines: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_study(
            rgb_stats,
            SearchSpace.from_dict(SPACE),
            tmp_path,
            n_trials=2,
            progress=False,
            log=lines.append,
        )
    notes = [s for s in lines if s.startswith("model.input_mean / model.input_std give 3 values")]
    assert len(notes) == 1
    assert not [w for w in caught if "model.input_mean" in str(w.message)]


def test_a_trials_training_note_is_said_once(base, tmp_path: Path) -> None:
    """data.val_classes=[4, 5] leaves 4 of digits-tiny's 6 classes to train on, so every trial
    trained batches of 4 classes where the config says 6, and the study said nothing."""
    lines: list[str] = []
    run_study(
        base, SearchSpace.from_dict(SPACE), tmp_path, n_trials=2, progress=False, log=lines.append
    )
    notes = [s for s in lines if s.startswith("note: ")]
    assert notes == [
        "note: train.classes_per_batch = 6 is more than the 4 training classes (data.val_classes "
        "holds 2 of the classes out), so a batch holds 4 classes x up to 8 images"
    ]
    assert not [s for s in lines if s.startswith("epoch ")]  # a trial's epoch lines stay out


def test_a_trial_whose_objective_cannot_be_built_fails_and_the_study_goes_on(
    base, tmp_path: Path
) -> None:
    """A choice whose loss the cross-batch memory cannot mine with (contrastive with the pairs
    miner) passes the config's checks; building its objective refuses it, which stopped the
    whole study with a ValueError. That trial now fails alone, saying why, and others run."""
    memory = apply_overrides(base, ["loss.xbm_memory_size=64"])
    pairs, hard = (
        {"kind": "contrastive", "mining": "pairs"},
        {"kind": "triplet", "mining": "batch_hard"},
    )
    space = SearchSpace.from_dict({"loss": {"choice": [pairs, hard]}})
    result = run_study(memory, space, tmp_path, n_trials=2, progress=False)
    assert result.complete == 2 and result.failed >= 1
    import optuna

    study = optuna.load_study(study_name=None, storage=f"sqlite:///{tmp_path / 'study.db'}")
    refused = [t.user_attrs["refused"] for t in study.trials if "refused" in t.user_attrs]
    assert refused and refused[0].startswith(
        "loss.mining = pairs cannot go with loss.xbm_memory_size"
    )


@pytest.mark.parametrize("rank", ["0", "1"])
def test_tune_under_torchrun_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch, rank: str
) -> None:
    """Under torchrun every process opened OUT/study.db at once and one crashed with a raw
    SQLAlchemy IntegrityError; each trial is a single-process training, so tune refuses."""
    from siamkit.cli.tune_cmd import TUNE_UNDER_TORCHRUN

    ran: list[bool] = []
    monkeypatch.setattr("siamkit.tuning.run_study", lambda *a, **k: ran.append(True))
    monkeypatch.setenv("RANK", rank)
    monkeypatch.setenv("WORLD_SIZE", "2")
    out = tmp_path / "study"
    res = CliRunner().invoke(cli, ["tune", str(TINY), "--trials", "2", "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert res.output.strip().endswith(f"Error: {TUNE_UNDER_TORCHRUN}"), res.output
    assert ran == [] and not out.exists() and list(tmp_path.iterdir()) == []


#: ``WORLD_SIZE`` as a shell may hold it, and whether it is a torchrun launch's: an integer
#: above 1, as :func:`siamkit.distributed.is_main_process` reads it.
TUNE_WORLD_SIZES = {"abc": False, "-1": False, "01": False, "1.0": False, "": False,
                    "1": False, "2": True, " 2": True}  # fmt: skip


@pytest.mark.parametrize("world", list(TUNE_WORLD_SIZES))
def test_tune_reads_world_size_as_the_one_main_process_rule_does(
    tmp_path: Path, monkeypatch, world: str
) -> None:
    """tune read WORLD_SIZE as a string, refused unless it was '', '0' or '1' once stripped: a
    one-process `siamkit tune` where the shell held WORLD_SIZE=abc (or -1, 01, 1.0) was refused
    as run under torchrun, where train and is_main_process read it as no launch. Now it is
    refused exactly for a launch's value; any other goes on to read the config (whose bad --set
    is then the error said)."""
    from siamkit.cli.tune_cmd import TUNE_UNDER_TORCHRUN
    from siamkit.distributed import is_main_process

    monkeypatch.setattr("siamkit.tuning.run_study", lambda *a, **k: pytest.fail("tuned"))
    monkeypatch.setenv("WORLD_SIZE", world)
    monkeypatch.setenv("RANK", "1")  # is_main_process: False for a launch's process 1 alone
    launched = TUNE_WORLD_SIZES[world]
    assert is_main_process() is not launched
    out = tmp_path / "study"
    args = ["tune", str(TINY), "--trials", "1", "--set", "train.bogus=1", "--out", str(out)]
    res = CliRunner().invoke(cli, args)
    said = " ".join(res.output.split())
    if launched:
        assert res.exit_code == 2 and said.endswith(f"Error: {TUNE_UNDER_TORCHRUN}"), said
    else:
        assert res.exit_code == 1, said
        assert said.startswith("Error: unknown key 'bogus' in section 'train'"), said
    assert not out.exists() and list(tmp_path.iterdir()) == []
