"""Every ```python block of README.md is run, as written, by a test: a notebook user copies them.

Most sections' blocks have their own test (listed in ``RUN_BY``); the Contracts block and the text
block, which no test ran (the text one was only checked against the functions' signatures), run
here with the few names they take as given (``d``, ``same``, ``texts``, ``essay``...) defined.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import siamkit

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

#: README section -> the test file that runs its python blocks as written.
RUN_BY = {
    "## The library in a few lines": "tests/cli/test_readme_library.py",
    "## A run as a library call, and the Trainer": "tests/cli/test_readme_library.py",
    "## Your own encoder, loss, miner or distance (plug-ins)": "tests/cli/test_plugins.py",
    "## Contracts": "tests/test_readme_python_blocks.py",
    "### Learning without labels, then from a few": "tests/cli/test_readme_python_api.py",
    "## Text: Siamese transformers": "tests/test_readme_python_blocks.py",
    "## Edge deployment": "tests/export/test_runtime_verify.py",
}


def python_blocks() -> list[tuple[str, str]]:
    """``(heading, code)`` of each python block, the heading being the nearest one above it."""
    out = []
    for m in re.finditer(r"```python\n(.*?)```", README, flags=re.S):
        heading = re.findall(r"^#+ .*$", README[: m.start()], flags=re.M)[-1]
        out.append((heading, m.group(1)))
    return out


def block(heading: str) -> str:
    (code,) = [c for h, c in python_blocks() if h.startswith(heading)]
    return code


def test_every_python_block_is_run_by_a_named_test() -> None:
    unlisted = sorted({h for h, _ in python_blocks() if not any(h.startswith(k) for k in RUN_BY)})
    assert not unlisted, (
        f"README sections {unlisted} have python blocks no test runs: write one that runs them "
        "as written, and list it in RUN_BY"
    )
    for path in RUN_BY.values():
        assert (ROOT / path).is_file(), path


def test_the_contracts_block_runs_as_written_and_is_the_formulas_it_quotes() -> None:
    g = torch.Generator().manual_seed(0)
    d, same = torch.rand(10, generator=g) * 2, torch.arange(10) % 2
    d_ap, d_an = torch.rand(10, generator=g), torch.rand(10, generator=g)
    z = torch.nn.functional.normalize(torch.randn(24, 8, generator=g), dim=1)
    labels = torch.arange(24) % 4
    x, y = torch.randn(5, 8, generator=g), torch.randn(7, 8, generator=g)
    namespace: dict[str, object] = {
        "siamkit": siamkit, "d": d, "same": same, "d_ap": d_ap, "d_an": d_an,
        "z": z, "labels": labels, "x": x, "y": y,
    }  # fmt: skip
    code = block("## Contracts")
    exec(compile(code, "README.md", "exec"), namespace)

    lines = [line.split("#")[0].strip() for line in code.splitlines()]
    exprs = [e for e in lines[3:7] if not e.startswith("a, p, n =")]
    contrastive, triplet, matrix = (eval(e, namespace) for e in exprs)
    want = (same * d**2 + (1 - same) * torch.relu(1.0 - d) ** 2).mean()
    torch.testing.assert_close(contrastive, want)
    torch.testing.assert_close(triplet, torch.relu(d_ap - d_an + 0.2).mean())
    a, p, n = namespace["a"], namespace["p"], namespace["n"]
    dist = torch.cdist(z, z)
    m = dist[a, n] - dist[a, p]  # semihard: 0 < m < margin, a != p same label, n another
    assert len(a) > 0 and bool(((m > 0) & (m < 0.2 + 1e-6)).all())
    assert bool((labels[a] == labels[p]).all() and (labels[a] != labels[n]).all())
    assert matrix.shape == (5, 7)
    cos = torch.nn.functional.normalize(x, dim=1) @ torch.nn.functional.normalize(y, dim=1).T
    torch.testing.assert_close(matrix, 1 - cos)


def test_the_text_block_runs_as_written_and_gives_the_figures_it_quotes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("transformers", reason="the text extra is not installed")
    code = block("## Text: Siamese transformers")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "fox.txt").write_text(
        "The quick brown fox jumps over the lazy dog. It was a sunny day in the park. "
        "Children were playing football near the lake."
    )
    namespace: dict[str, object] = {
        "texts": ["The cat sleeps on the mat.", "A cat is sleeping on a mat.", "Stocks fell."],
        "essay": "It was a sunny day in the park. My essay is about foxes and their dens.",
    }
    exec(compile(code, "README.md", "exec"), namespace)

    line = next(s for s in code.splitlines() if s.startswith("compare_texts("))
    call, comment = line.split("#", 1)
    result = eval(call, namespace)
    similarity = re.search(r"\.similarity ([0-9.]+)", comment)
    threshold = re.search(r"\.threshold ([0-9.]+)", comment)
    assert similarity and threshold and ".same True" in comment, comment
    assert result.same is True
    assert round(result.similarity, 3) == float(similarity.group(1))
    assert round(result.threshold, 2) == float(threshold.group(1))


#: The names a README block takes as given, for mypy: each section's blocks are read as one
#: notebook, in order, after these lines.
GIVEN_TO_MYPY = {
    "## Contracts": "import torch, siamkit\nd = same = d_ap = d_an = z = labels = x = y = torch.rand(4)\n",
    "## Text: Siamese transformers": "texts = ['a', 'b']\nessay = 'e'\n",
    # yaml's stubs are the user's to install (types-PyYAML), not siamkit's
    "### Learning without labels": "# mypy: disable-error-code=import-untyped\n",
}


@pytest.mark.slow
def test_the_library_blocks_type_check_strictly_as_written(tmp_path: Path) -> None:
    """A notebook user's mypy --strict on the README's library blocks, as written: it failed on
    run_experiment's result (None on torchrun's other processes, calibration Optional), on the
    DataLoader's untyped batch_sampler, on load_model's union assigned to the twin ``net`` and on
    a task runner given a str for its Path; then on the plug-in block (a user's module, its defs
    unannotated) and the edge block (Pillow's Image.BILINEAR, which Pillow's types do not declare).
    The first two sections are one notebook (the second goes on with the first's ``x``, ``y``).
    Run outside the repository, as a user runs it; about 30 s without a cache. The edge block's
    ``runtime`` is the installed ``siamkit.export.runtime`` (the block's comment says so): this
    checks the block's own lines, not runtime.py as a module of the user's."""
    notebooks = {
        "library.py": ("## The library in a few lines", "## A run as a library call"),
        "contracts.py": ("## Contracts",),
        "text.py": ("## Text: Siamese transformers",),
        "tasks.py": ("### Learning without labels",),
        "my_parts.py": ("## Your own encoder, loss, miner or distance",),
        "edge.py": ("## Edge deployment",),
    }
    for name, sections in notebooks.items():
        given = "".join(GIVEN_TO_MYPY.get(s, "") for s in sections)
        code = "".join(c for h, c in python_blocks() if h.startswith(sections))
        assert code, sections
        (tmp_path / name).write_text(given + code)
    (tmp_path / "runtime.py").write_text(
        "from siamkit.export.runtime import OnnxEmbedder as OnnxEmbedder\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"),
         *notebooks],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout
