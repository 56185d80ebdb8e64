"""User code outside the package: ``siamkit --plugin MODULE``, ``$SIAMKIT_PLUGINS`` and the
``siamkit.plugins`` entry points import the modules that register a user's parts, so a config
names them as it names the built-in ones."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from siamkit.cli.main import cli
from siamkit.encoders.registry import ENCODERS
from siamkit.registry import PLUGIN_GROUP, import_plugins

TINY = Path(__file__).resolve().parents[2] / "configs" / "digits-tiny.yaml"

ENCODER_MODULE = """
from torch import nn
from siamkit.encoders import register_encoder


class TinyCNN(nn.Module):
    def __init__(self, in_channels: int = 1, width: int = 8):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.num_features = width

    def forward(self, x):
        return self.net(x)


register_encoder("{name}", TinyCNN)
"""


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """``(module name, encoder name)``: a user's file in ``tmp_path`` (the current folder) that
    registers an encoder; both unknown to this process until imported, and forgotten after."""
    tag = uuid.uuid4().hex[:8]
    module, encoder = f"my_parts_{tag}", f"tiny_cnn_{tag}"
    (tmp_path / f"{module}.py").write_text(ENCODER_MODULE.format(name=encoder))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delenv("SIAMKIT_PLUGINS", raising=False)
    monkeypatch.setattr("siamkit.registry._IMPORTED", {})  # the plug-ins a saved model records
    yield module, encoder
    sys.modules.pop(module, None)
    if encoder in ENCODERS:
        ENCODERS.unregister(encoder)


def _help(args: list[str]) -> str:
    res = CliRunner().invoke(cli, [*args, "train", "--help"])
    assert res.exit_code == 0, res.output
    return res.output


def test_plugin_option_imports_a_module_of_the_current_folder(user_module) -> None:
    module, encoder = user_module
    assert encoder not in _help([])
    assert encoder in _help(["--plugin", module])  # train --help lists the registries' names


def test_plugins_from_the_environment(user_module, monkeypatch) -> None:
    module, encoder = user_module
    monkeypatch.setenv("SIAMKIT_PLUGINS", f"json, {module}")
    assert encoder in _help([])


def test_a_plugin_file_is_imported_from_its_own_folder(user_module, tmp_path, monkeypatch) -> None:
    module, encoder = user_module
    monkeypatch.chdir("/")
    assert encoder in _help(["--plugin", str(tmp_path / f"{module}.py")])


def test_an_installed_packages_entry_point_is_imported(user_module, monkeypatch) -> None:
    module, encoder = user_module
    ep = importlib.metadata.EntryPoint(name="mine", value=module, group=PLUGIN_GROUP)
    monkeypatch.syspath_prepend(str(Path.cwd()))

    def entry_points(**kw: str) -> list[importlib.metadata.EntryPoint]:
        return [ep] if kw.get("group") == PLUGIN_GROUP else []

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    assert import_plugins() == [module] and encoder in ENCODERS


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        ("no_such_mod", "cannot find the plug-in module 'no_such_mod'; run siamkit in the folder"),
        ("my-parts", "'my-parts' is not a module name"),
        ("missing.py", "plug-in file missing.py does not exist"),
    ],
)
def test_a_plugin_that_cannot_be_imported_is_one_sentence(
    user_module, plugin: str, message: str
) -> None:
    res = CliRunner().invoke(cli, ["--plugin", plugin, "train", "--help"])
    assert res.exit_code == 1 and res.output.startswith("Error: ") and message in res.output
    assert res.output.count("\n") == 1 and "Traceback" not in res.output


def test_a_plugin_whose_own_code_fails_is_named(user_module, tmp_path) -> None:
    (tmp_path / "broken_parts.py").write_text("import no_such_dependency_xyz\n")
    res = CliRunner().invoke(cli, ["--plugin", "broken_parts", "train", "--help"])
    sys.modules.pop("broken_parts", None)
    assert res.exit_code == 1
    assert "the plug-in module 'broken_parts' failed to import" in res.output
    assert "no_such_dependency_xyz" in res.output


def _readme_plugin_module() -> str:
    """The README's ``my_parts.py``, as a user copies it."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Your own encoder, loss, miner or distance") :]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]


