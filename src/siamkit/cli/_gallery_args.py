"""``siamkit gallery``'s two orders: the gallery file first (``gallery staff.db remove --id 57``)
or the command first (``gallery remove --id 57 staff.db``), with the command's options anywhere.

Click reads ``gallery PATH COMMAND ...``: :func:`path_first` moves the gallery file and the
command to the front, keeping every other word (options, their values, the command's own
arguments) in its order, so an option given before the file reaches the command, not the group
(which has none and said "No such option '--id'").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import click


def _values_taken(commands: Sequence[click.Command]) -> dict[str, int]:
    """How many words each option of ``commands`` takes after it (0 for a flag)."""
    taken: dict[str, int] = {}
    for cmd in commands:
        for p in cmd.params:
            if isinstance(p, click.Option):
                n = 0 if p.is_flag or p.count else p.nargs
                taken.update({o: n for o in (*p.opts, *p.secondary_opts)})
    return taken


def _positionals(args: Sequence[str], taken: Mapping[str, int]) -> list[int]:
    """The indexes of ``args`` that are no option and no option's value; after ``--`` every
    word is one. An unknown option counts as a flag: the command then names it."""
    found, i, only_words = [], 0, False
    while i < len(args):
        word = args[i]
        if only_words or word == "-" or not word.startswith("-"):
            found.append(i)
        elif word == "--":
            only_words = True
        elif "=" not in word:  # --model=out/model carries its value
            i += taken.get(word, 0)
        i += 1
    return found


def path_first(
    args: list[str], commands: Mapping[str, click.Command], help_names: Sequence[str]
) -> list[str]:
    """``args`` as ``PATH COMMAND REST``, however the user ordered the gallery file, the command
    and the command's options; ``args`` unchanged when no command is named (click then says
    what is missing). The command is the first word that names one, unless the word after it
    names one too (``gallery list stats``: a gallery file called ``list``), as the file-first
    form reads it.

    >>> path_first(["remove", "--id", "57", "staff.db"], {"remove": remove}, ["--help"])  # doctest: +SKIP
    ['staff.db', 'remove', '--id', '57']
    """
    if not args or args[0] in help_names:
        return args
    if args[:1] == ["--"]:  # `gallery -- -odd.db remove --id 5`: click reads it file-first
        return args
    words = _positionals(args, _values_taken(list(commands.values())))
    named = [i for i in words[:2] if args[i] in commands]
    if not named:
        return args
    at = named[-1] if len(named) == 2 else named[0]
    name = args[at]
    # with the command known, its own options say which words are values
    words = [i for i in _positionals(args, _values_taken([commands[name]])) if i != at]
    rest = [w for i, w in enumerate(args) if i != at and (not words or i != words[0])]
    if not words:
        if any(w in help_names for w in args):  # `gallery remove --help`: remove's own help
            return ["GALLERY", name, *rest]
        raise click.UsageError(
            f"no gallery file given: name it before or after {name}, e.g. `siamkit gallery "
            f"staff.db {name} ...` or `siamkit gallery {name} staff.db ...`"
        )
    path = args[words[0]]
    return ["--", path, name, *rest] if path.startswith("-") else [path, name, *rest]
