"""Every command's ``--help`` says what the command takes: each option has a line of help, the
example lines (in the help and in the README's shell blocks) use only options their command has,
and the configs they name ship in configs/."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import click

from siamkit.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]


def _commands() -> Iterator[tuple[str, click.Command, click.Context]]:
    """``("siamkit face enroll", command, context)`` of every command and group."""

    def walk(
        cmd: click.Command, path: str, parent: click.Context | None
    ) -> Iterator[tuple[str, click.Command, click.Context]]:
        ctx = click.Context(cmd, info_name=path.rsplit(" ", 1)[-1], parent=parent)
        yield path, cmd, ctx
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None, (path, name)
                yield from walk(sub, f"{path} {name}", ctx)

    yield from walk(cli, "siamkit", None)


def _options(cmd: click.Command) -> set[str]:
    return {o for p in cmd.params for o in (*p.opts, *getattr(p, "secondary_opts", ()))}


def _resolve(tokens: list[str]) -> tuple[click.Command, list[str]]:
    """The command a ``siamkit ...`` line runs and the tokens left for it."""
    cmd: click.Command = cli
    ctx = click.Context(cli, info_name="siamkit")
    i = 0
    while isinstance(cmd, click.Group) and i < len(tokens):
        own = {o: p for p in cli.params if isinstance(p, click.Option) for o in p.opts}
        if cmd is cli and tokens[i] in own:  # the group's own: siamkit --plugin M --trust-plugins
            i += 1 if own[tokens[i]].is_flag else 2
            continue
        if cmd is not cli and any(isinstance(p, click.Argument) for p in cmd.params):
            path_first = getattr(cmd, "path_first", None)
            if path_first is not None:  # `siamkit gallery remove --id 57 PATH`, as it routes it
                tokens = tokens[:i] + path_first(ctx, tokens[i:])
            i += 1  # the group's own argument: `siamkit gallery PATH list`
        sub = cmd.get_command(ctx, tokens[i]) if i < len(tokens) else None
        if sub is None:
            break
        ctx = click.Context(sub, info_name=tokens[i], parent=ctx)
        cmd, i = sub, i + 1
    return cmd, tokens[i:]


def unknown_options(line: str) -> list[str]:
    """The ``--options`` of a shell line's ``siamkit ...`` command that the command lacks."""
    bad = []
    for part in re.split(r"&&|\|", line.split(" #")[0]):
        found = re.search(r"(?:^|\s)(?:-m )?siamkit (.*)$", part.strip().rstrip("\\"))
        if not found:
            continue
        try:
            tokens = shlex.split(found.group(1))
        except ValueError:
            continue
        cmd, rest = _resolve(tokens)
        known = _options(cmd) | {"--help"}
        bad += [
            f"{cmd.name} {t}" for t in rest if t.startswith("--") and t.split("=")[0] not in known
        ]
    return bad


def _readme_shell_lines() -> list[str]:
    lines, inside = [], False
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = line.strip() in ("```bash", "```sh", "```shell")
            continue
        if inside and "siamkit " in line:
            lines.append(line)
    return lines


def test_every_option_has_help() -> None:
    missing = [
        f"{path} {p.opts[0]}"
        for path, cmd, _ in _commands()
        for p in cmd.params
        if isinstance(p, click.Option) and not p.help and p.name != "help"
    ]
    assert missing == []


def test_help_examples_use_options_the_command_has() -> None:
    bad = []
    for path, cmd, ctx in _commands():
        for line in cmd.get_help(ctx).splitlines():
            if line.strip().startswith(("siamkit ", "torchrun ")):
                bad += [f"{path}: {b}" for b in unknown_options(line)]
    assert bad == []


def test_readme_command_lines_use_options_the_command_has() -> None:
    lines = _readme_shell_lines()
    assert len(lines) > 50  # the README's shell blocks were found
    assert [b for line in lines for b in unknown_options(line)] == []


def _readme_shell_blocks() -> list[list[str]]:
    blocks: list[list[str]] = []
    inside = False
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = line.strip() in ("```bash", "```sh", "```shell")
            if inside:
                blocks.append([])
            continue
        if inside:
            blocks[-1].append(line)
    return blocks


