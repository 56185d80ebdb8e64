"""One list join for every layer's messages: :func:`siamkit.clauses.listed` ("a, b and c").
It was built by hand in a dozen places, and the class-folder walk's refusals wrote the Oxford
comma ("a, and b", "a, b, and c") where every other message writes none (s62 c8)."""

from __future__ import annotations

import os
import textwrap
import warnings
from pathlib import Path

import pytest

from _hand_words import hand_joins, hand_mores, without_lines
from siamkit.clauses import listed, listing
from siamkit.data.folders import ClassFoldersError, read_class_folders


def test_listed_joins_none_one_two_and_three_items() -> None:
    assert listed([]) == ""
    assert listed(["a"]) == "a"
    assert listed(["a", "b"]) == "a and b"
    assert listed(["a", "b", "c"]) == "a, b and c"
    assert listed(("--ways", "--shots", "--seed"), "or") == "--ways, --shots or --seed"
    # an item holding " and " is kept whole (the few-shot hint replaced every " and " by " or ")
    assert listed(["a and b", "c"], "or") == "a and b or c"


def test_listed_counts_the_items_left_out_as_its_last() -> None:
    assert listed(["a", "b", "c"], more=2) == "a, b, c and 2 more"
    assert listed(["a"], more=1) == "a and 1 more"
    assert listed(["a", "b"], "or", more=3) == "a, b or 3 more"
    assert listed(["a", "b"], more=1234) == "a, b and 1,234 more"  # as counted writes a count
    # none left out (or a slice longer than the list: more < 0): the plain list
    assert listed(["a", "b"], more=0) == listed(["a", "b"], more=-4) == "a and b"


def test_listing_enumerates_by_commas_and_counts_past_its_limit() -> None:
    assert listing([3, 8, 12]) == "3, 8, 12"
    assert listing([3, 8, 12], limit=3) == "3, 8, 12"
    assert listing([3, 8, 12], limit=2) == "3, 8 and 1 more"
    assert listing(iter(range(20_000)), limit=1) == "0 and 19,999 more"
    assert listing([], limit=2) == ""


def test_a_refused_study_names_three_keys_that_differ_and_counts_the_rest() -> None:
    # study.py's _named wrote index.results.listing's "and N more" out again (s64 c5)
    import json
    from types import SimpleNamespace

    from siamkit.training import RunConfig
    from siamkit.tuning.space import SearchSpace
    from siamkit.tuning.study import _signature, _what_differs

    space = SearchSpace([])
    old = _signature(RunConfig(), [])
    changed = {"loss": {"margin": 0.3}, "optim": {"lr": 0.5, "weight_decay": 0.1}}
    config = json.loads(old)["config"]
    for section, values in changed.items():
        config[section].update(values)
    config["train"]["seed"] = 7
    signature = json.dumps({"config": config, "space": []}, sort_keys=True)
    no_trials = SimpleNamespace(get_trials=lambda deepcopy: [])
    assert _what_differs(old, config, signature, no_trials, space) == (
        "a different config (loss.margin, optim.lr, optim.weight_decay and 1 more)"
    )


#: The "and N more" the scan finds that stay, each with why (by file and code).
MORES_KEPT = {
    # the items are "item 3: 12 bytes" clauses joined by semicolons, which listed does not write
    'index/store.py f"; and {len(wrong) - 5:,} more"',
    # no list: "6 steps of it and 1 more epoch left"
    "training/resume_note.py f\" of it and {more:,} more {in_number(more, 'epoch')}\"",
}


def test_no_module_counts_the_rest_of_a_list_by_hand() -> None:
    found = without_lines(hand_mores())
    assert sorted(set(found) - MORES_KEPT) == []
    assert sorted(MORES_KEPT - set(found)) == []  # an entry kept for nothing: remove it


def test_the_more_scan_finds_each_form(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        textwrap.dedent(
            """\
            def f(x, n):
                a = ", ".join(x[:3]) + (f" and {len(x) - 3} more" if len(x) > 3 else "")
                b = f"{', '.join(x)}; and {n:,} more"
                c = f"short: {x} and {n} more classes"
                ok = (f"{n} more", f"and {n} others", f" and {n} items", f"1 and {n}")
            """
        )
    )
    assert [f.split(" ", 1)[0] for f in hand_mores(tmp_path)] == ["m.py:2", "m.py:3", "m.py:4"]


def test_the_class_folder_refusal_writes_no_oxford_comma(tmp_path: Path) -> None:
    """Two reasons and two fixes, each pair joined "a, and b" before."""
    ds = tmp_path / "ds"
    (ds / "cat").mkdir(parents=True)
    os.symlink(tmp_path / "gone", ds / "dog")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ClassFoldersError) as err:
            read_class_folders(ds)
    assert str(err.value) == (
        f"no class folder of {ds} holds images that can be read and that no other class holds: "
        f"the class folder {ds / 'cat'} holds no images (.png, .jpg, .jpeg, .bmp, .gif, .tif, "
        f".tiff, .webp) and {ds / 'dog'} is a link that leads to no folder (a missing target, or "
        "a link loop): put each class's images in its sub-folder and point that link at a class "
        "folder or remove it"
    )