#: What a new process must not inherit from the one running the tests.
_UNSET = ("SIAMKIT_PLUGINS", "SIAMKIT_TRUST_PLUGINS", "PYTHONPATH")


def _siamkit(cwd: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """``siamkit ARGS`` in a new process, as a user runs it: the console script, whose path
    does not hold the current folder (``environ``: variables to set)."""
    script = Path(sys.executable).with_name("siamkit")
    cmd = [str(script)] if script.is_file() else [sys.executable, "-m", "siamkit"]
    env = {k: v for k, v in os.environ.items() if k not in _UNSET} | environ
    return subprocess.run(
        [*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_a_model_of_the_readmes_parts_trains_and_loads_in_a_fresh_process(tmp_path) -> None:
    """The README's encoder, loss, miner and distance train from a config naming them; the saved
    model records the run's plug-in (plugins:). New processes given --plugin load it; without,
    loading imports nothing and says in one sentence which recorded module to import and how;
    told to trust the model's plug-ins (--trust-plugins, $SIAMKIT_TRUST_PLUGINS, trust_plugins=
    True) it evaluates, embeds and loads in Python, importing the module saying so; a trusted
    recorded module that is gone is one sentence naming it and what to do."""
    (tmp_path / "my_parts.py").write_text(_readme_plugin_module())
    config = {
        "data": {"dataset": "digits", "train_classes": [0, 1, 2, 3, 4, 5], "augmentation": "none"},
        "model": {
            "encoder": {"kind": "tiny_cnn", "params": {"width": 8}},
            "embedding_dim": 8,
            "distance": "chebyshev",
        },
        "loss": {"kind": "hinge", "params": {"margin": 0.3}, "miner": {"kind": "my_hardest"}},
        "train": {"epochs": 1, "classes_per_batch": 6, "samples_per_class": 4,
                  "steps_per_epoch": 2, "seed": 0, "threads": 1},
        "eval": {"episodes": 10},
    }  # fmt: skip
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(config))
    res = _siamkit(tmp_path, "--plugin", "my_parts", "train", "mine.yaml", "--out", "run")
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "run" / "model" / "siamkit.json").read_text())
    assert doc["model"]["encoder"]["module"] == "my_parts"
    assert doc["model"]["distance"] == {
        "type": "registered", "name": "chebyshev", "params": {}, "module": "my_parts"
    }  # fmt: skip
    assert doc["plugins"] == ["my_parts"]

    args = ["evaluate", "run/model", "--data", "digits", "--classes", "6,7,8,9", "--json"]
    res = _siamkit(tmp_path, "--plugin", "my_parts", *args)  # imported already: no line
    assert res.returncode == 0, res.stderr
    assert 0 <= json.loads(res.stdout)["verification"]["roc_auc"] <= 1
    assert "recorded in the model" not in res.stderr

    res = _siamkit(tmp_path, *args)  # not told to trust the model's plug-ins: imports nothing
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [
        "Error: run/model cannot be loaded: its encoder 'tiny_cnn' needs the plug-in module "
        "'my_parts' that the model records, which loading does not import unless told to; pass "
        "--plugin my_parts (or set SIAMKIT_PLUGINS=my_parts), or --trust-plugins to import the "
        "modules the model records, only for model folders you trust (in Python, import them "
        "first or call load_model(path, trust_plugins=True))"
    ]

    imported = "importing plug-in module my_parts recorded in the model"
    res = _siamkit(tmp_path, "--trust-plugins", *args)
    assert res.returncode == 0, res.stderr
    assert 0 <= json.loads(res.stdout)["verification"]["roc_auc"] <= 1
    assert res.stderr.splitlines().count(imported) == 1
    embed = ["embed", "run/model", "--data", "digits", "--out", "z.npy"]
    res = _siamkit(tmp_path, *embed, SIAMKIT_TRUST_PLUGINS="1")
    assert res.returncode == 0, res.stderr
    assert np.load(tmp_path / "z.npy").shape[1] == 8
    assert res.stderr.splitlines().count(imported) == 1
    load = (
        "import siamkit; print(siamkit.load_model('run/model', trust_plugins=True).embedding_dim)"
    )
    res = subprocess.run([sys.executable, "-c", load], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "8" and res.stderr.strip() == imported

    (tmp_path / "my_parts.py").rename(tmp_path / "elsewhere.py")
    res = _siamkit(tmp_path, "--trust-plugins", *args)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [
        imported,
        "Error: run/model cannot be loaded: the plug-in module 'my_parts' recorded in the model "
        "cannot be imported (not found on the Python path or in the current folder); install "
        "it, or pass --plugin naming its module or .py file (in Python, import it before "
        "load_model)",
    ]
    res = _siamkit(tmp_path, "--plugin", "elsewhere", *args)  # moved: named as it is now
    assert res.returncode == 0, res.stderr


def test_a_model_saved_in_python_records_its_plugin_file_and_loads_elsewhere(
    user_module, tmp_path
) -> None:
    """A model of an encoder registered by a plug-in file (imported in Python as --plugin does)
    records the file's absolute path. A new process in another folder loading it runs none of
    that file (it writes nothing) and says which file to import and how; given
    trust_plugins=True it loads it with no --plugin and no import of its own."""
    import siamkit
    from siamkit.encoders import create_encoder
    from siamkit.models import Preprocess, SiameseNetwork

    module, encoder = user_module
    file = tmp_path / f"{module}.py"
    marker = "from pathlib import Path\nPath('imported.txt').write_text('ran')  # in the cwd\n"
    file.write_text(file.read_text() + marker)  # what any code in the file could do
    import_plugins([str(file)], entry_points=False)
    enc = create_encoder(encoder, width=4)
    net = SiameseNetwork(enc, embedding_dim=4, preprocess=Preprocess(input_shape=(1, 8, 8)))
    siamkit.save_model(net, tmp_path / "model")
    doc = json.loads((tmp_path / "model" / "siamkit.json").read_text())
    assert doc["plugins"] == [str(file)]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    model = tmp_path / "model"
    saved = sorted(p.name for p in model.iterdir())
    env = {k: v for k, v in os.environ.items() if k not in _UNSET}

    def load(trust: str) -> subprocess.CompletedProcess[str]:
        code = f"import siamkit; print(siamkit.load_model({str(model)!r}{trust}).embedding_dim)"
        return subprocess.run([sys.executable, "-c", code], cwd=elsewhere, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip

    for trust in ("", ", trust_plugins=False"):
        res = load(trust)
        assert res.returncode == 1 and res.stdout == ""
        assert res.stderr.strip().splitlines()[-1] == (
            f"siamkit.export.bundle.ModelFileError: {model} cannot be loaded: its encoder "
            f"{encoder!r} needs the plug-in module {str(file)!r} that the model records, which "
            f"loading does not import unless told to; pass --plugin {file} (or set "
            f"SIAMKIT_PLUGINS={file}), or --trust-plugins to import the modules the model "
            "records, only for model folders you trust (in Python, import them first or call "
            "load_model(path, trust_plugins=True))"
        )
        assert "importing plug-in module" not in res.stderr
        assert list(elsewhere.iterdir()) == []  # the file's code did not run
        assert sorted(p.name for p in model.iterdir()) == saved

    res = load(", trust_plugins=True")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "4"
    assert res.stderr.strip() == f"importing plug-in module {file} recorded in the model"
    assert (elsewhere / "imported.txt").read_text() == "ran"


def test_a_bundle_recording_no_plugins_names_the_module_of_its_part(user_module, tmp_path) -> None:
    """A model saved before plug-ins were recorded (no plugins in siamkit.json) loads without its
    module as before: one sentence naming the module that registered the part and --plugin."""
    import siamkit
    from siamkit.encoders import create_encoder
    from siamkit.export import ModelFileError
    from siamkit.models import Preprocess, SiameseNetwork

    module, encoder = user_module
    import_plugins([module], entry_points=False)
    enc = create_encoder(encoder, width=4)
    net = SiameseNetwork(enc, embedding_dim=4, preprocess=Preprocess(input_shape=(1, 8, 8)))
    siamkit.save_model(net, tmp_path / "model")
    cfg = tmp_path / "model" / "siamkit.json"
    doc = json.loads(cfg.read_text())
    del doc["plugins"]
    cfg.write_text(json.dumps(doc))
    sys.modules.pop(module)
    ENCODERS.unregister(encoder)
    for trust in (False, True):
        with pytest.raises(ModelFileError) as err:
            siamkit.load_model(tmp_path / "model", trust_plugins=trust)
        assert str(err.value) == (
            f"{tmp_path / 'model'} cannot be loaded: its encoder {encoder!r} is registered by the "
            f"module {module!r}, which is not imported; run siamkit with --plugin {module} (in "
            f"Python, import {module} first)"
        )
    assert module not in sys.modules


def test_a_model_of_siamkits_own_parts_records_no_plugins(user_module, tmp_path) -> None:
    """A plug-in imported in the process is recorded only by a model that has a part of a
    user's own (its loss alone, say, is not the model's)."""
    import siamkit
    from siamkit.encoders import create_encoder
    from siamkit.models import Preprocess, SiameseNetwork

    module, _ = user_module
    import_plugins([module], entry_points=False)
    enc = create_encoder("convnet", in_channels=1)
    net = SiameseNetwork(enc, embedding_dim=4, preprocess=Preprocess(input_shape=(1, 8, 8)))
    siamkit.save_model(net, tmp_path / "model")
    assert "plugins" not in json.loads((tmp_path / "model" / "siamkit.json").read_text())


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ("model.encoder=my_net", "model.encoder = 'my_net'"),
        ("loss.kind=my_loss", "loss.kind = 'my_loss'"),
        ("loss.mining=my_miner", "loss.mining = 'my_miner'"),
        ("model.distance=my_distance", "model.distance = 'my_distance'"),
    ],
)
def test_a_name_no_registry_holds_says_how_to_import_ones_own(
    tmp_path: Path, setting: str, key: str
) -> None:
    """A config naming a part siamkit does not know may name the user's own: the refusal says
    how to import the module that registers it."""
    args = ["train", str(TINY), "--out", str(tmp_path / "run"), "--set", setting]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert res.output.startswith(f"Error: {key}") and res.output.count("\n") == 1
    assert res.output.rstrip().endswith(
        "; if it is your own, import the module that registers it with siamkit --plugin MODULE "
        "(in Python, import it before loading the config)"
    )


