"""The scans behind the guards of :mod:`test_listed` and :mod:`test_counted`: the list joins and
the plurals siamkit's modules write by hand where a message should use
:func:`siamkit.clauses.listed` and :func:`siamkit.clauses.counted` / ``in_number``.

The old guard matched one form alone, ``", ".join(x[:-1])`` on one line: the "a and b and c"
joins (``" and ".join``, ``' or '.join``), ``', '.join(map(str, x[:-1]))`` and every hand plural
(``f"image{'s' * (n != 1)}"``, ``'file' if one else 'files'``) passed it (s63 c5). These read
the modules' syntax trees, so a form split over lines or inside an f-string is found too. They
find the forms their functions' docstrings list, not every way of writing a list or a plural
(an irregular plural is found only where ``_IRREGULAR`` names it: s63_r5 finding 2).

Each finding is ``"path:line code"`` (``path`` relative to the scanned folder, ``code`` the
expression's source), the form an allow-list names it by without its line number."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "siamkit"

#: the separators of a list joined by hand: " and ", " or ", ", and ", "; and ", " nor "
_WORD_SEPARATOR = re.compile(r"^[,;]? ?(?:and|or|nor) $")
#: what follows a ", ".join(...) that lists all but the last item: " and c", ", or c"
_LAST_ITEM = re.compile(r"^,? (?:and|or|nor) ")
#: "file(s)", "process(es)" in a message
_PARENTHESISED_PLURAL = re.compile(r"[a-z]\((?:e?s|ies)\)")
#: the plural suffixes a word takes by hand
_SUFFIXES = ("s", "es")
#: the irregular plurals the scan knows (any other is not found: "the forms listed")
_IRREGULAR = {"person": "people", "child": "children", "index": "indices"}
#: the verbs whose number a count chooses by hand ("is" if n == 1 else "are"), where
#: ``in_number(n, "is", "are")`` says it: found whichever side the test gives the count of one
_VERBS = {"is": "are", "was": "were", "has": "have"}


def _modules(root: Path) -> Iterator[tuple[str, str, ast.Module]]:
    for path in sorted(root.rglob("*.py")):
        if path == root / "clauses.py":  # the helpers themselves
            continue
        text = path.read_text(encoding="utf-8")
        yield path.relative_to(root).as_posix(), text, ast.parse(text)


def _str(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _join_of(node: ast.AST) -> str | None:
    """The separator of ``"sep".join(...)`` or ``str.join("sep", ...)``, else None; of
    ``(" and " if one else " or ").join(...)``, the side that is a word separator, if any."""
    if not (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "join"
    ):
        return None
    sep: ast.AST = node.func.value
    if isinstance(sep, ast.Name) and sep.id == "str" and node.args:
        sep = node.args[0]
    if isinstance(sep, ast.IfExp):
        sides = [_str(sep.body), _str(sep.orelse)]
        said = [s for s in sides if s is not None]
        return next((s for s in said if _WORD_SEPARATOR.match(s)), said[0] if said else None)
    return _str(sep)


def _first(node: ast.AST) -> ast.AST:
    """An f-string's first part (its text before any value), else ``node`` itself."""
    return node.values[0] if isinstance(node, ast.JoinedStr) and node.values else node


def _drops_the_last(node: ast.AST) -> bool:
    """Whether ``node`` holds a slice ``x[:-1]`` (all but the last items)."""
    return any(
        isinstance(n, ast.Subscript)
        and isinstance(n.slice, ast.Slice)
        and n.slice.lower is None
        and isinstance(n.slice.upper, ast.UnaryOp)
        and isinstance(n.slice.upper.op, ast.USub)
        for n in ast.walk(node)
    )


def hand_joins(root: Path = SRC) -> list[str]:
    """The lists joined by hand: ``" and ".join(x)`` ("a and b and c"), ``", ".join(x[:-1])``
    (however the slice is wrapped: ``map(str, x[:-1])``; ``str.join(" and ", x)``, a separator
    chosen between two), and an f-string or sum (``+ " and "``, ``+ f" and {y}"``) that follows a
    ``", ".join(...)`` with " and " (past any value between: a hand-made Oxford comma)."""
    found: list[tuple[str, int, int, str | None]] = []
    for path, text, tree in _modules(root):
        for node in ast.walk(tree):
            hit: ast.AST | None = None
            sep = _join_of(node)
            if sep is not None and (
                _WORD_SEPARATOR.match(sep)
                or (isinstance(node, ast.Call) and node.args and _drops_the_last(node.args[0]))
            ):
                hit = node
            elif isinstance(node, ast.JoinedStr):
                for i, a in enumerate(node.values):
                    if isinstance(a, ast.FormattedValue) and _join_of(a.value) is not None:
                        # the text after the join, past any values between (the hand-made
                        # Oxford comma of "{', '.join(x)}{',' * (len(x) > 1)} or {y}")
                        after = next((_str(b) for b in node.values[i + 1 :] if _str(b)), "")
                        if _LAST_ITEM.match(after):
                            hit = node
            elif (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Add)
                and _join_of(node.left) is not None
                and _LAST_ITEM.match(_str(_first(node.right)) or "")
            ):
                hit = node
            if hit is not None:
                found.append((path, hit.lineno, hit.col_offset, ast.get_source_segment(text, hit)))
    return [f"{path}:{line} {code}" for path, line, _, code in sorted(found)]


