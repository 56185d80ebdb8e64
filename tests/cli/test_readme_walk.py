"""What a new user reading README.md from top to bottom sees: the lines it quotes are the ones
the commands print, and what it says the make targets check is what they check."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _as_pattern(quoted: str) -> re.Pattern[str]:
    """A README quote of printed output as a regex: each '...' stands for any text."""
    return re.compile(".*".join(re.escape(part) for part in quoted.split("...")))


def test_readme_quotes_the_line_serve_prints_once_it_listens(tiny_demo_dir, monkeypatch):
    """README said '"Serving on http://..." is printed only once the port is bound', but
    `siamkit serve` prints 'Serving MODEL (torch on cpu) ... on http://...': a user waiting for
    the quoted line (or a script grepping for it) never saw it."""
    pytest.importorskip("fastapi")
    from siamkit.cli import serve_cmd

    def no_server(app: Any, sock: socket.socket, log_level: str) -> None:
        sock.close()

    monkeypatch.setattr(serve_cmd, "run_server", no_server)
    quoted = re.search(r'"(Serving [^"]*)"[^"]*? is printed only once the port is\s+bound', README)
    assert quoted, "README no longer says which line serve prints once it listens"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = CliRunner().invoke(
        serve_cmd.serve, [str(tiny_demo_dir / "model"), "--port", str(port)]
    )
    assert result.exit_code == 0, result.output
    printed = [line for line in result.output.splitlines() if line.startswith("Serving")]
    assert printed and _as_pattern(quoted.group(1)).fullmatch(printed[0]), (quoted[1], printed)


def test_readme_says_what_make_lint_type_checks():
    """README's Development block said `make lint` runs 'mypy on the core', but mypy's files
    (pyproject's [tool.mypy]) are the whole package, the CLI included."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    mypy = pyproject.split("[tool.mypy]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^files = \["src/siamkit"\]', mypy, re.M), mypy
    lint = re.search(r"^make lint +# (.*)$", README, re.M)
    assert lint, "README's Development block no longer describes make lint"
    assert "mypy" in lint.group(1) and "core" not in lint.group(1), lint.group(1)


def test_readme_contracts_list_every_strategy_mine_triplets_takes():
    """The Contracts block listed mine_triplets' strategies as hard | semihard | easy | all |
    batch_hard | random, leaving out distance_weighted, which it takes (and the README names
    among loss.miner's strategies above)."""
    from siamkit.miners import TRIPLET_STRATEGIES

    line = re.search(r"^a, p, n = mine_triplets\(.*# (.*)$", README, re.M)
    assert line, "README's Contracts block no longer shows mine_triplets"
    listed = [name.strip() for name in line.group(1).split("|")]
    assert listed == list(TRIPLET_STRATEGIES), listed


def test_readme_does_not_say_a_folders_classes_cannot_be_numbers():
    """README's evaluate line on a folder said '# a folder: class names, not numbers', but
    --classes takes a folder's sub-folders by name or by number in name order (as metrics.json
    lists them): `--classes 0,1` on photos/{boot,sandal} evaluates boot and sandal."""
    from siamkit.cli._inputs import resolve_classes

    assert resolve_classes(["0", "sandal"], ["boot", "sandal", "sneaker"], "--classes") == (0, 1)
    line = re.search(r"^siamkit evaluate \S+ --data photos/ --classes .*# (.*)$", README, re.M)
    assert line, "README no longer shows evaluate on a folder with --classes"
    assert "not numbers" not in line.group(1), line.group(1)