def test_a_built_in_name_refused_for_another_reason_gives_no_plugin_hint(tmp_path: Path) -> None:
    args = ["train", str(TINY), "--out", str(tmp_path / "run"), "--set", "loss.mining=pairs"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code != 0 and "mines pairs" in res.output and "--plugin" not in res.output


def _tiny_config(encoder: str) -> dict[str, object]:
    config = yaml.safe_load(TINY.read_text(encoding="utf-8"))
    config["model"] = {"encoder": {"kind": encoder, "params": {"width": 8}}, "embedding_dim": 8}
    config["train"].update(epochs=1, steps_per_epoch=2)
    config["eval"] = {"episodes": 10}
    return config


def test_a_run_started_with_a_plugin_resumes_without_naming_it_again(tmp_path) -> None:
    """OUT/config.yaml records the plug-ins the run was started with (plugins:), and --resume
    imports them again; a recorded module that is gone is one sentence naming it."""
    (tmp_path / "my_parts.py").write_text(ENCODER_MODULE.format(name="tiny_cnn"))
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(_tiny_config("tiny_cnn")))
    res = _siamkit(tmp_path, "--plugin", "my_parts", "train", "mine.yaml", "--out", "run")
    assert res.returncode == 0, res.stderr
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert recorded["plugins"] == ["my_parts"]

    resume = ["train", "mine.yaml", "--out", "run", "--resume", "--set", "train.epochs=2"]
    res = _siamkit(tmp_path, *resume, "--json")
    assert res.returncode == 0, res.stderr
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())) == 2
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert recorded["plugins"] == ["my_parts"]

    (tmp_path / "my_parts.py").rename(tmp_path / "elsewhere.py")
    res = _siamkit(tmp_path, *resume)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [
        "Error: run/config.yaml: plugins: cannot find the plug-in module 'my_parts'; run siamkit "
        "in the folder that holds my_parts.py, add that folder to PYTHONPATH, or install the "
        "package that provides it"
    ]