def hand_mores(root: Path = SRC) -> list[str]:
    """The "and N more" written by hand: an f-string whose text " and " (", and ", "; and ")
    comes just before a value and " more" just after it (``f" and {len(x) - 3} more"``), where
    :func:`siamkit.clauses.listed` (``more=``) or ``listing`` counts the rest (s64 c5: eight
    places wrote it)."""
    found: list[tuple[str, int, int, str | None]] = []
    for path, text, tree in _modules(root):
        for node in ast.walk(tree):
            if not isinstance(node, ast.JoinedStr):
                continue
            parts = node.values
            for before, value, after in zip(parts, parts[1:], parts[2:]):
                if (
                    isinstance(value, ast.FormattedValue)
                    and re.search(r"(?:^|[,;]? )and $", _str(before) or "")
                    and (_str(after) or "").startswith(" more")
                ):
                    found.append(
                        (path, node.lineno, node.col_offset, ast.get_source_segment(text, node))
                    )
                    break
    return [f"{path}:{line} {code}" for path, line, _, code in sorted(found)]


def _one_takes(test: ast.expr) -> bool | None:
    """Whether a count of one makes ``test`` true (``n == 1``, ``one``) or false (``n != 1``,
    ``len(x) > 1``, ``many``); None where the test is no such comparison."""
    if isinstance(test, ast.Name):
        return {"one": True, "single": True, "many": False, "some": False}.get(test.id)
    if isinstance(test, ast.Compare) and len(test.ops) == 1:
        op, left, right = test.ops[0], test.left, test.comparators[0]
        if _one(left) or _one(right):
            if isinstance(op, ast.Eq):
                return True
            if isinstance(op, (ast.NotEq, ast.Gt, ast.Lt)):  # n != 1, n > 1, 1 < n
                return False
    return None


def _one(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value == 1


def _in_number(word: str, other: str) -> bool:
    """Whether ``other`` is ``word``'s plural written by hand ("" and "s", "file" and "files",
    "entry" and "entries")."""
    if " " in word or " " in other:  # a phrase ("the image", "the images"), not a word
        return False
    return (
        any(other == word + s for s in _SUFFIXES)
        or (word.endswith("y") and other == word[:-1] + "ies")
        or _IRREGULAR.get(word) == other
    )


def _choice(node: ast.AST) -> tuple[str, str, ast.expr] | None:
    """``(word if true, word if false, test)`` of ``a if test else b`` between two strings, of
    ``"s" * (test)`` (``"s"`` if true, ``""`` if false), or of ``("a", "b")[test]`` (``b`` if
    true); None for any other node."""
    if isinstance(node, ast.IfExp):
        yes, no = _str(node.body), _str(node.orelse)
        return None if yes is None or no is None else (yes, no, node.test)
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Tuple)
        and len(node.value.elts) == 2
        and not isinstance(node.slice, ast.Slice)
    ):
        no, yes = (_str(e) for e in node.value.elts)
        return None if yes is None or no is None else (yes, no, node.slice)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        for word, test in ((node.left, node.right), (node.right, node.left)):
            if _str(word) is not None:
                return _str(word) or "", "", test
    return None


def hand_plurals(root: Path = SRC) -> list[str]:
    """The words put in their number by hand: ``'s' if n != 1 else ''``, ``"s" * (n != 1)``,
    ``'file' if one else 'files'``, ``("file", "files")[n != 1]``, ``'person' if one else
    'people'`` (the plurals of ``_IRREGULAR``), and "file(s)" or "entr(ies)" in a message; and
    the verbs of ``_VERBS`` chosen by hand (``'is' if one else 'are'``, ``'was' if n == 1 else
    'were'``: s64 c5). Another choice whose singular side is taken by a count of one is a verb
    agreeing with its subject (``'holds' if n == 1 else 'hold'``, ``'s' * (len(x) == 1)``),
    which is not found."""
    found: list[tuple[str, int, int, str | None]] = []
    for path, text, tree in _modules(root):
        docstrings = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and n.body
            and isinstance(n.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            hit = False
            choice = _choice(node)
            if choice is not None:
                yes, no, test = choice
                one = _one_takes(test)
                for singular, plural, singular_if in ((yes, no, True), (no, yes, False)):
                    if _in_number(singular, plural):
                        # found unless a count of one takes the longer word: a verb ("holds")
                        hit = one is None or one is singular_if
                    if _VERBS.get(singular) == plural:  # "is" / "are": a verb, either way
                        hit = True
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and _PARENTHESISED_PLURAL.search(node.value)
            ):
                hit = True
            if hit:
                found.append(
                    (path, node.lineno, node.col_offset, ast.get_source_segment(text, node))
                )
    return [f"{path}:{line} {code}" for path, line, _, code in sorted(found)]


def without_lines(found: list[str]) -> list[str]:
    """``found`` without the line numbers: "path code", as the allow-lists name them."""
    return [re.sub(r":\d+ ", " ", f, count=1) for f in found]