#: The joins the scan finds that stay, each with why (by file and code, not line number).
JOINS_KEPT = {
    # runtime.py imports nothing of siamkit: it is copied alone to a device (its docstring).
    # Its two steps ("drop the alpha channel and reorder them") read as listed's; a test holds
    # its channels-last sentence equal to siamkit.data.image_io's, which uses listed.
    "export/runtime.py ' and '.join(steps)",
    # a list of clauses that hold commas themselves ("x, y are links to ..."), so separated by
    # semicolons, "a; b; and c": listed writes commas, which would not tell the clauses apart
    'data/folders.py "; and ".join(parts)',
    "data/folders.py '; '.join(parts[:-1])",
}


def test_no_module_joins_a_list_by_hand() -> None:
    """Every list in a message is joined by listed: the scan found " and ".join ("a and b and
    c"), ', '.join(map(str, x[:-1])) and an f-string's "{', '.join(x)} and {y}" (s63 c5), where
    the old check matched ", ".join(x[:-1]) alone."""
    found = without_lines(hand_joins())
    assert sorted(set(found) - JOINS_KEPT) == []
    assert sorted(JOINS_KEPT - set(found)) == []  # an entry kept for nothing: remove it


def test_the_join_scan_finds_each_form(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        textwrap.dedent(
            """\
            def f(x, fs, last):
                a = " and ".join(x)
                b = f"{' or '.join(x)} is set"
                c = f"classes {', '.join(map(str, x[:-1]))} and {x[-1]}"
                d = ", ".join(x) + " and " + last
                e = f"{', '.join(fs)}, or {last}"
                g = "; and ".join(x)
                h = f"{', '.join(fs)}{',' * (len(fs) > 1)} or {last}"
                i = ", ".join(x) + f" and {last}"
                j = (str.join(" and ", x), (" and " if last else " or ").join(x))
                ok = (", ".join(x), " ".join(x), f"{', '.join(x)} (and more)", listed(x))
            """
        )
    )
    assert [f.split(" ", 1)[0] for f in hand_joins(tmp_path)] == [
        "m.py:2", "m.py:3", "m.py:4", "m.py:4", "m.py:5", "m.py:6", "m.py:7", "m.py:8", "m.py:9",
        "m.py:10", "m.py:10",
    ]  # fmt: skip


def test_three_unmeasured_fars_are_listed_in_one_list() -> None:
    # "TAR@FAR=1e-2 and TAR@FAR=1e-3 and TAR@FAR=1e-4: ... (100 and 1,000 and 10,000)", and its
    # needs then "(100, 1,000 and 10,000)", where the separators read as the list's commas
    from siamkit.cli._metric_tables import unresolved_far_note

    fars = ("0.01", "0.001", "0.0001")
    ver = {"n_impostor": 54, "tar_at_far": dict.fromkeys(fars, 0.5)}
    assert unresolved_far_note(ver, fars) == (
        "TAR@FAR=1e-2, TAR@FAR=1e-3 and TAR@FAR=1e-4: not measured. A false-accept rate of f "
        "needs at least 1/f impostor pairs (100 for 1e-2, 1,000 for 1e-3 and 10,000 for 1e-4), and "
        "these are 54; the JSON keeps the values."
    )


def test_a_pooling_of_three_modes_is_refused_naming_them_in_one_list(tmp_path: Path) -> None:
    # "pools the token vectors by mean and max and cls"
    import json

    from siamkit.encoders.text_layout import _pooling

    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode": ["mean", "max", "cls"]})
    )
    with pytest.raises(ValueError, match="pools the token vectors by mean, max and cls; siamkit"):
        _pooling(tmp_path, {"path": "1_Pooling"})


def test_a_file_without_its_three_columns_is_told_to_set_them_in_one_list(tmp_path: Path) -> None:
    # "has no column 'a', 'b', 'label' ...; set data.columns.a and data.columns.b and
    # data.columns.label to the columns that hold them": a list joined "and" by hand, and
    # three columns named in the singular
    from siamkit.applications.text.pairs import read_examples

    data = tmp_path / "pairs.csv"
    data.write_text("x,y,z\n1,2,3\n")
    with pytest.raises(ValueError) as err:
        read_examples(data, "pairs", columns_key="data.columns")
    assert str(err.value) == (
        f"{data} has no columns 'a', 'b', 'label' (its columns: x, y, z); set data.columns.a, "
        "data.columns.b and data.columns.label to the columns that hold them"
    )
