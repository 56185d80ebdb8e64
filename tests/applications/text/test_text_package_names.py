"""``siamkit.applications.text`` offers, by name, what the text commands do from Python
(similarity, dedup, plagiarism), each imported on first use: the package imports no torch."""

from __future__ import annotations

import subprocess
import sys

import siamkit.applications.text as text_pkg

NAMES = (
    "compare_texts",
    "SimilarityResult",
    "embed_texts",
    "similar_pairs",
    "group_duplicates",
    "DuplicateGroup",
    "find_duplicates",
    "DedupResult",
    "find_plagiarism",
    "Document",
    "load_corpus",
    "load_text_model",
    "TextSiameseNetwork",
)


def test_the_commands_functions_are_the_packages_names() -> None:
    # were reachable only from their modules (similarity, dedup, ...), named in no __all__
    assert set(NAMES) == set(text_pkg.__all__)
    from siamkit.applications.text import dedup, similarity

    assert text_pkg.compare_texts is similarity.compare_texts
    assert text_pkg.similar_pairs is dedup.similar_pairs


def test_importing_the_package_still_imports_no_torch() -> None:
    code = (
        "import sys, siamkit.applications.text as t\n"
        "assert 'compare_texts' in t.__all__\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