def test_a_study_started_with_a_plugin_recommends_a_config_that_imports_it(tmp_path) -> None:
    """siamkit tune's trials use the plug-in's parts, and best.yaml records the module
    (plugins:), so training it needs no --plugin; the study remembers it, so continuing it
    needs none either (the config names the plug-in's encoder and no plugins:)."""
    (tmp_path / "my_parts.py").write_text(ENCODER_MODULE.format(name="tiny_cnn"))
    config = _tiny_config("tiny_cnn")
    config["data"]["val_classes"] = 2
    config["train"]["classes_per_batch"] = 4
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "space.yaml").write_text("optim.lr: {float: [1.0e-3, 3.0e-3], log: true}\n")
    tune = ["tune", "mine.yaml", "--space", "space.yaml", "--out", "study", "--no-progress"]
    res = _siamkit(tmp_path, "--plugin", "my_parts", *tune, "--trials", "1")
    assert res.returncode == 0, res.stderr
    best = yaml.safe_load((tmp_path / "study" / "best.yaml").read_text())
    assert best["plugins"] == ["my_parts"]
    (tmp_path / "study" / "best.yaml").unlink()  # written again by the continued study alone

    res = _siamkit(tmp_path, *tune, "--trials", "2")
    assert res.returncode == 0, res.stderr
    assert "trial 1: complete" in res.stdout
    best = yaml.safe_load((tmp_path / "study" / "best.yaml").read_text())
    assert best["plugins"] == ["my_parts"]
    res = _siamkit(tmp_path, "train", "study/best.yaml", "--out", "best", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "best" / "model" / "siamkit.json").read_text())
    assert doc["model"]["encoder"]["module"] == "my_parts"


