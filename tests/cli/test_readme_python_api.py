"""README's lines on calling siamkit from Python (a config as a mapping, another task's runner,
the text functions) name calls that exist and run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n#", start + len(title))
    return README[start : end if end > 0 else None]


def test_readme_runs_a_config_written_as_a_dict(monkeypatch, tmp_path):
    """config_from_dict (1fdf20b) and the task runners (2a73793) were named in no README line, so
    a notebook user had load_config's file path as the only way in."""
    import siamkit.experiment
    from siamkit.training import ConfigError, RunConfig, config_from_dict

    text = " ".join(_section("## A run as a library call").split())
    call = re.search(r"`(run_experiment\(config_from_dict\(.*?\), \"runs/d\"\))`", text)
    assert call, "README no longer shows run_experiment of config_from_dict"
    ran: list[tuple[RunConfig, str]] = []
    monkeypatch.setattr(siamkit.experiment, "run_experiment", lambda c, o: ran.append((c, o)))
    names = {
        "run_experiment": siamkit.experiment.run_experiment,
        "config_from_dict": config_from_dict,
    }
    eval(call.group(1), names)
    assert ran and ran[0][0].data.dataset == "digits" and ran[0][0].train.epochs == 1
    assert "get_task(task)(doc, out_dir, TaskOptions())" in text
    with pytest.raises(ConfigError, match=re.escape("siamkit.training.get_task('ssl')")):
        config_from_dict(yaml.safe_load((ROOT / "configs" / "simclr.yaml").read_text()))


def test_readme_runs_an_ssl_config_from_python(monkeypatch):
    """README showed task: ssl configs run only by siamkit train; get_task, TaskOptions and
    TaskSummary (cf5c5aa, 2a73793) were in no README line."""
    import dataclasses

    import siamkit.training
    from siamkit.applications.ssl import run as ssl_run
    from siamkit.training import TaskOptions, TaskSummary

    section = _section("### Learning without labels")
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "README no longer shows an SSL config run from Python"
    calls: list[tuple[str, dict[str, Any], Any, TaskOptions]] = []

    def fake_get_task(task: str) -> Any:
        assert siamkit.training.tasks.get_task(task).__wrapped__ is ssl_run
        return lambda doc, out, options: (
            calls.append((task, doc, out, options)) or TaskSummary(Path(out) / "model")
        )

    monkeypatch.setattr(siamkit.training, "get_task", fake_get_task)
    monkeypatch.chdir(ROOT)
    namespace: dict[str, Any] = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    task, doc, out, options = calls[0]
    assert task == "ssl" and "task" not in doc and str(out) == "runs/ssl"
    assert namespace["summary"].model_dir == Path("runs/ssl/model")
    assert [o.split("=")[0] for o in options.overrides] == ["method"]
    fields = {f.name for f in dataclasses.fields(TaskOptions)}
    said = re.search(r"`TaskOptions` takes what the command line adds: (.*?)\.\n\n", section, re.S)
    assert said and set(re.findall(r"`(\w+)`", said.group(1))) <= fields


def test_readme_text_block_calls_the_package_as_it_takes_them():
    """The text functions the commands run (find_duplicates 30643f4; compare_texts,
    find_plagiarism exported by dad14b8) were named in no README line; the block that names
    them imports only exported names and passes arguments their signatures take."""
    import ast
    import inspect

    import siamkit.applications.text as text

    section = _section("## Text: Siamese transformers")
    blocks = [
        b for b in re.findall(r"```python\n(.*?)```", section, re.S) if "find_duplicates" in b
    ]
    assert blocks, "README no longer shows the text package's functions"
    tree = ast.parse(blocks[0])
    imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names]
    assert {"compare_texts", "find_duplicates", "find_plagiarism"} <= set(imported)
    assert set(imported) <= set(text.__all__)
    called = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert {c.func.id for c in called} >= {"compare_texts", "find_duplicates", "find_plagiarism"}
    for call in called:
        sig = inspect.signature(getattr(text, call.func.id))
        sig.bind(*call.args, **{k.arg: k.value for k in call.keywords if k.arg})


