"""``find_duplicates``: ``siamkit text dedup`` from Python, one definition that the command calls.

Its orchestration (the ``auto`` threshold per level, ``--by passages``' thresholds, the FAISS
switch, batches, the rule) lived only in the command, so a notebook had the pieces but no call
that gave the command's groups and the threshold it used."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from siamkit.cli import _text_common
from siamkit.cli.main import cli

TEXTS = [
    "The national executive appointed a little-known senator as interim leader last night.",
    "The national executive appointed a little known senator as interim leader yesterday.",
    "Financial markets rallied strongly after the central bank cut interest rates on Tuesday.",
    "Financial markets rallied strongly after the central bank cut interest rates Tuesday.",
    "Bushfires burned through thousands of hectares of forest west of Sydney over the weekend.",
    "My holiday at the beach with my grandparents and their dog was lovely. We swam every day.",
    "My holiday at the beach with my grandparents and their dog was lovely. We swam each day.",
    "Firefighters said strong winds pushed the fire front towards several small towns.",
]


def _naive_groups(z: np.ndarray, similarity: float) -> list[list[int]]:
    """Every pair by a loop, joined by union-find: the reference for the exact search."""
    parent = list(range(len(z)))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for i in range(len(z)):
        for j in range(i + 1, len(z)):
            if float(np.dot(z[i], z[j])) >= similarity:
                parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(z)):
        groups.setdefault(find(i), []).append(i)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def _cli_groups(text_model, monkeypatch, tmp_path: Path, *more: str):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_text_common, "_model", lambda path, device=None: text_model)
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        "".join(json.dumps({"id": f"t{i}", "text": t}) + "\n" for i, t in enumerate(TEXTS))
    )
    out = tmp_path / "g.jsonl"
    res = CliRunner().invoke(
        cli, ["text", "dedup", str(corpus), "--out", str(out), "--json", *more]
    )
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    return [[int(m["id"][1:]) for m in g["members"]] for g in lines], json.loads(res.stdout)


@pytest.mark.parametrize(
    "more",
    [(), ("--by", "passages"), ("--threshold", "0.7", "--rule", "clique"), ("--faiss-above", "3")],
)
def test_the_function_gives_the_commands_groups(text_model, monkeypatch, tmp_path, more) -> None:  # type: ignore[no-untyped-def]
    from siamkit.applications.text import find_duplicates

    cli_groups, summary = _cli_groups(text_model, monkeypatch, tmp_path, *more)
    opts = dict(zip(more[::2], more[1::2]))
    found = find_duplicates(
        TEXTS,
        text_model,
        threshold=float(opts["--threshold"]) if "--threshold" in opts else "auto",
        by=opts.get("--by", "documents"),
        rule=opts.get("--rule", "components"),
        faiss_above=int(opts.get("--faiss-above", 50_000)),
    )
    assert [list(g.members) for g in found.groups] == cli_groups
    assert found.threshold == pytest.approx(summary["threshold"])
    assert found.threshold_source == summary["threshold_source"]
    assert found.search == summary["search"] and found.dim == summary["dim"]
    if "--by" in opts:
        assert found.threshold_one_sentence == pytest.approx(summary["threshold_one_sentence"])
    else:
        assert found.threshold_one_sentence is None
    assert cli_groups  # the corpus has duplicates at every setting


@pytest.mark.parametrize("similarity", ["auto", 0.7, 0.95])
def test_the_exact_path_matches_every_pair_by_a_loop(text_model, similarity) -> None:  # type: ignore[no-untyped-def]
    from siamkit.applications.text import find_duplicates

    found = find_duplicates(TEXTS, text_model, threshold=similarity)
    z = text_model.embed(TEXTS).numpy()
    assert found.search == "exact"
    assert sorted(sorted(g.members) for g in found.groups) == _naive_groups(z, found.threshold)
    if similarity == "auto":
        assert found.threshold == pytest.approx(0.88) and "Lee background" in found.threshold_source


def test_a_threshold_that_is_not_one_is_refused_in_a_sentence(text_model) -> None:  # type: ignore[no-untyped-def]
    from siamkit.applications.text import find_duplicates

    with pytest.raises(ValueError, match=re.escape("lies in [-1, 1], got 72")):
        find_duplicates(TEXTS, text_model, threshold=72)
    with pytest.raises(
        ValueError, match=re.escape("'auto' or a cosine similarity such as 0.88, got 'high'")
    ):
        find_duplicates(TEXTS, text_model, threshold="high")
    with pytest.raises(ValueError, match="by is one of documents, passages, got 'words'"):
        find_duplicates(TEXTS, text_model, by="words")
    with pytest.raises(ValueError, match="rule is one of components, clique, centroid"):
        find_duplicates(TEXTS, text_model, rule="chain")