@pytest.mark.parametrize("value", [3, ["my_parts", 4], [""]])
def test_a_configs_plugins_key_names_modules(value: object) -> None:
    from siamkit.training.config_io import config_from_dict
    from siamkit.training.config_sections import ConfigError

    with pytest.raises(ConfigError, match=r"^plugins must be a list of module names or \.py"):
        config_from_dict({"plugins": value})


def test_a_configs_plugins_key_imports_them_before_the_config_is_checked(user_module) -> None:
    from siamkit.training.config_io import config_from_dict

    module, encoder = user_module
    cfg = config_from_dict({"plugins": [module], "model": {"encoder": {"kind": encoder}}})
    assert cfg.model.encoder == encoder


def _text_task(doc: dict[str, object]) -> None:
    from siamkit.applications.text.train_config import parse_config

    parse_config({**doc, "data": {"train": "pairs.csv"}})


def _ssl_task(doc: dict[str, object]) -> None:
    from siamkit.applications.ssl.config import ssl_config_from_dict

    ssl_config_from_dict(doc)


def _signatures_task(doc: dict[str, object]) -> None:
    from siamkit.applications.signatures.config import signature_config_from_dict

    signature_config_from_dict(doc)


def _siamfc_task(doc: dict[str, object]) -> None:
    from siamkit.applications.tracking.task import resolve_config

    resolve_config(doc)