def test_readme_says_how_near_a_plagiarism_near_miss_lies():
    """c9314df's near misses (below the threshold, counted nowhere) were in no README line."""
    from siamkit.applications.text.plagiarism import NEAR_MISS_MARGIN, NEAR_MISSES

    text = " ".join(_section("## Text: Siamese transformers").split())
    assert (
        f"up to {NEAR_MISSES} near misses: suspect sentences whose best source sentence lies at "
        f"most {NEAR_MISS_MARGIN} under the threshold"
    ) in text


def test_readme_says_which_sentence_transformers_layouts_load():
    """38ce855 loads the older 0_Transformer/ + 1_Pooling/ layout, pooled by its mode; README
    said only 'any local Hugging Face folder'."""
    from siamkit.encoders.text_layout import POOLINGS

    text = " ".join(_section("## Text: Siamese transformers").split())
    assert "older layout (`modules.json` naming `0_Transformer/` and `1_Pooling/`) loads" in text
    assert POOLINGS == ("mean", "cls") and "pooled as its `1_Pooling` says (mean or CLS)" in text


def test_readme_says_which_tower_a_half_twin_enrolls_and_searches_with():
    """b9af111/2eed5a5 enroll with the document tower (branch g) and search with the query tower
    (branch f), d997517 gave /embed a role and /info towers, fbaf22a refuses a gallery an older
    siamkit filled with the query tower: README said none of it for the service or for a
    task: half_twin model."""
    pytest.importorskip("fastapi")
    from siamkit.index.embedding import HALF_TWIN_BRANCHES
    from siamkit.index.provenance import check_enrolled_tower
    from siamkit.service.text_schemas import TextEmbedRequest, TextModelInfo

    text = " ".join(README.split())
    role = TextEmbedRequest.model_fields["role"]
    assert role.default == "query" and "towers" in TextModelInfo.model_fields
    assert '`/embed {"texts", "role"}`' in text
    assert "`role` is `query`, the default, or `document`" in text
    assert HALF_TWIN_BRANCHES == {"query": "f", "document": "g"}
    assert "a gallery enrolls the items with g" in text and "searches with f" in text
    assert "`siamkit verify A B` scores f(A) against g(B)" in text
    with pytest.raises(ValueError, match="enroll them again into a new gallery file"):
        check_enrolled_tower("old.db", {}, {"enrolled_tower": "document"}, 3)
    assert "saying to enroll its items again into a new gallery file" in text


def test_readme_says_evaluate_takes_the_runs_protocol_and_what_calibrate_refuses():
    """17ef26e, 27626c2 and 4090b55 made evaluate take the run's recorded eval.shots, ways,
    queries, episodes and seed (--queries and --seed new), 6794918 names evaluated validation
    classes, 9ba7e43 refuses calibrating on a val_classes run's own training images and 277b7dc
    put the classes and the validation into the report's header: README said none of it."""
    import dataclasses

    from siamkit.cli import calibrate_cmd
    from siamkit.cli.main import cli
    from siamkit.evaluation.report_sections import run_line
    from siamkit.training import EvalConfig

    text = " ".join(README.split())
    said = re.search(
        r"`evaluate` of a run's model draws N-way K-shot episodes as the run "
        r"recorded them \((.*?)\)",
        text,
    )
    assert said, "README no longer says what evaluate takes from the run"
    keys = re.findall(r"`eval\.(\w+)`", said.group(1))
    assert set(keys) <= {f.name for f in dataclasses.fields(EvalConfig)} and len(keys) == 5
    evaluate = cli.get_command(None, "evaluate")  # type: ignore[arg-type]
    options = {o for p in evaluate.params for o in p.opts}
    assert {f"--{k}" for k in keys} <= options
    assert "`--shots`, `--ways`, `--queries`, `--episodes` and `--seed` choose others" in text
    assert "leave it out with `--classes`" in text
    meta = {"class_names": ["a", "b", "c"], "run": {"val_held_out": "classes", "val_classes": [1]}}
    assert calibrate_cmd._held_out_class_names(meta) == ["b"]
    assert "naming the run's validation classes to pass instead" in text
    line = run_line({"train_images": 9, "train_classes": [0], "val_held_out": "images"})
    assert "validated on held-out images of the training classes" in line, line
    assert "what the run validated on (other classes, or held-out images of the training" in text