def test_readme_training_lines_run_in_order_each_into_a_folder_of_its_own() -> None:
    """A README block's `siamkit train` lines, run in order, are not refused as a folder that
    'already holds a run' (the self-supervised block trained three runs into runs/ssl): each
    new run (neither --resume nor --overwrite) has an --out no line above it in the block has.
    A line without --out trains into train's default, runs/<the config's name> (the DDP lines
    of the first block both did)."""
    repeated = []
    for block in _readme_shell_blocks():
        seen: set[str] = set()
        for line in block:
            if "siamkit " not in line:
                continue
            try:
                tokens = shlex.split(line, comments=True)
            except ValueError:  # an unclosed quote: not a line to run as it stands
                continue
            if "train" not in tokens:
                continue
            if "--out" in tokens[:-1]:
                out = tokens[tokens.index("--out") + 1]
            else:
                configs = [t for t in tokens if t.endswith((".yaml", ".yml"))]
                if not configs:
                    continue
                out = f"runs/{Path(configs[0]).stem}"
            if out in seen and not {"--resume", "--overwrite"} & set(tokens):
                repeated.append(line)
            seen.add(out)
    assert repeated == []


def test_the_check_catches_an_unknown_option() -> None:
    assert unknown_options("siamkit enroll m --gallery g.db --db x a.png") == ["enroll --db"]
    assert unknown_options("siamkit gallery g.db stats --jsn") == ["stats --jsn"]
    # the command first, its options before the gallery file: read as `siamkit gallery` reads it
    assert unknown_options("siamkit gallery remove --id 57 g.db --jsn") == ["remove --jsn"]
    assert unknown_options("siamkit gallery check --model m g.db --json") == []
    assert unknown_options("siamkit face crop a/ b/ --detector cnn  # --nope") == []


def test_configs_named_in_help_ship() -> None:
    named = {
        (path, m)
        for path, cmd, ctx in _commands()
        for m in re.findall(r"configs/[\w.-]+\.yaml", cmd.get_help(ctx))
    }
    assert named  # the help names some
    assert [(path, m) for path, m in sorted(named) if not (ROOT / m).is_file()] == []


def test_no_enroll_help_promises_folders_it_refuses() -> None:
    """face / signature enroll take image files only (a folder is refused), so their help must
    not speak of enrolling a folder."""
    for path, cmd, ctx in _commands():
        images = [p for p in cmd.params if isinstance(p, click.Argument) and p.name == "images"]
        if images and isinstance(images[0].type, click.Path) and not images[0].type.dir_okay:
            text = " ".join(cmd.get_help(ctx).split())
            assert "enrolling a folder" not in text, path


def test_every_default_is_shown() -> None:
    """An option with a default shows it in --help (show_default, or "default" in its help);
    plain on/off flags, off unless given, need not."""
    hidden = [
        f"{path} {p.opts[0]}"
        for path, cmd, _ in _commands()
        for p in cmd.params
        if isinstance(p, click.Option)
        and p.default is not None
        and "UNSET" not in repr(p.default)  # click 8.2+: no default given
        and not (p.is_flag and not p.secondary_opts and p.default is False)
        and not p.show_default
        and "default" not in (p.help or "").lower()
    ]
    assert hidden == []


def test_every_command_has_an_example() -> None:
    """Each command's --help shows a `siamkit ...` line; groups list their commands instead,
    the gallery group's examples cover its sub-commands, and `siamkit demo` needs no options."""
    gallery = {f"siamkit gallery {name}" for name in ("list", "remove", "stats")}
    exempt = {"siamkit demo", *gallery}
    missing = [
        path
        for path, cmd, ctx in _commands()
        if not isinstance(cmd, click.Group)
        and path not in exempt
        and not any(
            line.strip().startswith(("siamkit ", "torchrun "))
            for line in cmd.get_help(ctx).splitlines()
        )
    ]
    assert missing == []


def test_every_command_that_replaces_with_force_also_takes_overwrite() -> None:
    """train and demo replace a run with --overwrite; the export commands said --force only, so
    the word a user learned in train was refused there. Both now name one flag."""
    with_force = {path for path, cmd, _ in _commands() if "--force" in _options(cmd)}
    assert {"siamkit export", "siamkit export-tracker", "siamkit text export"} <= with_force
    for path, cmd, _ in _commands():
        for p in cmd.params:
            if "--force" in p.opts:
                assert "--overwrite" in p.opts and p.name == "force", path