def _half_twin_task(doc: dict[str, object]) -> None:
    from siamkit.applications.half_twin.task import run
    from siamkit.training.tasks import TaskOptions

    # (no parse function of its own: the run's first check after the sections' is data.path)
    with pytest.raises(ValueError, match=r"^data\.path is required"):
        run(doc, Path("unused"), TaskOptions(device="cpu"))


@pytest.mark.parametrize(
    "check", [_text_task, _ssl_task, _signatures_task, _siamfc_task, _half_twin_task]
)
def test_an_application_configs_plugins_key_is_imported_not_an_unknown_section(
    user_module, check
) -> None:
    """A `task:` config's top-level plugins: was refused as an unknown section; it is imported
    (as an image run config's is) and dropped before the task's own checks."""
    module, _ = user_module
    check({"plugins": [module]})
    assert module in sys.modules


def test_an_ssl_run_started_with_a_plugin_resumes_without_naming_it_again(tmp_path) -> None:
    """A task: ssl run of a plug-in's encoder records the module in OUT/config.yaml (plugins:),
    so `siamkit train OUT/config.yaml --resume` needs no --plugin."""
    (tmp_path / "my_parts.py").write_text(ENCODER_MODULE.format(name="tiny_cnn"))
    config = {
        "task": "ssl",
        "data": {"dataset": "digits"},
        "model": {"encoder": "tiny_cnn", "encoder_kwargs": {"width": 8}, "embedding_dim": 8},
        "ssl": {"proj_dim": 8, "proj_hidden": 16, "pred_hidden": 8},
        "train": {"epochs": 1, "batch_size": 32, "steps_per_epoch": 1, "device": "cpu"},
    }
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(config))
    run = ["train", "--no-progress", "--json"]
    res = _siamkit(tmp_path, "--plugin", "my_parts", *run, "mine.yaml", "--out", "run")
    assert res.returncode == 0, res.stderr
    recorded = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert recorded["plugins"] == ["my_parts"] and recorded["task"] == "ssl"
    resume = [*run, "run/config.yaml", "--out", "run", "--resume", "--set", "train.epochs=2"]
    res = _siamkit(tmp_path, *resume)
    assert res.returncode == 0, res.stderr
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())) == 3


def _saved_with_a_plugin_file(module: str, encoder: str, tmp_path: Path) -> tuple[Path, Any, str]:
    """A model of ``encoder`` saved after importing its plug-in file (which writes imported.txt
    in the cwd when imported), then the file forgotten as in a new process: ``(model folder, a
    network of the same parts to start from it, the sentence loading it untrusted raises)``."""
    import siamkit
    from siamkit.encoders import create_encoder
    from siamkit.models import Preprocess, SiameseNetwork

    file = tmp_path / f"{module}.py"
    marker = "from pathlib import Path\nPath('imported.txt').write_text('ran')  # in the cwd\n"
    file.write_text(file.read_text() + marker)
    import_plugins([str(file)], entry_points=False)
    nets = [
        SiameseNetwork(create_encoder(encoder, width=4), embedding_dim=4,
                       preprocess=Preprocess(input_shape=(1, 8, 8)))
        for _ in range(2)
    ]  # fmt: skip
    siamkit.save_model(nets[0], tmp_path / "model")
    sys.modules.pop(module)
    ENCODERS.unregister(encoder)
    (tmp_path / "imported.txt").unlink()
    model = tmp_path / "model"
    untrusted = (
        f"{model} cannot be loaded: its encoder {encoder!r} needs the plug-in module "
        f"{str(file)!r} that the model records, which loading does not import unless told to; "
        f"pass --plugin {file} (or set SIAMKIT_PLUGINS={file}), or --trust-plugins to import the "
        "modules the model records, only for model folders you trust (in Python, import them "
        "first or call load_model(path, trust_plugins=True))"
    )
    return model, nets[1], untrusted