def test_readme_quotes_the_int8_check_line_and_its_json_as_export_writes_them():
    """6030d68 changed export --int8's check line (the run's ways and shots, said in a bracket)
    and --json's int8_check (few_shot, few_shot_basis, evaluate's 4way1shot keys): README quoted
    neither."""
    from siamkit.cli import _int8_check

    text = " ".join(README.split("## Edge deployment", 1)[1].split())
    quoted = re.search(r"The check's line reads `(.*?)`", text)
    assert quoted, "README no longer quotes the int8 check line"
    settings = [{"n_way": 4, "k_shot": k, "n_query": 15} for k in (1, 5)]
    fp32 = {"eer": 0.12458, "4way1shot": 0.91183, "4way5shot": 0.98683}
    int8 = {"eer": 0.12368, "4way1shot": 0.91172, "4way5shot": 0.98689}
    # the run's recorded episodes, queries and seed too, so that the fp32 figures are
    # metrics.json's on its test classes; elsewhere the bracket says what differs
    y = [c for c in range(4) for _ in range(40)]
    run = _int8_check.RunProtocol((1, 5), (), 1000, 15, 0)
    basis = _int8_check.check_settings(y, run)[1]
    check = {"images": "IMAGES", "few_shot": settings, "episodes": 1000}
    check |= {"few_shot_basis": basis, "fp32": fp32, "int8": int8, "change": {}}
    pattern = ".*".join(re.escape(part) for part in quoted.group(1).split("..."))
    assert re.fullmatch(pattern, _int8_check.describe(check)), _int8_check.describe(check)
    other = re.search(r"the bracket says what differs instead: `(.*?)`", text)
    differs = "other images than its test classes"
    assert other, "README no longer quotes the bracket on other images"
    pattern = ".*".join(re.escape(part) for part in other.group(1).split("..."))
    assert re.fullmatch(pattern, _int8_check.check_settings(y, run, differs)[1])
    assert f"`on a sample of {_int8_check.CHECK_IMAGES} of its 4,000 test images`, or" in text
    # the Fashion-MNIST fallback's two variants (s55_R8: the second was not quoted)
    assert "`on Fashion-MNIST training images, the model recording no data of its own`" in text
    assert "(`..., not its run's test set` where the model records data" in text
    assert f"at most {_int8_check.CHECK_IMAGES} images, its fp32 figures are" in text
    assert f"its own {_int8_check.CHECK_EPISODES} episodes of up to" in text
    assert f"up to {_int8_check.CHECK_QUERIES} queries a class and seed 0" in text
    keys = re.search(r"`--json` holds it under `int8_check`: (.*?)\.", text)
    # and a half-twin's pairing (966347b), which the line above, of one tower, does not hold
    named = set(check) - {"change"} | {"pairing"}
    assert keys and set(re.findall(r"`(\w+)`", keys.group(1))) >= named


def test_readme_names_the_graphs_a_half_twin_export_writes(tmp_path: Path) -> None:
    """29a779e made siamkit export write both branches of a half-twin (f's and g's graph, and
    their int8 files) for a gallery or the service to use; README still said one branch's file
    is refused and to use the torch model, and named only --branch's files."""
    pytest.importorskip("onnxruntime")
    import json

    from click.testing import CliRunner

    import siamkit
    from siamkit.applications.half_twin.task import build_half_twin
    from siamkit.cli.export_cmd import export

    folder = siamkit.save_model(build_half_twin({}, (6, 9)).eval(), tmp_path / "model")
    res = CliRunner().invoke(export, [str(folder), "--int8-mode", "dynamic", "--json"])
    assert res.exit_code == 0, res.output
    files = {
        (f["branch"], f["precision"]): Path(f["path"]).name for f in json.loads(res.stdout)["files"]
    }
    text = " ".join(
        README.split("A half-twin network (two encoders", 1)[1].split("\n#", 1)[0].split()
    )
    assert f"f (what is searched with) as `{files['f', 'fp32']}`" in text
    assert f"g (what is enrolled) beside it as `{files['g', 'fp32']}`" in text
    assert f"with `--int8` also `{files['f', 'int8']}` and `{files['g', 'int8']}`" in text
    assert "`--branch f|g` writes one branch only" in text and "name the torch model" not in text