def test_train_help_names_every_text_loss_and_ssl_method() -> None:
    """train --help lists the image parts' registered names and the SSL methods; the text
    losses (angle, online_contrastive, matryoshka ...) were named only in configs/text-pairs.yaml."""
    from click.testing import CliRunner

    from siamkit.applications.ssl import METHODS
    from siamkit.applications.text.train_config import LOSSES

    text = CliRunner().invoke(cli, ["train", "--help"], terminal_width=80).output
    words = set(re.findall(r"[a-z_]+", text))
    assert not [n for n in (*LOSSES, *METHODS) if n not in words]


def test_train_help_says_ssl_reads_images_in_sub_folders_too(tmp_path: Path) -> None:
    """train --help said task: ssl reads every image under FOLDER, 'sub-folders ignored', but
    images in sub-folders are read (only their names go unused): the help now says so."""
    from click.testing import CliRunner
    from PIL import Image

    from siamkit.applications.ssl.config import SSLDataConfig
    from siamkit.applications.ssl.data import load_ssl_data

    for i, sub in enumerate(["", "a", "a/b"]):
        (tmp_path / sub).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (16, 16), (i * 60, 0, 0)).save(tmp_path / sub / f"{i}.png")
    data = load_ssl_data(SSLDataConfig(dataset="image-folder", root=str(tmp_path), image_size=16))
    assert len(data.train_x) == 3  # the images in sub-folders are read
    text = " ".join(CliRunner().invoke(cli, ["train", "--help"], terminal_width=80).output.split())
    text = text.replace("sub- folders", "sub-folders")  # click may wrap at the hyphen
    assert "sub-folders ignored" not in text
    assert "task: ssl reads every image under FOLDER, in its sub-folders too" in text


def test_no_ssl_doc_says_sub_folders_are_ignored() -> None:
    """configs/simclr.yaml's comments and SSLDataConfig's docstring said an SSL image folder's
    sub-folders are ignored, as train --help did, though their images are read."""
    from siamkit.applications.ssl.config import SSLDataConfig

    said = [
        (ROOT / "configs" / "simclr.yaml").read_text(encoding="utf-8"),
        SSLDataConfig.__doc__ or "",
    ]
    assert not [s for s in said if re.search(r"sub-folders(, if any, are)? ignored", s)]


def test_help_that_gives_the_text_pairs_columns_says_what_else_they_read() -> None:
    """calibrate --help and text lexical --calibrate said a text pairs file has columns a, b,
    label with 1 = same, 0 = not, though the columns are found whatever their case (2229ee3) and
    the label reads true/false and yes/no too (8849de9): a user with a spreadsheet's 'A,B,Label'
    and TRUE/FALSE column took it for a file to rewrite. Every help naming those columns says so."""
    naming = {}
    for path, cmd, ctx in _commands():
        text = " ".join(cmd.get_help(ctx).split())
        if re.search(r"columns a, b,? (and )?label", text):
            naming[path] = text
    assert {"siamkit calibrate", "siamkit text lexical"} <= set(naming)
    for path, text in naming.items():
        for said in ("any case", "1, true or yes = ", "0, false or no = not"):
            assert text.count(said) >= len(re.findall(r"columns a, b,? (?:and )?label", text)), (
                path,
                said,
            )


def test_train_help_tells_a_folder_user_of_val_classes_and_its_example_loads() -> None:
    """train --help told a user bringing an image folder of data.train_classes only: issue 20's
    user (classes of few images) trained with a per-image hold-out that validated nothing. The
    help names data.val_classes and gives an example whose --set values the config takes."""
    import shlex

    from click.testing import CliRunner

    from siamkit.training import apply_overrides, load_config

    raw = CliRunner().invoke(cli, ["train", "--help"], terminal_width=80).output
    text = " ".join(raw.split())
    assert "data.val_classes (a count, or class ids) holds whole training classes out" in text
    line = next(s for s in raw.splitlines() if "data.val_classes=" in s)
    args = shlex.split(line)
    sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    cfg = apply_overrides(load_config(Path(__file__).resolve().parents[2] / args[2]), sets)
    assert cfg.data.val_classes == 8 and cfg.data.grayscale is True
