"""The /info schema (in /docs and /openapi.json) described ``towers: 2`` as "a half-twin (task:
half_twin)", yet a service for a HalfTwinNetwork saved in Python, which never had a config,
answers towers 2 too (s58_r5 finding 4). The description now names both origins."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import siamkit
from _tiny_half_twin import tiny_half_twin

pytest.importorskip("fastapi")


def test_towers_description_is_true_for_a_half_twin_saved_in_python(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2")
        from fastapi.testclient import TestClient

    from siamkit.service import create_app

    folder = siamkit.save_model(tiny_half_twin(), tmp_path / "pyht")
    net = siamkit.load_model(folder)
    with TestClient(create_app(net, None)) as c:
        assert c.get("/info").json()["model"]["towers"] == 2
        schemas = c.get("/openapi.json").json()["components"]["schemas"]
    said = schemas["ModelInfo"]["properties"]["towers"]["description"]
    assert "(task: half_twin)" not in said, said
    assert (
        "2: a half-twin (two towers: trained with `task: half_twin`, or a HalfTwinNetwork saved "
        "in Python), whose branch f embeds what is searched with" in said
    ), said