def test_init_from_model_passes_trust_plugins_on(user_module, tmp_path) -> None:
    """init_from_model (model.init_from in Python) takes load_model's trust_plugins: without it a
    model recording its plug-in file imports nothing; with True it imports the file and copies."""
    from siamkit.export import ModelFileError
    from siamkit.training.init_from import init_from_model

    model, net, untrusted = _saved_with_a_plugin_file(*user_module, tmp_path)
    for trust in ({}, {"trust_plugins": False}):
        with pytest.raises(ModelFileError) as err:
            init_from_model(net, model, **trust)
        assert str(err.value) == untrusted
        assert not (tmp_path / "imported.txt").exists()
    source = init_from_model(net, model, trust_plugins=True)
    assert (tmp_path / "imported.txt").read_text() == "ran"
    assert user_module[0] in sys.modules
    for a, b in zip(net.encoder.state_dict().values(), source.encoder.state_dict().values()):
        assert a.equal(b)


def test_load_text_model_passes_trust_plugins_on(user_module, tmp_path, monkeypatch) -> None:
    """load_text_model takes load_model's trust_plugins for a siamkit bundle. A bundle of
    another kind is refused as load_model(expect=TextSiameseNetwork) refuses it, before its
    recorded plug-in file is imported, trusted or not (it was imported, then refused)."""
    import siamkit.export.bundle as bundle
    from siamkit.applications.text import TextSiameseNetwork, load_text_model
    from siamkit.export import ModelFileError

    model, _, _ = _saved_with_a_plugin_file(*user_module, tmp_path)
    for trust in ({}, {"trust_plugins": False}, {"trust_plugins": True}):
        with pytest.raises(ModelFileError, match="not a text model") as err:
            load_text_model(model, **trust)
        assert isinstance(err.value, TypeError)
        assert not (tmp_path / "imported.txt").exists()
    passed: list[object] = []
    real = bundle.load_model

    def spy(path, map_location="cpu", *, trust_plugins=None, expect=None):
        passed.append((trust_plugins, expect))
        return real(path, map_location, trust_plugins=trust_plugins, expect=expect)

    monkeypatch.setattr(bundle, "load_model", spy)
    for trust in (True, False, None):
        with pytest.raises(ModelFileError):
            load_text_model(model, trust_plugins=trust)
    assert passed == [(t, TextSiameseNetwork) for t in (True, False, None)]


def test_a_task_registered_by_the_configs_own_plugins_runs(tmp_path, monkeypatch) -> None:
    """A config's plugins: may register the task it names (task: mine, plugins: [mine.py]);
    a one-process `siamkit train` looked the task up before importing them, so it said
    "Error: unknown task 'mine' in the config" (reviewer s57_r4, noticed), where
    `--nproc-per-node 2`'s check, which imports them first, let the config through."""
    import siamkit.training.tasks as tasks

    monkeypatch.setattr(tasks, "_TASKS", dict(tasks._TASKS))  # the registration undone after
    name = f"task_{uuid.uuid4().hex[:8]}"
    module = tmp_path / f"{name}.py"
    module.write_text(
        "from siamkit.training.tasks import TaskSummary, register_task\n\n"
        "def run(config, out_dir, options):\n"
        "    out_dir.mkdir(parents=True)\n"
        "    return TaskSummary(model_dir=None, metrics={'ran': config['size']})\n\n"
        f"register_task({name!r}, run)\n"
    )
    config = tmp_path / "mine.yaml"
    config.write_text(yaml.safe_dump({"task": name, "plugins": [str(module)], "size": 3}))
    out = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", str(config), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == {"ran": 3} and out.is_dir()
