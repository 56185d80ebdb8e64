"""The ``siamkit`` command: one click group; each command lives in its own module."""

from __future__ import annotations

import importlib

import click

from siamkit._version import __version__

# (module, attribute) of every command. Each module defines a click command or group.
_COMMANDS: list[tuple[str, str]] = [
    ("demo", "demo"),
    ("train_cmds", "train"),
    ("train_cmds", "evaluate"),
    ("train_cmds", "embed"),
    ("calibrate_cmd", "calibrate"),
    ("gallery_cmds", "enroll"),
    ("gallery_cmds", "identify"),
    ("gallery_cmds", "verify"),
    ("gallery_cmds", "gallery"),
    ("serve_cmd", "serve"),
    ("export_cmd", "export"),
    ("tune_cmd", "tune"),
    ("signature_cmds", "signature"),
    ("face_cmds", "face"),
    ("recommend_cmd", "recommend"),
    ("text_cmds", "text"),
    ("track_cmds", "track"),
    ("track_cmds", "evaluate_tracking"),
    ("track_cmds", "export_tracker"),
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="siamkit")
def cli() -> None:
    """siamkit: similarity learning with Siamese networks.

    Train twin encoders with contrastive or triplet losses and triplet mining, evaluate them on
    unseen classes (verification, N-way K-shot, retrieval), enroll new identities without
    retraining, verify 1:1 and identify 1:N, serve over HTTP, and export to ONNX.

    Start with `siamkit demo`.
    """
    from siamkit.progress import set_enabled

    set_enabled(True)  # long steps show a bar on a terminal, a few lines in a log


for _module, _attr in _COMMANDS:
    cli.add_command(getattr(importlib.import_module(f"siamkit.cli.{_module}"), _attr))


def main() -> None:
    cli(prog_name="siamkit")


if __name__ == "__main__":
    main()