def test_readme_says_which_enrollments_keep_thumbnails(tiny_demo_dir, tmp_path):
    """README said 'Match thumbnails are kept beside the gallery in <gallery>.thumbs', and the
    page lists a label's images; but only the service's /enroll kept thumbnails: a catalogue
    enrolled with `siamkit enroll` and then served showed matches with no picture. `siamkit
    enroll` keeps them now, and so does `siamkit face enroll`, as the README says; what keeps
    none is named."""
    import numpy as np
    from PIL import Image

    from siamkit.cli.main import cli
    from siamkit.index.thumbnail_store import thumbnails_path_for

    folder = tmp_path / "boot-123"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.full((8, 8), 60 * i, np.uint8)).save(folder / f"{i}.png")
    gallery = tmp_path / "shop.db"
    args = ["enroll", str(tiny_demo_dir / "model"), "--gallery", str(gallery), str(tmp_path)]
    result = CliRunner().invoke(cli, [*args, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert gallery.exists() and Path(thumbnails_path_for(gallery)).is_file()
    said = " ".join(README.split())
    assert (
        "through the service (`/enroll` or the page), with `siamkit enroll` or with `siamkit "
        "face enroll` (the whole photo, as `/enroll` keeps a face model's);"
    ) in said
    assert "images enrolled with `Gallery.enroll` in Python show no picture" in said


def test_readme_quotes_face_verifys_note_as_it_is_printed():
    """README's `siamkit face verify` line quoted its note as "N faces found, using the
    largest"; the command says "2 faces found in id_photo.jpg; using the largest"."""
    from siamkit.applications.faces.recognize import several_faces_note

    line = re.search(r'^siamkit face verify .*# .*"([^"]*faces found[^"]*)"', README, re.M)
    assert line, "README's face verify line no longer quotes the note"
    quoted = line.group(1).replace("N", "...", 1).replace("IMAGE", "...")
    note = several_faces_note(2, "id_photo.jpg")
    assert note and _as_pattern(quoted).fullmatch(note), (line.group(1), note)


def test_readme_says_what_export_int8_reports_as_its_help_does():
    """`siamkit export --int8` reports the int8 file's change in EER and in the N-way K-shot
    accuracy the model's run recorded (1- and 5-shot for the demo), as its --help says; the
    README's Edge deployment block still said it prints an 'EER / 1-shot change'."""
    from siamkit.cli.main import cli

    shown = " ".join(CliRunner().invoke(cli, ["export", "--help"]).output.split())
    assert "EER and N-way K-shot accuracy" in shown
    block = README.split("## Edge deployment", 1)[1].split("```", 2)[1]
    check = [line for line in block.splitlines() if "(--check-data" in line]
    assert check and "N-way K-shot" in check[0] and "/ 1-shot" not in check[0], check


def test_readme_names_the_augmentations_a_config_takes():
    """README's recipe section lists what `data.augmentation` can be; the config takes exactly
    those names, and the default tune space draws from them."""
    from siamkit.training.augment import AUGMENTATION_NAMES
    from siamkit.tuning.space import DEFAULT_SPACE

    said = " ".join(README.split())
    sentence = re.search(r"`data\.augmentation` is (.*?), each batched and seeded", said)
    assert sentence, "README no longer says what data.augmentation can be"
    named = re.findall(r"(?:^|, | or )`([a-z-]+)`", sentence.group(1))
    assert named == list(AUGMENTATION_NAMES), (named, AUGMENTATION_NAMES)
    assert DEFAULT_SPACE["data.augmentation"]["choice"] == list(AUGMENTATION_NAMES)


def test_readme_gives_evaluate_trackings_default_sequence_count():
    """README says `siamkit evaluate-tracking --synthetic test` scores its default 8 sequences
    (the first 8 of the benchmark's 12); that is the --n-sequences default."""
    from siamkit.cli.track_cmds import evaluate_tracking

    said = " ".join(README.split())
    quoted = re.search(
        r"line above scores its default (\d+) sequences \(the first \1 of those", said
    )
    assert quoted, "README no longer says how many sequences evaluate-tracking scores"
    (option,) = [p for p in evaluate_tracking.params if p.name == "n_sequences"]
    assert option.default == int(quoted.group(1))


def test_readme_quotes_the_text_commands_default_thresholds():
    """README's text section quotes all-MiniLM-L6-v2's defaults that `auto` uses (document,
    sentence and passage-coverage similarities); they are the constants the commands hold."""
    from siamkit.applications.text.dedup import COVERAGE_SIMILARITY
    from siamkit.applications.text.model import DOCUMENT_THRESHOLD, PASSAGE_THRESHOLD

    said = " ".join(README.split())
    quoted = re.search(
        r"defaults \(similarity ≥ ([\d.]+) for documents, ≥ ([\d.]+) for sentences, coverage ≥ "
        r"([\d.]+) with `--by passages`\)",
        said,
    )
    assert quoted, "README no longer quotes the text defaults"
    document, sentence, coverage = (float(v) for v in quoted.groups())
    assert document == pytest.approx(1 - DOCUMENT_THRESHOLD)
    assert sentence == pytest.approx(1 - PASSAGE_THRESHOLD)
    assert coverage == pytest.approx(COVERAGE_SIMILARITY)


def test_readme_install_line_lists_every_extra_and_the_pinned_torch():
    """README's Install line lists the extras `pip install` can name, and its opening says which
    PyTorch `constraints.txt` pins: both as pyproject.toml and constraints.txt have them."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    line = re.search(r"^pip install .*# every extra is optional: (.*)$", README, re.M)
    assert line, "README's Install block no longer lists the extras"
    assert sorted(line.group(1).split(", ")) == sorted(project["optional-dependencies"])
    pinned = re.search(r"^torch==(\d+\.\d+)", (ROOT / "constraints.txt").read_text(), re.M)
    assert pinned and f"CPU PyTorch {pinned.group(1)} pinned by `constraints.txt`" in README


def test_readme_quotes_the_services_limits_as_they_are_set():
    """README's Serving section quotes the service's limits on hostile clients and texts; each
    figure is the default the service holds (ServiceLimits, ConnectionLimits, create_app)."""
    import inspect

    from siamkit.service.app import create_app
    from siamkit.service.limits import ConnectionLimits, ServiceLimits

    said = " ".join(README.split())
    limits, connections = ServiceLimits(), ConnectionLimits()
    body = inspect.signature(create_app).parameters["body_timeout"].default
    mpixel = limits.max_request_pixels // 2**20
    for quoted in (
        f"a side over {limits.max_side} or an aspect ratio over {limits.max_aspect}:1",
        f"when one request's images together pass {mpixel} Mpixel",
        f"finish its request headers within {connections.header_timeout:g} s",
        f"each client keeps at most {connections.max_idle_per_client} idle connections",
        f"a request body that stalls for {body:g} s is answered 408",
        f"Texts are limited to {limits.max_text_chars:,} characters",
        f"client_max_body_size {limits.max_request_bytes // 2**20}m; # = --max-request-mb",
    ):
        assert quoted in said, quoted


def test_readme_quotes_the_line_for_ways_above_the_classes():
    """README's evaluate paragraph quotes the line said when --ways asks for more classes than
    are evaluated; it is the sentence evaluate builds (ways_over_line)."""
    from siamkit.experiment.result import ways_over_line

    said = " ".join(README.split())
    quoted = re.search(r'"(--ways \d+: only \d+ classes are evaluated[^"]*)"', said)
    assert quoted, "README no longer quotes the line for --ways above the evaluated classes"
    n_way, n_classes = (int(v) for v in re.findall(r"\d+", quoted.group(1))[:2])
    assert quoted.group(1) == ways_over_line("--ways", [n_way], n_classes)


def test_readme_gives_the_tolerance_enroll_tells_a_repeat_by():
    """README says enrolling skips an image its label holds when the embedding is the same to
    0.2% of its length; that is the tolerance the gallery tells a repeat by."""
    from siamkit.index.repeats import SAME_EMBEDDING_TOLERANCE

    said = " ".join(README.split())
    quoted = re.search(r"the same embedding to ([\d.]+)% of its length", said)
    assert quoted, "README no longer says how close a repeated image's embedding is"
    assert float(quoted.group(1)) / 100 == pytest.approx(SAME_EMBEDDING_TOLERANCE)


def test_readme_says_how_a_collapse_restart_recovers():
    """README says train.on_collapse: restart starts again with a tenth of the learning rate and
    batch-hard mining switched to semihard, at most twice: CollapseRecovery's defaults, which the
    run builds it with."""
    import inspect

    from siamkit.training.collapse import CollapseRecovery

    said = " ".join(README.split())
    assert (
        "with a tenth of the learning rate and batch-hard mining switched to semihard, at most "
        "twice, then stops with the last good weights"
    ) in said
    defaults = inspect.signature(CollapseRecovery).parameters
    assert defaults["lr_factor"].default == pytest.approx(0.1)
    assert defaults["max_restarts"].default == 2
    from types import SimpleNamespace

    recovery = CollapseRecovery(SimpleNamespace(advice=None), None)  # type: ignore[arg-type]
    assert recovery.switch_mining == {"batch_hard": "semihard"}


def _readme_command_lines() -> list[str]:
    """What follows `siamkit` on each command of README's bash blocks (continuations joined,
    comments dropped, `a && b` split)."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            code = line.split("  #")[0].split(" # ")[0]
            for part in code.split("&&"):
                shown = re.search(r"(?:^|\s)siamkit(\s.*)$", part.strip())
                if shown and not part.strip().startswith("pip"):
                    found.append(shown.group(1).strip())
    return found


def test_every_option_readme_gives_a_command_is_one_it_takes():
    """A new user copies README's command lines: each --option they give a siamkit command (or
    subcommand) is one that command's --help lists, so none fails as 'No such option'."""
    import click

    from siamkit.cli.main import cli

    lines = _readme_command_lines()
    assert len(lines) > 50, "README's bash blocks no longer read as siamkit commands"
    ctx, helps, missing = click.Context(cli), {}, []
    for line in lines:
        words = line.replace("|", " ").split()
        while words and words[0] in ("--plugin", "--trust-plugins"):  # the group's own options
            words = words[2:] if words[0] == "--plugin" else words[1:]
        command: Any = cli
        path: list[str] = []
        while words and isinstance(command, click.Group):
            sub = command.get_command(ctx, words[0])
            if sub is None:
                break
            command, path = sub, [*path, words.pop(0)]
        assert path, f"README runs a siamkit command that does not exist: siamkit {line}"
        key = " ".join(path)
        if key not in helps:
            helps[key] = CliRunner().invoke(cli, [*path, "--help"]).output
        for option in (w.split("=")[0] for w in words if w.startswith("--")):
            if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", helps[key]):
                missing.append(f"siamkit {key} {option}")
    assert not missing, missing
