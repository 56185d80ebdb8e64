"""One pretrained text model per test session (loading all-MiniLM-L6-v2 takes seconds)."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers", reason="the text extra is not installed")


@pytest.fixture(scope="session")
def text_model():  # type: ignore[no-untyped-def]
    from siamkit.applications.text import load_text_model

    return load_text_model()
