"""One count helper for every layer's messages: :func:`siamkit.clauses.counted` (torch-free,
layer 0), which the evaluation report and the training protocol's refusals use too; they each
had a ``_count`` of their own, with the irregular plural the cli's helper could not write."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from _hand_words import hand_plurals, without_lines
from siamkit.clauses import counted

SRC = Path(__file__).resolve().parents[1] / "src" / "siamkit"


def test_counted_writes_the_number_a_noun_takes_and_an_irregular_plural() -> None:
    assert counted(1, "query", "queries") == "1 query"
    assert counted(0, "query", "queries") == "0 queries"
    assert counted(2, "class", "classes") == "2 classes"
    assert counted(1, "image") == "1 image"
    assert counted(3, "image") == "3 images"


def test_no_module_writes_a_count_helper_of_its_own() -> None:
    own = [
        f"{p.relative_to(SRC)}:{node.lineno} {node.name}"
        for p in sorted(SRC.rglob("*.py"))
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef)
        and node.name in ("_count", "counted")
        and p != SRC / "clauses.py"
    ]
    assert own == []


#: The hand-made numbers the scan finds that stay, each with why (by file and code).
PLURALS_KEPT = {
    # runtime.py imports nothing of siamkit: it is copied alone to a device (its docstring);
    # a test holds its channels-last sentence equal to siamkit.data.image_io's, which counts
    "export/runtime.py 'channel' if last == 1 else 'channels'",
    "export/runtime.py 'provider' if len(unknown) == 1 else 'providers'",
    "export/runtime.py 'is' if len(unknown) == 1 else 'are'",
    # no count: a folder holds texts, a file one text
    "cli/text_identify.py 'texts' if kind == 'folder' else 'text'",
    # registry.py is of layer 0 with siamkit.clauses, and a layer imports only lower ones
    # (tests/test_architecture.py)
    "registry.py 'parameter' if len(unknown) == 1 else 'parameters'",
}


def test_no_module_puts_a_word_in_its_number_by_hand() -> None:
    """Every count or named list in a message takes its noun's number from counted or
    in_number: the scan found f"image{'s' * (n != 1)}", 'file' if one else 'files' and two
    dozen more (s63 c5); 'is' if one else 'are' (and was/were, has/have) two dozen more (s64
    c5), for in_number says them too; another verb agreeing with its count ('holds' if n == 1)
    is not found."""
    found = without_lines(hand_plurals())
    assert sorted(set(found) - PLURALS_KEPT) == []
    assert sorted(PLURALS_KEPT - set(found)) == []  # an entry kept for nothing: remove it


def test_the_plural_scan_finds_each_form_and_leaves_verbs(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        textwrap.dedent(
            '''\
            def f(n, x, one, many):
                """The image(s) of a docstring are no message."""
                a = f"{n} image{'s' if n != 1 else ''}"
                b = f"{n} image{'' if n == 1 else 's'}"
                c = f"{n} process{'es' * (n != 1)}"
                d = 'file' if one else 'files'
                e = "entry" if len(x) == 1 else "entries"
                g = f"the link{'s' if many else ''}"
                h = f"{n} file(s)"
                i = (("file", "files")[n != 1], f"{n} entr(ies)", 'person' if one else 'people')
                verbs = ('holds' if n == 1 else 'hold', f"belong{'s' * (len(x) == 1)}",
                         ("hold", "holds")[n == 1],
                         f"lead{'' if many else 's'}")
                phrases = ("the image" if one else "the images", counted(n, "file"))
                agree = ('is' if one else 'are', "were" if n != 1 else "was",
                         ("have", "has")[n == 1], 'are' if len(x) > 1 else 'is')
                others = ('is' if one else 'is inside', "are" if x else "may be")
            '''
        )
    )
    assert [f.split(" ", 1)[0] for f in hand_plurals(tmp_path)] == [
        "m.py:3", "m.py:4", "m.py:5", "m.py:6", "m.py:7", "m.py:8", "m.py:9", "m.py:10", "m.py:10",
        "m.py:10", "m.py:15", "m.py:15", "m.py:16", "m.py:16",
    ]  # fmt: skip


def test_the_protocols_refusal_counts_with_it() -> None:
    import pytest
    import torch

    from siamkit.training.config import EvalConfig
    from siamkit.training.eval_protocol import check_protocol

    with pytest.raises(ValueError, match="the test set holds 1 class; "):
        check_protocol(EvalConfig(), torch.zeros(3, dtype=torch.long))


def test_a_count_of_a_thousand_or_more_has_the_separator_every_message_writes() -> None:
    # counted wrote "1234 images" while the lines beside it (evaluate's "1,234 images of 4
    # classes", the report's episodes) wrote "1,234"
    import pytest
    import torch

    from siamkit.cli._enroll import enrollment_summary
    from siamkit.cli._text_common import chunk_note
    from siamkit.training.config import EvalConfig
    from siamkit.training.eval_protocol import check_protocol

    assert counted(1234, "image") == "1,234 images"
    assert enrollment_summary({"alice": range(1234)}, "g.db", 1234) == (
        "enrolled 1,234 images of 1 label into g.db (now 1,234 items): alice 1,234"
    )
    assert chunk_note(1234).startswith("1,234 texts were longer than the model's window")
    with pytest.raises(ValueError, match="but the 1,234 test classes have at most 1 image;"):
        check_protocol(EvalConfig(ways=[5], shots=[1]), torch.arange(1234))
    # the other branch said "only 1 of the 1234 test classes have that many (... and 1230 more)"
    one_full = torch.cat([torch.arange(1234), torch.zeros(9, dtype=torch.long)])
    with pytest.raises(ValueError) as err:
        check_protocol(EvalConfig(ways=[5], shots=[5]), one_full)
    assert "but only 1 of the 1,234 test classes has that many (short: class 1 (1 image)," in str(
        err.value
    )
    assert "class 3 (1 image) and 1,230 more); give the classes more images" in str(err.value)


def test_in_number_names_things_in_the_number_their_count_takes() -> None:
    # a refusal that lists what it names said "unknown key(s) 'bogus'"
    import pytest

    from siamkit.clauses import in_number
    from siamkit.training.config_sections import _parts_form

    assert [in_number(n, "key") for n in (0, 1, 2)] == ["keys", "key", "keys"]
    assert in_number(3, "class", "classes") == "classes"
    with pytest.raises(Exception, match=r"^unknown key kinds in optim\.optimizer; it takes kind"):
        _parts_form({"optimizer": {"kinds": "sgd"}}, "optim")
    with pytest.raises(Exception, match=r"^unknown keys a, b in optim\.optimizer; it takes kind"):
        _parts_form({"optimizer": {"a": 1, "b": 2}}, "optim")


def test_a_batchs_nan_values_are_counted_in_their_number() -> None:
    # "Images contain 1 NaN or infinite value(s)"
    import numpy as np
    import pytest

    from siamkit.data.image_io import to_image_batch

    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"^Images contain 1 NaN or infinite value; clean"):
        to_image_batch(x, (1, 4, 4))


def test_several_unknown_keys_or_sections_are_named_in_the_plural(tmp_path: Path) -> None:
    # every task's config check said "unknown key 'bogus', 'nope'" and "unknown section 'trian',
    # 'tran'": the shared sentences named several things in the singular
    import pytest

    from siamkit.training.config_io import ConfigError, load_config

    keys = tmp_path / "twokeys.yaml"
    keys.write_text("train:\n  bogus: 1\n  nope: 2\n")
    with pytest.raises(ConfigError, match=r"unknown keys 'bogus', 'nope' in section 'train';"):
        load_config(keys)
    sections = tmp_path / "two.yaml"
    sections.write_text("trian:\n  a: 1\ntran:\n  b: 1\n")
    with pytest.raises(ConfigError, match=r"unknown sections 'trian', 'tran' \(did you mean"):
        load_config(sections)
    one = tmp_path / "one.yaml"
    one.write_text("train:\n  bogus: 1\n")
    with pytest.raises(ConfigError, match=r"unknown key 'bogus' in section 'train';"):
        load_config(one)
