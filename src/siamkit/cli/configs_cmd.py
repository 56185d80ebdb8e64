"""``siamkit configs``: write out the example configs siamkit ships, for an installed siamkit.

The README and the commands' help run ``siamkit train configs/demo.yaml``; in a clone that is
the repository's ``configs/``, but a ``pip install siamkit`` has no such folder. The wheel ships
the same files as package data (``siamkit/configs``, the repository's ``configs/``), and this
command copies them, byte for byte, into a folder (``configs`` by default, so that those lines,
and ``configs/text-pairs.yaml``'s ``configs/data/...`` path, work from where it ran).
"""

from __future__ import annotations

import re
import shlex
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import click

from siamkit.clauses import counted, in_number, listing

if TYPE_CHECKING:
    from importlib.abc import Traversable

#: Where the shipped configs are inside the installed package.
PACKAGE_FOLDER = "configs"
#: Where a config names a file shipped beside it (``data.train: configs/data/...``).
_DATA_PATH = re.compile(r"\bconfigs/data/[\w.-]+")


def shipped_configs() -> dict[str, bytes]:
    """Every file siamkit ships in ``siamkit/configs``, by its path there (``"demo.yaml"``,
    ``"data/text-pairs-example.csv"``), in name order.

    Raises:
        FileNotFoundError: the folder is missing from the installation.
    """
    root = resources.files("siamkit") / PACKAGE_FOLDER
    if not root.is_dir():
        raise FileNotFoundError(
            f"siamkit's example configs are missing from its installation ({root}); "
            "reinstall siamkit (pip install --force-reinstall siamkit)"
        )
    files: dict[str, bytes] = {}

    def walk(folder: Traversable, prefix: str) -> None:
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.startswith((".", "__")):
                continue
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            elif entry.is_file():
                files[f"{prefix}{entry.name}"] = entry.read_bytes()

    walk(root, "")
    return files


def summary_line(content: bytes) -> str:
    """A config's first comment line (what it is), without its ``#``; ``""`` when it has none."""
    for line in content.decode("utf-8", errors="replace").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if line.strip():
            break
    return ""


def _plan(files: dict[str, bytes], out: Path, force: bool) -> tuple[list[str], list[str]]:
    """(files to write, files already there unchanged); refuses before anything is written."""
    write, same, differ = [], [], []
    for rel, content in files.items():
        dest = out / rel
        if dest.is_dir():
            raise click.ClickException(
                f"{dest} is a folder where siamkit would write its {rel}; move it away or "
                "give another --out"
            )
        if dest.is_file() and dest.read_bytes() == content:
            same.append(rel)
            continue
        if dest.exists() and not force:
            differ.append(rel)
        write.append(rel)
    if differ:
        shown = listing(differ, 5)
        files_differ = (
            f"{counted(len(differ), 'file')} that {in_number(len(differ), 'differs', 'differ')}"
        )
        raise click.ClickException(
            f"{out} already holds {files_differ} from the shipped ones ({shown}); nothing was written: keep your edits by giving another --out, or "
            "replace them with --force"
        )
    return write, same


def _data_path_notes(files: dict[str, bytes], out: Path) -> list[str]:
    """For an --out other than ./configs: the configs whose data paths name configs/data/..."""
    if out.resolve() == (Path.cwd() / "configs").resolve():
        return []
    notes = []
    for rel, content in files.items():
        for path in sorted(set(_DATA_PATH.findall(content.decode("utf-8", errors="replace")))):
            moved = out / path.removeprefix("configs/")
            notes.append(
                f"note: {out / rel} reads {path}, relative to the folder siamkit runs in; "
                f"run it from the folder that holds this as configs/, or edit the path to {moved}"
            )
    return notes


@click.command("configs")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="configs",
    show_default=True,
    help="Folder to write them into (made if needed). The default is the path the README's "
    "`siamkit train configs/...` lines and configs/text-pairs.yaml's data path use, from the "
    "folder you run them in.",
)
@click.option(
    "--force",
    "--overwrite",
    "force",
    is_flag=True,
    help="Replace files in --out that differ from the shipped ones (without it, nothing is "
    "written when any differs; identical files are left as they are).",
)
@click.option(
    "--list",
    "list_only",
    is_flag=True,
    help="Only list the shipped files, each config with its first comment line; write nothing.",
)
def configs(out: str, force: bool, list_only: bool) -> None:
    """Write the example configs siamkit ships (configs/*.yaml and the data they read) to --out.

    An installed siamkit (pip install siamkit) has no configs/ folder beside it, as a clone of
    the repository does; this writes the same files, byte for byte, so that the README's lines
    (siamkit train configs/demo.yaml, siamkit tune configs/demo.yaml --space
    configs/space-losses.yaml) run as written. Edit a copy and train it; a run writes its
    resolved config beside its outputs.

    \b
    Examples:
      siamkit configs                          # ./configs/demo.yaml, simclr.yaml, ...
      siamkit train configs/demo.yaml --out runs/demo
      siamkit configs --list
      siamkit configs --out my-configs --force # replace edited copies with the shipped ones
    """
    try:
        files = shipped_configs()
    except FileNotFoundError as err:
        raise click.ClickException(str(err)) from None
    if list_only:
        for rel, content in files.items():
            about = summary_line(content) if rel.endswith(".yaml") else ""
            click.echo(f"{rel:<28} {about}".rstrip())
        return
    target = Path(out)
    from siamkit.atomic import atomic_write, check_writable_folder

    try:
        check_writable_folder(target, f"--out {out}")
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    write, same = _plan(files, target, force)
    for done, rel in enumerate(write):
        try:
            atomic_write(target / rel, files[rel])
        except OSError as err:
            raise click.ClickException(
                f"{target / rel} could not be written ({err.strerror or err}); {done} of the "
                f"{len(write)} files were written before it: fix that and run it again"
            ) from None
    kept = f" ({len(same)} already there, unchanged)" if same else ""
    click.echo(f"wrote {len(write)} of siamkit's {len(files)} example config files to {out}{kept}")
    for note in _data_path_notes(files, target):
        click.echo(note, err=True)
    demo = shlex.quote(str(target / "demo.yaml"))  # a line to paste: My Configs/ is 2 words
    click.echo(f"next: siamkit train {demo} --out runs/demo")
